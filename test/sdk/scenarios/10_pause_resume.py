"""Pause and resume: pause_flow_run() / resume_flow_run(), with and without run input.

The flow runs in a child process (`10_pause_resume.py child NAME`) and pauses twice: a plain
pause, then a pause waiting for an int input. This process watches the server: the run must
be PAUSED (with a pause timeout), resume_flow_run() makes it RUNNING again, it pauses again
asking for input, a resume with input of the wrong type is refused (the run stays PAUSED), a
resume with {"value": 42} lets it finish COMPLETED, and the flow's log shows the input.
"""

import sys

from _common import (
    Background,
    check,
    check_equal,
    client,
    logs_of,
    main,
    scenario_env,
    state_names,
    step,
    suffix,
    wait_for,
    wait_for_flow_run_state,
)
from prefect import flow, get_run_logger
from prefect.flow_runs import pause_flow_run, resume_flow_run


@flow(name="s10-pausable")
def pausable() -> int:
    logger = get_run_logger()
    logger.info("before the first pause")
    pause_flow_run(timeout=90, poll_interval=1)
    logger.info("after the first pause")
    value = pause_flow_run(wait_for_input=int, timeout=90, poll_interval=1)
    logger.info("resumed with input %r", value)
    return value


def find_run(c, name: str):
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    runs = c.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name])))
    return runs[0] if runs else None


def scenario() -> None:
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.responses import SetStateStatus

    run_name = f"s10-{suffix()}"
    cmd = [sys.executable, __file__, "child", run_name]
    with client() as c, Background("pausable", cmd, env=scenario_env()) as child:
        try:
            run = wait_for(f"the child's flow run {run_name}", lambda: find_run(c, run_name), timeout=30)
            run = wait_for_flow_run_state(c, run.id, ["PAUSED"], timeout=30)
            step("first pause reached")
            check_equal(run.state.name, "Paused", "state name of the first pause")
            check(run.state.state_details.pause_timeout, "a paused state carries its pause_timeout")
            check_equal(run.state.state_details.pause_reschedule, False, "pause_reschedule of an in-process pause")

            resume_flow_run(run.id)
            def second_pause():
                current = c.read_flow_run(run.id)
                return current if current.state_type == StateType.PAUSED and current.state.state_details.run_input_keyset else None

            run = wait_for("the second pause (waiting for input)", second_pause, timeout=30)
            step("second pause reached")

            refused = c.resume_flow_run(run.id, run_input={"value": "not a number"})
            check(
                refused.status in (SetStateStatus.ABORT, SetStateStatus.REJECT),
                f"resuming with input of the wrong type should be refused, got {refused.status}: {refused.details}",
            )
            check_equal(c.read_flow_run(run.id).state_type, StateType.PAUSED, "state after the refused resume")

            resume_flow_run(run.id, run_input={"value": 42})
            done = wait_for_flow_run_state(c, run.id, ["COMPLETED", "FAILED", "CRASHED"], timeout=30)
            step(f"flow run ended {done.state_type.value}")
            check_equal(done.state_type.value, "COMPLETED", "final state after the second resume")
            child.proc.wait(timeout=30)
            check_equal(child.proc.returncode, 0, "exit code of the process running the flow")

            names = state_names(c.read_flow_run_states(run.id))
            check_equal(names.count("Paused"), 2, f"Paused states in the run's history ({names})")
            check_equal(names[-1], "Completed", f"last state ({names})")
            wait_for(
                "the 'resumed with input 42' log line",
                lambda: any(log.message == "resumed with input 42" for log in logs_of(c, run.id)),
                timeout=15,
            )
        except BaseException:
            print(f"--- flow process output (tail)\n{child.tail()}", file=sys.stderr)
            raise


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        state = pausable.with_options(flow_run_name=sys.argv[2])(return_state=True)
        sys.exit(0 if state.is_completed() else 1)
    main(scenario)
