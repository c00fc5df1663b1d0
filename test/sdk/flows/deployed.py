"""Deployed by scenario 06 to a process work pool (from local source) and run by `prefect worker start`."""

import time

from prefect import flow, get_run_logger


@flow(name="s06-deployed")
def work(label: str = "quick", seconds: float = 0.0) -> str:
    logger = get_run_logger()
    logger.info("working on %s for %ss", label, seconds)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.2)
    logger.info("finished %s", label)
    return label
