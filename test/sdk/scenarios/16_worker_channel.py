"""The worker channel: `prefect worker start` holds `/work_pools/{name}/workers/connect` open.

The worker (Prefect 3.9.1, DEBUG logging) must find the channel healthy, so it sends no REST
heartbeats ("Skipping REST worker heartbeat because the worker channel is healthy") and reads no
pool over REST; the server must still show the worker ONLINE with heartbeats that advance, since
they now come over the channel. A change to the pool's base job template (an `env` default) must
reach the worker as a pushed snapshot: the next run's process is started with that variable.
"""

import sys
import time

from _common import (
    FLOWS_DIR,
    PREFECT_CLI,
    Background,
    check,
    check_equal,
    client,
    logs_of,
    main,
    scenario_env,
    step,
    suffix,
    wait_for,
    wait_for_flow_run_state,
)
from prefect import flow

CHANNEL_HEALTHY = "Skipping REST worker heartbeat because the worker channel is healthy"


def scenario() -> None:
    from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate
    from prefect.workers.process import ProcessWorker

    pool = f"s16-pool-{suffix()}"
    worker_name = f"{pool}-worker"
    template = ProcessWorker.get_default_base_job_template()
    with client() as c:
        c.create_work_pool(WorkPoolCreate(name=pool, type="process", base_job_template=template))
        deployment_id = flow.from_source(source=str(FLOWS_DIR), entrypoint="channel_env.py:report").deploy(
            name="s16-deployment", work_pool_name=pool, print_next_steps=False, ignore_warnings=True
        )
        env = scenario_env(
            PREFECT_LOGGING_LEVEL="DEBUG", PREFECT_WORKER_HEARTBEAT_SECONDS="2", PREFECT_WORKER_QUERY_SECONDS="1", PREFECT_WORKER_PREFETCH_SECONDS="5"
        )
        cmd = [*PREFECT_CLI, "worker", "start", "--pool", pool, "--type", "process", "--name", worker_name]
        with Background("worker", cmd, env=env) as worker:
            try:
                wait_for("the worker to report its channel healthy", lambda: CHANNEL_HEALTHY in worker.output(), timeout=60)
                step("worker channel healthy: the worker skips REST heartbeats")
                check("REST fallback is active" not in worker.output(), "the worker should not have fallen back to REST")

                def heartbeat():
                    found = [w for w in c.read_workers_for_work_pool(pool) if w.name == worker_name]
                    return found[0] if found else None

                first = wait_for("the worker in the pool", heartbeat, timeout=20)
                check_equal(first.status.value, "ONLINE", "worker status")
                check_equal(first.heartbeat_interval_seconds, 2, "the worker's heartbeat interval, from its hello")
                later = wait_for(
                    "a heartbeat over the channel",
                    lambda: (w := heartbeat()) and w.last_heartbeat_time > first.last_heartbeat_time and w,
                    timeout=20,
                )
                step(f"heartbeats advance over the channel: {first.last_heartbeat_time} -> {later.last_heartbeat_time}")
                check_equal(c.read_work_pool(pool).status.value, "READY", "pool status with a worker on the channel")

                marked = {**template, "variables": {**template["variables"], "properties": {**template["variables"]["properties"]}}}
                marked["variables"]["properties"]["env"] = {**template["variables"]["properties"]["env"], "default": {"S16_MARK": "from-snapshot"}}
                c.update_work_pool(pool, WorkPoolUpdate(base_job_template=marked))
                step("pool template updated with an env default; waiting a beat for the snapshot")
                time.sleep(1)
                run = c.create_flow_run_from_deployment(deployment_id)
                done = wait_for_flow_run_state(c, run.id, ["COMPLETED", "FAILED", "CRASHED", "CANCELLED"], timeout=60)
                check_equal(done.state_type.value, "COMPLETED", "state of the run")
                wait_for(
                    "the run to log the variable from the pushed template",
                    lambda: any(log.message == "S16_MARK=from-snapshot" for log in logs_of(c, run.id)),
                    timeout=15,
                )
                step("the run saw S16_MARK=from-snapshot: the snapshot reached the worker")
                check("REST fallback is active" not in worker.output(), "the channel should have stayed healthy throughout")
            except BaseException:
                print(f"--- worker output (tail)\n{worker.tail()}", file=sys.stderr)
                raise


if __name__ == "__main__":
    main(scenario)
