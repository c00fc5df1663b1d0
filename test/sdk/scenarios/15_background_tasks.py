"""Background tasks: a task worker (`serve(add, flaky)`, as `Task.serve()` / `prefect task serve`
run) in one process executes tasks submitted with `.delay()` from another.

`.delay()` creates a task run without a flow run in a deferred Scheduled state; the server queues
it and pushes it to the worker over `/task_runs/subscriptions/scheduled`. The server must show
each run COMPLETED (Scheduled → Pending → Running → Completed), the results must come back to the
submitting process, a failing first attempt must be retried by the worker (in process), and
`/task_workers/filter` must list the worker under its task keys while it runs.
"""

import sys
import tempfile
from pathlib import Path

from _common import FLOWS_DIR, Background, check, check_equal, client, main, scenario_env, state_names, step, wait_for

sys.path.insert(0, str(FLOWS_DIR))

from background_tasks import add, flaky  # noqa: E402


def scenario() -> None:
    env = scenario_env()
    with client() as c, Background("task-worker", [sys.executable, "background_tasks.py"], env=env, cwd=str(FLOWS_DIR)) as worker:
        try:

            def workers():
                response = c._client.post("/task_workers/filter", json={"task_worker_filter": {"task_keys": [add.task_key]}})
                response.raise_for_status()
                return response.json()

            listed = wait_for("the task worker to subscribe", workers, timeout=45, interval=0.5)
            check_equal(sorted(listed[0]["task_keys"]), sorted([add.task_key, flaky.task_key]), "the worker's task keys")
            step(f"task worker {listed[0]['identifier']} subscribed")

            futures = [add.delay(i, 10) for i in range(3)]
            results = [future.result(timeout=60) for future in futures]
            check_equal(results, [10, 11, 12], "results of add.delay(i, 10)")
            step("three delayed add() runs returned their results")

            for future in futures:
                run = wait_for(f"task run {future.task_run_id} recorded as Completed", lambda: (r := c.read_task_run(future.task_run_id)).state_type.value == "COMPLETED" and r, timeout=10)
                check_equal(run.flow_run_id, None, "a background task run has no flow run")
                check_equal(run.task_key, add.task_key, "task key")
                states = c.read_task_run_states(run.id)
                check_equal(state_names(states), ["Scheduled", "Pending", "Running", "Completed"], f"states of {run.id}")
                check(states[0].state_details.deferred, "the first state is deferred")

            marker = Path(tempfile.mkdtemp()) / "flaky-marker"
            retried = flaky.delay(str(marker))
            check_equal(retried.result(timeout=60), "recovered", "result of the retried flaky.delay()")
            # result() returns on the Completed event; the server records the run from the same
            # events a moment later (the task-run recorder), as Prefect's server does
            run = wait_for("the retried run recorded as Completed", lambda: (r := c.read_task_run(retried.task_run_id)).state_type.value == "COMPLETED" and r, timeout=10)
            check_equal(run.run_count, 2, "run_count of the retried task run")
            names = state_names(c.read_task_run_states(run.id))
            check_equal(names, ["Scheduled", "Pending", "Running", "Retrying", "Completed"], "states of the retried task run")
            step(f"flaky.delay() was retried: {names}")
        except BaseException:
            print(f"--- task worker output (tail)\n{worker.tail()}", file=sys.stderr)
            raise
        worker.stop()
        wait_for("the stopped worker to leave /task_workers/filter", lambda: workers() == [], timeout=15)


if __name__ == "__main__":
    main(scenario)
