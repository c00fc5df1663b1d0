"""A cancellation nobody carries out: the server's timeout, then another worker tears the run down.

Worker A (`prefect worker start`) starts a long run and is killed (SIGKILL), leaving the run's
process behind. The run is cancelled; nobody acts on its Cancelling state, so the server (started
for this scenario with a 3 s CANCELLING timeout) marks it Cancelled itself and queues a
`cancelling_timeout_teardown.v1` cleanup message for the pool. Worker B (a process worker that
can kill infrastructure, test/sdk/flows/teardown_worker.py), connected to the pool's worker
channel, receives it and, through Prefect 3.9.1's own cleanup handler, must kill the orphan.
"""

import os
import sys

from _common import (
    FLOWS_DIR,
    PREFECT_CLI,
    Background,
    check,
    check_equal,
    client,
    logs_of,
    main,
    pid_alive,
    prefect_cli,
    scenario_env,
    step,
    suffix,
    wait_for,
    wait_for_flow_run_state,
)
from prefect import flow

TIMEOUT_MESSAGE = "Flow run cancellation timed out; marked this flow run as Cancelled."


def scenario() -> None:
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.workers.process import ProcessWorker

    pool = f"s17-pool-{suffix()}"
    with client() as c:
        c.create_work_pool(WorkPoolCreate(name=pool, type="process", base_job_template=ProcessWorker.get_default_base_job_template()))
        deployment_id = flow.from_source(source=str(FLOWS_DIR), entrypoint="deployed.py:work").deploy(
            name="s17-deployment", work_pool_name=pool, print_next_steps=False, ignore_warnings=True
        )
        env = scenario_env(PREFECT_LOGGING_LEVEL="DEBUG", PREFECT_WORKER_QUERY_SECONDS="1", PREFECT_WORKER_PREFETCH_SECONDS="5")
        worker_a = [*PREFECT_CLI, "worker", "start", "--pool", pool, "--type", "process", "--name", f"{pool}-a"]
        # Worker A's process group holds the orphan: leaving this block kills what is left of it.
        with Background("worker-a", worker_a, env=env) as first:
            run = c.create_flow_run_from_deployment(deployment_id, parameters={"label": "stuck", "seconds": 120})
            wait_for_flow_run_state(c, run.id, ["RUNNING"], timeout=60)
            wait_for("the run to start working", lambda: any(log.message == "working on stuck for 120.0s" for log in logs_of(c, run.id)), timeout=20)
            pid = int(str(c.read_flow_run(run.id).infrastructure_pid).rsplit(":", 1)[-1])
            os.kill(first.proc.pid, 9)
            first.proc.wait(timeout=10)
            check(pid_alive(pid), f"the run's process {pid} should outlive worker A")
            step(f"worker A killed; run RUNNING in orphaned process {pid}")
            worker_b = [sys.executable, str(FLOWS_DIR / "teardown_worker.py"), pool, f"{pool}-b"]
            with Background("worker-b", worker_b, env=env) as worker:
                try:
                    wait_for("worker B on the channel", lambda: "Skipping REST worker heartbeat because the worker channel is healthy" in worker.output(), timeout=60)
                    step("worker B connected; cancelling the run (nobody carries it out)")
                    prefect_cli("flow-run", "cancel", str(run.id), timeout=60)
                    cancelled = wait_for_flow_run_state(c, run.id, ["CANCELLED", "COMPLETED", "FAILED", "CRASHED"], timeout=45)
                    check_equal(cancelled.state_type.value, "CANCELLED", "state after the CANCELLING timeout")
                    check_equal(cancelled.state.message, TIMEOUT_MESSAGE, "the Cancelled state's message")
                    check(pid_alive(pid), f"the orphaned process {pid} should still run when the server cancels the run")
                    step("the server cancelled the run after its CANCELLING timeout; waiting for worker B's teardown")
                    wait_for(f"the run's process {pid} to be killed by worker B's cleanup handler", lambda: not pid_alive(pid), timeout=30)
                    check(not any(log.message == "finished stuck" for log in logs_of(c, run.id)), "the process should have been stopped before it finished")
                    wait_for("worker B's teardown log line", lambda: f"tearing down process {pid}" in worker.output(), timeout=5)
                    step("worker B tore the orphaned process down on the server's cleanup message")
                except BaseException:
                    print(f"--- worker B output (tail)\n{worker.tail(120)}", file=sys.stderr)
                    raise


if __name__ == "__main__":
    main(scenario)
