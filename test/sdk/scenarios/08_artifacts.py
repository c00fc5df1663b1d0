"""Markdown, table and link artifacts.

A flow creates a keyed markdown artifact and a keyed link artifact; a task inside it creates a
table artifact. The flow runs twice. The server must hold three artifacts per run with the
right types, data, descriptions and flow/task run ids, and the artifact collection of each key
must point at the latest (second) run's artifact. (The SDK stores a link artifact as type
"markdown" holding a markdown link.)
"""

import json

from _common import check, check_equal, client, main, suffix, wait_for_task_runs
from prefect import flow, task
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact

TAG = suffix()
KEYS = {"markdown": f"s08-report-{TAG}", "link": f"s08-link-{TAG}", "table": f"s08-table-{TAG}"}


@task
def tabulate(run_no: int) -> None:
    create_table_artifact(
        key=KEYS["table"],
        table=[{"item": "apples", "count": 3 * run_no}, {"item": "pears", "count": 5}],
        description="fruit counts",
    )


@flow(name="s08-artifacts")
def reporting(run_no: int) -> None:
    create_markdown_artifact(key=KEYS["markdown"], markdown=f"# Report {run_no}\n\n*all good*", description="the report")
    create_link_artifact(key=KEYS["link"], link=f"https://example.com/runs/{run_no}", link_text=f"run {run_no}")
    tabulate(run_no)


def scenario() -> None:
    from prefect.client.schemas.filters import ArtifactCollectionFilter, ArtifactCollectionFilterKey, ArtifactFilter
    from prefect.client.schemas.filters import ArtifactFilterFlowRunId

    run_ids = []
    for run_no in (1, 2):
        state = reporting(run_no, return_state=True)
        check(state.is_completed(), f"run {run_no} of the flow should complete: {state!r}")
        run_ids.append(state.state_details.flow_run_id)

    with client() as c:
        for run_no, flow_run_id in enumerate(run_ids, start=1):
            artifacts = c.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
            keyed = [a for a in artifacts if a.key]  # unkeyed result artifacts may appear too
            by_type = {kind: a for kind, key in KEYS.items() for a in keyed if a.key == key}
            check_equal(
                sorted((a.key, a.type) for a in keyed),
                sorted([(KEYS["link"], "markdown"), (KEYS["markdown"], "markdown"), (KEYS["table"], "table")]),
                f"keyed artifacts of run {run_no}",
            )
            for kind, artifact in by_type.items():
                check_equal(artifact.flow_run_id, flow_run_id, f"flow_run_id of the {kind} artifact of run {run_no}")

            markdown = by_type["markdown"]
            check_equal(markdown.data, f"# Report {run_no}\n\n*all good*", "markdown artifact data")
            check_equal(markdown.description, "the report", "markdown artifact description")
            check_equal(markdown.task_run_id, None, "task_run_id of an artifact created by the flow")

            link = by_type["link"]
            check_equal(link.data, f"[run {run_no}](https://example.com/runs/{run_no})", "link artifact data")

            table = by_type["table"]
            rows = json.loads(table.data) if isinstance(table.data, str) else table.data
            check_equal(
                rows,
                [{"item": "apples", "count": 3 * run_no}, {"item": "pears", "count": 5}],
                "table artifact rows",
            )
            check_equal(table.description, "fruit counts", "table artifact description")
            (tabulate_run,) = [t for t in wait_for_task_runs(c, flow_run_id, 1) if t.task_key.startswith("tabulate")]
            check_equal(table.task_run_id, tabulate_run.id, "task_run_id of the table artifact (created in a task)")

        latest = c.read_latest_artifacts(
            artifact_filter=ArtifactCollectionFilter(key=ArtifactCollectionFilterKey(any_=list(KEYS.values())))
        )
        check_equal(sorted(a.key for a in latest), sorted(KEYS.values()), "artifact collections of the three keys")
        for collection in latest:
            check_equal(collection.flow_run_id, run_ids[1], f"the latest {collection.key} comes from the second run")
        markdown_latest = c.read_latest_artifacts(
            artifact_filter=ArtifactCollectionFilter(key=ArtifactCollectionFilterKey(any_=[KEYS["markdown"]]))
        )
        check_equal(markdown_latest[0].data, "# Report 2\n\n*all good*", "latest markdown artifact data")
        all_versions = c.read_artifacts(artifact_filter=ArtifactFilter(key={"any_": [KEYS["markdown"]]}))
        check_equal(len(all_versions), 2, "both versions of the keyed markdown artifact are kept")


if __name__ == "__main__":
    main(scenario)
