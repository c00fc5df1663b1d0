"""Subflows: a parent flow calls a child flow twice and a task.

For each child call the parent engine creates a tracking task run (POST /task_runs/) in the
parent flow run and passes its id as the child flow run's parent_task_run_id. The server must
hold: the parent and both children COMPLETED, each child's parent_task_run_id pointing at a
task run of the parent flow run, the child's parameters, and the child's own task run linked to
the child (not the parent).
"""

from _common import check, check_equal, client, flow_runs_of_flow, main, task_runs_of, wait_for, wait_for_task_runs
from prefect import flow, get_run_logger, task


@task
def double(x: int) -> int:
    return 2 * x


@flow(name="s03-child")
def child(x: int) -> int:
    get_run_logger().info("child got %d", x)
    return double(x)


@flow(name="s03-parent")
def parent() -> int:
    a = child(1)
    b = child(x=20)
    return a + b + double(100)


def scenario() -> None:
    state = parent(return_state=True)
    check(state.is_completed(), f"the parent flow should complete, got {state!r}")
    check_equal(state.result(), 2 + 40 + 200, "the parent's return value")
    parent_id = state.state_details.flow_run_id

    with client() as c:
        parent_run = c.read_flow_run(parent_id)
        check_equal(parent_run.state_type.value, "COMPLETED", "parent flow run state")
        check_equal(parent_run.parent_task_run_id, None, "the parent's parent_task_run_id")

        children = [r for r in flow_runs_of_flow(c, "s03-child") if r.parent_task_run_id]
        parent_task_ids = {t.id for t in task_runs_of(c, parent_id)}
        mine = [r for r in children if r.parent_task_run_id in parent_task_ids]
        check_equal(
            sorted(r.parameters["x"] for r in mine), [1, 20], "parameters of the child flow runs linked to this parent"
        )
        for child_run in mine:
            check_equal(child_run.state_type.value, "COMPLETED", f"child flow run {child_run.name} state")
            tracking = c.read_task_run(child_run.parent_task_run_id)
            check_equal(tracking.flow_run_id, parent_id, f"tracking task run of {child_run.name}: flow_run_id")
            check(
                tracking.task_key and "child" in tracking.name,
                f"the tracking task run should be named after the subflow: {tracking.name!r} / {tracking.task_key!r}",
            )
            wait_for(
                f"the tracking task run of {child_run.name} to be COMPLETED",
                lambda: c.read_task_run(tracking.id).state_type.value == "COMPLETED",
                timeout=15,
            )
            child_tasks = wait_for_task_runs(c, child_run.id, 1)
            check_equal(len(child_tasks), 1, f"task runs of child flow run {child_run.name}")
            check(child_tasks[0].task_key.startswith("double"), f"the child's task run: {child_tasks[0].task_key}")
            check_equal(child_tasks[0].flow_run_id, child_run.id, "the child's task run belongs to the child")

        # The parent: two tracking task runs + its own `double(100)`.
        parent_tasks = wait_for_task_runs(c, parent_id, 3)
        check_equal(len(parent_tasks), 3, f"task runs of the parent {[t.name for t in parent_tasks]}")
        check_equal(
            sorted(t.id for t in parent_tasks if t.id in {r.parent_task_run_id for r in mine}),
            sorted(r.parent_task_run_id for r in mine),
            "the tracking task runs are among the parent's task runs",
        )


if __name__ == "__main__":
    main(scenario)
