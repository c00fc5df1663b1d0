"""Side-by-side probe of /work_pools/{name}/workers/connect (README, "The worker channel").

Run with the SDK venv against each server and diff the JSON: .venv-sdk/bin/python scripts/worker-channel-probe.py http://127.0.0.1:4200/api
"""
import asyncio, json, sys, uuid, datetime, httpx
import websockets

BASE = sys.argv[1]  # e.g. http://127.0.0.1:4300/api
WS = BASE.replace("http", "ws", 1)

def now(): return datetime.datetime.now(datetime.timezone.utc).isoformat()

def hello(**over):
    payload = {
        "consumer_id": str(uuid.uuid4()), "worker_name": "w1", "worker_type": "process",
        "heartbeat_interval_seconds": 1, "supported_channel_versions": ["work_pool_worker_channel.v1"],
        "requested_capabilities": ["worker_heartbeat.v1", "work_pool_snapshot.v1"],
        "work_queue_names": [], "create_pool_if_not_found": True,
        "default_base_job_template": {"job_configuration": {"command": "{{ command }}"}, "variables": {"properties": {"command": {"type": "string", "default": "x"}}}},
    }
    payload.update(over.pop("payload", {}))
    frame = {"type": "worker.hello.v1", "id": str(uuid.uuid4()), "sent_at": now(), "payload": payload}
    frame.update(over)
    return frame

def redact(v):
    if isinstance(v, dict):
        return {k: ("<t>" if k in ("created", "updated", "sent_at", "id", "consumer_id", "default_queue_id", "work_pool_id") and isinstance(x, str) else redact(x)) for k, x in v.items()}
    if isinstance(v, list): return [redact(x) for x in v]
    return v

async def session(pool, frames, subprotocol=True, auth=True, wait_after=0.3, actions=None):
    out = []
    kwargs = {"subprotocols": ["prefect"]} if subprotocol else {}
    try:
        async with websockets.connect(f"{WS}/work_pools/{pool}/workers/connect", **kwargs) as ws:
            if auth:
                await ws.send(json.dumps({"type": "auth", "token": None}))
            for f in frames:
                await ws.send(f if isinstance(f, str) else json.dumps(f))
            if actions: await actions(ws)
            try:
                while True:
                    msg = await asyncio.wait_for(ws.recv(), timeout=wait_after)
                    out.append(redact(json.loads(msg)))
            except asyncio.TimeoutError:
                out.append("(open)")
    except websockets.ConnectionClosed as e:
        out.append(f"closed {e.rcvd.code if e.rcvd else None} {e.rcvd.reason if e.rcvd else ''}")
    except Exception as e:
        out.append(f"error {type(e).__name__}: {e}")
    return out

async def main():
    sfx = uuid.uuid4().hex[:6]
    c = httpx.Client(base_url=BASE)
    cases = {}
    cases["no subprotocol"] = await session(f"p-{sfx}", [], subprotocol=False)
    cases["first message not auth"] = await session(f"p-{sfx}", [hello()], auth=False)
    cases["invalid json hello"] = await session(f"p-{sfx}", ["{not json"])
    cases["hello wrong type"] = await session(f"p-{sfx}", [dict(hello(), type="worker.heartbeat.v1")])
    cases["hello extra key"] = await session(f"p-{sfx}", [dict(hello(), extra=1)])
    cases["hello missing capability"] = await session(f"p-{sfx}", [hello(payload={"requested_capabilities": ["worker_heartbeat.v1"]})])
    cases["unsupported version"] = await session(f"p-{sfx}", [hello(payload={"supported_channel_versions": ["v9"]})])
    cases["pool missing, no create"] = await session(f"missing-{sfx}", [hello(payload={"create_pool_if_not_found": False})])
    cases["reserved pool name"] = await session(f"prefect-{sfx}", [hello()])
    cases["created pool"] = await session(f"p-{sfx}", [hello()])
    r = c.get(f"/work_pools/p-{sfx}"); cases["pool after"] = redact(r.json())
    r = c.post(f"/work_pools/p-{sfx}/workers/filter", json={}); cases["workers after"] = redact(r.json())
    cases["queue missing"] = await session(f"p-{sfx}", [hello(payload={"work_queue_names": ["nope"]})])
    c.post(f"/work_pools/p-{sfx}/queues", json={"name": "q2"})
    cases["named queues"] = await session(f"p-{sfx}", [hello(payload={"work_queue_names": ["q2", "default", "q2"]})])
    cases["cleanup requested"] = await session(f"p-{sfx}", [hello(payload={"requested_capabilities": ["worker_heartbeat.v1", "work_pool_snapshot.v1", "cleanup_delivery.v1"], "handled_cleanup_kinds": ["cancelling_timeout_teardown.v1"]})])
    cases["cleanup kinds without capability"] = await session(f"p-{sfx}", [hello(payload={"handled_cleanup_kinds": ["cancelling_timeout_teardown.v1"]})])
    h = hello()
    cid = h["payload"]["consumer_id"]
    hb = {"type": "worker.heartbeat.v1", "id": str(uuid.uuid4()), "sent_at": now(), "payload": {"consumer_id": cid, "worker_name": "w1", "heartbeat_interval_seconds": 7}}
    cases["heartbeat ok"] = await session(f"p-{sfx}", [h, hb])
    r = c.post(f"/work_pools/p-{sfx}/workers/filter", json={}); cases["workers after hb"] = [(w["name"], w["heartbeat_interval_seconds"], w["status"]) for w in r.json()]
    h = hello(); hb2 = json.loads(json.dumps(hb)); hb2["payload"]["consumer_id"] = str(uuid.uuid4())
    cases["heartbeat wrong consumer"] = await session(f"p-{sfx}", [h, hb2])
    h = hello()
    cases["unexpected frame after ready"] = await session(f"p-{sfx}", [h, hello()])
    h = hello(); ack = {"type": "cleanup.ack.v1", "id": str(uuid.uuid4()), "sent_at": now(), "payload": {"message_id": str(uuid.uuid4()), "reservation_token": "t"}}
    cases["cleanup ack not accepted"] = await session(f"p-{sfx}", [h, ack])
    async def patch_pool(ws):
        await asyncio.sleep(0.3)
        c.patch(f"/work_pools/p-{sfx}", json={"concurrency_limit": 3})
        await asyncio.sleep(0.3)
        c.patch(f"/work_pools/p-{sfx}", json={"description": "no snapshot"})
        await asyncio.sleep(0.3)
        c.patch(f"/work_pools/p-{sfx}", json={"is_paused": True})
        c.patch(f"/work_pools/p-{sfx}", json={"is_paused": False})
        await asyncio.sleep(0.3)
        c.delete(f"/work_pools/p-{sfx}")
    cases["snapshots on update, close on delete"] = await session(f"p-{sfx}", [hello()], actions=patch_pool, wait_after=1.0)
    print(json.dumps(cases, indent=1, sort_keys=True))

asyncio.run(main())
