/**
 * Service leadership on PostgreSQL: several PgStores on one database stand for several
 * replicas. Exactly one leads each service; when its leadership connection goes (its store
 * closed, its backend terminated), a standby leads from its next check, and no check ever
 * finds two leaders.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import postgres, { type Sql } from "postgres";
import { ManualClock } from "../../src/clock";
import { PgLeadership } from "../../src/db/postgres/leadership";
import { PgStore } from "../../src/db/postgres/store";
import type { Logger } from "../../src/logger";
import type { Micros } from "../../src/lib/time";
import { PeriodicService } from "../../src/services/service";
import { createTestDatabase, testSettings, type TestDatabase } from "../support/postgres";

const NAMES = ["Scheduler", "Foreman", "MarkLateRuns"];

let database: TestDatabase;
let admin: Sql;
let stores: PgStore[] = [];

beforeAll(async () => {
  database = await createTestDatabase();
  admin = postgres(database.url, { max: 1, onnotice: () => {} });
});
afterEach(async () => {
  await Promise.all(stores.map((s) => s.close()));
  stores = [];
});
afterAll(async () => {
  await admin.end();
  await database.drop();
});

async function replicas(n: number): Promise<PgStore[]> {
  for (let i = 0; i < n; i++) stores.push(await PgStore.open(database.settings({ poolSize: 1, maxOverflow: 0 })));
  return stores;
}

/** Which replicas lead `name`, each asked in `order` (one at a time, so a round is one instant). */
async function leadersOf(name: string, replicas: PgStore[], order = replicas.map((_, i) => i)): Promise<number[]> {
  const leaders: number[] = [];
  for (const i of order) if (await replicas[i]!.leadership.isLeader(name)) leaders.push(i);
  return leaders.sort();
}

/** Terminates the backends holding leadership locks in this database (the two-part advisory locks). */
async function terminateLeaders(): Promise<number> {
  const rows = await admin<{ pid: number }[]>`
    SELECT DISTINCT l.pid FROM pg_locks l
    WHERE l.locktype = 'advisory' AND l.objsubid = 2 AND l.granted
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`;
  for (const { pid } of rows) await admin`SELECT pg_terminate_backend(${pid}, 5000)`; // waits until the backend has gone, and its locks with it
  return rows.length;
}

const shuffled = (n: number) =>
  Array.from({ length: n }, (_, i) => i)
    .map((i) => ({ i, r: Math.random() }))
    .sort((a, b) => a.r - b.r)
    .map(({ i }) => i);

describe("two replicas", () => {
  test("the first to ask leads a service and keeps it; the other stands by; services are led independently", async () => {
    const [a, b] = await replicas(2);
    expect(await a!.leadership.isLeader("Scheduler")).toBe(true);
    expect(await b!.leadership.isLeader("Foreman")).toBe(true);
    for (let round = 0; round < 5; round++) {
      expect(await leadersOf("Scheduler", stores, shuffled(2))).toEqual([0]);
      expect(await leadersOf("Foreman", stores, shuffled(2))).toEqual([1]);
    }
  });

  test("a leader that stops (its store closed) is replaced at the standby's next check", async () => {
    const [a, b] = await replicas(2);
    expect(await leadersOf("Scheduler", stores)).toEqual([0]);
    await a!.close();
    expect(await a!.leadership.isLeader("Scheduler")).toBe(false);
    expect(await b!.leadership.isLeader("Scheduler")).toBe(true);
  });

  test("the loop of a PgStore-led service ticks on one replica only, and on the other once the first stops", async () => {
    await replicas(2);
    const clock = new ManualClock(Date.UTC(2026, 11, 4) * 1000);
    const probes = stores.map((store) => {
      const probe = new Probe(clock);
      probe.ledBy(store.leadership);
      return probe;
    });
    for (let round = 0; round < 3; round++) for (const probe of probes) await probe.runOnce();
    expect(probes.map((p) => p.ticks)).toEqual([3, 0]);
    await stores[0]!.close();
    for (const probe of probes) await probe.runOnce();
    expect(probes.map((p) => p.ticks)).toEqual([3, 1]);
  });
});

describe("three replicas", () => {
  test("exactly one leader per service; when the leader's backend is terminated, a standby leads from its next check and the old leader notices", async () => {
    await replicas(3);
    for (const name of NAMES) expect(await leadersOf(name, stores, [1, 0, 2])).toEqual([1]);

    expect(await terminateLeaders()).toBe(1);
    // the standbys ask first, so one of them takes over; then the old leader asks and stands by
    for (const name of NAMES) expect(await leadersOf(name, stores, [2, 0, 1])).toEqual([2]);
    for (const name of NAMES) expect(await stores[1]!.leadership.isLeader(name)).toBe(false);
  });

  test("the last leader stopping leaves the service to the one replica left", async () => {
    await replicas(3);
    expect(await leadersOf("Scheduler", stores)).toEqual([0]);
    await stores[0]!.close();
    expect(await leadersOf("Scheduler", stores, [2, 1, 0])).toEqual([2]);
    await stores[2]!.close();
    expect(await leadersOf("Scheduler", stores)).toEqual([1]);
  });

  test("checks at once, with leaders terminated between rounds: never two leaders, never none", async () => {
    await replicas(3);
    for (let round = 0; round < 20; round++) {
      if (round % 4 === 3) expect(await terminateLeaders()).toBeGreaterThan(0);
      for (const name of NAMES) {
        const answers = await Promise.all(shuffled(3).map(async (i) => ({ i, leads: await stores[i]!.leadership.isLeader(name) })));
        expect(answers.filter((a) => a.leads)).toHaveLength(1);
      }
    }
  });
});

test("a database that cannot be asked leads nothing here (no throw: the loop just stands by)", async () => {
  const unreachable = PgLeadership.open(testSettings("postgresql://postgres@127.0.0.1:1/test", { connectTimeoutSeconds: 1 }));
  try {
    expect(await unreachable.isLeader("Scheduler")).toBe(false);
  } finally {
    await unreachable.close();
  }
});

const quiet: Logger = { debug() {}, info() {}, warning() {}, error() {} };

class Probe extends PeriodicService {
  readonly name = "Probe";
  ticks = 0;

  constructor(clock: ManualClock) {
    super(clock, quiet, 5);
  }

  async tick(_now: Micros): Promise<void> {
    this.ticks += 1;
  }
}
