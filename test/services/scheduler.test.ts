import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eq } from "drizzle-orm";
import { createApp } from "../../src/app";
import { configFromEnv } from "../../src/config";
import type { AppContext } from "../../src/context";
import { DeploymentScheduling } from "../../src/deployments/scheduling";
import { deploymentSchedule, flowRun } from "../../src/db/schema";
import { SqliteStore } from "../../src/db/store";
import { createEventBus } from "../../src/events/bus";
import { createLogger } from "../../src/logger";
import { createServices } from "../../src/services";
import { RecentDeploymentsScheduler, Scheduler } from "../../src/services/scheduler";
import { createSqliteTestApi, ManualClock } from "../support/api";

const T0 = Date.UTC(2025, 0, 1) * 1000; // 2025-01-01T00:00:00Z
const SECOND = 1_000_000;
const MINUTE = 60 * SECOND;
const HOUR = 3600 * SECOND;
const iso = (micros: number) => new Date(micros / 1000).toISOString().replace(".000Z", "Z");

type Api = ReturnType<typeof createSqliteTestApi>;

function freshApi(at = T0) {
  const clock = new ManualClock(at);
  return { api: createSqliteTestApi({ clock }), clock };
}

async function deploy(api: Api, body: Record<string, unknown>, flowName = "scheduled-flow") {
  const flowId = (await api.post("/flows/", { name: flowName })).body.id;
  const res = await api.post("/deployments/", { flow_id: flowId, ...body });
  expect([200, 201]).toContain(res.status);
  return res.body;
}

const hourly = { interval: 3600, anchor_date: "2025-01-01T00:00:00Z" };

async function runsOf(api: Api, deploymentId: string) {
  const res = await api.post("/flow_runs/filter", { flow_runs: { deployment_id: { any_: [deploymentId] } }, sort: "NEXT_SCHEDULED_START_TIME_ASC" });
  return res.body as any[];
}
const times = async (api: Api, deploymentId: string) => (await runsOf(api, deploymentId)).map((r) => r.next_scheduled_start_time as string);

describe("Scheduler (main loop)", () => {
  const { api } = freshApi();
  afterAll(() => api.close());
  const scheduler = new Scheduler(api.context);

  test("an interval deployment gets its runs on the first tick: at least 3, reaching now + 1 h", async () => {
    const d = await deploy(api, { name: "hourly", schedules: [{ schedule: hourly }] });
    expect(await runsOf(api, d.id)).toEqual([]);
    await scheduler.tick(T0);
    expect(await times(api, d.id)).toEqual(["2025-01-01T00:00:00Z", "2025-01-01T01:00:00Z", "2025-01-01T02:00:00Z"]);
  });

  test("a second tick at the same time adds none", async () => {
    const d = (await api.get("/deployments/name/scheduled-flow/hourly")).body;
    await scheduler.tick(T0);
    await new Scheduler(api.context).tick(T0);
    expect(await runsOf(api, d.id)).toHaveLength(3);
  });

  test("as time passes the deployment runs low and is topped up with only the missing runs", async () => {
    const d = (await api.get("/deployments/name/scheduled-flow/hourly")).body;
    const before = (await runsOf(api, d.id)).map((r) => r.id);
    await scheduler.tick(T0 + 30 * MINUTE); // T0+1h and T0+2h ahead: fewer than 3
    const after = await runsOf(api, d.id);
    expect(after.map((r) => r.next_scheduled_start_time)).toEqual([
      "2025-01-01T00:00:00Z",
      "2025-01-01T01:00:00Z",
      "2025-01-01T02:00:00Z",
      "2025-01-01T03:00:00Z",
    ]);
    expect(after.slice(0, 3).map((r) => r.id)).toEqual(before);
  });

  test("daily: 3 runs; every minute: runs until now + 1 h (61); every 10 s: capped at 100; every 200 days: only within 100 days", async () => {
    const daily = await deploy(api, { name: "daily", schedules: [{ schedule: { interval: 86400, anchor_date: "2025-01-01T00:00:00Z" } }] });
    const minutely = await deploy(api, { name: "minutely", schedules: [{ schedule: { interval: 60, anchor_date: "2025-01-01T00:00:00Z" } }] });
    const frequent = await deploy(api, { name: "frequent", schedules: [{ schedule: { interval: 10, anchor_date: "2025-01-01T00:00:00Z" } }] });
    const rare = await deploy(api, { name: "rare", schedules: [{ schedule: { interval: 200 * 86400, anchor_date: "2025-01-01T00:00:00Z" } }] });
    await scheduler.tick(T0);
    expect(await times(api, daily.id)).toEqual(["2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z", "2025-01-03T00:00:00Z"]);
    const minutes = await times(api, minutely.id);
    expect(minutes).toHaveLength(61);
    expect(minutes.at(-1)).toBe("2025-01-01T01:00:00Z");
    const tens = await times(api, frequent.id);
    expect(tens).toHaveLength(100);
    expect(tens.at(-1)).toBe(iso(T0 + 990 * SECOND));
    expect(await times(api, rare.id)).toEqual(["2025-01-01T00:00:00Z"]);
  });

  test("each run: SCHEDULED with its state, auto-scheduled tag and flag, created_by the schedule, parameters and labels merged", async () => {
    await api.post("/work_pools/", { name: "proc", type: "process" });
    const d = await deploy(
      api,
      {
        name: "detailed",
        version: "v3",
        tags: ["nightly"],
        labels: { env: "prod" },
        parameters: { a: 1, b: 2 },
        work_pool_name: "proc",
        work_queue_name: "q",
        schedules: [
          { schedule: { cron: "0 9 * * *" }, parameters: { b: 20, c: 30 }, slug: "morning" },
          { schedule: { interval: 86400, anchor_date: "2025-01-01T12:00:00Z" } },
        ],
      },
      "detailed-flow",
    );
    await scheduler.tick(T0);
    const runs = await runsOf(api, d.id);
    expect(runs).toHaveLength(6);
    const morning = d.schedules.find((s: any) => s.slug === "morning");
    const noon = d.schedules.find((s: any) => s.slug === null);
    const first = runs.find((r) => r.next_scheduled_start_time === "2025-01-01T09:00:00Z");
    expect(first).toMatchObject({
      flow_id: d.flow_id,
      deployment_id: d.id,
      deployment_version: "v3",
      state_type: "SCHEDULED",
      state_name: "Scheduled",
      expected_start_time: "2025-01-01T09:00:00Z",
      auto_scheduled: true,
      tags: ["auto-scheduled", "nightly"],
      parameters: { a: 1, b: 20, c: 30 },
      labels: { env: "prod", "prefect.flow.id": d.flow_id, "prefect.deployment.id": d.id },
      created_by: { id: morning.id, type: "SCHEDULE", display_value: "morning" },
      work_queue_name: "q",
      work_queue_id: d.work_queue_id,
      work_pool_name: "proc",
      idempotency_key: `scheduled ${d.id} ${morning.id} 2025-01-01 09:00:00+00:00`,
      run_count: 0,
    });
    expect(first.state).toMatchObject({ type: "SCHEDULED", name: "Scheduled", message: "Flow run scheduled", state_details: { scheduled_time: "2025-01-01T09:00:00Z" } });
    const states = (await api.get(`/flow_run_states/?flow_run_id=${first.id}`)).body;
    expect(states).toHaveLength(1);
    expect(states[0].id).toBe(first.state.id);
    const noonRun = runs.find((r) => r.next_scheduled_start_time === "2025-01-01T12:00:00Z");
    expect(noonRun).toMatchObject({ parameters: { a: 1, b: 2 }, created_by: { id: noon.id, type: "SCHEDULE", display_value: "IntervalSchedule" } });
    const cronNamed = await deploy(api, { name: "cron-named", schedules: [{ schedule: { cron: "0 * * * *" } }] }, "detailed-flow");
    await scheduler.tick(T0);
    expect((await runsOf(api, cronNamed.id))[0].created_by.display_value).toBe("CronSchedule");
  });

  test("paused deployments and inactive schedules get nothing", async () => {
    const paused = await deploy(api, { name: "paused", paused: true, schedules: [{ schedule: hourly }] });
    const inactive = await deploy(api, { name: "inactive", schedules: [{ schedule: hourly, active: false }] });
    const mixed = await deploy(api, {
      name: "mixed",
      schedules: [
        { schedule: hourly, active: false, slug: "off" },
        { schedule: { interval: 86400, anchor_date: "2025-01-01T06:00:00Z" }, slug: "on" },
      ],
    });
    await scheduler.tick(T0);
    await new RecentDeploymentsScheduler(api.context).tick(T0);
    expect(await runsOf(api, paused.id)).toEqual([]);
    expect(await runsOf(api, inactive.id)).toEqual([]);
    const runs = await runsOf(api, mixed.id);
    expect(runs).toHaveLength(3);
    expect(runs.every((r) => r.created_by.display_value === "on")).toBe(true);
  });

  test("a schedule running low is topped up even when another schedule of the deployment has plenty", async () => {
    const d = await deploy(api, {
      name: "two-schedules",
      schedules: [
        { schedule: { interval: 86400, anchor_date: "2025-01-01T00:00:00Z" }, slug: "daily" },
        { schedule: { interval: 600, anchor_date: "2025-01-01T00:00:00Z" }, slug: "ten-minutes" },
      ],
    });
    await scheduler.tick(T0);
    const count = async (slug: string) => (await runsOf(api, d.id)).filter((r) => r.created_by.display_value === slug).length;
    expect(await count("daily")).toBe(3);
    expect(await count("ten-minutes")).toBe(7); // 0..60 min
    await scheduler.tick(T0 + 50 * MINUTE); // ten-minutes: only 50 and 60 ahead
    expect(await count("ten-minutes")).toBe(7 + 5); // up to 01:50
    // a selected deployment is generated for every active schedule: the daily one gains its next day
    expect(await count("daily")).toBe(4);
  });

  test("a broken stored schedule does not stop the other deployments", async () => {
    const broken = await deploy(api, { name: "broken", schedules: [{ schedule: hourly }] });
    const fine = await deploy(api, { name: "fine", schedules: [{ schedule: hourly }] });
    api.context.store.db
      .update(deploymentSchedule)
      .set({ schedule: { cron: "not a cron", timezone: null, day_or: true } })
      .where(eq(deploymentSchedule.deploymentId, broken.id))
      .run();
    const errors: string[] = [];
    const quiet = { debug() {}, info() {}, warning() {}, error: (message: string) => void errors.push(message) };
    await new Scheduler({ ...api.context, logger: quiet }).tick(T0);
    expect(await runsOf(api, broken.id)).toEqual([]);
    expect(await runsOf(api, fine.id)).toHaveLength(3);
    expect(errors).toEqual([`Error scheduling deployment ${broken.id}`]);
  });

  test("both loops are services the server starts", () => {
    const services = createServices(api.context);
    expect(services.some((s) => s instanceof Scheduler)).toBe(true);
    expect(services.some((s) => s instanceof RecentDeploymentsScheduler)).toBe(true);
  });
});

describe("RecentDeploymentsScheduler", () => {
  const { api, clock } = freshApi();
  afterAll(() => api.close());
  const recent = new RecentDeploymentsScheduler(api.context);

  test("a new deployment gets its runs on the first tick; a second tick adds none", async () => {
    const d = await deploy(api, { name: "new", schedules: [{ schedule: hourly }] });
    await recent.tick(T0 + SECOND);
    expect(await times(api, d.id)).toEqual(["2025-01-01T01:00:00Z", "2025-01-01T02:00:00Z", "2025-01-01T03:00:00Z"]);
    await recent.tick(T0 + SECOND);
    await recent.tick(T0 + 2 * SECOND);
    expect(await runsOf(api, d.id)).toHaveLength(3);
  });

  test("only deployments updated in the last loop + 1 seconds (5 + 1) are considered", async () => {
    clock.set(T0 + HOUR);
    const d = await deploy(api, { name: "window", schedules: [{ schedule: hourly }] });
    clock.set(T0);
    await recent.tick(T0 + HOUR + 6 * SECOND + 1); // just outside
    expect(await runsOf(api, d.id)).toEqual([]);
    await recent.tick(T0 + HOUR + 6 * SECOND); // the edge is inside
    expect(await runsOf(api, d.id)).toHaveLength(3);
  });

  test("a poll does not bring a deployment back into the recent window (updated is untouched)", async () => {
    clock.set(T0 + 2 * HOUR);
    const d = await deploy(api, { name: "polled", work_queue_name: "legacy", schedules: [{ schedule: hourly }] });
    clock.set(T0 + 3 * HOUR);
    await api.post("/deployments/get_scheduled_flow_runs", { deployment_ids: [d.id] });
    clock.set(T0);
    await recent.tick(T0 + 3 * HOUR + SECOND);
    expect(await runsOf(api, d.id)).toEqual([]);
  });

  test("paused deployments are skipped", async () => {
    clock.set(T0 + 4 * HOUR);
    const d = await deploy(api, { name: "paused-recent", paused: true, schedules: [{ schedule: hourly }] });
    clock.set(T0);
    await recent.tick(T0 + 4 * HOUR + SECOND);
    expect(await runsOf(api, d.id)).toEqual([]);
  });
});

describe("idempotency", () => {
  test("two scheduler instances ticking concurrently over one store insert each run once", async () => {
    const { api } = freshApi();
    const d = await deploy(api, { name: "race", schedules: [{ schedule: hourly }] });
    const a = new Scheduler(api.context);
    const b = new Scheduler(api.context);
    const c = new RecentDeploymentsScheduler(api.context);
    await Promise.all([a.tick(T0), b.tick(T0), c.tick(T0)]);
    const runs = await runsOf(api, d.id);
    expect(runs).toHaveLength(3);
    expect(new Set(runs.map((r) => r.idempotency_key)).size).toBe(3);
    api.close();
  });

  test("runs generated by two schedulers before either inserted: the (flow_id, idempotency_key) index keeps one of each", async () => {
    const { api } = freshApi();
    const d = await deploy(api, { name: "generated-twice", schedules: [{ schedule: hourly }] });
    const { store, config, logger } = api.context;
    const one = new DeploymentScheduling(store, config.services, logger);
    const two = new DeploymentScheduling(store, config.services, logger);
    const window = one.defaultWindow(T0);
    const view = (await store.read((q) => q.deployments.get(d.id)))!;
    const first = one.generateRuns(view, window, T0);
    const second = two.generateRuns(view, window, T0);
    expect(first.map((r) => r.id)).not.toEqual(second.map((r) => r.id));
    expect(await store.write((tx) => tx.flowRuns.insertScheduled(first, T0))).toHaveLength(3);
    expect(await store.write((tx) => tx.flowRuns.insertScheduled(second, T0))).toEqual([]);
    const runs = await runsOf(api, d.id);
    expect(runs.map((r) => r.id).sort()).toEqual(first.map((r) => r.id).sort());
    // every inserted run got exactly its one state
    for (const run of runs) expect((await api.get(`/flow_run_states/?flow_run_id=${run.id}`)).body).toHaveLength(1);
    api.close();
  });

  test("two Store instances on the same SQLite file (two processes) ticking do not duplicate runs", async () => {
    const dir = mkdtempSync(join(tmpdir(), "prefect-lite-scheduler-"));
    const path = join(dir, "shared.db");
    const clock = new ManualClock(T0);
    const logger = createLogger("error");
    const context = (store: SqliteStore): AppContext<SqliteStore> => ({
      config: { ...configFromEnv({}), databasePath: path, port: 0 },
      store,
      clock,
      logger,
      events: createEventBus(store, clock, logger),
    });
    const first = context(SqliteStore.open(path));
    const second = context(SqliteStore.open(path));
    try {
      const app = createApp(first);
      const post = async (route: string, body: unknown) =>
        (await app.handle(new Request(`http://localhost/api${route}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }))).json() as Promise<any>;
      const flow = await post("/flows/", { name: "shared" });
      const d = await post("/deployments/", { name: "shared", flow_id: flow.id, schedules: [{ schedule: hourly }, { schedule: { cron: "30 * * * *" } }] });

      await Promise.all([new Scheduler(first).tick(T0), new Scheduler(second).tick(T0), new RecentDeploymentsScheduler(second).tick(T0)]);
      // the second process generates again after the first inserted: nothing new
      const scheduling = new DeploymentScheduling(second.store, second.config.services, second.logger);
      expect(await scheduling.schedule([d.id], scheduling.defaultWindow(T0), T0)).toBe(0);

      const rows = second.store.db.select({ key: flowRun.idempotencyKey }).from(flowRun).where(eq(flowRun.deploymentId, d.id)).all();
      expect(rows).toHaveLength(6);
      expect(new Set(rows.map((r) => r.key)).size).toBe(6);
      const unique = second.store.db.$client
        .query("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'flow_run' AND sql LIKE '%UNIQUE%'")
        .all() as { sql: string }[];
      expect(unique.some((i) => /flow_id.*idempotency_key/.test(i.sql))).toBe(true);
    } finally {
      first.store.close();
      second.store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("cron across daylight saving time", () => {
  test('"0 9 * * *" in America/New_York stays 09:00 local across 2025-03-09: 14:00Z before, 13:00Z after', async () => {
    const start = Date.UTC(2025, 2, 7, 15) * 1000; // 2025-03-07T15:00Z = 10:00 EST
    const { api } = freshApi(start);
    const d = await deploy(api, { name: "ny", schedules: [{ schedule: { cron: "0 9 * * *", timezone: "America/New_York" } }] });
    await new Scheduler(api.context).tick(start);
    expect(await times(api, d.id)).toEqual(["2025-03-08T14:00:00Z", "2025-03-09T13:00:00Z", "2025-03-10T13:00:00Z"]);
    // and back in November (2025-11-02)
    await api.post(`/deployments/${d.id}/schedule`, { start_time: "2025-10-31T00:00:00Z", end_time: "2025-11-04T00:00:00Z", min_runs: 10 });
    expect((await times(api, d.id)).filter((t) => t.startsWith("2025-1"))).toEqual([
      "2025-10-31T13:00:00Z",
      "2025-11-01T13:00:00Z",
      "2025-11-02T14:00:00Z",
      "2025-11-03T14:00:00Z",
    ]);
    api.close();
  });

  test("a daily interval anchored in America/New_York keeps its wall-clock time too", async () => {
    const start = Date.UTC(2025, 2, 7, 15) * 1000;
    const { api } = freshApi(start);
    const d = await deploy(api, {
      name: "ny-interval",
      schedules: [{ schedule: { interval: 86400, anchor_date: "2025-03-01T09:00:00-05:00", timezone: "America/New_York" } }],
    });
    await new Scheduler(api.context).tick(start);
    expect(await times(api, d.id)).toEqual(["2025-03-08T14:00:00Z", "2025-03-09T13:00:00Z", "2025-03-10T13:00:00Z"]);
    api.close();
  });
});

describe("manual scheduling and schedule changes", () => {
  const { api, clock } = freshApi();
  afterAll(() => api.close());

  test("POST /deployments/{id}/schedule backfills with the same generator, idempotently, even for a paused deployment", async () => {
    const d = await deploy(api, { name: "backfill", paused: true, schedules: [{ schedule: hourly, slug: "h" }] });
    const window = { start_time: "2024-12-31T00:00:00Z", end_time: "2024-12-31T03:00:00Z", min_runs: 10 };
    expect((await api.post(`/deployments/${d.id}/schedule`, window)).status).toBe(200);
    const expected = ["2024-12-31T00:00:00Z", "2024-12-31T01:00:00Z", "2024-12-31T02:00:00Z", "2024-12-31T03:00:00Z"];
    expect(await times(api, d.id)).toEqual(expected);
    await api.post(`/deployments/${d.id}/schedule`, window);
    expect(await times(api, d.id)).toEqual(expected);
    const run = (await runsOf(api, d.id))[0];
    expect(run).toMatchObject({ auto_scheduled: true, tags: ["auto-scheduled"], created_by: { type: "SCHEDULE", display_value: "h" } });
  });

  test("PATCHing a schedule deletes the future auto-scheduled runs; the next tick regenerates them from the new config", async () => {
    const d = await deploy(api, { name: "changing", parameters: { p: "old" }, schedules: [{ schedule: hourly }] });
    const scheduler = new Scheduler(api.context);
    await scheduler.tick(T0);
    expect(await times(api, d.id)).toEqual(["2025-01-01T00:00:00Z", "2025-01-01T01:00:00Z", "2025-01-01T02:00:00Z"]);

    clock.set(T0 + 10 * SECOND);
    const res = await api.patch(`/deployments/${d.id}/schedules/${d.schedules[0].id}`, {
      schedule: { interval: 7200, anchor_date: "2025-01-01T00:00:00Z" },
      parameters: { p: "new" },
    });
    expect(res.status).toBe(204);
    // T0 is already past at T0+10s: it stays; the future ones are gone
    expect(await times(api, d.id)).toEqual(["2025-01-01T00:00:00Z"]);

    // the schedule change counts as a recent change, so the fast loop picks it up
    await new RecentDeploymentsScheduler(api.context).tick(T0 + 12 * SECOND);
    const runs = await runsOf(api, d.id);
    expect(runs.map((r) => r.next_scheduled_start_time)).toEqual([
      "2025-01-01T00:00:00Z",
      "2025-01-01T02:00:00Z",
      "2025-01-01T04:00:00Z",
      "2025-01-01T06:00:00Z",
    ]);
    expect(runs.map((r) => r.parameters)).toEqual([{ p: "old" }, { p: "new" }, { p: "new" }, { p: "new" }]);
    clock.set(T0);
  });

  test("PATCHing the deployment regenerates its runs with the new parameters at the next tick", async () => {
    const d = await deploy(api, { name: "params", parameters: { v: 1 }, schedules: [{ schedule: { interval: 86400, anchor_date: "2025-01-01T12:00:00Z" } }] });
    const scheduler = new Scheduler(api.context);
    await scheduler.tick(T0);
    expect((await runsOf(api, d.id)).map((r) => r.parameters)).toEqual([{ v: 1 }, { v: 1 }, { v: 1 }]);
    expect((await api.patch(`/deployments/${d.id}`, { parameters: { v: 2 } })).status).toBe(204);
    expect(await runsOf(api, d.id)).toEqual([]);
    await scheduler.tick(T0);
    expect((await runsOf(api, d.id)).map((r) => r.parameters)).toEqual([{ v: 2 }, { v: 2 }, { v: 2 }]);
  });

  test("an upsert with a new schedule replaces the runs of the old one", async () => {
    const d = await deploy(api, { name: "upserted", schedules: [{ schedule: { interval: 86400, anchor_date: "2025-01-02T03:00:00Z" } }] });
    await new Scheduler(api.context).tick(T0);
    expect(await times(api, d.id)).toEqual(["2025-01-01T03:00:00Z", "2025-01-02T03:00:00Z", "2025-01-03T03:00:00Z"]);
    await deploy(api, { name: "upserted", schedules: [{ schedule: { interval: 86400, anchor_date: "2025-01-02T06:00:00Z" } }] });
    await new Scheduler(api.context).tick(T0);
    expect(await times(api, d.id)).toEqual(["2025-01-01T06:00:00Z", "2025-01-02T06:00:00Z", "2025-01-03T06:00:00Z"]);
  });
});
