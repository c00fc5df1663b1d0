"""Deployed by scenario 16: logs the S16_MARK environment variable its process was started with."""

import os

from prefect import flow, get_run_logger


@flow(name="s16-channel-env")
def report() -> str:
    mark = os.environ.get("S16_MARK", "<unset>")
    get_run_logger().info("S16_MARK=%s", mark)
    return mark
