/**
 * The multi-server problems Prefect's own server has, on several prefect-lite stores sharing
 * one PostgreSQL database (each one a replica's data layer, services and API in process):
 * schedulers ticking at once, a redeploy racing the scheduler, and set_state racing the
 * services that change runs. Every service here is ticked directly, on every replica, as if
 * leadership had failed: correctness must not depend on it.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { createApp } from "../../src/app";
import { ManualClock } from "../../src/clock";
import { configFromEnv } from "../../src/config";
import type { AppContext } from "../../src/context";
import { PgStore } from "../../src/db/postgres/store";
import { createEventBus } from "../../src/events/bus";
import { createLogger } from "../../src/logger";
import { CancellationCleanup } from "../../src/services/cancellation-cleanup";
import { MarkLateRuns } from "../../src/services/late-runs";
import { Scheduler } from "../../src/services/scheduler";
import { createTestDatabase, type TestDatabase } from "../support/postgres";

const T0 = Date.UTC(2025, 0, 1) * 1000;
const S = 1_000_000;
const hourly = { interval: 3600, anchor_date: "2025-01-01T00:00:00Z" };

interface Replica {
  ctx: AppContext;
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
}

let database: TestDatabase;
const stores: PgStore[] = [];
let replicas: Replica[] = [];
const clock = new ManualClock(T0);

beforeAll(async () => {
  database = await createTestDatabase();
  const logger = createLogger("error");
  for (let i = 0; i < 3; i++) {
    const store = await PgStore.open(database.settings());
    stores.push(store);
    const ctx: AppContext = { config: { ...configFromEnv({}), port: 0 }, store, clock, logger, events: createEventBus(store, clock, logger) };
    const app = createApp(ctx);
    replicas.push({
      ctx,
      async call(method, path, body) {
        const res = await app.handle(
          new Request(`http://localhost/api${path}`, { method, headers: { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) }),
        );
        const text = await res.text();
        return { status: res.status, body: text ? JSON.parse(text) : undefined };
      },
    });
  }
}, 30_000);

afterAll(async () => {
  await Promise.all(stores.map((store) => store.close()));
  await database?.drop();
});

/** Runs per (deployment, scheduled start) that appear more than once. */
async function duplicateScheduledRuns(): Promise<number> {
  const rows = await stores[0]!.db.execute<{ n: number }>(
    sql`SELECT count(*)::int AS n FROM (SELECT deployment_id, expected_start_time FROM flow_run WHERE deployment_id IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 1) d`,
  );
  return rows[0]!.n;
}

async function scheduledRunCount(): Promise<number> {
  return (await stores[0]!.db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM flow_run WHERE deployment_id IS NOT NULL`))[0]!.n;
}

test("3 replicas ticking the scheduler at once on 200 deployments: every run once", async () => {
  const flow = (await replicas[0]!.call("POST", "/flows/", { name: "many-schedules" })).body;
  for (let i = 0; i < 200; i++) {
    const res = await replicas[i % 3]!.call("POST", "/deployments/", { flow_id: flow.id, name: `d${i}`, schedules: [{ schedule: hourly }] });
    expect(res.status).toBe(201);
  }
  // each replica ticks twice, all six passes at once: the first hourly three runs of each, once
  await Promise.all(replicas.flatMap(({ ctx }) => [new Scheduler(ctx).tick(T0), new Scheduler(ctx).tick(T0)]));
  expect(await duplicateScheduledRuns()).toBe(0);
  expect(await scheduledRunCount()).toBe(200 * 3);
}, 60_000);

test("a redeploy racing the schedulers (Prefect's duplicate runs after a redeploy): no run twice", async () => {
  const flow = (await replicas[0]!.call("POST", "/flows/", { name: "redeployed" })).body;
  const body = { flow_id: flow.id, name: "often", schedules: [{ schedule: hourly }] };
  expect((await replicas[0]!.call("POST", "/deployments/", body)).status).toBe(201);
  await Promise.all([
    ...Array.from({ length: 10 }, (_, i) => replicas[i % 3]!.call("POST", "/deployments/", body)),
    ...replicas.flatMap(({ ctx }) => [new Scheduler(ctx).tick(T0), new Scheduler(ctx).tick(T0 + 2 * S)]),
  ]);
  await Promise.all(replicas.map(({ ctx }) => new Scheduler(ctx).tick(T0 + 3 * S)));
  expect(await duplicateScheduledRuns()).toBe(0);
}, 60_000);

test("set_state racing the late-runs and cancellation services on every replica: no deadlock surfaces, every run ends in one consistent state", async () => {
  const flow = (await replicas[0]!.call("POST", "/flows/", { name: "contended" })).body;
  const runs = await Promise.all(
    Array.from({ length: 30 }, (_, i) =>
      replicas[i % 3]!.call("POST", "/flow_runs/", { flow_id: flow.id, state: { type: "SCHEDULED", state_details: { scheduled_time: new Date(T0 / 1000).toISOString() } } }),
    ),
  );
  const later = T0 + 3600 * S;
  const answers = await Promise.all([
    ...runs.flatMap(({ body: run }, i) => [
      replicas[i % 3]!.call("POST", `/flow_runs/${run.id}/set_state`, { state: { type: "PENDING" } }),
      replicas[(i + 1) % 3]!.call("POST", `/flow_runs/${run.id}/set_state`, { state: { type: "CANCELLING" }, force: true }),
    ]),
    ...replicas.flatMap(({ ctx }) => [new MarkLateRuns(ctx).tick(later), new CancellationCleanup(ctx).tick(later + 600 * S)]),
  ]);
  const http = answers.filter((a): a is { status: number; body: any } => typeof a === "object" && a !== null && "status" in a);
  expect(http.filter((a) => a.status >= 500)).toEqual([]);
  for (const { body: run } of runs) {
    const states = (await replicas[0]!.call("GET", `/flow_run_states/?flow_run_id=${run.id}`)).body as { id: string; type: string }[];
    const current = (await replicas[1]!.call("GET", `/flow_runs/${run.id}`)).body;
    // the run's current state is the last of its history, whichever writers won
    expect(current.state.id).toBe(states.at(-1)!.id);
  }
}, 60_000);
