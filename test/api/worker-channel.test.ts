/**
 * The worker channel (`/work_pools/{name}/workers/connect`) on a real port, frame by frame
 * as Prefect 3.9.1 answers them (the same cases were run against `prefect server start`
 * side by side; README, "Worker channel"): setup and its failures, heartbeats recorded
 * through the channel, snapshots pushed on the fields workers depend on, coalesced, and
 * the channel closed when its pool is deleted.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { configFromEnv } from "../../src/config";
import { createLogger } from "../../src/logger";
import { startServer, type RunningServer } from "../../src/server";
import { MICROS_PER_SECOND, parseDateTime } from "../../src/lib/time";
import { NAMESPACE_URL, uuid5 } from "../../src/lib/uuid";
import { CancellationCleanup } from "../../src/services/cancellation-cleanup";
import { cleanupDelivery } from "../../src/work-pools/cleanup-delivery";
import { connect, type Message } from "../support/websocket";

let server: RunningServer;
beforeAll(async () => {
  server = await startServer({ port: 0, logger: createLogger("error"), services: configFromEnv({}).services });
});
afterAll(() => server.stop());

async function api(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${server.apiUrl}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: { "content-type": "application/json" } });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

const TEMPLATE = { job_configuration: { command: "{{ command }}" }, variables: { properties: { command: { type: "string", default: "x" } } } };
let pools = 0;
const poolName = () => `wc-pool-${++pools}-${crypto.randomUUID().slice(0, 6)}`;
const frameId = () => crypto.randomUUID();
const sentAt = () => new Date().toISOString();

function hello(payload: Record<string, unknown> = {}, frame: Record<string, unknown> = {}) {
  return {
    type: "worker.hello.v1",
    id: frameId(),
    sent_at: sentAt(),
    payload: {
      consumer_id: crypto.randomUUID(),
      worker_name: "w1",
      worker_type: "process",
      heartbeat_interval_seconds: 1,
      supported_channel_versions: ["work_pool_worker_channel.v1"],
      requested_capabilities: ["worker_heartbeat.v1", "work_pool_snapshot.v1"],
      work_queue_names: [],
      create_pool_if_not_found: true,
      default_base_job_template: TEMPLATE,
      ...payload,
    },
    ...frame,
  };
}

const heartbeatFrame = (consumerId: string, workerName = "w1", interval = 7) => ({
  type: "worker.heartbeat.v1",
  id: frameId(),
  sent_at: sentAt(),
  payload: { consumer_id: consumerId, worker_name: workerName, heartbeat_interval_seconds: interval },
});

/** Connects, authenticates and sends `first`; returns the socket and the answer (a frame or the close). */
async function open(pool: string, first: unknown) {
  const socket = await connect(`${server.apiUrl.replace("http", "ws")}/work_pools/${pool}/workers/connect`);
  socket.send({ type: "auth", token: null });
  expect(await socket.next()).toEqual({ type: "auth_success" });
  socket.send(first);
  const answer = await Promise.race([socket.next(), socket.closed.then((closed) => ({ closed }))]);
  return { socket, answer: answer as Message };
}

async function ready(pool: string, payload: Record<string, unknown> = {}) {
  const frame = hello(payload);
  const { socket, answer } = await open(pool, frame);
  expect(answer.type).toBe("worker.ready.v1");
  return { socket, ready: answer, consumerId: frame.payload.consumer_id as string };
}

describe("setup", () => {
  test("a new pool is created from the hello; the ready frame carries the capabilities, queues and the first snapshot", async () => {
    const pool = poolName();
    const frame = hello();
    const { socket, answer } = await open(pool, frame);
    const stored = await api("GET", `/work_pools/${pool}`);
    expect(stored.status).toBe(200);
    expect(stored.body).toMatchObject({ type: "process", base_job_template: TEMPLATE, status: "READY" });
    expect(answer).toMatchObject({
      type: "worker.ready.v1",
      payload: {
        consumer_id: frame.payload.consumer_id,
        worker_id: null,
        selected_channel_version: "work_pool_worker_channel.v1",
        effective_heartbeat_interval_seconds: 1,
        accepted_capabilities: ["worker_heartbeat.v1", "work_pool_snapshot.v1"],
        rejected_capabilities: [],
        effective_max_cleanup_concurrency: 0,
        resolved_work_queues: [{ id: stored.body.default_queue_id, name: "default" }],
        initial_snapshot: { snapshot_sequence: 1, reason: "initial", work_pool: stored.body },
      },
    });
    expect(answer.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.parse(answer.sent_at)).toBeGreaterThan(0);
    // the hello is the worker's first heartbeat
    const workers = await api("POST", `/work_pools/${pool}/workers/filter`, {});
    expect(workers.body.map((w: Message) => [w.name, w.heartbeat_interval_seconds, w.status])).toEqual([["w1", 1, "ONLINE"]]);
    socket.close();
  });

  test("named queues are resolved in the order given, once each; a missing one refuses the channel", async () => {
    const pool = poolName();
    (await ready(pool)).socket.close();
    await api("POST", `/work_pools/${pool}/queues`, { name: "q2" });
    const named = await ready(pool, { work_queue_names: ["q2", "default", "q2"] });
    expect(named.ready.payload.resolved_work_queues.map((q: Message) => q.name)).toEqual(["q2", "default"]);
    named.socket.close();
    const all = await ready(pool);
    expect(all.ready.payload.resolved_work_queues.map((q: Message) => q.name)).toEqual(["default", "q2"]);
    all.socket.close();
    expect((await open(pool, hello({ work_queue_names: ["nope"] }))).answer).toEqual({ closed: { code: 1008, reason: "authorization_failed" } });
  });

  test("a pool without a base job template gets the hello's, and workers hear of it", async () => {
    const pool = poolName();
    expect((await api("POST", "/work_pools/", { name: pool, type: "process" })).status).toBe(201);
    const first = await ready(pool, { default_base_job_template: {} });
    expect(first.ready.payload.initial_snapshot.work_pool.base_job_template).toEqual({});
    const second = await ready(pool);
    expect(second.ready.payload.initial_snapshot.work_pool.base_job_template).toEqual(TEMPLATE);
    const pushed = await first.socket.next();
    expect(pushed).toMatchObject({ type: "work_pool.snapshot.v1", payload: { snapshot_sequence: 2, reason: "work_pool_updated", work_pool: { base_job_template: TEMPLATE } } });
    first.socket.close();
    second.socket.close();
  });

  test("a worker that does not take cleanup messages gets `unauthorized` for a cleanup operation", async () => {
    const { socket } = await ready(poolName());
    const ack = { type: "cleanup.ack.v1", id: frameId(), sent_at: sentAt(), payload: { message_id: crypto.randomUUID(), reservation_token: "t" } };
    socket.send(ack);
    expect(await socket.next()).toMatchObject({
      type: "cleanup.operation_result.v1",
      payload: { request_frame_id: ack.id, message_id: ack.payload.message_id, operation: "ack", status: "unauthorized", lease_expires_at: null, reason: "cleanup_delivery_not_accepted", detail: null },
    });
    socket.close();
  });

  const refusals: [string, () => string, unknown, { code: number; reason: string }][] = [
    ["invalid JSON", poolName, "{not json", { code: 1002, reason: "protocol_error" }],
    ["another frame type first", poolName, hello({}, { type: "worker.heartbeat.v1" }), { code: 1002, reason: "protocol_error" }],
    ["an unknown key", poolName, { ...hello(), extra: 1 }, { code: 1002, reason: "protocol_error" }],
    ["a required capability missing", poolName, hello({ requested_capabilities: ["worker_heartbeat.v1"] }), { code: 1002, reason: "protocol_error" }],
    ["cleanup kinds without cleanup delivery", poolName, hello({ handled_cleanup_kinds: ["cancelling_timeout_teardown.v1"] }), { code: 1002, reason: "protocol_error" }],
    ["a zero heartbeat interval", poolName, hello({ heartbeat_interval_seconds: 0 }), { code: 1002, reason: "protocol_error" }],
    ["no common channel version", poolName, hello({ supported_channel_versions: ["v9"] }), { code: 1008, reason: "unsupported_version" }],
    ["a missing pool it may not create", poolName, hello({ create_pool_if_not_found: false }), { code: 1008, reason: "authorization_failed" }],
    ["a reserved pool name", () => `prefect-${poolName()}`, hello(), { code: 1008, reason: "authorization_failed" }],
    [
      "a template whose defaults break its schema",
      poolName,
      hello({ default_base_job_template: { job_configuration: {}, variables: { properties: { n: { type: "integer", default: "x" } } } } }),
      { code: 1002, reason: "protocol_error" },
    ],
  ];
  test.each(refusals)("refused: %s", async (_, pool, first, closed) => {
    const name = pool();
    expect((await open(name, first)).answer).toEqual({ closed });
    // the refusal rolled everything back: no pool was left behind
    expect((await api("GET", `/work_pools/${name}`)).status).toBe(404);
  });

  test("without the prefect subprotocol the upgrade is refused with 403; a first message that is not auth closes with 1008", async () => {
    const url = `${server.apiUrl.replace("http", "ws")}/work_pools/${poolName()}/workers/connect`;
    expect(await connect(url, []).then(() => "upgraded", () => "refused")).toBe("refused");
    const plain = await fetch(url.replace("ws", "http"), { headers: { upgrade: "websocket", connection: "upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" } });
    expect(plain.status).toBe(403);
    const socket = await connect(url);
    socket.send(hello());
    expect(await socket.closed).toEqual({ code: 1008, reason: "authentication_failed" });
  });
});

describe("after setup", () => {
  test("heartbeats are recorded with their interval; one from another consumer ends the channel", async () => {
    const pool = poolName();
    const { socket, consumerId } = await ready(pool);
    const before = (await api("POST", `/work_pools/${pool}/workers/filter`, {})).body[0];
    await Bun.sleep(5);
    socket.send(heartbeatFrame(consumerId, "w1", 7));
    await Bun.sleep(100);
    const after = (await api("POST", `/work_pools/${pool}/workers/filter`, {})).body[0];
    expect(after.heartbeat_interval_seconds).toBe(7);
    expect(Date.parse(after.last_heartbeat_time)).toBeGreaterThan(Date.parse(before.last_heartbeat_time));
    socket.send(heartbeatFrame(crypto.randomUUID()));
    expect(await socket.closed).toEqual({ code: 1002, reason: "protocol_error" });
  });

  test("a frame a worker never sends after setup ends the channel with a protocol error", async () => {
    const { socket } = await ready(poolName());
    socket.send(hello());
    expect(await socket.closed).toEqual({ code: 1002, reason: "protocol_error" });
  });

  test("snapshots follow the fields workers depend on, a burst coalesced into one; deleting the pool closes the channel", async () => {
    const pool = poolName();
    const { socket } = await ready(pool);
    expect((await api("PATCH", `/work_pools/${pool}`, { concurrency_limit: 3 })).status).toBe(204);
    const limited = await socket.next();
    expect(limited).toMatchObject({ type: "work_pool.snapshot.v1", payload: { snapshot_sequence: 2, reason: "work_pool_updated", work_pool: { name: pool, concurrency_limit: 3, active_slots: 0 } } });
    await api("PATCH", `/work_pools/${pool}`, { description: "not a snapshot field" });
    expect(await socket.quiet(200)).toBe(true);
    await api("PATCH", `/work_pools/${pool}`, { is_paused: true });
    await api("PATCH", `/work_pools/${pool}`, { is_paused: false });
    const resumed = await socket.next();
    expect(resumed.payload).toMatchObject({ snapshot_sequence: 3, work_pool: { is_paused: false, status: "READY", description: "not a snapshot field" } });
    expect(await socket.quiet(200)).toBe(true);
    expect((await api("DELETE", `/work_pools/${pool}`)).status).toBe(204);
    expect(await socket.closed).toEqual({ code: 1008, reason: "authorization_failed" });
  });

  test("every channel of a pool hears its changes, and no channel of another pool does", async () => {
    const pool = poolName();
    const [first, second, elsewhere] = [await ready(pool), await ready(pool), await ready(poolName())];
    await api("PATCH", `/work_pools/${pool}`, { is_paused: true });
    for (const { socket } of [first, second]) expect((await socket.next()).payload.work_pool.is_paused).toBe(true);
    expect(await elsewhere.socket.quiet(200)).toBe(true);
    await api("DELETE", `/work_pools/${pool}`);
    for (const { socket } of [first, second]) expect(await socket.closed).toEqual({ code: 1008, reason: "authorization_failed" });
    elsewhere.socket.close();
  });
});

describe("cleanup delivery", () => {
  const CLEANUP = {
    requested_capabilities: ["worker_heartbeat.v1", "work_pool_snapshot.v1", "cleanup_delivery.v1"],
    handled_cleanup_kinds: ["cancelling_timeout_teardown.v1"],
  };
  const operation = (type: string, message: Message, extra: Record<string, unknown> = {}) => ({
    type,
    id: frameId(),
    sent_at: sentAt(),
    payload: { message_id: message.payload.message_id, reservation_token: message.payload.reservation_token, ...extra },
  });
  const queued = (poolId: string, n: number, queueId: string | null = null) =>
    cleanupDelivery(server.context).queue.enqueue({
      messageId: crypto.randomUUID(),
      idempotencyKey: `test:${poolId}:${n}`,
      workPoolId: poolId,
      workQueueId: queueId,
      kind: "cancelling_timeout_teardown.v1",
      target: { flow_run_id: crypto.randomUUID(), infrastructure_pid: `host:${n}` },
      data: {},
    });

  test("granted to a worker that handles a cleanup kind, one message at a time unless it asks for more", async () => {
    const one = await ready(poolName(), CLEANUP);
    expect(one.ready.payload).toMatchObject({ accepted_capabilities: ["worker_heartbeat.v1", "work_pool_snapshot.v1", "cleanup_delivery.v1"], rejected_capabilities: [], effective_max_cleanup_concurrency: 1 });
    const three = await ready(poolName(), { ...CLEANUP, max_cleanup_concurrency: 3 });
    expect(three.ready.payload.effective_max_cleanup_concurrency).toBe(3);
    one.socket.close();
    three.socket.close();
  });

  test("a run whose CANCELLING timed out: its teardown reaches the pool's worker, and is done once acknowledged", async () => {
    const pool = poolName();
    const { socket } = await ready(pool, CLEANUP);
    const flow = await api("POST", "/flows/", { name: `wc-flow-${pool}` });
    const deployment = await api("POST", "/deployments/", { name: "d", flow_id: flow.body.id, work_pool_name: pool });
    const run = (await api("POST", `/deployments/${deployment.body.id}/create_flow_run`, {})).body;
    await api("PATCH", `/flow_runs/${run.id}`, { infrastructure_pid: "host:4242" });
    for (const type of ["PENDING", "RUNNING", "CANCELLING"]) expect((await api("POST", `/flow_runs/${run.id}/set_state`, { state: { type } })).body.status).toBe("ACCEPT");
    const now = server.context.clock.now() + 301 * MICROS_PER_SECOND;
    await new CancellationCleanup(server.context).tick(now);
    const cancelled = (await api("GET", `/flow_runs/${run.id}`)).body;
    expect(cancelled.state).toMatchObject({ type: "CANCELLED", message: "Flow run cancellation timed out; marked this flow run as Cancelled." });

    const message = await socket.next();
    expect(message).toMatchObject({
      type: "cleanup.message.v1",
      payload: {
        message_id: uuid5(NAMESPACE_URL, `prefect:cancelling_timeout_teardown.v1:${run.id}:${cancelled.state.id}`),
        kind: "cancelling_timeout_teardown.v1",
        delivery_count: 1,
        work_queue_id: run.work_queue_id,
        target: { flow_run_id: run.id, infrastructure_pid: "host:4242" },
        data: {},
      },
    });
    const lease = parseDateTime(message.payload.lease_expires_at)! - server.context.clock.now();
    expect(lease).toBeGreaterThan(28 * MICROS_PER_SECOND);
    expect(lease).toBeLessThanOrEqual(30 * MICROS_PER_SECOND);

    const ack = operation("cleanup.ack.v1", message);
    socket.send(ack);
    expect((await socket.next()).payload).toEqual({ request_frame_id: ack.id, message_id: message.payload.message_id, operation: "ack", status: "accepted", lease_expires_at: null, reason: null, detail: null });
    socket.send(operation("cleanup.ack.v1", message));
    expect((await socket.next()).payload).toMatchObject({ status: "not_found", reason: "message_not_found" });
    // the run is Cancelled now: the next pass queues nothing
    await new CancellationCleanup(server.context).tick(now + MICROS_PER_SECOND);
    expect(await socket.quiet(200)).toBe(true);
    socket.close();
  });

  test("a released message comes back; a second waits while the worker holds its one slot; renew extends the lease", async () => {
    const pool = poolName();
    const worker = await ready(pool, CLEANUP);
    const poolId = worker.ready.payload.initial_snapshot.work_pool.id;
    queued(poolId, 1);
    queued(poolId, 2);
    const first = await worker.socket.next();
    expect(first.payload).toMatchObject({ delivery_count: 1, target: { infrastructure_pid: "host:1" } });
    expect(await worker.socket.quiet(150)).toBe(true);

    const renew = operation("cleanup.renew.v1", first);
    worker.socket.send(renew);
    const renewed = (await worker.socket.next()).payload;
    expect(renewed).toMatchObject({ request_frame_id: renew.id, operation: "renew", status: "accepted", reason: null });
    expect(parseDateTime(renewed.lease_expires_at)!).toBeGreaterThanOrEqual(parseDateTime(first.payload.lease_expires_at)!);
    worker.socket.send({ ...operation("cleanup.ack.v1", first), payload: { message_id: first.payload.message_id, reservation_token: "not-the-token" } });
    expect((await worker.socket.next()).payload).toMatchObject({ status: "invalid_token", reason: "reservation_token_mismatch" });

    worker.socket.send(operation("cleanup.release.v1", first, { reason: "infrastructure_not_available" }));
    expect((await worker.socket.next()).payload).toMatchObject({ operation: "release", status: "accepted" });
    const again = await worker.socket.next();
    expect(again.payload).toMatchObject({ message_id: first.payload.message_id, delivery_count: 2 });
    expect(again.payload.reservation_token).not.toBe(first.payload.reservation_token);
    worker.socket.send(operation("cleanup.ack.v1", again));
    expect((await worker.socket.next()).payload.status).toBe("accepted");
    const second = await worker.socket.next();
    expect(second.payload).toMatchObject({ delivery_count: 1, target: { infrastructure_pid: "host:2" } });
    worker.socket.send(operation("cleanup.ack.v1", second));
    expect((await worker.socket.next()).payload.status).toBe("accepted");
    worker.socket.close();
  });

  test("messages go to the pool's workers that take them: not to another pool's, nor to a worker without the capability", async () => {
    const pool = poolName();
    const plain = await ready(pool);
    const elsewhere = await ready(poolName(), CLEANUP);
    const poolId = plain.ready.payload.initial_snapshot.work_pool.id;
    queued(poolId, 1);
    expect(await plain.socket.quiet(150)).toBe(true);
    expect(await elsewhere.socket.quiet(0)).toBe(true);
    // a worker that connects later gets what was waiting
    const late = await ready(pool, CLEANUP);
    expect((await late.socket.next()).payload).toMatchObject({ kind: "cancelling_timeout_teardown.v1", target: { infrastructure_pid: "host:1" } });
    for (const { socket } of [plain, elsewhere, late]) socket.close();
  });
});
