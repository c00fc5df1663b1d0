"""The SDK against a server started with PREFECT_SERVER_API_AUTH_STRING (the runner sets it, and
PREFECT_API_AUTH_STRING for this scenario).

With the auth string the SDK works end to end: a local flow with a task completes (its task run
reaches the server only as events over the authenticated /events/in websocket, through the
task-run recorder), an event the client emits is stored, and a subscriber on /events/out
authenticates. Without it the client is refused with 401, and a wrong token on the websocket
fails the handshake.
"""

import asyncio
import os

import httpx
from _common import check, check_equal, client, main, step, suffix, wait_for, wait_for_task_runs
from prefect import flow, task
from prefect.events import emit_event
from prefect.events.clients import PrefectEventSubscriber
from prefect.events.filters import EventFilter, EventNameFilter
from prefect.settings import PREFECT_API_AUTH_STRING, temporary_settings


@task
def double(x: int) -> int:
    return 2 * x


@flow(name="s12-authed")
def authed(x: int = 21) -> int:
    return double(x)


def scenario() -> None:
    api = os.environ["PREFECT_API_URL"]
    check(os.environ.get("PREFECT_API_AUTH_STRING"), "the runner should set PREFECT_API_AUTH_STRING for this scenario")

    step("without credentials the server refuses")
    res = httpx.post(f"{api}/flows/filter", json={})
    check_equal((res.status_code, res.json()), (401, {"exception_message": "Unauthorized"}), "unauthenticated POST /flows/filter")
    check_equal(httpx.get(f"{api}/health").status_code, 200, "GET /health without credentials")

    step("a flow with a task runs through the SDK")
    state = authed(return_state=True)
    check(state.is_completed(), f"the flow should complete, got {state!r}")
    check_equal(state.result(), 42, "the flow's result")
    flow_run_id = state.state_details.flow_run_id
    with client() as c:
        check_equal(c.read_flow_run(flow_run_id).state_type.value, "COMPLETED", "flow run state")
        tasks = wait_for_task_runs(c, flow_run_id, 1)
        check_equal([t.state_type.value for t in tasks], ["COMPLETED"], "the task run recorded from its events")

    step("an emitted event is stored; a subscriber authenticates")
    name = f"s12.custom.{suffix()}"
    emit_event(event=name, resource={"prefect.resource.id": f"s12.thing.{suffix()}"})
    credentials = tuple(os.environ["PREFECT_API_AUTH_STRING"].split(":", 1))

    def stored():
        res = httpx.post(f"{api}/events/filter", json={"filter": {"event": {"name": [name]}}}, auth=credentials)
        return res.status_code == 200 and res.json()["total"] == 1

    wait_for("the emitted event in /events/filter", stored)
    only_ours = EventFilter(event=EventNameFilter(name=[name]))

    async def first_event():
        async with PrefectEventSubscriber(filter=only_ours, reconnection_attempts=0) as subscriber:
            async for event in subscriber:
                return event.event

    check_equal(asyncio.run(asyncio.wait_for(first_event(), 30)), name, "the event a subscriber receives (backfill)")

    step("a wrong auth string fails the websocket handshake")

    async def refused() -> str:
        try:
            async with PrefectEventSubscriber(filter=only_ours, reconnection_attempts=0):
                return "accepted"
        except Exception as exc:  # noqa: BLE001 - the SDK raises a plain Exception for a failed handshake
            return str(exc)

    with temporary_settings(updates={PREFECT_API_AUTH_STRING: "nobody:wrong"}):
        reason = asyncio.run(asyncio.wait_for(refused(), 30))
    check("Unable to authenticate" in reason and "Invalid token" in reason, f"a wrong auth string should be refused, got {reason!r}")

if __name__ == "__main__":
    main(scenario)
