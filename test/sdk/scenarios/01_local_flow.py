"""A local flow calling two tasks, logging with get_run_logger() and returning a value.

The server must hold: the flow run COMPLETED (Pending -> Running -> Completed), both task runs
COMPLETED and linked to it (they arrive as events, through the task-run recorder), the second
task's inputs pointing at the first, and the flow's and tasks' log lines with the right ids.
"""

from _common import check, check_equal, client, logs_of, main, state_names, wait_for, wait_for_task_runs
from prefect import flow, get_run_logger, task


@task
def extract(n: int) -> list[int]:
    get_run_logger().info("extracting %d numbers", n)
    return list(range(n))


@task
def total(values: list[int]) -> int:
    get_run_logger().info("summing %d values", len(values))
    return sum(values)


@flow(name="s01-etl")
def etl(n: int = 5) -> int:
    get_run_logger().info("etl flow says hello")
    return total(extract(n))


def scenario() -> None:
    state = etl(n=5, return_state=True)
    check(state.is_completed(), f"the flow should complete locally, got {state!r}")
    check_equal(state.result(), 10, "the flow's return value")
    flow_run_id = state.state_details.flow_run_id

    with client() as c:
        run = c.read_flow_run(flow_run_id)
        check_equal(run.state_type.value, "COMPLETED", "flow run state type")
        check_equal(run.parameters, {"n": 5}, "flow run parameters")
        check_equal(c.read_flow(run.flow_id).name, "s01-etl", "flow name")
        check(run.start_time and run.end_time, f"flow run start/end time should be set: {run.start_time} {run.end_time}")
        check_equal(run.run_count, 1, "flow run run_count")
        check_equal(state_names(c.read_flow_run_states(flow_run_id)), ["Pending", "Running", "Completed"], "flow run states")

        tasks = wait_for_task_runs(c, flow_run_id, 2)
        check_equal(len(tasks), 2, "number of task runs of the flow run")
        by_name = {t.task_key.split("-")[0]: t for t in tasks}
        check_equal(sorted(by_name), ["extract", "total"], f"task keys {[t.task_key for t in tasks]}")
        for t in tasks:
            check_equal(t.flow_run_id, flow_run_id, f"task run {t.name} flow_run_id")
            check_equal(t.state_type.value, "COMPLETED", f"task run {t.name} state")
            check_equal(t.run_count, 1, f"task run {t.name} run_count")
            check(t.start_time and t.end_time, f"task run {t.name} should have start and end times")
        extract_run, total_run = by_name["extract"], by_name["total"]
        upstream = [inp.id for inp in total_run.task_inputs.get("values", [])]
        check_equal(upstream, [extract_run.id], "total's task_inputs['values'] (the upstream task run)")
        check_equal(
            state_names(c.read_task_run_states(total_run.id)), ["Pending", "Running", "Completed"], "total's task run states"
        )

        def all_logs():
            logs = logs_of(c, flow_run_id)
            messages = {log.message: log for log in logs}
            wanted = ["etl flow says hello", "extracting 5 numbers", "summing 5 values"]
            return messages if all(w in messages for w in wanted) else None

        logs = wait_for("the flow's and tasks' log lines", all_logs)
        check_equal(logs["etl flow says hello"].task_run_id, None, "task_run_id of the flow's log line")
        check_equal(logs["extracting 5 numbers"].task_run_id, extract_run.id, "task_run_id of extract's log line")
        check_equal(logs["summing 5 values"].task_run_id, total_run.id, "task_run_id of total's log line")
        check_equal(logs["summing 5 values"].level, 20, "log level of an info line")
        check(
            any(m.startswith("Beginning flow run") for m in logs),
            f"the engine's own 'Beginning flow run' line should be stored too: {sorted(logs)}",
        )


if __name__ == "__main__":
    main(scenario)
