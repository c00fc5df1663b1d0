"""Real Prefect flows and tasks against the prefect_lite fixture (run by test/python/wheel.test.ts)."""

import os
import time

import pytest
from prefect import flow, get_client, task
from prefect.client.schemas.filters import FlowFilter, FlowFilterName
from prefect.states import Completed


@task(retries=2, retry_delay_seconds=0)
def flaky(attempts: list) -> int:
    attempts.append(1)
    if len(attempts) < 2:
        raise ValueError("first attempt fails")
    return len(attempts)


@task
def double(x: int) -> int:
    return 2 * x


@flow(name="lite-pipeline")
def pipeline(n: int) -> int:
    return sum(double.map(range(n)).result()) + flaky([])


def test_fixture_points_prefect_at_the_server(prefect_lite):
    assert os.environ["PREFECT_API_URL"] == prefect_lite.api_url
    from prefect.settings import PREFECT_API_URL

    assert PREFECT_API_URL.value() == prefect_lite.api_url


def test_flow_runs_are_recorded_by_the_server(prefect_lite):
    assert pipeline(4) == 2 * (0 + 1 + 2 + 3) + 2

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["lite-pipeline"])))
        assert len(runs) == 1
        assert runs[0].state.is_completed()

        # Task runs reach the server as events, which the client sends in the background.
        def task_names() -> list:
            return sorted(t.task_key.split("-")[0] for t in client.read_task_runs() if t.flow_run_id == runs[0].id)

        deadline = time.monotonic() + 20
        while len(task_names()) < 5 and time.monotonic() < deadline:
            time.sleep(0.1)
        # 4 mapped doubles and one flaky task (its retry is the same task run).
        assert task_names() == ["double"] * 4 + ["flaky"]


def test_subflow_state(prefect_lite):
    @flow
    def child() -> str:
        return "ok"

    @flow
    def parent() -> str:
        return child()

    state = parent(return_state=True)
    assert state.is_completed()
    assert state.result() == "ok"


def test_reset_empties_the_server(prefect_lite_reset):
    # Same address after the restart, so PREFECT_API_URL still holds.
    assert os.environ["PREFECT_API_URL"] == prefect_lite_reset.api_url
    with get_client(sync_client=True) as client:
        assert client.read_flow_runs() == []
        assert client.read_flows() == []


def test_state_from_the_server_after_reset(prefect_lite_reset):
    @flow
    def returns_completed():
        return Completed(message="done here")

    state = returns_completed(return_state=True)
    assert state.is_completed()
    with get_client(sync_client=True) as client:
        (run,) = client.read_flow_runs()
        assert run.state.message == "done here"


@pytest.mark.parametrize("n", [1, 3])
def test_tasks_submitted_concurrently(prefect_lite, n):
    @flow
    def fan_out() -> list:
        futures = [double.submit(i) for i in range(n)]
        return [f.result() for f in futures]

    assert fan_out() == [2 * i for i in range(n)]
