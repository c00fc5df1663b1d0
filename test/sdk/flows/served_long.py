"""Served by scenario 18: `python served_long.py DEPLOYMENT_NAME` runs flow.serve() (no schedule) until Ctrl-C."""

import sys
import time

from prefect import flow, get_run_logger


@flow(name="s18-served-long")
def linger(seconds: float = 120.0) -> str:
    get_run_logger().info("lingering for %ss", seconds)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.2)
    get_run_logger().info("done lingering")
    return "done"


if __name__ == "__main__":
    linger.serve(name=sys.argv[1])
