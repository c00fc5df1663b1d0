"""Served by scenario 14: `python triggered.py SUFFIX` serves deployment a-SUFFIX of the upstream flow
and deployment b-SUFFIX of the downstream flow, whose deployment trigger runs it (with the upstream
run's name as a templated parameter) whenever a run of a-SUFFIX completes."""

import sys

from prefect import flow, get_run_logger, serve
from prefect.events import DeploymentEventTrigger


@flow(name="s14-upstream")
def upstream() -> str:
    return "done"


@flow(name="s14-downstream")
def downstream(upstream_run: str = "none") -> str:
    get_run_logger().info("after %s", upstream_run)
    return upstream_run


if __name__ == "__main__":
    suffix = sys.argv[1]
    a = upstream.to_deployment(name=f"a-{suffix}")
    b = downstream.to_deployment(
        name=f"b-{suffix}",
        triggers=[
            DeploymentEventTrigger(
                expect={"prefect.flow-run.Completed"},
                match_related={"prefect.resource.role": "deployment", "prefect.resource.name": f"a-{suffix}"},
                parameters={"upstream_run": "{{ event.resource['prefect.resource.name'] }}"},
            )
        ],
    )
    serve(a, b)
