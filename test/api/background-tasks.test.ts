/**
 * Background (deferred) task runs on a real port: `Task.delay()`'s request queues the run,
 * the `/task_runs/subscriptions/scheduled` websocket delivers it to a subscribed task
 * worker one at a time against acks, and `/task_workers/filter` lists the workers.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { configFromEnv } from "../../src/config";
import { createLogger } from "../../src/logger";
import { startServer, type RunningServer } from "../../src/server";
import { connect } from "../support/websocket";

let server: RunningServer;
let ws: string;
beforeAll(async () => {
  server = await startServer({ port: 0, logger: createLogger("error"), services: configFromEnv({}).services });
  ws = `${server.apiUrl.replace("http", "ws")}/task_runs/subscriptions/scheduled`;
});
afterAll(() => server.stop());

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server.apiUrl}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: { "content-type": "application/json" } });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

/** What `Task.delay()` sends: a task run without a flow run, in a deferred Scheduled state naming its parameters. */
const delay = (taskKey: string, parametersId: string = crypto.randomUUID()) =>
  api("POST", "/task_runs/", {
    task_key: taskKey,
    dynamic_key: crypto.randomUUID(),
    name: "my_task",
    state: { type: "SCHEDULED", state_details: { deferred: true, task_parameters_id: parametersId } },
  });

async function subscribe(keys: string[], clientId = `worker-${crypto.randomUUID().slice(0, 8)}`) {
  const socket = await connect(ws);
  socket.send({ type: "auth", token: null });
  expect(await socket.next()).toEqual({ type: "auth_success" });
  socket.send({ type: "subscribe", keys, client_id: clientId });
  return { socket, clientId };
}

const P1 = "0197b000-0000-7000-8000-0000000000a1";
const PX = "0197b000-0000-7000-8000-0000000000a2";
const key = () => `tasks.my_task-${crypto.randomUUID().slice(0, 6)}`;

describe("background task runs", () => {
  test("a delayed run queued before any worker is delivered on subscribe; the next waits for the ack", async () => {
    const k = key();
    const first = await delay(k, P1);
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ flow_run_id: null, state: { type: "SCHEDULED", name: "Scheduled", state_details: { deferred: true, task_parameters_id: P1 } } });
    const second = (await delay(k)).body;
    const { socket } = await subscribe([k]);
    const delivered = await socket.next();
    expect(delivered).toMatchObject({ id: first.body.id, task_key: k, state: { type: "SCHEDULED", state_details: { deferred: true, task_parameters_id: P1 } } });
    // Nothing more until the ack.
    expect(await socket.quiet(200)).toBe(true);
    socket.send({ type: "ack" });
    expect((await socket.next()).id).toBe(second.id);
    socket.send({ type: "ack" });
    // A run delayed while the worker waits arrives at once.
    const third = (await delay(k)).body;
    expect((await socket.next()).id).toBe(third.id);
    socket.close();
  });

  test("a run sent but not acknowledged goes back (on the retry queue) for the next worker", async () => {
    const k = key();
    const run = (await delay(k)).body;
    const a = await subscribe([k]);
    expect((await a.socket.next()).id).toBe(run.id);
    a.socket.close();
    await a.socket.closed;
    await Bun.sleep(50);
    const b = await subscribe([k]);
    expect((await b.socket.next()).id).toBe(run.id);
    b.socket.close();
  });

  test("the worker claims it (deferred PENDING); a second claim is refused, parameters id carried along", async () => {
    const run = (await delay(key(), PX)).body;
    const claim = await api("POST", `/task_runs/${run.id}/set_state`, { state: { type: "PENDING", state_details: { deferred: true } } });
    expect(claim.body).toMatchObject({ status: "ACCEPT", state: { type: "PENDING", state_details: { task_parameters_id: PX, deferred: true } } });
    const again = await api("POST", `/task_runs/${run.id}/set_state`, { state: { type: "PENDING", state_details: { deferred: true } } });
    expect(again.body).toMatchObject({ status: "ABORT", details: { reason: "This run is in a PENDING state and cannot transition to a PENDING state." } });
    const running = await api("POST", `/task_runs/${run.id}/set_state`, { state: { type: "RUNNING", state_details: { deferred: true } } });
    expect(running.body).toMatchObject({ status: "ACCEPT", state: { state_details: { task_parameters_id: PX } } });
  });

  test("an AwaitingRetry deferred state is queued again", async () => {
    const k = key();
    const run = (await delay(k)).body;
    const { socket } = await subscribe([k]);
    expect((await socket.next()).id).toBe(run.id);
    socket.send({ type: "ack" });
    await api("POST", `/task_runs/${run.id}/set_state`, { state: { type: "PENDING", state_details: { deferred: true } } });
    await api("POST", `/task_runs/${run.id}/set_state`, { state: { type: "RUNNING", state_details: { deferred: true } } });
    const retry = await api("POST", `/task_runs/${run.id}/set_state`, {
      state: { type: "SCHEDULED", name: "AwaitingRetry", state_details: { deferred: true, scheduled_time: new Date().toISOString() } },
    });
    expect(retry.body.status).toBe("ACCEPT");
    expect(await socket.next()).toMatchObject({ id: run.id, state: { name: "AwaitingRetry" } });
    socket.close();
  });

  test("a task run that is not deferred is never queued", async () => {
    const k = key();
    await api("POST", "/task_runs/", { task_key: k, dynamic_key: "0", state: { type: "SCHEDULED" } });
    const { socket } = await subscribe([k]);
    expect(await socket.quiet(200)).toBe(true);
    socket.close();
  });

  test("/task_workers/filter lists subscribed workers, by task key; a closed socket forgets its worker", async () => {
    const [k1, k2] = [key(), key()];
    const { socket, clientId } = await subscribe([k1, k2]);
    await Bun.sleep(50);
    const all = await api("POST", "/task_workers/filter");
    expect(all.status).toBe(200);
    const mine = all.body.find((w: { identifier: string }) => w.identifier === clientId);
    expect(mine).toEqual({ identifier: clientId, task_keys: [k1, k2], timestamp: expect.any(String) });
    expect((await api("POST", "/task_workers/filter", { task_worker_filter: { task_keys: [k2] } })).body.map((w: { identifier: string }) => w.identifier)).toEqual([clientId]);
    expect((await api("POST", "/task_workers/filter", { task_worker_filter: { task_keys: ["nobody"] } })).body).toEqual([]);
    socket.close();
    await socket.closed;
    await Bun.sleep(50);
    expect((await api("POST", "/task_workers/filter", { task_worker_filter: { task_keys: [k1] } })).body).toEqual([]);
  });

  test.each([
    { name: "not a subscribe message", message: { type: "hello" }, reason: "Protocol violation: expected 'subscribe' message" },
    { name: "no keys", message: { type: "subscribe", keys: [], client_id: "c" }, reason: "Protocol violation: expected 'keys' in subscribe message" },
    { name: "no client id", message: { type: "subscribe", keys: ["k"] }, reason: "Protocol violation: expected 'client_id' in subscribe message" },
  ])("$name closes with 4001", async ({ message, reason }) => {
    const socket = await connect(ws);
    socket.send({ type: "auth", token: null });
    await socket.next();
    socket.send(message);
    expect(await socket.closed).toEqual({ code: 4001, reason });
  });
});
