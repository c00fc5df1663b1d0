"""Creates, through the real Prefect SDK, the data the browser test looks at: a flow run with
task runs, logs and artifacts, a process work pool with a deployment, blocks, a variable,
concurrency limits and an automation. Prints one JSON line with the ids the pages need.

Usage: PREFECT_API_URL=http://127.0.0.1:PORT/api python test/ui/seed/seed_ui_data.py
"""

import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from prefect import flow, get_client, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_progress_artifact, create_table_artifact
from prefect.blocks.system import Secret
from prefect.blocks.webhook import Webhook
from prefect.states import Scheduled
from prefect.variables import Variable

HERE = Path(__file__).resolve().parent


@task
def extract() -> list[int]:
    get_run_logger().info("extracted 3 rows")
    return [1, 2, 3]


@task
def transform(rows: list[int]) -> list[int]:
    create_progress_artifact(progress=100.0, description="transform progress")
    create_table_artifact(key="ui-table", table=[{"row": r, "double": r * 2} for r in rows], description="doubled rows")
    return [r * 2 for r in rows]


@task
def load(rows: list[int]) -> int:
    get_run_logger().warning("loading %d rows", len(rows))
    return sum(rows)


@flow(name="ui-etl")
def etl(size: int = 3) -> int:
    get_run_logger().info("starting the etl with size %s", size)
    total = load(transform(extract()))
    create_markdown_artifact(key="ui-report", markdown=f"# ETL report\n\nTotal: **{total}**", description="the report")
    return total


def main() -> None:
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, WorkPoolCreate
    from prefect.workers.process import ProcessWorker

    state = etl(return_state=True)
    assert state.is_completed(), state
    flow_run_id = state.state_details.flow_run_id

    Secret(value="s3cr3t").save("ui-secret", overwrite=True)
    Webhook(method="POST", url="https://example.com/hook").save("ui-webhook", overwrite=True)
    Variable.set("ui_greeting", "hello", overwrite=True)

    with get_client(sync_client=True) as c:
        c.create_work_pool(
            WorkPoolCreate(name="ui-pool", type="process", base_job_template=ProcessWorker.get_default_base_job_template())
        )
        source_flow = flow.from_source(source=str(HERE), entrypoint="ui_flows.py:greet")
        deployment_id = source_flow.deploy(name="ui-deployment", work_pool_name="ui-pool", print_next_steps=False, ignore_warnings=True)
        # Scheduled an hour ago and never picked up: the late-runs service marks it Late.
        c.create_flow_run_from_deployment(deployment_id, state=Scheduled(scheduled_time=datetime.now(timezone.utc) - timedelta(hours=1)))
        c.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name="ui-limit", limit=2))
        c.create_concurrency_limit(tag="ui-tag", concurrency_limit=3)
        task_runs = c.read_task_runs()
        task_run_id = next(t.id for t in task_runs if t.flow_run_id == flow_run_id and t.name.startswith("transform"))
        flow_run = c.read_flow_run(flow_run_id)
        block = c.read_block_document_by_name("ui-webhook", block_type_slug="webhook")
        limit = c.read_global_concurrency_limit_by_name("ui-limit")

    from prefect.automations import Automation
    from prefect.events.actions import CancelFlowRun
    from prefect.events.schemas.automations import EventTrigger, Posture

    automation = Automation(
        name="ui-automation",
        trigger=EventTrigger(expect={"prefect.flow-run.Failed"}, posture=Posture.Reactive, threshold=1),
        actions=[CancelFlowRun()],
    ).create()

    # The feed's window ends at the start of the current minute (as in Prefect's UI): one event a few
    # minutes old is always inside it, whenever in the minute the page is opened.
    from prefect.events import emit_event
    from prefect.events.worker import EventsWorker

    emit_event(
        "ui.seed.happened",
        resource={"prefect.resource.id": "ui.seed", "prefect.resource.name": "ui-seed"},
        occurred=datetime.now(timezone.utc) - timedelta(minutes=5),
    )
    EventsWorker.drain_all()

    # Events reach the feed through the persister's batches.
    time.sleep(1)
    print(
        json.dumps(
            {
                "flow_id": str(flow_run.flow_id),
                "flow_run_id": str(flow_run_id),
                "flow_run_name": flow_run.name,
                "task_run_id": str(task_run_id),
                "deployment_id": str(deployment_id),
                "work_pool": "ui-pool",
                "block_document_id": str(block.id),
                "artifact_key": "ui-report",
                "concurrency_limit_id": str(limit.id),
                "automation_id": str(automation.id),
            }
        )
    )


if __name__ == "__main__":
    main()
