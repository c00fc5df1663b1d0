/**
 * Times one scheduler tick over 1,000 deployments (each with an hourly interval
 * schedule): the first tick creates their runs, the second finds nothing to do.
 * Usage: bun scripts/scheduler-tick.ts [deployments] [--db PATH]
 */
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ManualClock } from "../src/clock";
import { configFromEnv } from "../src/config";
import type { AppContext } from "../src/context";
import { DeploymentService } from "../src/deployments/service";
import { SqliteStore } from "../src/db/store";
import { createEventBus } from "../src/events/bus";
import { createLogger } from "../src/logger";
import { parseDateTime } from "../src/lib/time";
import { Scheduler } from "../src/services/scheduler";

const count = Number(process.argv[2] ?? 1000);
const dbPath = join(tmpdir(), `prefect-lite-scheduler-${process.pid}.db`);
const clock = new ManualClock(parseDateTime("2026-01-01T00:00:00Z")!);
const store = SqliteStore.open(dbPath);
const logger = createLogger("warning");
const ctx: AppContext = {
  config: { ...configFromEnv({}), databasePath: dbPath },
  store,
  clock,
  logger,
  events: createEventBus(store, clock, logger),
};

const { row: flow } = await ctx.store.write((tx) => tx.flows.upsertByName({ name: "scheduled-flow", tags: [], labels: {} }, clock.now()));
const deployments = new DeploymentService(ctx);
for (let i = 0; i < count; i++) {
  await deployments.upsert({ name: `d-${i}`, flow_id: flow.id, schedules: [{ schedule: { interval: 3600 } }] });
}

const scheduler = new Scheduler(ctx);
const time = async () => {
  const start = performance.now();
  await scheduler.tick(clock.now());
  return performance.now() - start;
};
const first = await time();
const runs = await ctx.store.read((q) => q.flowRuns.count({}));
const second = await time();
console.log(`deployments: ${count} (SQLite file, WAL)`);
console.log(`first tick:  ${first.toFixed(0)} ms, ${runs} runs created`);
console.log(`second tick: ${second.toFixed(0)} ms, ${(await ctx.store.read((q) => q.flowRuns.count({}))) - runs} runs created`);
ctx.store.close();
for (const suffix of ["", "-wal", "-shm"]) rmSync(dbPath + suffix, { force: true });
