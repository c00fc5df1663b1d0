"""The `prefect` CLI against the server: create, list and inspect commands exit 0 and show the objects.

Objects are made first (a flow run, a deployment, a variable, a Secret block, a tag concurrency
limit via `prefect concurrency-limit create`, a process work pool via `prefect work-pool create`,
which reads the worker metadata for the pool's default job template), then each listing command
must exit 0 and print the object's name. All problems are reported together.
"""

from concurrent.futures import ThreadPoolExecutor

from _common import PREFECT_CLI, check, check_equal, client, fail, main, run, step, suffix
from prefect import flow
from prefect.blocks.system import Secret
from prefect.variables import Variable


@flow(name="s11-cli-flow")
def tiny() -> int:
    return 1


def scenario() -> None:
    tag = suffix()
    pool, deployment_name, var_name = f"s11-pool-{tag}", f"s11-dep-{tag}", f"s11_var_{tag}"
    block_name, limit_tag, run_name = f"s11-secret-{tag}", f"s11-tag-{tag}", f"s11-run-{tag}"

    state = tiny.with_options(flow_run_name=run_name)(return_state=True)
    check(state.is_completed(), f"the flow should complete: {state!r}")
    Variable.set(var_name, "cli-visible")
    Secret(value="x").save(block_name)
    with client() as c:
        flow_id = c.read_flow_by_name("s11-cli-flow").id
        c.create_deployment(flow_id=flow_id, name=deployment_name, entrypoint="nowhere.py:tiny")
    step("objects created through the SDK")

    problems: list[str] = []

    def cli(*args: str, expect: tuple[str, ...] = ()) -> str:
        done = run([*PREFECT_CLI, *args], timeout=60, expect_ok=False)
        shown = "prefect " + " ".join(args)
        if done.returncode != 0:
            problems.append(f"`{shown}` exited {done.returncode}:\n{done.stdout[-1500:]}\n{done.stderr[-1500:]}")
            return done.stdout
        missing = [e for e in expect if e not in done.stdout]
        if missing:
            problems.append(f"`{shown}` does not show {missing}:\n{done.stdout[-2000:]}")
        return done.stdout

    cli("concurrency-limit", "create", limit_tag, "3")
    cli("work-pool", "create", pool, "--type", "process")
    step("created a tag limit and a work pool with the CLI")

    listings = [
        (("flow-run", "ls", "--flow-name", "s11-cli-flow"), (run_name,)),
        (("deployment", "ls"), (f"s11-cli-flow/{deployment_name}",)),
        (("work-pool", "ls"), (pool,)),
        (("work-pool", "inspect", pool), (pool, "process")),
        (("variable", "ls"), (var_name,)),
        (("block", "ls"), (block_name,)),
        (("concurrency-limit", "ls"), (limit_tag,)),
    ]
    with ThreadPoolExecutor(max_workers=3) as pool_executor:
        list(pool_executor.map(lambda item: cli(*item[0], expect=item[1]), listings))
    step("listings done")

    with client() as c:
        try:
            created_pool = c.read_work_pool(pool)
            check_equal(created_pool.type, "process", "type of the pool made by `prefect work-pool create`")
            check(
                created_pool.base_job_template.get("job_configuration", {}).get("command") is not None,
                f"`work-pool create --type process` should store the process default job template: "
                f"{created_pool.base_job_template}",
            )
        except Exception as exc:
            problems.append(f"the work pool made by the CLI: {type(exc).__name__}: {exc}")
        try:
            check_equal(c.read_concurrency_limit_by_tag(limit_tag).concurrency_limit, 3, "the CLI-made tag limit")
        except Exception as exc:
            problems.append(f"the tag limit made by the CLI: {type(exc).__name__}: {exc}")

    if problems:
        fail(f"{len(problems)} CLI problem(s):\n\n" + "\n\n".join(problems))


if __name__ == "__main__":
    main(scenario)
