/**
 * Flow-run rows for repository contract scenarios whose repositories read runs (deployments,
 * work pools) without owning them: inserted and read straight through either store's
 * Drizzle handle, so the scenario does not depend on the flow-run repository's port.
 */
import { asc } from "drizzle-orm";
import * as pgSchema from "../../src/db/postgres/schema";
import { PgStore } from "../../src/db/postgres/store";
import * as sqliteSchema from "../../src/db/schema";
import { SqliteStore } from "../../src/db/store";
import type { JsonObject } from "../../src/lib/json";
import type { Micros } from "../../src/lib/time";
import type { ContractStore } from "./contract";

export interface RunSeed {
  name: string;
  flowId: string;
  deploymentId?: string | null;
  workQueueId?: string | null;
  workQueueName?: string | null;
  stateType?: string | null;
  stateName?: string | null;
  stateTimestamp?: Micros | null;
  startTime?: Micros | null;
  nextScheduledStartTime?: Micros | null;
  autoScheduled?: boolean;
  runCount?: number;
  createdBy?: JsonObject | null;
  tags?: string[];
}

/** Inserts one flow run; returns its id. */
export async function insertRun(store: ContractStore, seed: RunSeed, created: Micros): Promise<string> {
  const row = { id: Bun.randomUUIDv7(), created, updated: created, parameters: {}, context: {}, empiricalPolicy: {}, tags: [], labels: {}, ...seed };
  if (store instanceof PgStore) await store.db.insert(pgSchema.flowRun).values(row);
  else if (store instanceof SqliteStore) store.db.insert(sqliteSchema.flowRun).values(row).run();
  else throw new Error("a contract store is SQLite's or PostgreSQL's");
  return row.id;
}

/** Every flow run's name, queue and state, by name. */
export async function runsOf(store: ContractStore): Promise<{ name: string; workQueueId: string | null; stateType: string | null }[]> {
  if (store instanceof PgStore) {
    const t = pgSchema.flowRun;
    return store.db.select({ name: t.name, workQueueId: t.workQueueId, stateType: t.stateType }).from(t).orderBy(asc(t.name));
  }
  if (store instanceof SqliteStore) {
    const t = sqliteSchema.flowRun;
    return store.db.select({ name: t.name, workQueueId: t.workQueueId, stateType: t.stateType }).from(t).orderBy(asc(t.name)).all();
  }
  throw new Error("a contract store is SQLite's or PostgreSQL's");
}
