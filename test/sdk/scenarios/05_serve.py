"""`flow.serve()` with an interval schedule, and `prefect deployment run`.

serve() registers the deployment; the server's scheduler creates its runs; the runner (polling
every second) picks the due ones and runs each in a subprocess. The server must show at least
two auto-scheduled runs COMPLETED with the schedule's parameters, then a run triggered by
`prefect deployment run --param` COMPLETED with that parameter (and its log line), after the
schedule is deactivated (which deletes its future runs). Stopping serve() pauses the deployment.
"""

import re
import sys

from _common import (
    FLOWS_DIR,
    Background,
    check,
    check_equal,
    client,
    logs_of,
    main,
    step,
    prefect_cli,
    scenario_env,
    suffix,
    wait_for,
    wait_for_flow_run_state,
)


def deployment_runs(c, deployment_id):
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    return c.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])))


def scenario() -> None:
    name = f"s05-{suffix()}"
    full_name = f"s05-served/{name}"
    env = scenario_env(PREFECT_RUNNER_POLL_FREQUENCY="1")
    with client() as c, Background("serve", [sys.executable, "served.py", name], env=env, cwd=str(FLOWS_DIR)) as served:
        try:
            deployment = wait_for(f"serve() to register {full_name}", lambda: c.read_deployment_by_name(full_name), 30)
            step(f"serve() registered {full_name}")
            check_equal(deployment.entrypoint, "served.py:greet", "deployment entrypoint")
            check_equal(len(deployment.schedules), 1, "deployment schedules")
            check_equal(deployment.schedules[0].schedule.interval.total_seconds(), 5.0, "schedule interval")
            check_equal(deployment.paused, False, "deployment paused while served")

            def completed_scheduled():
                runs = [r for r in deployment_runs(c, deployment.id) if r.auto_scheduled]
                done = [r for r in runs if r.state_type.value == "COMPLETED"]
                return done if len(done) >= 2 else None

            done = wait_for("two auto-scheduled runs COMPLETED by the runner", completed_scheduled, timeout=45, interval=0.5)
            step(f"{len(done)} scheduled runs completed")
            for run in done:
                check_equal(run.parameters, {"name": "scheduled"}, f"parameters of scheduled run {run.name}")
                check("auto-scheduled" in run.tags, f"tags of scheduled run {run.name}: {run.tags}")
                check_equal(run.created_by.type if run.created_by else None, "SCHEDULE", f"created_by of {run.name}")
                check_equal(run.run_count, 1, f"run_count of scheduled run {run.name}")

            # Stop the schedule: the runner is then idle (it prefetches runs 10 s ahead, each a new
            # Python process) when the manual run arrives, and the server drops the future runs.
            c.update_deployment_schedule(deployment.id, deployment.schedules[0].id, active=False)
            wait_for(
                "the server to delete the future scheduled runs of the deactivated schedule",
                lambda: not [r for r in deployment_runs(c, deployment.id) if r.state_name == "Scheduled" and r.auto_scheduled],
                timeout=10,
            )

            out = prefect_cli("deployment", "run", full_name, "--param", "name=cli", timeout=60).stdout
            ids = re.findall(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", out)
            check(ids, f"`prefect deployment run` should print the new flow run's id:\n{out}")
            step(f"`prefect deployment run` created {ids[0]}")
            triggered = wait_for_flow_run_state(c, ids[0], ["COMPLETED", "FAILED", "CRASHED"], timeout=45)
            step(f"triggered run ended {triggered.state_type.value}")
            check_equal(triggered.state_type.value, "COMPLETED", "state of the run triggered by `prefect deployment run`")
            check_equal(triggered.deployment_id, deployment.id, "deployment_id of the triggered run")
            check_equal(triggered.parameters, {"name": "cli"}, "parameters of the triggered run")
            check_equal(triggered.auto_scheduled, False, "the triggered run is not auto-scheduled")
            wait_for(
                "the triggered run's 'hello cli' log line",
                lambda: any(log.message == "hello cli" for log in logs_of(c, ids[0])),
                timeout=15,
            )
        except BaseException:
            print(f"--- serve() output (tail)\n{served.tail()}", file=sys.stderr)
            raise
        served.stop()
        wait_for(
            "serve() to pause its deployment on shutdown",
            lambda: c.read_deployment(deployment.id).paused,
            timeout=10,
        )


if __name__ == "__main__":
    main(scenario)
