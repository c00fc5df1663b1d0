import { afterAll, describe, expect, test } from "bun:test";
import { INTEGRITY_CONFLICT } from "../../src/api/errors";
import type { flowRun } from "../../src/db/schema";
import { createTestApi, ManualClock } from "../support/api";
import { readRow, updateRow } from "../support/rows";

const T0 = Date.UTC(2025, 0, 1) * 1000;
const SECOND = 1_000_000;

function freshApi() {
  const clock = new ManualClock(T0);
  return { api: createTestApi({ clock }), clock };
}

type Api = ReturnType<typeof createTestApi>;

/** A flow run with the given columns written straight to the table. */
async function run(api: Api, columns: Partial<typeof flowRun.$inferInsert>) {
  const flow = (await api.post("/flows/", { name: "legacy-queue-flow" })).body;
  const created = (await api.post("/flow_runs/", { flow_id: flow.id })).body;
  await updateRow(api.context.store, "flowRun", created.id, columns);
  return created.id as string;
}

describe("legacy work queues: create and read", () => {
  const { api } = freshApi();
  afterAll(() => api.close());

  test("create: 201 in the default agent pool, which is created (type prefect-agent, no status) on first use", async () => {
    const res = await api.post("/work_queues/", { name: "legacy", concurrency_limit: 2 });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(String),
      created: "2025-01-01T00:00:00Z",
      updated: "2025-01-01T00:00:00Z",
      name: "legacy",
      description: "",
      is_paused: false,
      concurrency_limit: 2,
      priority: 2,
      work_pool_id: expect.any(String),
      filter: null,
      last_polled: null,
      work_pool_name: "default-agent-pool",
      status: "NOT_READY",
      active_slots: 0,
    });
    expect((await api.get("/work_pools/default-agent-pool")).body).toMatchObject({ type: "prefect-agent", status: null, id: res.body.work_pool_id });
  });

  test("a taken name is 409 with the legacy message", async () => {
    expect(await api.post("/work_queues/", { name: "legacy" })).toMatchObject({
      status: 409,
      body: { detail: "A work queue with this name already exists." },
    });
    expect((await api.post("/work_queues/", { name: "default" })).status).toBe(409);
  });

  test("read by id (any UUID spelling) and by name; misses are 404", async () => {
    const { body: created } = await api.post("/work_queues/", { name: "reader", filter: { tags: ["a"], ignored: 1 } });
    expect(created.filter).toEqual({ tags: ["a"], deployment_ids: null });
    expect((await api.get(`/work_queues/${created.id.toUpperCase()}`)).body.name).toBe("reader");
    expect((await api.get("/work_queues/name/reader")).body.id).toBe(created.id);
    expect(await api.get(`/work_queues/${crypto.randomUUID()}`)).toMatchObject({ status: 404, body: { detail: "work queue not found" } });
    expect(await api.get("/work_queues/name/ghost")).toMatchObject({ status: 404, body: { detail: "work queue not found" } });
    expect(await api.get("/work_queues/not-a-uuid")).toMatchObject({ status: 404, body: { detail: "Not Found" } });
  });

  test("filter lists the queues of every pool by name", async () => {
    await api.post("/work_pools/", { name: "other", type: "process" });
    await api.post("/work_pools/other/queues", { name: "alpha" });
    const names = async (body: object) => ((await api.post("/work_queues/filter", body)).body as { name: string }[]).map((q) => q.name);
    expect(await names({})).toEqual(["alpha", "default", "default", "legacy", "reader"]);
    expect(await names({ work_queues: { name: { startswith_: ["de"] } }, limit: 1 })).toEqual(["default"]);
    expect(await names({ offset: 3 })).toEqual(["legacy", "reader"]);
  });
});

describe("legacy work queues: `default` and the name fallback", () => {
  const { api } = freshApi();
  afterAll(() => api.close());

  test("before the default agent pool exists, a name lookup finds a queue of that name in any pool", async () => {
    const pool = (await api.post("/work_pools/", { name: "process-pool", type: "process" })).body;
    expect((await api.get("/work_queues/name/default")).body.id).toBe(pool.default_queue_id);
  });

  test("creating `default` while creating the default agent pool answers that pool's default queue", async () => {
    const res = await api.post("/work_queues/", { name: "default", description: "ignored" });
    expect(res.status).toBe(201);
    const agentPool = (await api.get("/work_pools/default-agent-pool")).body;
    expect(res.body).toMatchObject({ id: agentPool.default_queue_id, priority: 1, description: "The work pool's default queue." });
    expect((await api.get("/work_queues/name/default")).body.id).toBe(agentPool.default_queue_id);
  });
});

describe("legacy work queues: update and delete", () => {
  const { api, clock } = freshApi();
  afterAll(() => api.close());

  test("PATCH: 204; pause and unpause move the status; unknown id is 404 with the id", async () => {
    const { body: queue } = await api.post("/work_queues/", { name: "q" });
    clock.set(T0 + 5 * SECOND);
    expect((await api.patch(`/work_queues/${queue.id}`, { is_paused: true, description: "d" })).status).toBe(204);
    expect((await api.get(`/work_queues/${queue.id}`)).body).toMatchObject({ is_paused: true, status: "PAUSED", description: "d", updated: "2025-01-01T00:00:05Z" });
    await api.patch(`/work_queues/${queue.id}`, { is_paused: false, last_polled: "2025-01-01T00:00:00Z" });
    expect((await api.get(`/work_queues/${queue.id}`)).body).toMatchObject({ status: "READY", last_polled: "2025-01-01T00:00:00Z" });
    const missing = crypto.randomUUID();
    expect(await api.patch(`/work_queues/${missing}`, {})).toMatchObject({ status: 404, body: { detail: `Work Queue ${missing} not found` } });
  });

  test("DELETE: 204 then 404; a pool's default queue is refused with Prefect's integrity conflict", async () => {
    const { body: queue } = await api.post("/work_queues/", { name: "gone" });
    const runId = await run(api, { workQueueId: queue.id });
    expect((await api.delete(`/work_queues/${queue.id}`)).status).toBe(204);
    expect((await api.delete(`/work_queues/${queue.id}`)).body).toEqual({ detail: "work queue not found" });
    expect((await readRow(api.context.store, "flowRun", runId))?.workQueueId).toBeNull();
    const defaultQueueId = (await api.get("/work_pools/default-agent-pool")).body.default_queue_id;
    expect(await api.delete(`/work_queues/${defaultQueueId}`)).toMatchObject({ status: 409, body: { detail: INTEGRITY_CONFLICT } });
  });
});

describe("legacy work queues: slots, concurrency status and health", () => {
  const { api, clock } = freshApi();
  afterAll(() => api.close());

  test("active_slots counts PENDING, RUNNING and CANCELLING runs of the queue", async () => {
    const { body: queue } = await api.post("/work_queues/", { name: "limited", concurrency_limit: 3 });
    for (const stateType of ["PENDING", "RUNNING", "CANCELLING", "SCHEDULED"]) await run(api, { workQueueId: queue.id, stateType });
    expect((await api.get(`/work_queues/${queue.id}`)).body.active_slots).toBe(3);
    expect((await api.get("/work_queues/name/limited")).body.active_slots).toBe(3);
    // the pool routes count PENDING and RUNNING only
    expect((await api.get("/work_pools/default-agent-pool/queues/limited")).body.active_slots).toBe(2);
  });

  test("a tag-filtered queue counts the PENDING and RUNNING deployment runs its filter selects", async () => {
    const deploymentId = crypto.randomUUID();
    const { body: queue } = await api.post("/work_queues/", { name: "tagged", concurrency_limit: 1, filter: { tags: ["etl"] } });
    await run(api, { stateType: "RUNNING", tags: ["etl", "x"], deploymentId });
    await run(api, { stateType: "RUNNING", tags: ["etl"] }); // no deployment: not counted
    await run(api, { stateType: "CANCELLING", tags: ["etl"], deploymentId });
    await run(api, { stateType: "PENDING", tags: ["other"], deploymentId });
    expect((await api.get(`/work_queues/${queue.id}`)).body.active_slots).toBe(1);
    const listed = (await api.post("/work_queues/filter", { work_queues: { name: { any_: ["tagged"] } } })).body;
    expect(listed[0].active_slots).toBe(1);
  });

  test("concurrency_status: slot holders (also runs naming the queue without an id), paged", async () => {
    const { body: queue } = await api.post("/work_queues/", { name: "status", concurrency_limit: 4 });
    await run(api, { workQueueId: queue.id, stateType: "RUNNING", stateTimestamp: T0, stateName: "Running" });
    await run(api, { workQueueId: null, workQueueName: "status", stateType: "PENDING", stateTimestamp: null });
    await run(api, { workQueueId: queue.id, stateType: "COMPLETED" });
    clock.set(T0 + 30 * SECOND);
    const res = await api.post(`/work_queues/${queue.id}/concurrency_status`, { limit: 1 });
    expect(res.body).toMatchObject({ active_slots: 2, concurrency_limit: 4, count: 2, limit: 1, pages: 2, page: 1 });
    expect(res.body.flow_runs).toHaveLength(1);
    expect(res.body.flow_runs[0]).toMatchObject({ state_type: "RUNNING", state_name: "Running", time_in_current_state: 30 });
    expect((await api.post(`/work_queues/${queue.id}/concurrency_status`, { limit: 1, page: 2 })).body.flow_runs[0]).toMatchObject({
      state_type: "PENDING",
      time_in_current_state: null,
    });
    expect((await api.post(`/work_queues/${crypto.randomUUID()}/concurrency_status`, {})).body).toEqual({ detail: "Work queue not found." });
  });

  test("status: healthy when polled within 60 s and no run is Late", async () => {
    const { body: queue } = await api.post("/work_queues/", { name: "health" });
    const status = async () => (await api.get(`/work_queues/${queue.id}/status`)).body;
    expect(await status()).toEqual({
      healthy: false,
      late_runs_count: 0,
      last_polled: null,
      health_check_policy: { maximum_late_runs: 0, maximum_seconds_since_last_polled: 60 },
    });
    (await api.context.store.write((tx) => tx.workPools.markQueuesPolled([queue.id], clock.now())));
    expect(await status()).toMatchObject({ healthy: true, last_polled: "2025-01-01T00:00:30Z" });
    await run(api, { workQueueId: queue.id, stateType: "SCHEDULED", stateName: "Late" });
    expect(await status()).toMatchObject({ healthy: false, late_runs_count: 1 });
    const missing = crypto.randomUUID();
    expect(await api.get(`/work_queues/${missing}/status`)).toMatchObject({
      status: 404,
      body: { exception_message: `Work queue with id ${missing} not found` },
    });
  });
});
