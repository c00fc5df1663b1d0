import { afterAll, describe, expect, test } from "bun:test";
import { INTEGRITY_CONFLICT } from "../../src/api/errors";
import { createApp } from "../../src/app";
import type { flowRun } from "../../src/db/schema";
import { createTestApi, ManualClock } from "../support/api";
import { readRow, updateRow } from "../support/rows";
import { ensureLegacyQueue, getOrCreateDefaultAgentPool, getOrCreateQueue, insertPool, resolveOrCreateQueue, resolveQueue } from "../../src/work-pools/service";

const T0 = Date.UTC(2025, 0, 1) * 1000;
const SECOND = 1_000_000;

function freshApi() {
  const clock = new ManualClock(T0);
  return { api: createTestApi({ clock }), clock };
}

type Api = ReturnType<typeof createTestApi>;

/** A flow run placed in a queue with the given state type (written straight to the table). */
async function runInQueue(api: Api, queueId: string | null, stateType: string, columns: Partial<typeof flowRun.$inferInsert> = {}) {
  const flow = (await api.post("/flows/", { name: "work-pool-flow" })).body;
  const run = (await api.post("/flow_runs/", { flow_id: flow.id })).body;
  await updateRow(api.context.store, "flowRun", run.id, { workQueueId: queueId, stateType, ...columns });
  return run.id as string;
}

const queueOfRun = async (api: Api, id: string) => (await readRow(api.context.store, "flowRun", id))?.workQueueId;

const priorities = async (api: Api, pool: string) =>
  Object.fromEntries(((await api.post(`/work_pools/${pool}/queues/filter`, {})).body as { name: string; priority: number }[]).map((q) => [q.name, q.priority]));

describe("work pools: create and read", () => {
  const { api } = freshApi();
  afterAll(() => api.close());

  test("create answers 201 with every WorkPoolResponse field; the pool gets a `default` queue at priority 1", async () => {
    const res = await api.post("/work_pools/", { name: "proc", type: "process", description: "d" });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(String),
      created: "2025-01-01T00:00:00Z",
      updated: "2025-01-01T00:00:00Z",
      name: "proc",
      description: "d",
      type: "process",
      base_job_template: {},
      is_paused: false,
      concurrency_limit: null,
      status: "NOT_READY",
      default_queue_id: expect.any(String),
      storage_configuration: { bundle_upload_step: null, bundle_execution_step: null, default_result_storage_block_id: null },
      active_slots: null,
    });
    const queue = await api.get("/work_pools/proc/queues/default");
    expect(queue.body).toEqual({
      id: res.body.default_queue_id,
      created: "2025-01-01T00:00:00Z",
      updated: "2025-01-01T00:00:00Z",
      name: "default",
      description: "The work pool's default queue.",
      is_paused: false,
      concurrency_limit: null,
      priority: 1,
      work_pool_id: res.body.id,
      filter: null,
      last_polled: null,
      work_pool_name: "proc",
      status: "NOT_READY",
      active_slots: null,
    });
    expect((await api.get("/work_pools/proc")).body).toEqual(res.body);
  });

  test("status: PAUSED when created paused, none for prefect-agent pools (the default type)", async () => {
    expect((await api.post("/work_pools/", { name: "paused", type: "process", is_paused: true })).body.status).toBe("PAUSED");
    const agent = await api.post("/work_pools/", { name: "agent" });
    expect(agent.body).toMatchObject({ type: "prefect-agent", status: null });
  });

  test("active_slots appears (as a count) only when a concurrency limit is set", async () => {
    expect((await api.post("/work_pools/", { name: "limited", type: "process", concurrency_limit: 2 })).body.active_slots).toBe(0);
    const pool = (await api.get("/work_pools/limited")).body;
    await runInQueue(api, pool.default_queue_id, "RUNNING");
    await runInQueue(api, pool.default_queue_id, "PENDING");
    await runInQueue(api, pool.default_queue_id, "CANCELLING");
    await runInQueue(api, pool.default_queue_id, "SCHEDULED");
    expect((await api.get("/work_pools/limited")).body.active_slots).toBe(2);
    expect((await api.get("/work_pools/proc")).body.active_slots).toBeNull();
  });

  test("storage configuration is stored whole, with every key and a canonical block id", async () => {
    const blockId = "0194A2C1-7D3E-7B1A-9C55-2F0E8D1B6A10";
    const res = await api.post("/work_pools/", {
      name: "stored",
      type: "process",
      storage_configuration: { bundle_upload_step: { step: {} }, default_result_storage_block_id: blockId },
    });
    expect(res.body.storage_configuration).toEqual({
      bundle_upload_step: { step: {} },
      bundle_execution_step: null,
      default_result_storage_block_id: blockId.toLowerCase(),
    });
  });

  test("names starting with `prefect` (any case) are reserved: 403", async () => {
    const res = await api.post("/work_pools/", { name: "PrEfEcT-pool", type: "process" });
    expect(res).toMatchObject({ status: 403, body: { detail: "Work pools starting with 'Prefect' are reserved for internal use." } });
  });

  test("a taken name is 409 with Prefect's message", async () => {
    await api.post("/work_pools/", { name: "dupe", type: "process" });
    const again = await api.post("/work_pools/", { name: "dupe", type: "docker" });
    expect(again).toMatchObject({ status: 409, body: { detail: "A work pool with this name already exists." } });
    expect((await api.get("/work_pools/dupe")).body.type).toBe("process");
  });

  test("an unknown pool is 404 with its name quoted", async () => {
    expect(await api.get("/work_pools/nope")).toMatchObject({ status: 404, body: { detail: 'Work pool "nope" not found.' } });
  });

  test("names: empty-ish is a value error, forbidden characters a pattern mismatch", async () => {
    const empty = await api.post("/work_pools/", { name: " '' ", type: "process" });
    expect(empty.status).toBe(422);
    expect(empty.body.exception_detail).toEqual([
      { type: "value_error", loc: ["body", "name"], msg: "Value error, name cannot be an empty string", input: " '' " },
    ]);
    const slash = await api.post("/work_pools/", { name: "a/b", type: "process" });
    expect(slash.body.exception_detail[0]).toMatchObject({
      type: "string_pattern_mismatch",
      msg: "String should match pattern '^[^/%&><]+$'",
    });
  });

  test("base_job_template needs job_configuration and variables, and must declare every placeholder", async () => {
    const missing = await api.post("/work_pools/", { name: "t1", type: "process", base_job_template: { job_configuration: { a: 1 } } });
    expect(missing.status).toBe(422);
    expect(missing.body.exception_detail).toEqual([
      {
        type: "value_error",
        loc: ["body", "base_job_template"],
        msg: "Value error, The `base_job_template` must contain both a `job_configuration` key and a `variables` key.",
        input: { job_configuration: { a: 1 } },
      },
    ]);
    const template = {
      job_configuration: { command: "{{ command }}", env: { X: "{{env}}", Y: "{{ image }}" } },
      variables: { properties: { command: { type: "string" } } },
    };
    const undeclared = await api.post("/work_pools/", { name: "t2", type: "process", base_job_template: template });
    expect(undeclared.body.exception_detail[0].msg).toBe(
      "Value error, The variables specified in the job configuration template must be present as properties in the variables schema. " +
        "Your job configuration uses the following undeclared variable(s): env ,image.",
    );
    template.variables.properties = { command: { type: "string" }, env: { type: "object" }, image: { type: "string" } } as never;
    const ok = await api.post("/work_pools/", { name: "t3", type: "process", base_job_template: template });
    expect(ok.status).toBe(201);
    expect(ok.body.base_job_template).toEqual(template);
  });

  test("unknown keys, a negative limit and a null type are 422", async () => {
    expect((await api.post("/work_pools/", { name: "x", nope: 1 })).body.exception_detail[0].type).toBe("extra_forbidden");
    const nested = await api.post("/work_pools/", { name: "x", storage_configuration: { nope: 1 } });
    expect(nested.body.exception_detail[0]).toMatchObject({ type: "extra_forbidden", loc: ["body", "storage_configuration", "nope"] });
    expect((await api.post("/work_pools/", { name: "x", concurrency_limit: -1 })).body.exception_detail[0]).toMatchObject({
      type: "greater_than_equal",
      msg: "Input should be greater than or equal to 0",
    });
    expect((await api.post("/work_pools/", { name: "x", type: null })).status).toBe(422);
    expect((await api.get("/work_pools/x")).status).toBe(404);
  });
});

describe("work pools: old clients", () => {
  const { api } = freshApi();
  const app = createApp(api.context);
  afterAll(() => api.close());

  const storageSeenBy = async (userAgent: string) => {
    const response = await app.handle(new Request("http://localhost/api/work_pools/pool", { headers: { "user-agent": userAgent } }));
    return ((await response.json()) as { storage_configuration: object }).storage_configuration;
  };

  test("User-Agent prefect/3.3.7 and below drop default_result_storage_block_id; newer or other clients keep it", async () => {
    await api.post("/work_pools/", { name: "pool", type: "process" });
    expect(await storageSeenBy("prefect/3.3.7 (API 0.8.4)")).not.toHaveProperty("default_result_storage_block_id");
    expect(await storageSeenBy("prefect/3.3.7rc1 (API 0.8.4)")).not.toHaveProperty("default_result_storage_block_id");
    expect(await storageSeenBy("prefect/2.19.0 (API 0.8.4)")).not.toHaveProperty("default_result_storage_block_id");
    expect(await storageSeenBy("prefect/3.3.8 (API 0.8.4)")).toHaveProperty("default_result_storage_block_id");
    expect(await storageSeenBy("prefect/3.3.7.post1 (API 0.8.4)")).toHaveProperty("default_result_storage_block_id");
    expect(await storageSeenBy("curl/8.0")).toHaveProperty("default_result_storage_block_id");
  });
});

describe("work pools: update, pause and delete", () => {
  const { api, clock } = freshApi();
  afterAll(() => api.close());

  test("PATCH writes the keys sent and bumps updated: 204", async () => {
    await api.post("/work_pools/", { name: "pool", type: "process", description: "before", concurrency_limit: 3 });
    clock.set(T0 + 5 * SECOND);
    expect(await api.patch("/work_pools/pool", { description: "after" })).toMatchObject({ status: 204, text: "" });
    expect((await api.get("/work_pools/pool")).body).toMatchObject({
      description: "after",
      concurrency_limit: 3,
      updated: "2025-01-01T00:00:05Z",
    });
    expect((await api.patch("/work_pools/pool", { concurrency_limit: null, description: null })).status).toBe(204);
    expect((await api.get("/work_pools/pool")).body).toMatchObject({ description: null, concurrency_limit: null, active_slots: null });
  });

  test("pause -> PAUSED; unpause -> NOT_READY without an ONLINE worker, READY with one", async () => {
    expect((await api.patch("/work_pools/pool", { is_paused: true })).status).toBe(204);
    expect((await api.get("/work_pools/pool")).body).toMatchObject({ is_paused: true, status: "PAUSED" });
    await api.patch("/work_pools/pool", { is_paused: false });
    expect((await api.get("/work_pools/pool")).body).toMatchObject({ is_paused: false, status: "NOT_READY" });

    await api.patch("/work_pools/pool", { is_paused: true });
    await api.post("/work_pools/pool/workers/heartbeat", { name: "w1" });
    expect((await api.get("/work_pools/pool")).body.status).toBe("PAUSED"); // a heartbeat does not unpause
    await api.patch("/work_pools/pool", { is_paused: false });
    expect((await api.get("/work_pools/pool")).body.status).toBe("READY");
  });

  test("an agent pool keeps no status when paused", async () => {
    await api.post("/work_pools/", { name: "agent" });
    await api.patch("/work_pools/agent", { is_paused: true });
    expect((await api.get("/work_pools/agent")).body).toMatchObject({ is_paused: true, status: null });
  });

  test("PATCH validates the template, rejects unknown keys, and a null on a required column is a 409", async () => {
    const bad = await api.patch("/work_pools/pool", { base_job_template: { variables: {} } });
    expect(bad.body.exception_detail[0].loc).toEqual(["body", "base_job_template"]);
    expect((await api.patch("/work_pools/pool", { name: "renamed" })).body.exception_detail[0].type).toBe("extra_forbidden");
    expect(await api.patch("/work_pools/pool", { base_job_template: null })).toMatchObject({ status: 409, body: { detail: INTEGRITY_CONFLICT } });
    expect((await api.patch("/work_pools/pool", { is_paused: null })).status).toBe(409);
    expect(await api.patch("/work_pools/ghost", {})).toMatchObject({ status: 404, body: { detail: 'Work pool "ghost" not found.' } });
  });

  test("reserved pools may only be paused or limited, and never deleted", async () => {
    await api.context.store.write((tx) => insertPool(
      tx,
      { name: "prefect-managed", description: null, type: "process", baseJobTemplate: {}, isPaused: false, concurrencyLimit: null, storageConfiguration: {} },
      clock.now(),
    ));
    expect(await api.patch("/work_pools/prefect-managed", { description: "x" })).toMatchObject({
      status: 403,
      body: {
        detail:
          "Work pools starting with 'Prefect' are reserved for internal use and can only be updated to set concurrency limits or pause.",
      },
    });
    expect((await api.patch("/work_pools/prefect-managed", { is_paused: true, concurrency_limit: 1 })).status).toBe(204);
    expect(await api.delete("/work_pools/prefect-managed")).toMatchObject({
      status: 403,
      body: { detail: "Work pools starting with 'Prefect' are reserved for internal use and can not be deleted." },
    });
    // the reserved-name check comes before the lookup, as in Prefect
    expect((await api.delete("/work_pools/Prefect-missing")).status).toBe(403);
  });

  test("DELETE removes the pool, its queues and workers; runs of its queues lose work_queue_id", async () => {
    await api.post("/work_pools/", { name: "doomed", type: "process" });
    const extra = (await api.post("/work_pools/doomed/queues", { name: "extra" })).body;
    const pool = (await api.get("/work_pools/doomed")).body;
    await api.post("/work_pools/doomed/workers/heartbeat", { name: "w" });
    const inDefault = await runInQueue(api, pool.default_queue_id, "SCHEDULED", { workQueueName: "default" });
    const inExtra = await runInQueue(api, extra.id, "RUNNING");
    const elsewhere = await runInQueue(api, (await api.get("/work_pools/pool")).body.default_queue_id, "RUNNING");

    expect(await api.delete("/work_pools/doomed")).toMatchObject({ status: 204, text: "" });
    expect((await api.get("/work_pools/doomed")).status).toBe(404);
    expect((await api.get("/work_pools/doomed/queues/extra")).status).toBe(404);
    expect(await queueOfRun(api, inDefault)).toBeNull();
    expect(await queueOfRun(api, inExtra)).toBeNull();
    expect(await queueOfRun(api, elsewhere)).not.toBeNull();
    expect((await api.get(`/flow_runs/${inDefault}`)).body.work_queue_name).toBe("default");
    expect((await api.delete("/work_pools/doomed")).status).toBe(404);
  });
});

describe("work pools: filter and count", () => {
  const { api } = freshApi();
  afterAll(() => api.close());
  const ids: Record<string, string> = {};

  test("seed", async () => {
    for (const [name, type] of [["b", "process"], ["a", "docker"], ["c", "process"], ["d", "kubernetes"]]) {
      ids[name!] = (await api.post("/work_pools/", { name, type })).body.id;
    }
  });

  const names = async (body: object) => ((await api.post("/work_pools/filter", body)).body as { name: string }[]).map((p) => p.name);

  test("ordered by name; limit and offset page through", async () => {
    expect(await names({})).toEqual(["a", "b", "c", "d"]);
    expect(await names({ limit: 2, offset: 1 })).toEqual(["b", "c"]);
    expect((await api.post("/work_pools/filter", { limit: 201 })).status).toBe(422);
  });

  test("id, name and type any_; or_ combines; unknown keys in a filter are 422", async () => {
    expect(await names({ work_pools: { type: { any_: ["process"] } } })).toEqual(["b", "c"]);
    expect(await names({ work_pools: { name: { any_: ["a", "zzz"] } } })).toEqual(["a"]);
    expect(await names({ work_pools: { id: { any_: [ids.d!.toUpperCase()] } } })).toEqual(["d"]);
    expect(await names({ work_pools: { operator: "or_", name: { any_: ["a"] }, type: { any_: ["kubernetes"] } } })).toEqual(["a", "d"]);
    expect(await names({ work_pools: { type: { any_: [] } } })).toEqual([]);
    expect((await api.post("/work_pools/filter", { work_pools: { name: { like_: "a" } } })).status).toBe(422);
  });

  test("count takes `work_pools`", async () => {
    expect((await api.post("/work_pools/count", {})).body).toBe(4);
    expect((await api.post("/work_pools/count", { work_pools: { type: { any_: ["process"] } } })).body).toBe(2);
  });
});

describe("work pool queues", () => {
  const { api, clock } = freshApi();
  afterAll(() => api.close());

  test("create: 201 with the full queue; no priority takes the first free one", async () => {
    await api.post("/work_pools/", { name: "pool", type: "process" });
    const res = await api.post("/work_pools/pool/queues", { name: "low", description: "d", concurrency_limit: 1 });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ name: "low", description: "d", priority: 2, status: "NOT_READY", work_pool_name: "pool", active_slots: 0 });
    // decision #4: the trailing-slash spelling answers directly
    expect((await api.post("/work_pools/pool/queues/", { name: "slash" })).body.priority).toBe(3);
  });

  test("a requested priority is taken and the queues from there on move down just enough", async () => {
    expect((await api.post("/work_pools/pool/queues", { name: "top", priority: 1 })).body.priority).toBe(1);
    expect(await priorities(api, "pool")).toEqual({ top: 1, default: 2, low: 3, slash: 4 });
    // beyond the end: kept as asked, leaving a gap (as Prefect)
    expect((await api.post("/work_pools/pool/queues", { name: "far", priority: 10 })).body.priority).toBe(10);
    // the first gap is filled next
    expect((await api.post("/work_pools/pool/queues", { name: "gap" })).body.priority).toBe(5);
    expect(await priorities(api, "pool")).toEqual({ top: 1, default: 2, low: 3, slash: 4, gap: 5, far: 10 });
  });

  test("PATCH priority moves a queue and keeps priorities unique; DELETE leaves a gap", async () => {
    expect((await api.patch("/work_pools/pool/queues/far", { priority: 2 })).status).toBe(204);
    expect(await priorities(api, "pool")).toEqual({ top: 1, far: 2, default: 3, low: 4, slash: 5, gap: 6 });
    await api.patch("/work_pools/pool/queues/top", { priority: 4 });
    expect(await priorities(api, "pool")).toEqual({ far: 2, default: 3, top: 4, low: 5, slash: 6, gap: 7 });
    expect((await api.delete("/work_pools/pool/queues/low")).status).toBe(204);
    expect((await api.post("/work_pools/pool/queues", { name: "refill" })).body.priority).toBe(1);
    expect(Object.values(await priorities(api, "pool"))).toEqual([1, 2, 3, 4, 6, 7]);
  });

  test("filter: by priority, with id and name (any_, case-insensitive startswith_) criteria", async () => {
    const filter = async (body: object) =>
      ((await api.post("/work_pools/pool/queues/filter", body)).body as { name: string }[]).map((q) => q.name);
    expect(await filter({})).toEqual(["refill", "far", "default", "top", "slash", "gap"]);
    expect(await filter({ limit: 2, offset: 1 })).toEqual(["far", "default"]);
    expect(await filter({ work_queues: { name: { startswith_: ["F", "sl"] } } })).toEqual(["far", "slash"]);
    expect(await filter({ work_queues: { name: { any_: ["gap", "top"] } } })).toEqual(["top", "gap"]);
    expect((await api.post("/work_pools/ghost/queues/filter", {})).body).toEqual({ detail: 'Work pool "ghost" not found.' });
  });

  test("errors: unknown pool 404, duplicate 409 (Prefect's unformatted message), bad priority or name 422", async () => {
    expect(await api.post("/work_pools/ghost/queues", { name: "q" })).toMatchObject({
      status: 404,
      body: { detail: 'Work pool "ghost" not found.' },
    });
    expect(await api.post("/work_pools/pool/queues", { name: "top" })).toMatchObject({
      status: 409,
      body: { detail: "A work queue with this name already exists in work pool {work_pool_name!r}." },
    });
    expect((await api.post("/work_pools/pool/queues", { name: "q", priority: 0 })).body.exception_detail[0]).toMatchObject({
      type: "greater_than",
      msg: "Input should be greater than 0",
    });
    expect((await api.post("/work_pools/pool/queues", { name: "a%b" })).body.exception_detail[0].type).toBe("string_pattern_mismatch");
    expect(await api.get("/work_pools/pool/queues/ghost")).toMatchObject({
      status: 404,
      body: { detail: "Work pool queue 'pool/ghost' not found." },
    });
    expect((await api.patch("/work_pools/ghost/queues/q", {})).body.detail).toBe('Work pool "ghost" not found.');
    expect((await api.delete("/work_pools/pool/queues/ghost")).body.detail).toBe("Work pool queue 'pool/ghost' not found.");
  });

  test("PATCH writes the keys sent; null on a required column is a 409", async () => {
    clock.set(T0 + 60 * SECOND);
    expect((await api.patch("/work_pools/pool/queues/gap", { name: "renamed", description: "x", concurrency_limit: 5 })).status).toBe(204);
    expect((await api.get("/work_pools/pool/queues/renamed")).body).toMatchObject({
      description: "x",
      concurrency_limit: 5,
      updated: "2025-01-01T00:01:00Z",
    });
    expect(await api.patch("/work_pools/pool/queues/renamed", { priority: null })).toMatchObject({
      status: 409,
      body: { detail: INTEGRITY_CONFLICT },
    });
    expect((await api.patch("/work_pools/pool/queues/renamed", { description: null })).status).toBe(409);
    expect((await api.patch("/work_pools/pool/queues/renamed", { is_paused: null })).status).toBe(422);
    // on creation, a null description falls back to the column default
    expect((await api.post("/work_pools/pool/queues", { name: "no-description", description: null })).body.description).toBe("");
  });

  test("the default queue cannot be deleted", async () => {
    const res = await api.delete("/work_pools/pool/queues/default");
    expect(res).toMatchObject({ status: 409, body: { detail: "Can't delete a pool's default queue." } });
    expect((await api.get("/work_pools/pool/queues/default")).status).toBe(200);
  });

  test("deleting a queue clears work_queue_id of its runs", async () => {
    const queue = (await api.post("/work_pools/pool/queues", { name: "short-lived" })).body;
    const run = await runInQueue(api, queue.id, "SCHEDULED");
    expect((await api.delete("/work_pools/pool/queues/short-lived")).status).toBe(204);
    expect(await queueOfRun(api, run)).toBeNull();
  });

  test("active_slots counts PENDING and RUNNING runs of the queue (not CANCELLING here)", async () => {
    const queue = (await api.get("/work_pools/pool/queues/renamed")).body;
    for (const state of ["PENDING", "RUNNING", "CANCELLING", "COMPLETED"]) await runInQueue(api, queue.id, state);
    expect((await api.get("/work_pools/pool/queues/renamed")).body.active_slots).toBe(2);
    const listed = (await api.post("/work_pools/pool/queues/filter", {})).body as { name: string; active_slots: number | null }[];
    expect(listed.find((q) => q.name === "renamed")?.active_slots).toBe(2);
    expect(listed.find((q) => q.name === "top")?.active_slots).toBeNull();
  });
});

describe("work pool queues: pause and poll status", () => {
  const { api, clock } = freshApi();
  afterAll(() => api.close());

  const status = async (queue: string) => (await api.get(`/work_pools/pool/queues/${queue}`)).body.status;

  test("a queue created paused is still NOT_READY (Prefect sets PAUSED only on update)", async () => {
    await api.post("/work_pools/", { name: "pool", type: "process" });
    expect((await api.post("/work_pools/pool/queues", { name: "q", is_paused: true })).body).toMatchObject({ is_paused: true, status: "NOT_READY" });
  });

  test("pause -> PAUSED; unpause -> NOT_READY when never polled", async () => {
    await api.patch("/work_pools/pool/queues/q", { is_paused: true });
    expect(await status("q")).toBe("PAUSED");
    await api.patch("/work_pools/pool/queues/q", { is_paused: false });
    expect(await status("q")).toBe("NOT_READY");
  });

  test("a poll marks NOT_READY queues READY and records last_polled; paused queues stay PAUSED", async () => {
    const queue = (await api.get("/work_pools/pool/queues/q")).body;
    const pool = (await api.get("/work_pools/pool")).body;
    await api.patch("/work_pools/pool/queues/q", { is_paused: true });
    clock.set(T0 + 10 * SECOND);
    expect(await api.context.store.write((tx) => tx.workPools.markQueuesPolled([queue.id, pool.default_queue_id], clock.now()))).toEqual([pool.default_queue_id]);
    expect(await status("default")).toBe("READY");
    expect((await api.get("/work_pools/pool/queues/q")).body).toMatchObject({ status: "PAUSED", last_polled: "2025-01-01T00:00:10Z" });
    expect(await api.context.store.write((tx) => tx.workPools.markQueuesPolled([pool.default_queue_id], clock.now()))).toEqual([]);
  });

  test("unpausing comes back READY only if polled within the last 60 s", async () => {
    clock.set(T0 + 70 * SECOND);
    await api.patch("/work_pools/pool/queues/q", { is_paused: false });
    expect(await status("q")).toBe("READY");
    await api.patch("/work_pools/pool/queues/q", { is_paused: true });
    clock.set(T0 + 71 * SECOND);
    await api.patch("/work_pools/pool/queues/q", { is_paused: false });
    expect(await status("q")).toBe("NOT_READY");
  });

  test("a last_polled sent with the unpause is the one that counts; unpausing an unpaused queue changes nothing", async () => {
    await api.patch("/work_pools/pool/queues/q", { is_paused: true });
    await api.patch("/work_pools/pool/queues/q", { is_paused: false, last_polled: "2025-01-01T00:01:00Z" });
    expect(await status("q")).toBe("READY");
    await api.patch("/work_pools/pool/queues/default", { is_paused: false, last_polled: "2020-01-01T00:00:00Z" });
    expect(await status("default")).toBe("READY");
  });
});

describe("workers", () => {
  const { api, clock } = freshApi();
  afterAll(() => api.close());

  test("a heartbeat upserts the worker ONLINE and makes a NOT_READY pool READY; Cloud-only keys are ignored", async () => {
    await api.post("/work_pools/", { name: "pool", type: "process" });
    const res = await api.post("/work_pools/pool/workers/heartbeat", {
      name: "w1",
      heartbeat_interval_seconds: 10,
      return_id: true,
      metadata: { x: 1 },
    });
    expect(res).toMatchObject({ status: 204, text: "" });
    expect((await api.get("/work_pools/pool")).body.status).toBe("READY");
    const workers = (await api.post("/work_pools/pool/workers/filter", {})).body;
    expect(workers).toEqual([
      {
        id: expect.any(String),
        created: "2025-01-01T00:00:00Z",
        updated: "2025-01-01T00:00:00Z",
        name: "w1",
        work_pool_id: (await api.get("/work_pools/pool")).body.id,
        last_heartbeat_time: "2025-01-01T00:00:00Z",
        heartbeat_interval_seconds: 10,
        status: "ONLINE",
      },
    ]);
  });

  test("a later heartbeat keeps the interval when none is sent; newest heartbeat is listed first", async () => {
    clock.set(T0 + 5 * SECOND);
    await api.post("/work_pools/pool/workers/heartbeat", { name: "w2" });
    clock.set(T0 + 8 * SECOND);
    await api.post("/work_pools/pool/workers/heartbeat", { name: "w1" });
    const workers = (await api.post("/work_pools/pool/workers/filter", {})).body;
    expect(workers.map((w: { name: string }) => w.name)).toEqual(["w1", "w2"]);
    expect(workers[0]).toMatchObject({ heartbeat_interval_seconds: 10, last_heartbeat_time: "2025-01-01T00:00:08Z" });
    expect(workers[1]).toMatchObject({ heartbeat_interval_seconds: null });
  });

  test("status is read from the heartbeat's age: OFFLINE after 3 intervals (30 s by default)", async () => {
    clock.set(T0 + 38 * SECOND);
    const byName = async () =>
      Object.fromEntries(((await api.post("/work_pools/pool/workers/filter", {})).body as { name: string; status: string }[]).map((w) => [w.name, w.status]));
    expect(await byName()).toEqual({ w1: "OFFLINE", w2: "ONLINE" });
    clock.set(T0 + 95 * SECOND);
    expect(await byName()).toEqual({ w1: "OFFLINE", w2: "OFFLINE" });
  });

  test("filter by heartbeat time and by stored status", async () => {
    const filter = async (workers: object) =>
      ((await api.post("/work_pools/pool/workers/filter", { workers })).body as { name: string }[]).map((w) => w.name);
    expect(await filter({ last_heartbeat_time: { before_: "2025-01-01T00:00:06Z" } })).toEqual(["w2"]);
    expect(await filter({ status: { any_: ["ONLINE"] } })).toEqual(["w1", "w2"]);
    expect(await filter({ status: { not_any_: ["ONLINE"] } })).toEqual([]);
    expect((await api.post("/work_pools/pool/workers/filter", { workers: { status: { any_: ["online"] } } })).status).toBe(422);
  });

  test("heartbeat errors: a missing name is 422, an unknown pool 404", async () => {
    expect((await api.post("/work_pools/pool/workers/heartbeat", {})).body.exception_detail[0]).toMatchObject({
      type: "missing",
      loc: ["body", "name"],
    });
    expect((await api.post("/work_pools/ghost/workers/heartbeat", { name: "w" })).body).toEqual({ detail: 'Work pool "ghost" not found.' });
  });

  test("DELETE a worker: 204, then 404 `Worker not found.`", async () => {
    expect((await api.delete("/work_pools/pool/workers/w2")).status).toBe(204);
    expect(await api.delete("/work_pools/pool/workers/w2")).toMatchObject({ status: 404, body: { detail: "Worker not found." } });
    expect((await api.delete("/work_pools/ghost/workers/w1")).body.detail).toBe('Work pool "ghost" not found.');
  });
});

describe("work pools: concurrency_status", () => {
  const { api, clock } = freshApi();
  afterAll(() => api.close());

  test("slot holders per queue (PENDING and RUNNING), queues paged by priority, runs capped by flow_run_limit", async () => {
    await api.post("/work_pools/", { name: "pool", type: "process", concurrency_limit: 5 });
    const second = (await api.post("/work_pools/pool/queues", { name: "second", concurrency_limit: 1 })).body;
    const pool = (await api.get("/work_pools/pool")).body;
    const runs = [];
    for (const state of ["RUNNING", "PENDING", "RUNNING"]) {
      runs.push(await runInQueue(api, pool.default_queue_id, state, { stateTimestamp: T0, stateName: "Running", startTime: T0 }));
    }
    await runInQueue(api, second.id, "RUNNING", { stateTimestamp: T0 });
    await runInQueue(api, second.id, "CANCELLING");
    clock.set(T0 + 90 * SECOND);

    const res = await api.post("/work_pools/pool/concurrency_status", { flow_run_limit: 2 });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ active_slots: 4, concurrency_limit: 5, count: 2, limit: 200, pages: 1, page: 1 });
    const [first, other] = res.body.queues;
    expect(first).toMatchObject({ queue_id: pool.default_queue_id, queue_name: "default", active_slots: 3, concurrency_limit: null, flow_run_count: 3 });
    expect(first.flow_runs).toHaveLength(2);
    expect(first.flow_runs[0]).toEqual({
      id: [...runs].sort()[0],
      name: expect.any(String),
      state_type: expect.any(String),
      state_name: "Running",
      start_time: "2025-01-01T00:00:00Z",
      state_timestamp: "2025-01-01T00:00:00Z",
      time_in_current_state: 90,
    });
    expect(other).toMatchObject({ queue_name: "second", active_slots: 1, concurrency_limit: 1, flow_run_count: 1 });

    const paged = (await api.post("/work_pools/pool/concurrency_status", { limit: 1, page: 2 })).body;
    expect(paged).toMatchObject({ count: 2, limit: 1, pages: 2, page: 2 });
    expect(paged.queues.map((q: { queue_name: string }) => q.queue_name)).toEqual(["second"]);
  });

  test("errors: unknown pool (repr-quoted), page below 1, flow_run_limit above 200", async () => {
    expect((await api.post("/work_pools/ghost/concurrency_status", {})).body).toEqual({ detail: "Work pool 'ghost' not found." });
    expect((await api.post("/work_pools/pool/concurrency_status", { page: 0 })).status).toBe(422);
    expect((await api.post("/work_pools/pool/concurrency_status", { flow_run_limit: 201 })).body.exception_detail[0]).toMatchObject({
      type: "less_than_equal",
      msg: "Input should be less than or equal to 200",
    });
  });
});

describe("helpers for deployment and flow-run code", () => {
  const { api, clock } = freshApi();
  afterAll(() => api.close());

  test("resolveQueue: pool only -> default queue; pool and queue; Prefect's 404 details; optional creation", async () => {
    const pool = (await api.post("/work_pools/", { name: "pool", type: "process" })).body;
    const extra = (await api.post("/work_pools/pool/queues", { name: "extra" })).body;
    expect(await api.context.store.write((tx) => resolveQueue(tx, "pool", null))).toEqual({ found: true, poolId: pool.id, queueId: pool.default_queue_id, queueName: "default" });
    expect(await api.context.store.write((tx) => resolveQueue(tx, "pool", "extra"))).toEqual({ found: true, poolId: pool.id, queueId: extra.id, queueName: "extra" });
    expect(await api.context.store.write((tx) => resolveQueue(tx, "ghost", null))).toEqual({ found: false, detail: 'Work pool "ghost" not found.' });
    expect(await api.context.store.write((tx) => resolveQueue(tx, "pool", "new"))).toEqual({ found: false, detail: "Work pool queue 'pool/new' not found." });
    expect(await api.context.store.write((tx) => resolveOrCreateQueue(tx, "ghost", "new", clock.now()))).toEqual({ found: false, detail: 'Work pool "ghost" not found.' });
    const created = (await api.context.store.write((tx) => resolveOrCreateQueue(tx, "pool", "new", clock.now())));
    expect(created).toMatchObject({ found: true, poolId: pool.id, queueName: "new" });
    expect((await api.get("/work_pools/pool/queues/new")).body).toMatchObject({ priority: 3, description: "" });
    expect((await api.context.store.write((tx) => getOrCreateQueue(tx, pool.id, "new", clock.now()))).id).toBe((created as { queueId: string }).queueId);
  });

  test("markPoolPolled (decision #8): NOT_READY -> READY; PAUSED and agent pools untouched; the poll time is recorded", async () => {
    const pool = (await api.get("/work_pools/pool")).body;
    const transitionedAt = async () => (await readRow(api.context.store, "workPool", pool.id))!.lastTransitionedStatusAt;
    clock.set(T0 + 5 * SECOND);
    expect(await api.context.store.write((tx) => tx.workPools.markPoolPolled(pool.id, clock.now()))).toBe(true);
    expect((await api.get("/work_pools/pool")).body).toMatchObject({ status: "READY", updated: "2025-01-01T00:00:05Z" });
    clock.set(T0 + 9 * SECOND);
    expect(await api.context.store.write((tx) => tx.workPools.markPoolPolled(pool.id, clock.now()))).toBe(false);
    expect(await transitionedAt()).toBe(T0 + 9 * SECOND);
    expect((await api.get("/work_pools/pool")).body.updated).toBe("2025-01-01T00:00:05Z");

    await api.patch("/work_pools/pool", { is_paused: true });
    expect(await api.context.store.write((tx) => tx.workPools.markPoolPolled(pool.id, clock.now()))).toBe(false);
    expect((await api.get("/work_pools/pool")).body.status).toBe("PAUSED");
    const agent = (await api.post("/work_pools/", { name: "agent" })).body;
    expect(await api.context.store.write((tx) => tx.workPools.markPoolPolled(agent.id, clock.now()))).toBe(false);
  });

  test("default agent pool and legacy queues: created once; a new legacy queue takes priority 1", async () => {
    const first = (await api.context.store.write((tx) => getOrCreateDefaultAgentPool(tx, clock.now())));
    expect(first).toMatchObject({ created: true, pool: { name: "default-agent-pool", type: "prefect-agent", status: null } });
    expect(await api.context.store.write((tx) => getOrCreateDefaultAgentPool(tx, clock.now()))).toMatchObject({ created: false, pool: { id: first.pool.id } });
    expect((await api.context.store.write((tx) => ensureLegacyQueue(tx, "default", clock.now()))).id).toBe(first.pool.defaultQueueId!);
    const legacy = (await api.context.store.write((tx) => ensureLegacyQueue(tx, "legacy", clock.now())));
    expect(legacy).toMatchObject({ priority: 1, workPoolId: first.pool.id });
    expect(await priorities(api, "default-agent-pool")).toEqual({ legacy: 1, default: 2 });
    expect((await api.context.store.write((tx) => ensureLegacyQueue(tx, "legacy", clock.now()))).id).toBe(legacy.id);
  });

  test("active slot counts for pools and queues", async () => {
    const pool = (await api.get("/work_pools/pool")).body;
    await runInQueue(api, pool.default_queue_id, "RUNNING");
    await runInQueue(api, pool.default_queue_id, "CANCELLING");
    expect(await api.context.store.read((q) => q.workPools.poolActiveSlots([pool.id]))).toEqual(new Map([[pool.id, 1]]));
    expect((await api.context.store.read((q) => q.workPools.queueActiveSlots([pool.default_queue_id], "pool"))).get(pool.default_queue_id)).toBe(1);
    expect((await api.context.store.read((q) => q.workPools.queueActiveSlots([pool.default_queue_id], "legacy"))).get(pool.default_queue_id)).toBe(2);
  });

  test("operations join the caller's transaction: rolled back with it", async () => {
    const pool = (await api.get("/work_pools/pool")).body;
    await expect(
      api.context.store.write(function* (tx) {
        yield* getOrCreateQueue(tx, pool.id, "rolled-back", clock.now());
        throw new Error("abort");
      }),
    ).rejects.toThrow("abort");
    expect((await api.get("/work_pools/pool/queues/rolled-back")).status).toBe(404);
    await api.context.store.write((tx) => getOrCreateQueue(tx, pool.id, "kept", clock.now()));
    expect((await api.get("/work_pools/pool/queues/kept")).status).toBe(200);
  });
});

describe("acceptance suite: test_work_pools, replayed in process", () => {
  const { api } = freshApi();
  afterAll(() => api.close());

  test("the sequence passes", async () => {
    const poolName = "test-pool-1a2b3c4d";
    const created = await api.post("/work_pools/", { name: poolName, type: "process", description: "test work pool" });
    expect([200, 201]).toContain(created.status);
    for (const key of ["id", "name", "type", "status", "default_queue_id"]) expect(created.body).toHaveProperty(key);
    expect(typeof created.body.id).toBe("string");
    expect(created.body.default_queue_id).toBeTruthy();

    expect((await api.get(`/work_pools/${poolName}`)).status).toBe(200);
    expect((await api.patch(`/work_pools/${poolName}`, { description: "updated" })).status).toBe(204);
    const pools = await api.post("/work_pools/filter", {});
    expect(pools.status).toBe(200);
    expect(Array.isArray(pools.body)).toBe(true);

    const queueName = "test-queue-5e6f7a8b";
    const queue = await api.post(`/work_pools/${poolName}/queues/`, { name: queueName, description: "test queue", priority: 5 });
    expect([200, 201]).toContain(queue.status);
    expect(queue.body).toMatchObject({ id: expect.any(String), name: queueName, priority: 5, work_pool_id: created.body.id });
    expect((await api.get(`/work_pools/${poolName}/queues/${queueName}`)).status).toBe(200);
    const queues = await api.post(`/work_pools/${poolName}/queues/filter`, {});
    expect(queues.status).toBe(200);
    expect(queues.body.length).toBeGreaterThanOrEqual(2);

    expect((await api.post(`/work_pools/${poolName}/workers/heartbeat`, { name: "test-worker-1", heartbeat_interval_seconds: 30 })).status).toBe(204);
    const pool = await api.get(`/work_pools/${poolName}`);
    expect(pool.status).toBe(200);
    expect(pool.body.status).toBe("READY");
    const workers = await api.post(`/work_pools/${poolName}/workers/filter`, {});
    expect(workers.status).toBe(200);
    expect(workers.body.length).toBeGreaterThanOrEqual(1);

    expect((await api.delete(`/work_pools/${poolName}/queues/${queueName}`)).status).toBe(204);
    expect((await api.delete(`/work_pools/${poolName}`)).status).toBe(204);
  });
});
