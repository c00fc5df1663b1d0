"""A process work pool, `prefect worker start`, and a deployment from local source.

The pool gets the process worker's default base job template; `flow.from_source(<local dir>,
entrypoint).deploy()` registers the deployment. A worker (polling every second) picks up a run
and completes it: the server must show it COMPLETED, in the pool's default queue, with the
worker's labels, its infrastructure pid and its log lines, and the worker ONLINE in the pool.
Then `prefect flow-run cancel` on a long run that is RUNNING must end it CANCELLED (through
Cancelling), and its process (the run's infrastructure_pid) must be gone.
"""

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


def scenario() -> None:
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.workers.process import ProcessWorker

    pool = f"s06-pool-{suffix()}"
    with client() as c:
        c.create_work_pool(
            WorkPoolCreate(name=pool, type="process", base_job_template=ProcessWorker.get_default_base_job_template())
        )
        source_flow = flow.from_source(source=str(FLOWS_DIR), entrypoint="deployed.py:work")
        step(f"pool {pool} created; deploying from {FLOWS_DIR}")
        deployment_id = source_flow.deploy(name="s06-deployment", work_pool_name=pool, print_next_steps=False, ignore_warnings=True)
        deployment = c.read_deployment(deployment_id)
        check_equal(deployment.work_pool_name, pool, "deployment work pool")
        check_equal(deployment.entrypoint, "deployed.py:work", "deployment entrypoint")
        check(deployment.pull_steps, f"a deployment from local source should carry pull steps: {deployment.pull_steps}")

        env = scenario_env(PREFECT_WORKER_QUERY_SECONDS="1", PREFECT_WORKER_PREFETCH_SECONDS="5")
        cmd = [*PREFECT_CLI, "worker", "start", "--pool", pool, "--type", "process", "--name", f"{pool}-worker"]
        with Background("worker", cmd, env=env) as worker:
            try:
                step("worker started; creating a quick run and a long one")
                quick = c.create_flow_run_from_deployment(deployment_id, parameters={"label": "quick"})
                long = c.create_flow_run_from_deployment(deployment_id, parameters={"label": "long", "seconds": 120})
                done = wait_for_flow_run_state(c, quick.id, ["COMPLETED", "FAILED", "CRASHED", "CANCELLED"], timeout=60)
                step(f"quick run ended {done.state_type.value}")
                check_equal(done.state_type.value, "COMPLETED", "state of the run picked up by the worker")
                check_equal(done.work_pool_name, pool, "work pool of the run")
                check_equal(done.work_queue_name, "default", "work queue of the run")
                check(done.infrastructure_pid, f"the worker should record the run's infrastructure_pid: {done.infrastructure_pid!r}")
                check_equal(done.labels.get("prefect.worker.name"), f"{pool}-worker", "the run's prefect.worker.name label")
                check_equal(done.labels.get("prefect.work-pool.name"), pool, "the run's prefect.work-pool.name label")
                wait_for(
                    "the deployed run's log lines",
                    lambda: {"working on quick for 0.0s", "finished quick"} <= {log.message for log in logs_of(c, quick.id)},
                    timeout=15,
                )
                workers = c.read_workers_for_work_pool(pool)
                check(
                    any(w.name == f"{pool}-worker" and w.status.value == "ONLINE" for w in workers),
                    f"the worker should be ONLINE in the pool: {[(w.name, w.status) for w in workers]}",
                )
                check_equal(c.read_work_pool(pool).status.value, "READY", "pool status with an online worker")

                wait_for_flow_run_state(c, long.id, ["RUNNING"], timeout=60)
                wait_for(
                    "the long run to log that it started",
                    lambda: any(log.message == "working on long for 120.0s" for log in logs_of(c, long.id)),
                    timeout=15,
                )
                step("long run is RUNNING; cancelling it")
                prefect_cli("flow-run", "cancel", str(long.id), timeout=60)
                cancelled = wait_for_flow_run_state(c, long.id, ["CANCELLED", "COMPLETED", "FAILED", "CRASHED"], timeout=45)
                step(f"long run ended {cancelled.state_type.value}")
                check_equal(cancelled.state_type.value, "CANCELLED", "state of the run after `prefect flow-run cancel`")
                states = [s.name for s in sorted(c.read_flow_run_states(long.id), key=lambda s: s.timestamp)]
                check("Cancelling" in states, f"the run should pass through Cancelling: {states}")
                pid = int(str(c.read_flow_run(long.id).infrastructure_pid).rsplit(":", 1)[-1])
                wait_for(f"the cancelled run's process {pid} to exit", lambda: not pid_alive(pid), timeout=15)
                check(
                    not any(log.message == "finished long" for log in logs_of(c, long.id)),
                    "the cancelled run's process should have been stopped before it finished",
                )
            except BaseException:
                print(f"--- worker output (tail)\n{worker.tail()}", file=sys.stderr)
                raise


if __name__ == "__main__":
    main(scenario)
