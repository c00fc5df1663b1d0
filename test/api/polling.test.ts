import { afterAll, describe, expect, test } from "bun:test";
import { createApp } from "../../src/app";
import { createTestApi, ManualClock } from "../support/api";
import { updateRow } from "../support/rows";

const T0 = Date.UTC(2025, 0, 1, 12) * 1000; // 2025-01-01T12:00:00Z
const SECOND = 1_000_000;
const HOUR = 3600 * SECOND;
const iso = (micros: number) => new Date(micros / 1000).toISOString().replace(".000Z", "Z");

type Api = ReturnType<typeof createTestApi>;

function freshApi() {
  const clock = new ManualClock(T0);
  return { api: createTestApi({ clock }), clock };
}

/** A work pool with its `default` queue (priority 1) plus the named extra queues, one deployment per queue. */
async function setup(api: Api, pool: string, queues: { name: string; priority?: number; concurrency_limit?: number }[] = [], poolBody = {}) {
  const flowId = (await api.post("/flows/", { name: `flow-${pool}` })).body.id as string;
  expect((await api.post("/work_pools/", { name: pool, type: "process", ...poolBody })).status).toBe(201);
  for (const q of queues) expect((await api.post(`/work_pools/${pool}/queues`, q)).status).toBe(201);
  const deployments: Record<string, string> = {};
  for (const queue of ["default", ...queues.map((q) => q.name)]) {
    const d = await api.post("/deployments/", { name: `${pool}-${queue}`, flow_id: flowId, work_pool_name: pool, work_queue_name: queue });
    expect(d.status).toBe(201);
    deployments[queue] = d.body.id;
  }
  return deployments;
}

/** A SCHEDULED run of the deployment, due at `at`. */
async function runAt(api: Api, deploymentId: string, at: number) {
  const res = await api.post(`/deployments/${deploymentId}/create_flow_run`, {
    state: { type: "SCHEDULED", state_details: { scheduled_time: iso(at) } },
  });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

async function runIn(api: Api, deploymentId: string, stateType: string) {
  const res = await api.post(`/deployments/${deploymentId}/create_flow_run`, { state: { type: stateType } });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

const poll = (api: Api, pool: string, body: Record<string, unknown> = {}) => api.post(`/work_pools/${pool}/get_scheduled_flow_runs`, body);
const polledIds = async (api: Api, pool: string, body: Record<string, unknown> = {}) => {
  const res = await poll(api, pool, body);
  expect(res.status).toBe(200);
  return (res.body as { flow_run: { id: string } }[]).map((r) => r.flow_run.id);
};

describe("POST /work_pools/{name}/get_scheduled_flow_runs: selection", () => {
  const { api } = freshApi();
  afterAll(() => api.close());

  test("queues in priority order (priority 1 first, even when scheduled later), soonest first within a queue", async () => {
    const d = await setup(api, "prio", [
      { name: "second", priority: 2 },
      { name: "third", priority: 3 },
    ]);
    const thirdEarly = await runAt(api, d.third!, T0 - 3 * HOUR);
    const secondEarly = await runAt(api, d.second!, T0 - 2 * HOUR);
    const defaultLate = await runAt(api, d.default!, T0 - HOUR);
    const defaultEarlier = await runAt(api, d.default!, T0 - 90 * 60 * SECOND);
    expect(await polledIds(api, "prio")).toEqual([defaultEarlier, defaultLate, secondEarly, thirdEarly]);

    // reprioritising a queue reorders the answer
    expect((await api.patch("/work_pools/prio/queues/third", { priority: 1 })).status).toBe(204);
    expect((await polledIds(api, "prio"))[0]).toBe(thirdEarly);
  });

  test("each item is {work_pool_id, work_queue_id, flow_run}; the flow run has no work_pool_id/work_pool_name of its own", async () => {
    const res = await poll(api, "prio", { limit: 1 });
    const pool = (await api.get("/work_pools/prio")).body;
    const queue = (await api.get("/work_pools/prio/queues/third")).body;
    expect(res.body).toHaveLength(1);
    const [item] = res.body;
    expect(Object.keys(item).sort()).toEqual(["flow_run", "work_pool_id", "work_queue_id"]);
    expect(item.work_pool_id).toBe(pool.id);
    expect(item.work_queue_id).toBe(queue.id);
    expect(item.flow_run).not.toHaveProperty("work_pool_id");
    expect(item.flow_run).not.toHaveProperty("work_pool_name");
    expect(item.flow_run).toMatchObject({ state_type: "SCHEDULED", work_queue_id: queue.id, work_queue_name: "third", state: { type: "SCHEDULED" } });
    // and it is otherwise the run as GET /flow_runs/{id} shows it
    const { work_pool_id: _a, work_pool_name: _b, ...direct } = (await api.get(`/flow_runs/${item.flow_run.id}`)).body;
    expect(item.flow_run).toEqual(direct);
  });

  test("limit caps the answer across queues", async () => {
    expect(await polledIds(api, "prio", { limit: 2 })).toHaveLength(2);
    expect(await polledIds(api, "prio", { limit: 0 })).toEqual([]);
  });

  test("scheduled_before / scheduled_after bound next_scheduled_start_time, inclusively; the space-separated form is accepted", async () => {
    const d = await setup(api, "window");
    const early = await runAt(api, d.default!, T0 - 2 * HOUR);
    const noon = await runAt(api, d.default!, T0);
    const late = await runAt(api, d.default!, T0 + 2 * HOUR);
    expect(await polledIds(api, "window", { scheduled_before: iso(T0) })).toEqual([early, noon]);
    expect(await polledIds(api, "window", { scheduled_after: iso(T0) })).toEqual([noon, late]);
    expect(await polledIds(api, "window", { scheduled_before: "2025-01-01 12:00:00+00:00" })).toEqual([early, noon]);
    expect(await polledIds(api, "window", { scheduled_after: "2025-01-01 13:00:00+01:00", scheduled_before: "2025-01-01T12:00:00Z" })).toEqual([noon]);
    expect(await polledIds(api, "window", { scheduled_before: iso(T0 - 3 * HOUR) })).toEqual([]);
    expect((await poll(api, "window", { scheduled_before: "yesterday-ish" })).status).toBe(422);
  });

  test("work_queue_names restricts the queues; an unknown queue or pool is 404", async () => {
    const d = await setup(api, "named", [{ name: "a" }, { name: "b" }]);
    const inA = await runAt(api, d.a!, T0 - HOUR);
    const inB = await runAt(api, d.b!, T0 - HOUR);
    await runAt(api, d.default!, T0 - HOUR);
    expect(await polledIds(api, "named", { work_queue_names: ["b"] })).toEqual([inB]);
    expect((await polledIds(api, "named", { work_queue_names: ["a", "b"] })).sort()).toEqual([inA, inB].sort());
    expect(await polledIds(api, "named", { work_queue_names: [] })).toHaveLength(3);
    expect(await poll(api, "named", { work_queue_names: ["a", "nope"] })).toMatchObject({
      status: 404,
      body: { detail: "Work pool queue 'named/nope' not found." },
    });
    expect(await poll(api, "nope")).toMatchObject({ status: 404, body: { detail: 'Work pool "nope" not found.' } });
  });

  test("a paused pool gives nothing; a paused queue is skipped", async () => {
    const d = await setup(api, "pausable", [{ name: "other" }]);
    await runAt(api, d.default!, T0 - HOUR);
    const inOther = await runAt(api, d.other!, T0 - HOUR);
    expect((await api.patch("/work_pools/pausable/queues/default", { is_paused: true })).status).toBe(204);
    expect(await polledIds(api, "pausable")).toEqual([inOther]);
    expect(await polledIds(api, "pausable", { work_queue_names: ["default"] })).toEqual([]);
    expect((await api.patch("/work_pools/pausable", { is_paused: true })).status).toBe(204);
    expect(await polledIds(api, "pausable")).toEqual([]);
    await api.patch("/work_pools/pausable", { is_paused: false });
    expect(await polledIds(api, "pausable")).toEqual([inOther]);
  });

  test("only SCHEDULED runs, and not in-process retries (empirical_policy.retry_type \"in_process\")", async () => {
    const d = await setup(api, "retries");
    const plain = await runAt(api, d.default!, T0 - 3 * HOUR);
    const inProcess = await runAt(api, d.default!, T0 - 2 * HOUR);
    const rescheduled = await runAt(api, d.default!, T0 - HOUR);
    await runIn(api, d.default!, "RUNNING");
    await runIn(api, d.default!, "PENDING");
    await runIn(api, d.default!, "COMPLETED");
    const policy = (await api.get(`/flow_runs/${inProcess}`)).body.empirical_policy;
    await updateRow(api.context.store, "flowRun", inProcess, { empiricalPolicy: { ...policy, retry_type: "in_process" } });
    await updateRow(api.context.store, "flowRun", rescheduled, { empiricalPolicy: { ...policy, retry_type: "reschedule" } });
    expect(await polledIds(api, "retries")).toEqual([plain, rescheduled]);
  });
});

describe("get_scheduled_flow_runs: concurrency limits", () => {
  const { api } = freshApi();
  afterAll(() => api.close());

  test("a queue's limit counts its PENDING and RUNNING runs (not CANCELLING); other queues are unaffected", async () => {
    const d = await setup(api, "ql", [{ name: "limited", priority: 2, concurrency_limit: 3 }]);
    const limited = [await runAt(api, d.limited!, T0 - 3 * HOUR), await runAt(api, d.limited!, T0 - 2 * HOUR), await runAt(api, d.limited!, T0 - HOUR)];
    const free = await runAt(api, d.default!, T0);
    expect(await polledIds(api, "ql")).toEqual([free, ...limited]);
    await runIn(api, d.limited!, "RUNNING");
    expect(await polledIds(api, "ql")).toEqual([free, limited[0], limited[1]]);
    await runIn(api, d.limited!, "PENDING");
    expect(await polledIds(api, "ql")).toEqual([free, limited[0]]);
    await runIn(api, d.limited!, "CANCELLING");
    await runIn(api, d.limited!, "PAUSED");
    expect(await polledIds(api, "ql")).toEqual([free, limited[0]]);
    await runIn(api, d.limited!, "RUNNING");
    expect(await polledIds(api, "ql")).toEqual([free]);
    // a limit of zero stops the queue
    await api.patch("/work_pools/ql/queues/default", { concurrency_limit: 0 });
    expect(await polledIds(api, "ql")).toEqual([]);
  });

  test("the pool's limit counts PENDING and RUNNING runs in all its queues, paused ones included; priority decides who gets the slots", async () => {
    const d = await setup(api, "pl", [{ name: "second", priority: 2 }, { name: "idle", priority: 3 }], { concurrency_limit: 3 });
    const second = [await runAt(api, d.second!, T0 - 5 * HOUR), await runAt(api, d.second!, T0 - 4 * HOUR)];
    const first = [await runAt(api, d.default!, T0 - HOUR), await runAt(api, d.default!, T0)];
    expect(await polledIds(api, "pl")).toEqual([...first, second[0]]);
    await runIn(api, d.idle!, "RUNNING");
    expect(await polledIds(api, "pl")).toEqual(first);
    await api.patch("/work_pools/pl/queues/idle", { is_paused: true });
    await runIn(api, d.idle!, "PENDING");
    expect(await polledIds(api, "pl")).toEqual([first[0]]);
    await runIn(api, d.second!, "CANCELLING");
    expect(await polledIds(api, "pl")).toEqual([first[0]]);
    await runIn(api, d.second!, "RUNNING");
    expect(await polledIds(api, "pl")).toEqual([]);
    // the request's limit and the pool's slots: the smaller wins
    await api.patch("/work_pools/pl", { concurrency_limit: 10 });
    expect(await polledIds(api, "pl", { limit: 3 })).toEqual([...first, second[0]]);
    expect(await polledIds(api, "pl")).toEqual([...first, ...second]);
  });
});

describe("get_scheduled_flow_runs: side effects of a poll", () => {
  const { api, clock } = freshApi();
  afterAll(() => api.close());

  test("polled queues record last_polled and become READY; the pool becomes READY (decision #8); deployments READY at once (decision #9)", async () => {
    const d = await setup(api, "fx", [{ name: "other" }]);
    const before = (await api.get(`/deployments/${d.default}`)).body;
    expect(before).toMatchObject({ status: "NOT_READY", last_polled: null });
    expect((await api.get("/work_pools/fx")).body.status).toBe("NOT_READY");
    expect((await api.get("/work_pools/fx/queues/default")).body).toMatchObject({ status: "NOT_READY", last_polled: null });

    clock.set(T0 + 30 * SECOND);
    await poll(api, "fx", { work_queue_names: ["default"] });
    clock.set(T0);
    expect((await api.get("/work_pools/fx")).body.status).toBe("READY");
    expect((await api.get("/work_pools/fx/queues/default")).body).toMatchObject({ status: "READY", last_polled: "2025-01-01T12:00:30Z" });
    const after = (await api.get(`/deployments/${d.default}`)).body;
    expect(after).toMatchObject({ status: "READY", last_polled: "2025-01-01T12:00:30Z", updated: before.updated });
    // the queue that was not named is untouched, and so is its deployment
    expect((await api.get("/work_pools/fx/queues/other")).body).toMatchObject({ status: "NOT_READY", last_polled: null });
    expect((await api.get(`/deployments/${d.other}`)).body).toMatchObject({ status: "NOT_READY", last_polled: null });
  });

  test("a paused queue records the poll but stays PAUSED; a paused pool stays PAUSED", async () => {
    await setup(api, "quiet");
    await api.patch("/work_pools/quiet/queues/default", { is_paused: true });
    await api.patch("/work_pools/quiet", { is_paused: true });
    await poll(api, "quiet");
    expect((await api.get("/work_pools/quiet/queues/default")).body).toMatchObject({ status: "PAUSED", last_polled: "2025-01-01T12:00:00Z" });
    expect((await api.get("/work_pools/quiet")).body.status).toBe("PAUSED");
  });

  test("a failed poll (unknown queue) changes nothing", async () => {
    await setup(api, "failing");
    expect((await poll(api, "failing", { work_queue_names: ["default", "missing"] })).status).toBe(404);
    expect((await api.get("/work_pools/failing/queues/default")).body).toMatchObject({ status: "NOT_READY", last_polled: null });
    expect((await api.get("/work_pools/failing")).body.status).toBe("NOT_READY");
  });
});

describe("legacy POST /work_queues/{id}/get_runs", () => {
  const { api } = freshApi();
  const app = createApp(api.context);
  afterAll(() => api.close());

  const getRuns = async (queueId: string, body: Record<string, unknown> = {}, headers: Record<string, string> = {}) => {
    const res = await app.handle(
      new Request(`http://localhost/api/work_queues/${queueId}/get_runs`, {
        method: "POST",
        headers: { "content-type": "application/json", ...headers },
        body: JSON.stringify(body),
      }),
    );
    return { status: res.status, body: (await res.json()) as any };
  };

  test("answers the queue's SCHEDULED runs as FlowRunResponses, soonest first, bounded by scheduled_before and limit", async () => {
    const d = await setup(api, "legacy");
    const queue = (await api.get("/work_pools/legacy/queues/default")).body;
    const early = await runAt(api, d.default!, T0 - HOUR);
    const now = await runAt(api, d.default!, T0);
    await runAt(api, d.default!, T0 + HOUR);
    const res = await getRuns(queue.id, { scheduled_before: iso(T0) });
    expect(res.status).toBe(200);
    expect(res.body.map((r: { id: string }) => r.id)).toEqual([early, now]);
    expect(res.body[0]).toMatchObject({ work_pool_name: "legacy", work_queue_id: queue.id, state_type: "SCHEDULED" });
    expect((await getRuns(queue.id, { limit: 1 })).body.map((r: { id: string }) => r.id)).toEqual([early]);
  });

  test("with `X-Prefect-UI: true` the poll leaves no trace; without it the queue and its deployments become READY", async () => {
    const d = await setup(api, "ui");
    const queue = (await api.get("/work_pools/ui/queues/default")).body;
    await runAt(api, d.default!, T0 - HOUR);
    expect((await getRuns(queue.id, {}, { "x-prefect-ui": "true" })).body).toHaveLength(1);
    expect((await getRuns(queue.id, {}, { "x-prefect-ui": "True" })).body).toHaveLength(1);
    expect((await getRuns(queue.id, {}, { "x-prefect-ui": "1" })).body).toHaveLength(1);
    expect((await api.get("/work_pools/ui/queues/default")).body).toMatchObject({ status: "NOT_READY", last_polled: null });
    expect((await api.get(`/deployments/${d.default}`)).body).toMatchObject({ status: "NOT_READY", last_polled: null });

    expect((await getRuns(queue.id)).body).toHaveLength(1);
    expect((await api.get("/work_pools/ui/queues/default")).body).toMatchObject({ status: "READY", last_polled: "2025-01-01T12:00:00Z" });
    expect((await api.get(`/deployments/${d.default}`)).body).toMatchObject({ status: "READY", last_polled: "2025-01-01T12:00:00Z" });
  });

  test("the queue's limit also counts CANCELLING runs; a paused queue gives nothing", async () => {
    const d = await setup(api, "legacy-limits");
    const queue = (await api.get("/work_pools/legacy-limits/queues/default")).body;
    await api.patch("/work_pools/legacy-limits/queues/default", { concurrency_limit: 2 });
    const first = await runAt(api, d.default!, T0 - 2 * HOUR);
    await runAt(api, d.default!, T0 - HOUR);
    expect((await getRuns(queue.id)).body).toHaveLength(2);
    await runIn(api, d.default!, "CANCELLING");
    expect((await getRuns(queue.id)).body.map((r: { id: string }) => r.id)).toEqual([first]);
    await runIn(api, d.default!, "RUNNING");
    expect((await getRuns(queue.id)).body).toEqual([]);
    // the pool's pause and limit play no part in the legacy query (get_scheduled_flow_runs_from_work_queues)
    await api.patch("/work_pools/legacy-limits/queues/default", { concurrency_limit: null });
    await api.patch("/work_pools/legacy-limits", { is_paused: true, concurrency_limit: 1 });
    expect((await getRuns(queue.id)).body).toHaveLength(2);
    await api.patch("/work_pools/legacy-limits/queues/default", { is_paused: true });
    expect((await getRuns(queue.id)).body).toEqual([]);
  });

  test("an unknown queue is 404 with Prefect's ObjectNotFoundError body", async () => {
    const id = crypto.randomUUID();
    expect(await getRuns(id)).toEqual({ status: 404, body: { exception_message: `Work queue with id ${id} not found.` } });
  });
});
