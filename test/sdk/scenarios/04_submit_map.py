"""`.submit()` and `.map()` over 50 items on the default thread-pool task runner.

The server must hold 50 COMPLETED `square` task runs from the map (each with its own
dynamic_key), the two submitted tasks, and the final `summarize` task whose inputs point at
the submitted futures; all linked to the flow run, which is COMPLETED.
"""

from _common import check, check_equal, client, main, wait_for_task_runs
from prefect import flow, task

N = 50


@task
def square(x: int) -> int:
    return x * x


@task
def offset(base: int) -> int:
    return base + 1


@task
def summarize(squares: list[int], a: int, b: int) -> int:
    return sum(squares) + a + b


@flow(name="s04-fan-out")
def fan_out() -> int:
    squares = square.map(range(N))
    a = offset.submit(1000)
    b = offset.submit(2000)
    return summarize.submit([f.result() for f in squares], a, b).result()


def scenario() -> None:
    state = fan_out(return_state=True)
    check(state.is_completed(), f"the flow should complete, got {state!r}")
    expected = sum(x * x for x in range(N)) + 1001 + 2001
    check_equal(state.result(), expected, "the flow's return value")
    flow_run_id = state.state_details.flow_run_id

    with client() as c:
        check_equal(c.read_flow_run(flow_run_id).state_type.value, "COMPLETED", "flow run state")
        tasks = wait_for_task_runs(c, flow_run_id, N + 3, timeout=30)
        by_task: dict[str, list] = {}
        for t in tasks:
            by_task.setdefault(t.task_key.split("-")[0], []).append(t)
        counts = {k: len(v) for k, v in by_task.items()}
        check_equal(counts, {"square": N, "offset": 2, "summarize": 1}, "task runs per task")
        for t in tasks:
            check_equal(t.flow_run_id, flow_run_id, f"task run {t.name} flow_run_id")
            check_equal(t.state_type.value, "COMPLETED", f"task run {t.name} state")
        check_equal(len({t.dynamic_key for t in by_task["square"]}), N, "distinct dynamic keys of the mapped runs")
        check_equal(len({t.id for t in tasks}), N + 3, "distinct task run ids")

        (summary,) = by_task["summarize"]
        offset_ids = sorted(t.id for t in by_task["offset"])
        upstream = sorted(i.id for name in ("a", "b") for i in summary.task_inputs.get(name, []))
        check_equal(upstream, offset_ids, "summarize's task_inputs a/b (the submitted offset runs)")


if __name__ == "__main__":
    main(scenario)
