"""`flow.serve()` and a cancellation: the runner learns of it from the server's events.

serve() registers the deployment; a run of it is started by the runner (polling every second) in a
subprocess; `prefect flow-run cancel` then moves it to Cancelling. The runner hears that through
its `/events/out` subscription and must kill the run's process and report it Cancelled: the server
must show it CANCELLED (through Cancelling), its process gone, and its last log line never written.
Through two replicas, the cancellation and the runner's subscription may be on different ones.
"""

import sys

from _common import (
    FLOWS_DIR,
    Background,
    check,
    check_equal,
    client,
    logs_of,
    main,
    pid_alive,
    prefect_cli,
    scenario_env,
    state_names,
    step,
    suffix,
    wait_for,
    wait_for_flow_run_state,
)


def run_process_of(runner_pid: int) -> int | None:
    with open(f"/proc/{runner_pid}/task/{runner_pid}/children") as f:
        children = [int(p) for p in f.read().split()]
    for child in children:
        with open(f"/proc/{child}/cmdline") as f:
            if "spawn_main" in f.read():
                return child
    return None


def scenario() -> None:
    name = f"s18-{suffix()}"
    full_name = f"s18-served-long/{name}"
    env = scenario_env(PREFECT_RUNNER_POLL_FREQUENCY="1")
    with client() as c, Background("serve", [sys.executable, "served_long.py", name], env=env, cwd=str(FLOWS_DIR)) as served:
        try:
            deployment = wait_for(f"serve() to register {full_name}", lambda: c.read_deployment_by_name(full_name), 30)
            run = c.create_flow_run_from_deployment(deployment.id)
            wait_for_flow_run_state(c, run.id, ["RUNNING"], timeout=60)
            wait_for("the run to log that it started", lambda: any(log.message == "lingering for 120.0s" for log in logs_of(c, run.id)), timeout=20)
            # the runner records no infrastructure_pid (on Prefect's server neither): the run is the
            # runner's multiprocessing child (beside multiprocessing's resource tracker)
            pid = wait_for("the runner's subprocess for the run", lambda: run_process_of(served.proc.pid), timeout=15)
            step(f"run RUNNING in process {pid}; cancelling it")
            prefect_cli("flow-run", "cancel", str(run.id), timeout=60)
            cancelled = wait_for_flow_run_state(c, run.id, ["CANCELLED", "COMPLETED", "FAILED", "CRASHED"], timeout=45)
            check_equal(cancelled.state_type.value, "CANCELLED", "state after `prefect flow-run cancel`")
            check("Cancelling" in state_names(c.read_flow_run_states(run.id)), "the run should pass through Cancelling")
            wait_for(f"the cancelled run's process {pid} to exit", lambda: not pid_alive(pid), timeout=15)
            check(not any(log.message == "done lingering" for log in logs_of(c, run.id)), "the run should have been stopped before it finished")
            step("the runner killed the run's process and reported it Cancelled")
        except BaseException:
            print(f"--- serve output (tail)\n{served.tail()}", file=sys.stderr)
            raise


if __name__ == "__main__":
    main(scenario)
