"""`concurrency()` with a global (v2) limit, and a tag concurrency limit, limit parallel tasks.

Each flow submits 3 tasks to the default thread pool, every task holding its slot for 0.4 s
and reporting when it held it. Without a limit they overlap (control); with a global limit of 1
around `concurrency(name)` they never overlap; with a tag limit of 1 (created through the v1
`/concurrency_limits/` API) the tagged task runs never overlap. Afterwards the server must show
every slot released.
"""

import time

from _common import check, check_equal, client, main, step, suffix, wait_for, wait_for_task_runs
from prefect import flow, task
from prefect.concurrency.sync import concurrency

HOLD = 0.4
N = 3  # each waiting task backs off for about a second (the server's Retry-After): keep it small


def max_overlap(intervals: list[tuple[float, float]]) -> int:
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    current = peak = 0
    for _, delta in edges:  # at equal times -1 sorts first: touching intervals don't overlap
        current += delta
        peak = max(peak, current)
    return peak


def hold(seconds: float = HOLD) -> tuple[float, float]:
    start = time.time()
    time.sleep(seconds)
    return start, time.time()


@task
def unlimited(i: int) -> tuple[float, float]:
    return hold(1.0)  # longer, so the control overlaps even on a busy machine


@task
def guarded(i: int, limit_name: str) -> tuple[float, float]:
    with concurrency(limit_name, occupy=1, timeout_seconds=60):
        return hold()


@task
def tagged(i: int) -> tuple[float, float]:
    return hold()


@flow(name="s09-concurrency")
def contend(limit_name: str, tag: str) -> dict:
    control = [unlimited.submit(i) for i in range(N)]
    control_times = [f.result() for f in control]
    limited = [guarded.submit(i, limit_name) for i in range(N)]
    limited_times = [f.result() for f in limited]
    tagged_runs = [tagged.with_options(tags=[tag]).submit(i) for i in range(N)]
    tagged_times = [f.result() for f in tagged_runs]
    return {"control": control_times, "global": limited_times, "tag": tagged_times}


def scenario() -> None:
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

    tag = suffix()
    limit_name, tag_name = f"s09-gcl-{tag}", f"s09-tag-{tag}"
    with client() as c:
        c.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=limit_name, limit=1))
        c.create_concurrency_limit(tag=tag_name, concurrency_limit=1)
        check_equal(c.read_concurrency_limit_by_tag(tag_name).concurrency_limit, 1, "the tag limit as created")
        step("limits created")

        started = time.monotonic()
        state = contend(limit_name, tag_name, return_state=True)
        check(state.is_completed(), f"the flow should complete: {state!r}")
        step(f"flow finished in {time.monotonic() - started:.1f}s")
        times = state.result()
        t0 = min(s for v in times.values() for s, _ in v)
        step(f"slot hold times: { {k: [(round(s - t0, 1), round(e - t0, 1)) for s, e in v] for k, v in times.items()} }")
        check_equal(len(times["global"]), N, "tasks under the global limit")
        check(
            max_overlap(times["control"]) > 1,
            f"control: unlimited tasks should run in parallel on the thread pool ({times['control']})",
        )
        check_equal(max_overlap(times["global"]), 1, "tasks inside concurrency(limit=1) running at once")
        check_equal(max_overlap(times["tag"]), 1, "tasks tagged with a limit of 1 running at once")

        gcl = c.read_global_concurrency_limit_by_name(limit_name)
        check_equal(gcl.active_slots, 0, "active slots of the global limit after the flow")
        check_equal(gcl.limit, 1, "the global limit")
        wait_for(
            "the tag limit's slots to be released",
            lambda: c.read_concurrency_limit_by_tag(tag_name).active_slots == [],
            timeout=10,
        )

        tasks = wait_for_task_runs(c, state.state_details.flow_run_id, 3 * N)
        tagged_runs = [t for t in tasks if t.task_key.startswith("tagged")]
        check_equal(len(tagged_runs), N, "tagged task runs recorded")
        for t in tagged_runs:
            check_equal(t.tags, [tag_name], f"tags of task run {t.name}")
            check_equal(t.state_type.value, "COMPLETED", f"state of task run {t.name}")


if __name__ == "__main__":
    main(scenario)
