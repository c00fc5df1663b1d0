"""Served by scenario 05: `python served.py DEPLOYMENT_NAME` runs flow.serve() until Ctrl-C."""

import sys
from datetime import timedelta

from prefect import flow, get_run_logger


@flow(name="s05-served")
def greet(name: str = "world") -> str:
    get_run_logger().info("hello %s", name)
    return name


if __name__ == "__main__":
    greet.serve(name=sys.argv[1], interval=timedelta(seconds=5), parameters={"name": "scheduled"})
