"""Task retries and flow retries, with delays; a flow that keeps failing ends FAILED.

* flaky_task fails twice, then succeeds (retries=3, retry_delay_seconds=0.5): its task run is
  COMPLETED with run_count 3, and its states show the two AwaitingRetry/Retrying rounds.
* doomed_task always fails (retries=1): FAILED with run_count 2; the flow catches it.
* recovering flow (retries=1, retry_delay_seconds=1) fails its first attempt, then completes:
  the server answers the FAILED proposal with AwaitingRetry, the run ends COMPLETED, run_count 2.
* failing flow (retries=2, retry_delay_seconds=0.5) always raises: FAILED with run_count 3.
Each flow attempt records its own task runs (flow_run_run_count 1 and 2), all in the one flow run.
"""

import time

from _common import check, check_equal, client, main, state_names, wait_for_task_runs
from prefect import flow, task

attempts = {"flaky": 0, "recovering": 0, "failing": 0}


@task(retries=3, retry_delay_seconds=0.5)
def flaky_task() -> str:
    attempts["flaky"] += 1
    if attempts["flaky"] < 3:
        raise RuntimeError(f"flaky attempt {attempts['flaky']}")
    return "ok"


@task(retries=1, retry_delay_seconds=0.1)
def doomed_task() -> None:
    raise ValueError("doomed")


@flow(name="s02-recovering", retries=1, retry_delay_seconds=1)
def recovering() -> str:
    attempts["recovering"] += 1
    result = flaky_task()
    doomed = doomed_task(return_state=True)
    if not doomed.is_failed():
        raise AssertionError(f"doomed_task should have failed, got {doomed!r}")
    if attempts["recovering"] == 1:
        raise RuntimeError("first flow attempt fails")
    return result


@flow(name="s02-failing", retries=2, retry_delay_seconds=0.5)
def failing() -> None:
    attempts["failing"] += 1
    raise RuntimeError(f"failing flow attempt {attempts['failing']}")


def scenario() -> None:
    started = time.monotonic()
    state = recovering(return_state=True)
    check(state.is_completed(), f"the recovering flow should complete on its second attempt, got {state!r}")
    check(time.monotonic() - started >= 1.0, "the flow retry should have waited retry_delay_seconds=1")
    check_equal(attempts["recovering"], 2, "attempts of the recovering flow")
    # 3 in the first flow attempt (2 failures + success), 1 more when the flow retries.
    check_equal(attempts["flaky"], 4, "attempts of flaky_task over both flow attempts")
    recovering_id = state.state_details.flow_run_id

    failed = failing(return_state=True)
    check(failed.is_failed(), f"the failing flow should end FAILED, got {failed!r}")
    check_equal(attempts["failing"], 3, "attempts of the failing flow (1 + 2 retries)")
    failing_id = failed.state_details.flow_run_id

    with client() as c:
        run = c.read_flow_run(recovering_id)
        check_equal(run.state_type.value, "COMPLETED", "recovering flow run state")
        check_equal(run.run_count, 2, "recovering flow run run_count")
        check_equal(run.empirical_policy.retries, 1, "recovering flow run empirical_policy.retries")
        names = state_names(c.read_flow_run_states(recovering_id))
        check("AwaitingRetry" in names, f"the server should have answered FAILED with AwaitingRetry: {names}")
        check_equal(names[-1], "Completed", f"last state of the recovering flow run ({names})")
        check(names.count("Running") + names.count("Retrying") >= 2, f"two runs of the recovering flow: {names}")

        run = c.read_flow_run(failing_id)
        check_equal(run.state_type.value, "FAILED", "failing flow run state")
        check_equal(run.run_count, 3, "failing flow run run_count")
        names = state_names(c.read_flow_run_states(failing_id))
        check_equal(names.count("AwaitingRetry"), 2, f"AwaitingRetry states of the failing flow run ({names})")
        check_equal(names[-1], "Failed", f"last state of the failing flow run ({names})")
        check("failing flow attempt 3" in (run.state.message or ""), f"final state message: {run.state.message!r}")

        # Each flow attempt records its own task runs: flaky_task + doomed_task, twice.
        tasks = wait_for_task_runs(c, recovering_id, 4)
        summary = [(t.name, t.state_name, t.run_count, t.flow_run_run_count) for t in tasks]
        check_equal(len(tasks), 4, f"task runs of the recovering flow run {summary}")
        by_attempt = {(t.task_key.split("-")[0], t.flow_run_run_count): t for t in tasks}
        expected = {("flaky_task", 1), ("flaky_task", 2), ("doomed_task", 1), ("doomed_task", 2)}
        check_equal(set(by_attempt), expected, f"(task, flow attempt) of the task runs {summary}")
        for t in tasks:
            check_equal(t.flow_run_id, recovering_id, f"task run {t.name} flow_run_id")

        flaky = by_attempt[("flaky_task", 1)]
        check_equal(flaky.state_type.value, "COMPLETED", "flaky_task (first flow attempt) state")
        check_equal(flaky.run_count, 3, "run_count of flaky_task after two retries")
        check_equal(flaky.empirical_policy.retries, 3, "flaky_task empirical_policy.retries")
        flaky_states = state_names(c.read_task_run_states(flaky.id))
        check_equal(flaky_states.count("AwaitingRetry"), 2, f"AwaitingRetry states of flaky_task ({flaky_states})")
        check_equal(flaky_states[-1], "Completed", f"last state of flaky_task ({flaky_states})")
        retry_gap = [s for s in c.read_task_run_states(flaky.id) if s.name == "AwaitingRetry"]
        check(
            all(s.state_details.scheduled_time for s in retry_gap),
            "AwaitingRetry states of flaky_task should carry a scheduled_time (retry_delay_seconds)",
        )
        check_equal(by_attempt[("flaky_task", 2)].run_count, 1, "flaky_task run_count in the second flow attempt")
        check_equal(by_attempt[("flaky_task", 2)].state_type.value, "COMPLETED", "flaky_task (second attempt) state")

        for attempt in (1, 2):
            doomed = by_attempt[("doomed_task", attempt)]
            check_equal(doomed.state_type.value, "FAILED", f"doomed_task (flow attempt {attempt}) state")
            check_equal(doomed.run_count, 2, f"doomed_task (flow attempt {attempt}) run_count (1 + 1 retry)")

if __name__ == "__main__":
    main(scenario)
