import { afterAll, describe, expect, test } from "bun:test";
import { INTEGRITY_CONFLICT } from "../../src/api/errors";
import type { flowRun } from "../../src/db/schema";
import { Scheduler } from "../../src/services/scheduler";
import { createTestApi, ManualClock } from "../support/api";
import { updateRow } from "../support/rows";

const T0 = Date.UTC(2025, 0, 1) * 1000; // 2025-01-01T00:00:00Z
const SECOND = 1_000_000;
const HOUR = 3600 * SECOND;
const iso = (micros: number) => new Date(micros / 1000).toISOString().replace(".000Z", "Z");

type Api = ReturnType<typeof createTestApi>;

function freshApi() {
  const clock = new ManualClock(T0);
  return { api: createTestApi({ clock }), clock };
}

async function newFlow(api: Api, name = "etl") {
  const res = await api.post("/flows/", { name });
  return res.body.id as string;
}

async function deploy(api: Api, body: Record<string, unknown>) {
  const res = await api.post("/deployments/", body);
  if (res.status !== 201 && res.status !== 200) throw new Error(`deploy failed: ${res.status} ${res.text}`);
  return res.body;
}

/** A flow run of the deployment scheduled at `at`, created the way a user would (not auto-scheduled). */
async function manualRun(api: Api, deploymentId: string, at: number) {
  const res = await api.post(`/deployments/${deploymentId}/create_flow_run`, {
    state: { type: "SCHEDULED", state_details: { scheduled_time: iso(at) } },
  });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

/** Runs the main scheduler loop once at `now`. */
const schedule = (api: Api, now: number) => new Scheduler(api.context).tick(now);

async function runsOf(api: Api, deploymentId: string) {
  const res = await api.post("/flow_runs/filter", { flow_runs: { deployment_id: { any_: [deploymentId] } }, sort: "NEXT_SCHEDULED_START_TIME_ASC" });
  return res.body as any[];
}

const setRun = (api: Api, id: string, columns: Partial<typeof flowRun.$inferInsert>) => updateRow(api.context.store, "flowRun", id, columns);

const count = async (api: Api) => (await api.post("/deployments/count", {})).body as number;

describe("POST /deployments/: create and upsert", () => {
  const { api, clock } = freshApi();
  afterAll(() => api.close());

  test("create answers 201 with the full DeploymentResponse; status NOT_READY; labels get prefect.flow.id", async () => {
    const flowId = (await api.post("/flows/", { name: "labelled", labels: { team: "data" } })).body.id;
    const res = await api.post("/deployments/", {
      name: "nightly",
      flow_id: flowId,
      version: "1",
      description: "desc",
      tags: ["a", "b"],
      parameters: { x: 1 },
      labels: { env: "prod" },
      entrypoint: "flows.py:etl",
      path: "/src",
      schedules: [{ schedule: { interval: 3600, anchor_date: "2025-01-01T00:00:00Z" }, slug: "hourly" }],
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(String),
      created: "2025-01-01T00:00:00Z",
      updated: "2025-01-01T00:00:00Z",
      name: "nightly",
      version: "1",
      description: "desc",
      flow_id: flowId,
      paused: false,
      schedules: [
        {
          id: expect.any(String),
          created: "2025-01-01T00:00:00Z",
          updated: "2025-01-01T00:00:00Z",
          deployment_id: res.body.id,
          schedule: { interval: 3600, anchor_date: "2025-01-01T00:00:00Z", timezone: "UTC" },
          active: true,
          max_scheduled_runs: null,
          parameters: {},
          slug: "hourly",
        },
      ],
      concurrency_limit: null,
      global_concurrency_limit: null,
      concurrency_options: null,
      job_variables: {},
      parameters: { x: 1 },
      tags: ["a", "b"],
      labels: { team: "data", "prefect.flow.id": flowId, env: "prod" },
      work_queue_name: null,
      work_queue_id: null,
      last_polled: null,
      parameter_openapi_schema: {},
      path: "/src",
      pull_steps: [],
      entrypoint: "flows.py:etl",
      storage_document_id: null,
      infrastructure_document_id: null,
      created_by: null,
      updated_by: null,
      work_pool_name: null,
      status: "NOT_READY",
      enforce_parameter_schema: true,
    });
    expect((await api.get(`/deployments/${res.body.id}`)).body).toEqual(res.body);
  });

  test("read by id and by flow_name/deployment_name; 404s say `Deployment not found`", async () => {
    const flowId = await newFlow(api, "reader");
    const created = await deploy(api, { name: "by-name", flow_id: flowId });
    expect((await api.get(`/deployments/name/reader/by-name`)).body.id).toBe(created.id);
    expect(await api.get(`/deployments/name/reader/other`)).toMatchObject({ status: 404, body: { detail: "Deployment not found" } });
    expect(await api.get(`/deployments/name/nope/by-name`)).toMatchObject({ status: 404, body: { detail: "Deployment not found" } });
    expect(await api.get(`/deployments/${crypto.randomUUID()}`)).toMatchObject({ status: 404, body: { detail: "Deployment not found" } });
    // `{id:uuid}` routes do not match other text: Starlette's plain 404
    expect((await api.get(`/deployments/not-a-uuid`)).status).toBe(404);
  });

  test("upsert of the same flow and name: 200, same id, unset fields kept, set ones replaced, schedules replaced", async () => {
    const flowId = await newFlow(api, "upsert");
    const first = await deploy(api, {
      name: "d",
      flow_id: flowId,
      description: "keep me",
      version: "1",
      tags: ["old"],
      schedules: [{ schedule: { interval: 60 } }],
    });
    clock.set(T0 + 10 * SECOND);
    const res = await api.post("/deployments/", { name: "d", flow_id: flowId, version: "2", schedules: [{ schedule: { cron: "0 9 * * *" } }] });
    clock.set(T0);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: first.id, description: "keep me", version: "2", tags: ["old"], created: "2025-01-01T00:00:00Z", updated: "2025-01-01T00:00:10Z" });
    expect(res.body.schedules).toHaveLength(1);
    expect(res.body.schedules[0].id).not.toBe(first.schedules[0].id);
    expect(res.body.schedules[0].schedule).toEqual({ cron: "0 9 * * *", timezone: null, day_or: true });
    // an upsert without schedules removes them all
    const bare = await api.post("/deployments/", { name: "d", flow_id: flowId });
    expect(bare.status).toBe(200);
    expect(bare.body.schedules).toEqual([]);
    expect(await count(api)).toBe(3);
  });

  test("upsert deletes the future auto-scheduled runs; past-due, manual and already-run ones stay", async () => {
    const flowId = await newFlow(api, "upsert-runs");
    const d = await deploy(api, { name: "d", flow_id: flowId, schedules: [{ schedule: { interval: 3600, anchor_date: "2025-01-01T00:00:00Z" } }] });
    await schedule(api, T0 - HOUR); // T0-1h, T0, T0+1h
    const manual = await manualRun(api, d.id, T0 + 5 * HOUR);
    const auto = await runsOf(api, d.id);
    expect(auto.filter((r) => r.auto_scheduled).map((r) => r.next_scheduled_start_time)).toEqual([
      "2024-12-31T23:00:00Z",
      "2025-01-01T00:00:00Z",
      "2025-01-01T01:00:00Z",
    ]);
    const ranOnce = auto.find((r) => r.next_scheduled_start_time === "2025-01-01T01:00:00Z")!.id;
    await setRun(api, ranOnce, { runCount: 1 });

    await deploy(api, { name: "d", flow_id: flowId, schedules: [{ schedule: { interval: 3600, anchor_date: "2025-01-01T00:00:00Z" } }] });
    const left = (await runsOf(api, d.id)).map((r) => r.id).sort();
    const pastDue = auto.filter((r) => r.next_scheduled_start_time <= "2025-01-01T00:00:00Z").map((r) => r.id);
    expect(left).toEqual([...pastDue, ranOnce, manual].sort());
  });

  test("unknown work pool: 404 `Work pool \"x\" not found.` and nothing written", async () => {
    const flowId = await newFlow(api, "pool-check");
    const before = await count(api);
    const res = await api.post("/deployments/", { name: "d", flow_id: flowId, work_pool_name: "x" });
    expect(res).toMatchObject({ status: 404, body: { detail: 'Work pool "x" not found.' } });
    expect(await count(api)).toBe(before);
  });

  test("pool + queue: the queue is created in the pool; pool only: its default queue", async () => {
    const flowId = await newFlow(api, "pooled");
    await api.post("/work_pools/", { name: "proc", type: "process" });
    expect((await api.get("/work_pools/proc/queues/gpu")).status).toBe(404);
    const withQueue = await deploy(api, { name: "q", flow_id: flowId, work_pool_name: "proc", work_queue_name: "gpu" });
    const queue = await api.get("/work_pools/proc/queues/gpu");
    expect(queue.status).toBe(200);
    expect(withQueue).toMatchObject({ work_pool_name: "proc", work_queue_name: "gpu", work_queue_id: queue.body.id });

    const poolOnly = await deploy(api, { name: "p", flow_id: flowId, work_pool_name: "proc" });
    const pool = (await api.get("/work_pools/proc")).body;
    expect(poolOnly).toMatchObject({ work_pool_name: "proc", work_queue_name: "default", work_queue_id: pool.default_queue_id });
  });

  test("queue only: a legacy queue in default-agent-pool (created when missing)", async () => {
    const flowId = await newFlow(api, "legacy");
    const d = await deploy(api, { name: "d", flow_id: flowId, work_queue_name: "old-school" });
    const queue = (await api.get("/work_queues/name/old-school")).body;
    expect(d).toMatchObject({ work_pool_name: "default-agent-pool", work_queue_name: "old-school", work_queue_id: queue.id });
    expect((await api.get("/work_pools/default-agent-pool")).body.type).toBe("prefect-agent");
  });

  test("job_variables are checked against the pool's base job template: 422", async () => {
    const flowId = await newFlow(api, "jobvars");
    await api.post("/work_pools/", {
      name: "typed",
      type: "process",
      base_job_template: { job_configuration: { command: "{{ command }}" }, variables: { properties: { command: { type: "string" } } } },
    });
    const bad = await api.post("/deployments/", { name: "d", flow_id: flowId, work_pool_name: "typed", job_variables: { command: 5 } });
    expect(bad.status).toBe(422);
    expect(bad.body.detail).toStartWith("Error creating deployment: Validation failed");
    const ok = await api.post("/deployments/", { name: "d", flow_id: flowId, work_pool_name: "typed", job_variables: { command: "run" } });
    expect(ok.status).toBe(201);
    expect(ok.body.job_variables).toEqual({ command: "run" });
  });

  test("concurrency_limit creates the `deployment:<id>` v2 limit shown in global_concurrency_limit; concurrency_limit stays null", async () => {
    const flowId = await newFlow(api, "limited");
    const d = await deploy(api, { name: "d", flow_id: flowId, concurrency_limit: 2 });
    expect(d.concurrency_limit).toBeNull();
    expect(d.global_concurrency_limit).toMatchObject({ name: `deployment:${d.id}`, limit: 2, active: true, active_slots: 0 });
    const limit = await api.get(`/v2/concurrency_limits/deployment:${d.id}`);
    expect(limit.body).toMatchObject({ id: d.global_concurrency_limit.id, limit: 2 });

    // an upsert changes the same limit; PATCH null deletes it
    const again = await deploy(api, { name: "d", flow_id: flowId, concurrency_limit: 5 });
    expect(again.global_concurrency_limit).toMatchObject({ id: d.global_concurrency_limit.id, limit: 5 });
    expect((await api.patch(`/deployments/${d.id}`, { concurrency_limit: null })).status).toBe(204);
    expect((await api.get(`/deployments/${d.id}`)).body.global_concurrency_limit).toBeNull();
    expect((await api.get(`/v2/concurrency_limits/deployment:${d.id}`)).status).toBe(404);
  });

  test("global_concurrency_limit_id links an existing limit; an unknown one is 404", async () => {
    const flowId = await newFlow(api, "global-limit");
    const gcl = (await api.post("/v2/concurrency_limits/", { name: "shared", limit: 4 })).body;
    const d = await deploy(api, { name: "d", flow_id: flowId, global_concurrency_limit_id: gcl.id });
    expect(d.global_concurrency_limit).toMatchObject({ id: gcl.id, name: "shared", limit: 4 });
    const missing = await api.post("/deployments/", { name: "e", flow_id: flowId, global_concurrency_limit_id: crypto.randomUUID() });
    expect(missing).toMatchObject({ status: 404, body: { detail: "Concurrency limit not found" } });
  });

  test("both concurrency_limit and global_concurrency_limit_id: 422, nothing written", async () => {
    const flowId = await newFlow(api, "both-limits");
    const gcl = (await api.post("/v2/concurrency_limits/", { name: "shared-2", limit: 4 })).body;
    const before = await count(api);
    const res = await api.post("/deployments/", { name: "d", flow_id: flowId, concurrency_limit: 1, global_concurrency_limit_id: gcl.id });
    expect(res.status).toBe(422);
    expect(res.body.exception_detail).toEqual([
      {
        type: "value_error",
        loc: ["body"],
        msg: "Value error, A deployment cannot have both a concurrency limit and a global concurrency limit.",
        input: expect.any(Object),
      },
    ]);
    expect(await count(api)).toBe(before);
  });

  test("an invalid schedule is 422 with pydantic's messages and nothing is written", async () => {
    const flowId = await newFlow(api, "bad-schedules");
    const before = await count(api);
    const res = await api.post("/deployments/", {
      name: "d",
      flow_id: flowId,
      schedules: [{ schedule: { interval: 60 } }, { schedule: { cron: "not a cron" } }, { schedule: { cron: "0 9 * * *", timezone: "Mars/Olympus" } }],
    });
    expect(res.status).toBe(422);
    const messages = (res.body.exception_detail as { loc: unknown[]; msg: string }[]).filter((i) => i.msg.startsWith("Value error"));
    expect(messages).toContainEqual(
      expect.objectContaining({
        loc: ["body", "schedules", 1, "schedule", "function-after[validate_timezone(), CronSchedule]", "cron"],
        msg: 'Value error, Invalid cron string: "not a cron"',
      }),
    );
    expect(messages).toContainEqual(
      expect.objectContaining({
        loc: ["body", "schedules", 2, "schedule", "function-after[validate_timezone(), CronSchedule]"],
        msg: 'Value error, Invalid timezone: "Mars/Olympus" (specify in IANA tzdata format, for example, America/New_York)',
      }),
    );
    expect(await count(api)).toBe(before);
    expect((await api.get("/deployments/name/bad-schedules/d")).status).toBe(404);
  });

  test("a bad schedule in an upsert leaves the existing deployment and schedules alone", async () => {
    const flowId = await newFlow(api, "bad-upsert");
    const d = await deploy(api, { name: "d", flow_id: flowId, description: "v1", schedules: [{ schedule: { interval: 60 } }] });
    const res = await api.post("/deployments/", { name: "d", flow_id: flowId, description: "v2", schedules: [{ schedule: { interval: -5 } }] });
    expect(res.status).toBe(422);
    const now = (await api.get(`/deployments/${d.id}`)).body;
    expect(now.description).toBe("v1");
    expect(now.schedules.map((s: { id: string }) => s.id)).toEqual([d.schedules[0].id]);
  });

  test("max_scheduled_runs above the server maximum (50) is 422 wherever a schedule is written", async () => {
    const flowId = await newFlow(api, "max-runs");
    const msg = "Value error, `max_scheduled_runs` must be less than or equal to 50.";
    const res = await api.post("/deployments/", { name: "d", flow_id: flowId, schedules: [{ schedule: { interval: 60 }, max_scheduled_runs: 51 }] });
    expect(res.status).toBe(422);
    expect(res.body.exception_detail).toEqual([{ type: "value_error", loc: ["body", "schedules", 0, "max_scheduled_runs"], msg, input: 51 }]);
    const d = await deploy(api, { name: "d", flow_id: flowId, schedules: [{ schedule: { interval: 60 }, max_scheduled_runs: 50, slug: "s" }] });
    expect(d.schedules[0].max_scheduled_runs).toBe(50);
    const list = await api.post(`/deployments/${d.id}/schedules`, [{ schedule: { interval: 60 } }, { schedule: { interval: 60 }, max_scheduled_runs: 99 }]);
    expect(list.body.exception_detail).toEqual([{ type: "value_error", loc: ["body", 1, "max_scheduled_runs"], msg, input: 99 }]);
    const one = await api.patch(`/deployments/${d.id}/schedules/${d.schedules[0].id}`, { max_scheduled_runs: 51 });
    expect(one.body.exception_detail).toEqual([{ type: "value_error", loc: ["body", "max_scheduled_runs"], msg, input: 51 }]);
    const slugged = await api.patch(`/deployments/${d.id}`, { schedules: [{ slug: "s", max_scheduled_runs: 51 }] });
    expect(slugged.body.exception_detail).toEqual([{ type: "value_error", loc: ["body", "schedules", 0, "max_scheduled_runs"], msg, input: 51 }]);
    expect((await api.get(`/deployments/${d.id}`)).body.schedules).toEqual(d.schedules);
  });

  test("duplicate schedule slugs: Prefect's generic 409 on SQLite, nothing written", async () => {
    const flowId = await newFlow(api, "dup-slugs");
    const before = await count(api);
    const res = await api.post("/deployments/", {
      name: "d",
      flow_id: flowId,
      schedules: [
        { schedule: { interval: 60 }, slug: "same" },
        { schedule: { interval: 120 }, slug: "same" },
      ],
    });
    expect(res).toMatchObject({ status: 409, body: { detail: INTEGRITY_CONFLICT } });
    expect(await count(api)).toBe(before);
    const d = await deploy(api, { name: "d", flow_id: flowId, schedules: [{ schedule: { interval: 60 }, slug: "same" }] });
    expect(await api.post(`/deployments/${d.id}/schedules`, [{ schedule: { interval: 5 }, slug: "same" }])).toMatchObject({
      status: 409,
      body: { detail: INTEGRITY_CONFLICT },
    });
    expect((await api.get(`/deployments/${d.id}/schedules`)).body).toHaveLength(1);
  });

  test("legacy keys (worker_pool_name...) are silently stripped; other unknown keys are 422", async () => {
    const flowId = await newFlow(api, "legacy-keys");
    const res = await api.post("/deployments/", {
      name: "d",
      flow_id: flowId,
      worker_pool_name: "ghost",
      worker_pool_queue_name: "ghost-q",
      worker_pool_queue_id: crypto.randomUUID(),
      work_pool_queue_name: "ghost-q2",
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ work_pool_name: null, work_queue_name: null });
    expect((await api.patch(`/deployments/${res.body.id}`, { worker_pool_name: "ghost", description: "x" })).status).toBe(204);
    expect((await api.get(`/deployments/${res.body.id}`)).body.description).toBe("x");
    const unknown = await api.post("/deployments/", { name: "e", flow_id: flowId, bogus: 1 });
    expect(unknown.status).toBe(422);
    expect(unknown.body.exception_detail[0]).toMatchObject({ type: "extra_forbidden", loc: ["body", "bogus"] });
  });

  test("parameters are checked against the schema on create only when enforce_parameter_schema is sent true", async () => {
    const flowId = await newFlow(api, "enforced");
    const schema = { type: "object", properties: { n: { type: "integer" } } };
    const bad = await api.post("/deployments/", {
      name: "strict",
      flow_id: flowId,
      enforce_parameter_schema: true,
      parameter_openapi_schema: schema,
      parameters: { n: "five" },
    });
    expect(bad.status).toBe(422);
    expect(bad.body.exception_detail[0]).toMatchObject({ type: "value_error", loc: ["body"] });
    expect(bad.body.exception_detail[0].msg).toStartWith("Value error, Validation failed for field 'n'.");
    // Prefect's validator reads the raw body: without the key nothing is checked (the field still defaults to true)
    const lax = await api.post("/deployments/", { name: "lax", flow_id: flowId, parameter_openapi_schema: schema, parameters: { n: "five" } });
    expect(lax.status).toBe(201);
    expect(lax.body.enforce_parameter_schema).toBe(true);
  });

  test("unknown storage or infrastructure block ids are 409", async () => {
    const flowId = await newFlow(api, "blocks");
    const id = crypto.randomUUID();
    const res = await api.post("/deployments/", { name: "d", flow_id: flowId, storage_document_id: id });
    expect(res.status).toBe(409);
    expect(res.body.detail).toBe(
      `Error creating deployment. Could not find storage block with id: ${id}. This usually occurs when applying a deployment specification that was built against a different Prefect database / workspace.`,
    );
    expect((await api.post("/deployments/", { name: "d", flow_id: flowId, infrastructure_document_id: id })).status).toBe(409);
  });
});

describe("PATCH /deployments/{id}", () => {
  const { api, clock } = freshApi();
  afterAll(() => api.close());

  test("writes only the keys sent, bumps updated: 204 with no body; 404 `Deployment not found.`", async () => {
    const flowId = await newFlow(api);
    const d = await deploy(api, { name: "d", flow_id: flowId, description: "a", version: "1", tags: ["t"], parameters: { x: 1 } });
    clock.set(T0 + 30 * SECOND);
    const res = await api.patch(`/deployments/${d.id}`, { description: "b", job_variables: { image: "py:3.12" } });
    clock.set(T0);
    expect(res.status).toBe(204);
    expect(res.text).toBe("");
    const after = (await api.get(`/deployments/${d.id}`)).body;
    expect(after).toMatchObject({ description: "b", version: "1", tags: ["t"], parameters: { x: 1 }, job_variables: { image: "py:3.12" } });
    expect(after.updated).toBe("2025-01-01T00:00:30Z");
    expect(await api.patch(`/deployments/${crypto.randomUUID()}`, { description: "x" })).toMatchObject({
      status: 404,
      body: { detail: "Deployment not found." },
    });
  });

  test("paused: true deletes the future auto-scheduled runs; the scheduler then leaves the deployment alone", async () => {
    const flowId = await newFlow(api, "pausing");
    const d = await deploy(api, { name: "d", flow_id: flowId, schedules: [{ schedule: { interval: 3600, anchor_date: "2025-01-01T00:00:00Z" } }] });
    await schedule(api, T0 - HOUR);
    const manual = await manualRun(api, d.id, T0 + 2 * HOUR);
    expect((await runsOf(api, d.id)).length).toBe(4);
    expect((await api.patch(`/deployments/${d.id}`, { paused: true })).status).toBe(204);
    const left = await runsOf(api, d.id);
    expect(left.map((r) => [r.next_scheduled_start_time, r.auto_scheduled])).toEqual([
      ["2024-12-31T23:00:00Z", true],
      ["2025-01-01T00:00:00Z", true],
      ["2025-01-01T02:00:00Z", false],
    ]);
    expect(left[2].id).toBe(manual);
    await schedule(api, T0);
    expect((await runsOf(api, d.id)).length).toBe(3);
    expect((await api.get(`/deployments/${d.id}`)).body.paused).toBe(true);
  });

  test("schedules without slugs replace the existing ones", async () => {
    const flowId = await newFlow(api, "replace");
    const d = await deploy(api, { name: "d", flow_id: flowId, schedules: [{ schedule: { interval: 60 } }, { schedule: { interval: 120 } }] });
    expect((await api.patch(`/deployments/${d.id}`, { schedules: [{ schedule: { cron: "*/5 * * * *" }, active: false }] })).status).toBe(204);
    const schedules = (await api.get(`/deployments/${d.id}`)).body.schedules;
    expect(schedules).toHaveLength(1);
    expect(schedules[0]).toMatchObject({ schedule: { cron: "*/5 * * * *" }, active: false });
    expect(d.schedules.map((s: { id: string }) => s.id)).not.toContain(schedules[0].id);
  });

  test("slugged schedules are patched in place by slug; `replaces` renames; new slugs with a schedule are created", async () => {
    const flowId = await newFlow(api, "slugs");
    const d = await deploy(api, {
      name: "d",
      flow_id: flowId,
      schedules: [
        { schedule: { interval: 60 }, slug: "a" },
        { schedule: { interval: 120 }, slug: "b" },
      ],
    });
    const idOf = (slug: string) => d.schedules.find((s: { slug: string }) => s.slug === slug).id;
    const res = await api.patch(`/deployments/${d.id}`, {
      schedules: [
        { slug: "a", active: false },
        { slug: "c", replaces: "b", schedule: { interval: 300 } },
        { slug: "new", schedule: { cron: "0 0 * * *" } },
      ],
    });
    expect(res.status).toBe(204);
    const bySlug = Object.fromEntries(((await api.get(`/deployments/${d.id}/schedules`)).body as any[]).map((s) => [s.slug, s]));
    expect(Object.keys(bySlug).sort()).toEqual(["a", "c", "new"]);
    expect(bySlug.a).toMatchObject({ id: idOf("a"), active: false, schedule: { interval: 60 } });
    expect(bySlug.c).toMatchObject({ id: idOf("b"), schedule: { interval: 300 } });
    expect(bySlug.new.schedule).toEqual({ cron: "0 0 * * *", timezone: null, day_or: true });
  });

  test("slug rules: 422 when existing have slugs and provided don't, for duplicate `replaces`, and for a new slug without a schedule", async () => {
    const flowId = await newFlow(api, "slug-rules");
    const d = await deploy(api, {
      name: "d",
      flow_id: flowId,
      schedules: [
        { schedule: { interval: 60 }, slug: "a" },
        { schedule: { interval: 120 }, slug: "b" },
      ],
    });
    const noSlug = await api.patch(`/deployments/${d.id}`, { schedules: [{ schedule: { interval: 5 } }] });
    expect(noSlug).toMatchObject({
      status: 422,
      body: { detail: "Please provide a slug for each schedule in your request to ensure schedules are updated correctly." },
    });
    const twice = await api.patch(`/deployments/${d.id}`, {
      schedules: [
        { slug: "x", replaces: "a", schedule: { interval: 5 } },
        { slug: "y", replaces: "a", schedule: { interval: 5 } },
      ],
    });
    expect(twice).toMatchObject({ status: 422, body: { detail: "Multiple schedules have 'replaces' targeting the same slug: a" } });
    const collide = await api.patch(`/deployments/${d.id}`, { schedules: [{ slug: "b", replaces: "a" }] });
    expect(collide).toMatchObject({ status: 422, body: { detail: "Cannot rename schedule from 'a' to 'b': a schedule with slug 'b' already exists." } });
    const empty = await api.patch(`/deployments/${d.id}`, { schedules: [{ slug: "zzz", active: true }] });
    expect(empty).toMatchObject({ status: 422, body: { detail: "Unable to create new deployment schedules without a schedule configuration." } });
    // nothing changed
    const slugs = ((await api.get(`/deployments/${d.id}/schedules`)).body as any[]).map((s) => s.slug).sort();
    expect(slugs).toEqual(["a", "b"]);
  });

  test("an invalid schedule in a PATCH is 422 and nothing is written", async () => {
    const flowId = await newFlow(api, "patch-bad-schedule");
    const d = await deploy(api, { name: "d", flow_id: flowId, description: "same", schedules: [{ schedule: { interval: 60 } }] });
    const res = await api.patch(`/deployments/${d.id}`, { description: "changed", schedules: [{ schedule: { cron: "61 * * * *" } }] });
    expect(res.status).toBe(422);
    const after = (await api.get(`/deployments/${d.id}`)).body;
    expect(after.description).toBe("same");
    expect(after.schedules[0].id).toBe(d.schedules[0].id);
  });

  test("parameters under an enforced schema: 409 on a violation or without a schema", async () => {
    const flowId = await newFlow(api, "patch-params");
    const d = await deploy(api, {
      name: "d",
      flow_id: flowId,
      parameter_openapi_schema: { type: "object", properties: { n: { type: "integer" } }, required: ["n"] },
    });
    const bad = await api.patch(`/deployments/${d.id}`, { parameters: { n: "x" } });
    expect(bad.status).toBe(409);
    expect(bad.body.detail).toStartWith("Error updating deployment: Validation failed for field 'n'.");
    // required keys are not enforced for a deployment's (partial) parameters
    expect((await api.patch(`/deployments/${d.id}`, { parameters: {} })).status).toBe(204);
    expect((await api.patch(`/deployments/${d.id}`, { parameters: { n: 3 } })).status).toBe(204);
    expect((await api.patch(`/deployments/${d.id}`, { parameters: { n: "x" }, enforce_parameter_schema: false })).status).toBe(204);

    const schemaless = await deploy(api, { name: "schemaless", flow_id: flowId, parameter_openapi_schema: null });
    const conflict = await api.patch(`/deployments/${schemaless.id}`, { parameters: { n: 1 } });
    expect(conflict.status).toBe(409);
    expect(conflict.body.detail).toBe(
      "Error updating deployment: Cannot update parameters because parameter schema enforcement is enabled and the deployment does not have a valid parameter schema.",
    );
    // Prefect checks on every PATCH while enforcing, not only when parameters are sent
    expect((await api.patch(`/deployments/${schemaless.id}`, { paused: true })).status).toBe(409);
    expect((await api.patch(`/deployments/${schemaless.id}`, { paused: true, enforce_parameter_schema: false })).status).toBe(204);
  });

  test("a new schema is checked against the stored parameters", async () => {
    const flowId = await newFlow(api, "patch-schema");
    const d = await deploy(api, { name: "d", flow_id: flowId, parameters: { n: "text" } });
    const res = await api.patch(`/deployments/${d.id}`, { parameter_openapi_schema: { type: "object", properties: { n: { type: "integer" } } } });
    expect(res.status).toBe(409);
    expect(res.body.detail).toStartWith("Error updating deployment: Validation failed for field 'n'.");
    expect((await api.get(`/deployments/${d.id}`)).body.parameter_openapi_schema).toEqual({});
    const ok = await api.patch(`/deployments/${d.id}`, { parameters: { n: 1 }, parameter_openapi_schema: { type: "object", properties: { n: { type: "integer" } } } });
    expect(ok.status).toBe(204);
  });

  test("work pool changes move the queue; work_pool_name null detaches it", async () => {
    const flowId = await newFlow(api, "moves");
    await api.post("/work_pools/", { name: "one", type: "process" });
    await api.post("/work_pools/", { name: "two", type: "process" });
    const d = await deploy(api, { name: "d", flow_id: flowId, work_pool_name: "one" });
    expect((await api.patch(`/deployments/${d.id}`, { work_pool_name: "two", work_queue_name: "fast" })).status).toBe(204);
    const moved = (await api.get(`/deployments/${d.id}`)).body;
    expect(moved).toMatchObject({ work_pool_name: "two", work_queue_name: "fast", work_queue_id: (await api.get("/work_pools/two/queues/fast")).body.id });
    expect((await api.patch(`/deployments/${d.id}`, { work_pool_name: null })).status).toBe(204);
    expect((await api.get(`/deployments/${d.id}`)).body).toMatchObject({ work_pool_name: null, work_queue_id: null });
  });

  test("job_variables are checked against the pool named in the PATCH: 409 as Prefect's check_valid_configuration", async () => {
    const flowId = await newFlow(api, "patch-jobvars");
    await api.post("/work_pools/", {
      name: "typed",
      type: "process",
      base_job_template: { job_configuration: { n: "{{ n }}" }, variables: { properties: { n: { type: "integer" } } } },
    });
    const d = await deploy(api, { name: "d", flow_id: flowId, work_pool_name: "typed" });
    const bad = await api.patch(`/deployments/${d.id}`, { work_pool_name: "typed", job_variables: { n: "x" } });
    expect(bad.status).toBe(409);
    expect(bad.body.detail).toStartWith("Error creating deployment: ");
    expect((await api.get(`/deployments/${d.id}`)).body.job_variables).toEqual({});
    expect((await api.patch(`/deployments/${d.id}`, { work_pool_name: "typed", job_variables: { n: 2 } })).status).toBe(204);
    expect((await api.get(`/deployments/${d.id}`)).body.job_variables).toEqual({ n: 2 });
  });
});

describe("POST /deployments/filter, /count, /paginate", () => {
  const { api, clock } = freshApi();
  afterAll(() => api.close());
  const ids: Record<string, string> = {};

  test("setup: five deployments over two flows", async () => {
    const alpha = await newFlow(api, "alpha");
    const beta = await newFlow(api, "beta");
    await api.post("/work_pools/", { name: "pool-a", type: "process" });
    const specs: [string, string, Record<string, unknown>][] = [
      ["delta", alpha, { tags: ["x", "y"], work_pool_name: "pool-a" }],
      ["alpha-1", alpha, { tags: ["x"] }],
      ["charlie", beta, { paused: true, work_queue_name: "legacy-q" }],
      ["bravo", beta, { tags: ["y"] }],
      ["echo", beta, {}],
    ];
    for (const [i, [name, flowId, extra]] of specs.entries()) {
      clock.set(T0 + i * SECOND);
      ids[name] = (await deploy(api, { name, flow_id: flowId, ...extra })).id;
    }
    clock.set(T0 + 10 * SECOND);
    await api.patch(`/deployments/${ids["alpha-1"]}`, { description: "touched" });
    clock.set(T0);
  });

  const names = async (body: Record<string, unknown>) => ((await api.post("/deployments/filter", body)).body as { name: string }[]).map((d) => d.name);

  test("sorts: NAME_ASC (default), NAME_DESC, CREATED_DESC, UPDATED_DESC", async () => {
    expect(await names({})).toEqual(["alpha-1", "bravo", "charlie", "delta", "echo"]);
    expect(await names({ sort: "NAME_DESC" })).toEqual(["echo", "delta", "charlie", "bravo", "alpha-1"]);
    expect(await names({ sort: "CREATED_DESC" })).toEqual(["echo", "bravo", "charlie", "alpha-1", "delta"]);
    expect(await names({ sort: "UPDATED_DESC" })).toEqual(["alpha-1", "echo", "bravo", "charlie", "delta"]);
    expect((await api.post("/deployments/filter", { sort: "NOPE" })).status).toBe(422);
  });

  test("deployment filters: name, tags, paused, work_queue_name, id", async () => {
    expect(await names({ deployments: { name: { any_: ["echo", "bravo"] } } })).toEqual(["bravo", "echo"]);
    expect(await names({ deployments: { name: { like_: "ha" } } })).toEqual(["alpha-1", "charlie"]);
    expect(await names({ deployments: { tags: { all_: ["x", "y"] } } })).toEqual(["delta"]);
    expect(await names({ deployments: { tags: { is_null_: true } } })).toEqual(["charlie", "echo"]);
    expect(await names({ deployments: { paused: { eq_: true } } })).toEqual(["charlie"]);
    expect(await names({ deployments: { work_queue_name: { any_: ["legacy-q"] } } })).toEqual(["charlie"]);
    expect(await names({ deployments: { id: { any_: [ids.bravo, ids.delta] } } })).toEqual(["bravo", "delta"]);
    expect(await names({ deployments: { flow_or_deployment_name: { like_: "bet" } } })).toEqual(["bravo", "charlie", "echo"]);
  });

  test("cross filters: flows, flow_runs, work_pools", async () => {
    expect(await names({ flows: { name: { any_: ["alpha"] } } })).toEqual(["alpha-1", "delta"]);
    await api.post(`/deployments/${ids.echo}/create_flow_run`, {});
    const running = await api.post(`/deployments/${ids.bravo}/create_flow_run`, { state: { type: "RUNNING" } });
    expect(running.status).toBe(201);
    expect(await names({ flow_runs: {} })).toEqual(["bravo", "echo"]);
    expect(await names({ flow_runs: { state: { type: { any_: ["RUNNING"] } } } })).toEqual(["bravo"]);
    expect(await names({ flows: { name: { any_: ["beta"] } }, flow_runs: { state: { type: { any_: ["SCHEDULED"] } } } })).toEqual(["echo"]);
    expect(await names({ work_pools: { name: { any_: ["pool-a"] } } })).toEqual(["delta"]);
    expect(await names({ work_pools: { name: { any_: ["default-agent-pool"] } } })).toEqual(["charlie"]);
    expect(await names({ work_pool_queues: { name: { any_: ["legacy-q"] } } })).toEqual(["charlie"]);
    expect((await api.post("/deployments/count", { work_pools: { name: { any_: ["pool-a"] } } })).body).toBe(1);
  });

  test("limit and offset; count with the same filters", async () => {
    expect(await names({ limit: 2, offset: 1 })).toEqual(["bravo", "charlie"]);
    expect((await api.post("/deployments/count", {})).body).toBe(5);
    expect((await api.post("/deployments/count", { flows: { name: { any_: ["beta"] } } })).body).toBe(3);
    expect((await api.post("/deployments/count", { deployments: { tags: { any_: ["y"] } } })).body).toBe(2);
  });

  test("paginate answers results, count, limit, pages and page", async () => {
    const res = await api.post("/deployments/paginate", { limit: 2, page: 2, sort: "NAME_DESC" });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ count: 5, limit: 2, pages: 3, page: 2 });
    expect(res.body.results.map((d: { name: string }) => d.name)).toEqual(["charlie", "bravo"]);
    const filtered = await api.post("/deployments/paginate", { deployments: { paused: { eq_: false } } });
    expect(filtered.body).toMatchObject({ count: 4, pages: 1, page: 1 });
  });
});

describe("DELETE /deployments/{id} and /bulk_delete", () => {
  const { api } = freshApi();
  afterAll(() => api.close());

  test("delete: 204; its never-run SCHEDULED runs (auto and manual) and its concurrency limit go; other runs stay", async () => {
    const flowId = await newFlow(api);
    const d = await deploy(api, {
      name: "doomed",
      flow_id: flowId,
      concurrency_limit: 1,
      schedules: [{ schedule: { interval: 3600, anchor_date: "2025-01-01T00:00:00Z" } }],
    });
    await schedule(api, T0 - HOUR);
    await manualRun(api, d.id, T0 + 10 * HOUR);
    const retried = await manualRun(api, d.id, T0 + 11 * HOUR);
    await setRun(api, retried, { runCount: 1 });
    const running = (await api.post(`/deployments/${d.id}/create_flow_run`, { state: { type: "RUNNING" } })).body.id;
    expect((await runsOf(api, d.id)).length).toBe(6);

    const res = await api.delete(`/deployments/${d.id}`);
    expect(res.status).toBe(204);
    expect(res.text).toBe("");
    expect((await api.get(`/deployments/${d.id}`)).status).toBe(404);
    const left = ((await api.post("/flow_runs/filter", { flows: { id: { any_: [flowId] } } })).body as { id: string }[]).map((r) => r.id).sort();
    expect(left).toEqual([retried, running].sort());
    expect((await api.get(`/v2/concurrency_limits/deployment:${d.id}`)).status).toBe(404);
    expect(await api.delete(`/deployments/${d.id}`)).toMatchObject({ status: 404, body: { detail: "Deployment not found" } });
  });

  test("bulk_delete deletes what the filter matches, at most `limit`, and answers the ids", async () => {
    const flowId = await newFlow(api, "bulk");
    const a = await deploy(api, { name: "a", flow_id: flowId, tags: ["gone"], concurrency_limit: 3 });
    const b = await deploy(api, { name: "b", flow_id: flowId, tags: ["gone"] });
    const c = await deploy(api, { name: "c", flow_id: flowId });
    await manualRun(api, a.id, T0 + HOUR);
    const res = await api.post("/deployments/bulk_delete", { deployments: { tags: { all_: ["gone"] } } });
    expect(res.status).toBe(200);
    expect(res.body.deleted.sort()).toEqual([a.id, b.id].sort());
    expect((await api.get(`/deployments/${c.id}`)).status).toBe(200);
    expect(await runsOf(api, a.id)).toEqual([]);
    expect((await api.get(`/v2/concurrency_limits/deployment:${a.id}`)).status).toBe(404);

    expect((await api.post("/deployments/bulk_delete", { limit: 0 })).status).toBe(422);
    expect((await api.post("/deployments/bulk_delete", { limit: 51 })).status).toBe(422);
    await deploy(api, { name: "d", flow_id: flowId });
    const limited = await api.post("/deployments/bulk_delete", { limit: 1 });
    expect(limited.body.deleted).toHaveLength(1);
    expect(await count(api)).toBe(1);
  });
});

describe("pause_deployment / resume_deployment (decisions #5, #6)", () => {
  const { api } = freshApi();
  afterAll(() => api.close());

  test("pause: 204 with no body, paused, ALL auto-scheduled SCHEDULED runs deleted (past-due too), manual ones kept", async () => {
    const flowId = await newFlow(api);
    const d = await deploy(api, { name: "d", flow_id: flowId, schedules: [{ schedule: { interval: 3600, anchor_date: "2025-01-01T00:00:00Z" } }] });
    await schedule(api, T0 - 2 * HOUR);
    const manual = await manualRun(api, d.id, T0 - HOUR);
    const res = await api.post(`/deployments/${d.id}/pause_deployment`);
    expect(res.status).toBe(204);
    expect(res.text).toBe("");
    expect((await api.get(`/deployments/${d.id}`)).body.paused).toBe(true);
    expect((await runsOf(api, d.id)).map((r) => r.id)).toEqual([manual]);
  });

  test("resume: 204 with no body, not paused, runs left alone; the scheduler schedules it again", async () => {
    const d = (await api.get("/deployments/name/etl/d")).body;
    await api.post(`/deployments/${d.id}/schedule`, { start_time: "2025-02-01T00:00:00Z", min_runs: 1, min_time: 0 });
    const backfilled = (await runsOf(api, d.id)).map((r) => r.id);
    expect(backfilled).toHaveLength(2);
    const res = await api.post(`/deployments/${d.id}/resume_deployment`);
    expect(res.status).toBe(204);
    expect(res.text).toBe("");
    expect((await api.get(`/deployments/${d.id}`)).body.paused).toBe(false);
    expect((await runsOf(api, d.id)).map((r) => r.id)).toEqual(backfilled);
    await schedule(api, T0);
    expect((await runsOf(api, d.id)).filter((r) => r.auto_scheduled).length).toBeGreaterThanOrEqual(3);
  });

  test("no PATCH validation: a deployment PATCH would refuse (enforced, no schema) still pauses and resumes", async () => {
    const flowId = await newFlow(api, "schemaless");
    const d = await deploy(api, { name: "d", flow_id: flowId, parameter_openapi_schema: null });
    expect((await api.patch(`/deployments/${d.id}`, { paused: true })).status).toBe(409);
    expect((await api.post(`/deployments/${d.id}/pause_deployment`)).status).toBe(204);
    expect((await api.get(`/deployments/${d.id}`)).body.paused).toBe(true);
    expect((await api.post(`/deployments/${d.id}/resume_deployment`)).status).toBe(204);
    expect((await api.get(`/deployments/${d.id}`)).body.paused).toBe(false);
  });

  test("unknown deployment: 404", async () => {
    const id = crypto.randomUUID();
    expect(await api.post(`/deployments/${id}/pause_deployment`)).toMatchObject({ status: 404, body: { detail: "Deployment not found" } });
    expect(await api.post(`/deployments/${id}/resume_deployment`)).toMatchObject({ status: 404, body: { detail: "Deployment not found" } });
  });
});

describe("/deployments/{id}/schedules", () => {
  const { api, clock } = freshApi();
  afterAll(() => api.close());
  let d: any;

  test("GET lists the schedules, most recently updated first", async () => {
    const flowId = await newFlow(api);
    d = await deploy(api, { name: "d", flow_id: flowId, schedules: [{ schedule: { interval: 60 }, slug: "one" }] });
    clock.set(T0 + SECOND);
    await api.post(`/deployments/${d.id}/schedules`, [{ schedule: { interval: 120 }, slug: "two" }]);
    clock.set(T0);
    const res = await api.get(`/deployments/${d.id}/schedules`);
    expect(res.status).toBe(200);
    expect(res.body.map((s: { slug: string }) => s.slug)).toEqual(["two", "one"]);
    expect((await api.get(`/deployments/${crypto.randomUUID()}/schedules`)).status).toBe(404);
  });

  test("POST a single object: 201 and a list of one (decision #7)", async () => {
    const res = await api.post(`/deployments/${d.id}/schedules`, { schedule: { cron: "0 12 * * *", timezone: "Europe/Paris" }, parameters: { p: 1 } });
    expect(res.status).toBe(201);
    expect(res.body).toEqual([
      {
        id: expect.any(String),
        created: "2025-01-01T00:00:00Z",
        updated: "2025-01-01T00:00:00Z",
        deployment_id: d.id,
        schedule: { cron: "0 12 * * *", timezone: "Europe/Paris", day_or: true },
        active: true,
        max_scheduled_runs: null,
        parameters: { p: 1 },
        slug: null,
      },
    ]);
    expect((await api.get(`/deployments/${d.id}/schedules`)).body).toHaveLength(3);
  });

  test("POST a list: 201 with every created schedule; one bad schedule creates none", async () => {
    const res = await api.post(`/deployments/${d.id}/schedules`, [{ schedule: { interval: 10 } }, { schedule: { interval: 20 }, active: false }]);
    expect(res.status).toBe(201);
    expect(res.body.map((s: any) => [s.schedule.interval, s.active])).toEqual([
      [10, true],
      [20, false],
    ]);
    const bad = await api.post(`/deployments/${d.id}/schedules`, [{ schedule: { interval: 30 } }, { schedule: { cron: "nope" } }]);
    expect(bad.status).toBe(422);
    expect((await api.get(`/deployments/${d.id}/schedules`)).body).toHaveLength(5);
    expect((await api.post(`/deployments/${crypto.randomUUID()}/schedules`, [{ schedule: { interval: 30 } }])).status).toBe(404);
  });

  test("PATCH: 204 and the change; 404 `Schedule not found.` for an unknown or foreign schedule", async () => {
    const one = (await api.get(`/deployments/${d.id}/schedules`)).body.find((s: any) => s.slug === "one");
    const res = await api.patch(`/deployments/${d.id}/schedules/${one.id}`, { active: false, schedule: { interval: 90 } });
    expect(res.status).toBe(204);
    expect(res.text).toBe("");
    const after = (await api.get(`/deployments/${d.id}/schedules`)).body.find((s: any) => s.id === one.id);
    expect(after).toMatchObject({ active: false, slug: "one", schedule: { interval: 90 } });

    expect(await api.patch(`/deployments/${d.id}/schedules/${crypto.randomUUID()}`, { active: true })).toMatchObject({
      status: 404,
      body: { detail: "Schedule not found." },
    });
    const other = await deploy(api, { name: "other", flow_id: d.flow_id, schedules: [{ schedule: { interval: 60 } }] });
    expect(await api.patch(`/deployments/${d.id}/schedules/${other.schedules[0].id}`, { active: false })).toMatchObject({
      status: 404,
      body: { detail: "Schedule not found." },
    });
    expect((await api.get(`/deployments/${other.id}`)).body.schedules[0].active).toBe(true);
    expect((await api.patch(`/deployments/${d.id}/schedules/${one.id}`, { schedule: { interval: 0 } })).status).toBe(422);
  });

  test("PATCH deletes the deployment's future auto-scheduled runs so the scheduler regenerates them", async () => {
    const flowId = await newFlow(api, "patch-schedule");
    const e = await deploy(api, { name: "e", flow_id: flowId, schedules: [{ schedule: { interval: 3600, anchor_date: "2025-01-01T00:00:00Z" } }] });
    await schedule(api, T0 - HOUR);
    expect((await runsOf(api, e.id)).length).toBe(3);
    await api.patch(`/deployments/${e.id}/schedules/${e.schedules[0].id}`, { parameters: { changed: true } });
    // the past-due and current ones stay (next_scheduled_start_time > now only)
    expect((await runsOf(api, e.id)).map((r) => r.next_scheduled_start_time)).toEqual(["2024-12-31T23:00:00Z", "2025-01-01T00:00:00Z"]);
  });

  test("DELETE: 204, then 404 `Schedule not found.`; its auto-scheduled runs that never ran go (past-due too)", async () => {
    const flowId = await newFlow(api, "delete-schedule");
    const e = await deploy(api, { name: "e", flow_id: flowId, schedules: [{ schedule: { interval: 3600, anchor_date: "2025-01-01T00:00:00Z" } }] });
    await schedule(api, T0 - HOUR);
    const manual = await manualRun(api, e.id, T0 + HOUR);
    const res = await api.delete(`/deployments/${e.id}/schedules/${e.schedules[0].id}`);
    expect(res.status).toBe(204);
    expect((await api.get(`/deployments/${e.id}`)).body.schedules).toEqual([]);
    expect((await runsOf(api, e.id)).map((r) => r.id)).toEqual([manual]);
    expect(await api.delete(`/deployments/${e.id}/schedules/${e.schedules[0].id}`)).toMatchObject({
      status: 404,
      body: { detail: "Schedule not found." },
    });
    expect(await api.delete(`/deployments/${crypto.randomUUID()}/schedules/${e.schedules[0].id}`)).toMatchObject({
      status: 404,
      body: { detail: "Deployment not found." },
    });
  });
});

describe("POST /deployments/{id}/create_flow_run", () => {
  const { api } = freshApi();
  afterAll(() => api.close());
  let d: any;

  test("a SCHEDULED run for now with the deployment's parameters overlaid by the request's, tags united, queue and labels", async () => {
    await api.post("/work_pools/", { name: "proc", type: "process" });
    const flowId = (await api.post("/flows/", { name: "runner", labels: { team: "x" } })).body.id;
    d = await deploy(api, {
      name: "d",
      flow_id: flowId,
      version: "v7",
      parameters: { a: 1, b: 2 },
      tags: ["dep", "shared"],
      labels: { env: "prod" },
      work_pool_name: "proc",
      work_queue_name: "q1",
    });
    const res = await api.post(`/deployments/${d.id}/create_flow_run`, { parameters: { b: 3, c: 4 }, tags: ["mine", "shared"] });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      flow_id: flowId,
      deployment_id: d.id,
      deployment_version: "v7",
      parameters: { a: 1, b: 3, c: 4 },
      state_type: "SCHEDULED",
      state_name: "Scheduled",
      expected_start_time: "2025-01-01T00:00:00Z",
      next_scheduled_start_time: "2025-01-01T00:00:00Z",
      work_queue_name: "q1",
      work_queue_id: d.work_queue_id,
      work_pool_name: "proc",
      auto_scheduled: false,
      labels: { team: "x", env: "prod", "prefect.flow.id": flowId, "prefect.deployment.id": d.id },
    });
    expect(res.body.state.state_details.scheduled_time).toBe("2025-01-01T00:00:00Z");
    expect([...res.body.tags].sort()).toEqual(["dep", "mine", "shared"]);
    // the deployment itself is untouched by the overlay
    expect((await api.get(`/deployments/${d.id}`)).body.parameters).toEqual({ a: 1, b: 2 });
  });

  test("an explicit state, name and idempotency key; the same key again answers 200 with the same run", async () => {
    const first = await api.post(`/deployments/${d.id}/create_flow_run`, { name: "once", idempotency_key: "k", state: { type: "PENDING" } });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ name: "once", state_type: "PENDING" });
    const again = await api.post(`/deployments/${d.id}/create_flow_run`, { idempotency_key: "k" });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
  });

  test("work_queue_name in the request: a queue of the deployment's pool (created when missing)", async () => {
    const res = await api.post(`/deployments/${d.id}/create_flow_run`, { work_queue_name: "adhoc" });
    expect(res.status).toBe(201);
    const queue = (await api.get("/work_pools/proc/queues/adhoc")).body;
    expect(res.body).toMatchObject({ work_queue_name: "adhoc", work_queue_id: queue.id });
    const poolless = await deploy(api, { name: "poolless", flow_id: d.flow_id });
    const bad = await api.post(`/deployments/${poolless.id}/create_flow_run`, { work_queue_name: "adhoc" });
    expect(bad.status).toBe(400);
    expect(bad.body.detail).toContain("is not associated with a work pool");
  });

  test("an enforced parameter schema: 409 on a violation (required keys count here); the request may opt out", async () => {
    const strict = await deploy(api, {
      name: "strict",
      flow_id: d.flow_id,
      parameters: { n: 1 },
      parameter_openapi_schema: { type: "object", properties: { n: { type: "integer" }, m: { type: "string" } }, required: ["m"] },
    });
    const wrong = await api.post(`/deployments/${strict.id}/create_flow_run`, { parameters: { n: "one", m: "x" } });
    expect(wrong.status).toBe(409);
    expect(wrong.body.detail).toStartWith("Error creating flow run: Validation failed for field 'n'.");
    const missing = await api.post(`/deployments/${strict.id}/create_flow_run`, {});
    expect(missing.status).toBe(409);
    expect((await api.post(`/deployments/${strict.id}/create_flow_run`, { parameters: { m: "x" } })).status).toBe(201);
    expect((await api.post(`/deployments/${strict.id}/create_flow_run`, { parameters: { n: "one" }, enforce_parameter_schema: false })).status).toBe(201);

    const lax = await deploy(api, { name: "lax", flow_id: d.flow_id, enforce_parameter_schema: false, parameter_openapi_schema: { type: "object", properties: { n: { type: "integer" } } } });
    expect((await api.post(`/deployments/${lax.id}/create_flow_run`, { parameters: { n: "one" } })).status).toBe(201);
  });

  test("unknown deployment: 404", async () => {
    expect(await api.post(`/deployments/${crypto.randomUUID()}/create_flow_run`, {})).toMatchObject({
      status: 404,
      body: { detail: "Deployment not found" },
    });
  });

  test("bulk: one result per item, failures reported per item", async () => {
    const strict = (await api.get("/deployments/name/runner/strict")).body;
    const res = await api.post(`/deployments/${strict.id}/create_flow_run/bulk`, [{ parameters: { m: "a" } }, { parameters: { n: "bad", m: "b" } }, { name: "named", parameters: { m: "c" } }]);
    expect(res.status).toBe(200);
    expect(res.body.results.map((r: { status: string }) => r.status)).toEqual(["CREATED", "FAILED", "CREATED"]);
    expect(res.body.results[1]).toMatchObject({ flow_run_id: null, error: expect.stringContaining("Validation failed") });
    const named = (await api.get(`/flow_runs/${res.body.results[2].flow_run_id}`)).body;
    expect(named).toMatchObject({ name: "named", deployment_id: strict.id, parameters: { n: 1, m: "c" }, state_type: "SCHEDULED" });
  });

  test("bulk: more than 100 is 400; an unknown deployment is 404 even for an empty list", async () => {
    const many = Array.from({ length: 101 }, () => ({}));
    expect(await api.post(`/deployments/${d.id}/create_flow_run/bulk`, many)).toMatchObject({
      status: 400,
      body: { detail: "Cannot create more than 100 flow runs at once." },
    });
    expect(await api.post(`/deployments/${crypto.randomUUID()}/create_flow_run/bulk`, [])).toMatchObject({
      status: 404,
      body: { detail: "Deployment not found" },
    });
    expect((await api.post(`/deployments/${d.id}/create_flow_run/bulk`, [])).body).toEqual({ results: [] });
  });
});

describe("POST /deployments/get_scheduled_flow_runs (flow.serve runners)", () => {
  const { api, clock } = freshApi();
  afterAll(() => api.close());

  test("SCHEDULED runs of the given deployments due by scheduled_before, soonest first", async () => {
    const flowId = await newFlow(api);
    const one = await deploy(api, { name: "one", flow_id: flowId });
    const two = await deploy(api, { name: "two", flow_id: flowId });
    const other = await deploy(api, { name: "other", flow_id: flowId });
    const late = await manualRun(api, one.id, T0 + 3 * HOUR);
    const soon = await manualRun(api, two.id, T0 + HOUR);
    const soonest = await manualRun(api, one.id, T0 - HOUR);
    await manualRun(api, one.id, T0 + 10 * HOUR); // after scheduled_before
    await manualRun(api, other.id, T0); // another deployment
    await api.post(`/deployments/${one.id}/create_flow_run`, { state: { type: "RUNNING" } }); // not SCHEDULED

    const res = await api.post("/deployments/get_scheduled_flow_runs", { deployment_ids: [one.id, two.id], scheduled_before: iso(T0 + 3 * HOUR) });
    expect(res.status).toBe(200);
    expect(res.body.map((r: { id: string }) => r.id)).toEqual([soonest, soon, late]);
    const limited = await api.post("/deployments/get_scheduled_flow_runs", { deployment_ids: [one.id, two.id], limit: 2 });
    expect(limited.body.map((r: { id: string }) => r.id)).toEqual([soonest, soon]);
    expect((await api.post("/deployments/get_scheduled_flow_runs", { deployment_ids: [] })).body).toEqual([]);
    expect((await api.post("/deployments/get_scheduled_flow_runs", {})).status).toBe(422);
  });

  test("marks the polled deployments READY with last_polled = now, leaving `updated` (and the others) alone", async () => {
    const one = await deploy(api, { name: "fresh", flow_id: (await api.get("/deployments/name/etl/one")).body.flow_id });
    const other = (await api.get("/deployments/name/etl/other")).body;
    expect(one.status).toBe("NOT_READY");
    clock.set(T0 + 42 * SECOND);
    await api.post("/deployments/get_scheduled_flow_runs", { deployment_ids: [one.id] });
    clock.set(T0);
    const after = (await api.get(`/deployments/${one.id}`)).body;
    expect(after).toMatchObject({ status: "READY", last_polled: "2025-01-01T00:00:42Z", updated: one.updated });
    expect((await api.get(`/deployments/${other.id}`)).body).toMatchObject({ status: "NOT_READY", last_polled: null });
  });
});

describe("POST /deployments/{id}/schedule (manual scheduling and backfill)", () => {
  const { api } = freshApi();
  afterAll(() => api.close());

  test("defaults: the scheduler's window from now; answers null", async () => {
    const flowId = await newFlow(api);
    const d = await deploy(api, { name: "d", flow_id: flowId, schedules: [{ schedule: { interval: 86400, anchor_date: "2025-01-01T00:00:00Z" } }] });
    const res = await api.post(`/deployments/${d.id}/schedule`, {});
    expect(res.status).toBe(200);
    expect(res.body).toBeNull();
    const runs = await runsOf(api, d.id);
    expect(runs.map((r) => r.next_scheduled_start_time)).toEqual(["2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z", "2025-01-03T00:00:00Z"]);
    expect(runs.every((r) => r.auto_scheduled)).toBe(true);
  });

  test("an unknown deployment: nothing is scheduled and the answer is null, as in Prefect", async () => {
    expect(await api.post(`/deployments/${crypto.randomUUID()}/schedule`, {})).toMatchObject({ status: 200, body: null });
  });

  test("a backfill window in the past, bounded by end_time and max_runs", async () => {
    const flowId = await newFlow(api, "backfill");
    const d = await deploy(api, { name: "d", flow_id: flowId, schedules: [{ schedule: { interval: 3600, anchor_date: "2024-01-01T00:00:00Z" } }] });
    await api.post(`/deployments/${d.id}/schedule`, { start_time: "2024-06-01T00:00:00Z", end_time: "2024-06-01T05:30:00Z", min_runs: 100 });
    expect((await runsOf(api, d.id)).map((r) => r.next_scheduled_start_time)).toEqual([
      "2024-06-01T00:00:00Z",
      "2024-06-01T01:00:00Z",
      "2024-06-01T02:00:00Z",
      "2024-06-01T03:00:00Z",
      "2024-06-01T04:00:00Z",
      "2024-06-01T05:00:00Z",
    ]);
    await api.post(`/deployments/${d.id}/schedule`, { start_time: "2024-07-01T00:00:00Z", max_runs: 2, min_runs: 10 });
    expect((await runsOf(api, d.id)).length).toBe(8);
    // min_time: keep going until start + min_time even past min_runs
    await api.post(`/deployments/${d.id}/schedule`, { start_time: "2024-08-01T00:00:00Z", min_runs: 1, min_time: 3 * 3600 });
    expect((await runsOf(api, d.id)).filter((r) => r.next_scheduled_start_time.startsWith("2024-08-01")).length).toBe(4);
  });
});

describe("GET /deployments/{id}/work_queue_check (deprecated in Prefect, still served)", () => {
  const api = createTestApi();
  afterAll(() => api.close());

  test("the queues whose legacy filter picks up the deployment: tags a subset, deployment ids naming it or none", async () => {
    const flowId = await newFlow(api, "queue-check");
    const d = await deploy(api, { name: "d", flow_id: flowId, tags: ["a", "b"] });
    const other = crypto.randomUUID();
    const filters: Record<string, object | undefined> = {
      plain: undefined,
      "tags-a": { tags: ["a"] },
      "tags-c": { tags: ["c"] },
      empty: { tags: [], deployment_ids: [] },
      mine: { deployment_ids: [d.id] },
      theirs: { deployment_ids: [other] },
    };
    for (const [name, filter] of Object.entries(filters)) {
      expect((await api.post("/work_queues/", { name, ...(filter && { filter }) })).status).toBe(201);
    }
    const res = await api.get(`/deployments/${d.id}/work_queue_check`);
    expect(res.status).toBe(200);
    // the default agent pool's own default queue has no filter either
    expect(res.body.map((q: { name: string }) => q.name).sort()).toEqual(["default", "empty", "mine", "plain", "tags-a"]);
    expect(Object.keys(res.body[0]).sort()).toEqual(
      ["concurrency_limit", "created", "description", "filter", "id", "is_paused", "last_polled", "name", "priority", "updated", "work_pool_id"],
    );
    expect(await api.get(`/deployments/${crypto.randomUUID()}/work_queue_check`)).toMatchObject({ status: 404, body: { detail: "Deployment not found" } });
  });
});
