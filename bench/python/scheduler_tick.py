"""
The Python server's counterpart of scripts/scheduler-tick.ts: creates N deployments, each
with an hourly interval schedule, on a new SQLite database, then times Prefect's own scheduler
service function (prefect.server.services.scheduler.schedule_deployments) in-process, twice:
the first tick creates their runs, the second finds nothing to do.

    python bench/python/scheduler_tick.py [deployments]   -> one line of JSON

Run with the bench venv's python (Prefect 3.9.1); PREFECT_HOME should point at an empty dir.
"""

import asyncio
import json
import os
import sys
import tempfile
import time

count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
home = os.environ.get("PREFECT_HOME") or tempfile.mkdtemp(prefix="prefect-bench-sched-")
os.environ["PREFECT_HOME"] = home
os.environ["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = f"sqlite+aiosqlite:///{home}/prefect.db"
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "WARNING")

from prefect.server import models, schemas  # noqa: E402
from prefect.server.database import provide_database_interface  # noqa: E402
from prefect.server.services.scheduler import schedule_deployments  # noqa: E402


async def main() -> None:
    db = provide_database_interface()
    setup_start = time.perf_counter()
    await db.create_db()  # alembic migrations, as the server runs them at start
    async with db.session_context(begin_transaction=True) as session:
        flow = await models.flows.create_flow(session=session, flow=schemas.core.Flow(name="scheduled-flow"))
        for i in range(count):
            await models.deployments.create_deployment(
                session=session,
                # as POST /deployments/ does: the action model hydrated into the core model
                deployment=schemas.core.Deployment(
                    **schemas.actions.DeploymentCreate(
                        name=f"d-{i}",
                        flow_id=flow.id,
                        schedules=[
                            schemas.actions.DeploymentScheduleCreate(
                                schedule=schemas.schedules.IntervalSchedule(interval=3600)
                            )
                        ],
                    ).model_dump(exclude={"work_pool_name"}, exclude_unset=True)
                ),
            )
    setup_s = time.perf_counter() - setup_start

    async def count_runs() -> int:
        async with db.session_context() as session:
            return await models.flow_runs.count_flow_runs(session=session)

    start = time.perf_counter()
    await schedule_deployments()
    first_ms = (time.perf_counter() - start) * 1000
    runs = await count_runs()
    start = time.perf_counter()
    await schedule_deployments()
    second_ms = (time.perf_counter() - start) * 1000
    runs_second = await count_runs() - runs
    print(
        json.dumps(
            {
                "deployments": count,
                "setup_s": setup_s,
                "first_tick_ms": first_ms,
                "runs_created": runs,
                "second_tick_ms": second_ms,
                "runs_created_second": runs_second,
            }
        )
    )


asyncio.run(main())
