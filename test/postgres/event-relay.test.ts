/**
 * Events across replicas on PostgreSQL: two replicas (a PgStore and its event bus each) on one
 * database, in one process.
 */
import { afterAll, beforeAll, describe, expect, spyOn, test } from "bun:test";
import { sql } from "drizzle-orm";
import { Elysia } from "elysia";
import { eventRoutes } from "../../src/api/events";
import { SystemClock } from "../../src/clock";
import { configFromEnv } from "../../src/config";
import type { AppContext } from "../../src/context";
import { PgStore } from "../../src/db/postgres/store";
import type { Store } from "../../src/db/store";
import { createEventBus, type EventBus } from "../../src/events/bus";
import type { Event, ReceivedEvent } from "../../src/events/model";
import { formatDateTime } from "../../src/lib/time";
import { startServer } from "../../src/server";
import { createLogger } from "../../src/logger";
import { EventPersister } from "../../src/services/event-persister";
import { TaskRunRecorder } from "../../src/services/task-run-recorder";
import { createTestDatabase, type TestDatabase } from "../support/postgres";
import { connect } from "../support/websocket";

const clock = new SystemClock();
const logger = createLogger("error");

interface Replica {
  store: PgStore;
  bus: EventBus;
  /** Every event this replica's bus delivered to a subscriber of relayed events, in order. */
  seen: ReceivedEvent[];
  /** What a subscriber of this replica's own events only got. */
  own: ReceivedEvent[];
}

async function replica(database: TestDatabase): Promise<Replica> {
  const store = await PgStore.open(database.settings());
  const bus = createEventBus(store, clock, logger);
  const seen: ReceivedEvent[] = [];
  const own: ReceivedEvent[] = [];
  bus.subscribe((event) => seen.push(event));
  bus.subscribe((event) => own.push(event), { relayed: false });
  return { store, bus, seen, own };
}

function event(name: string, payload: Event["payload"] = {}): Event {
  return {
    id: crypto.randomUUID(),
    occurred: clock.now(),
    event: name,
    resource: { "prefect.resource.id": `prefect.flow-run.${crypto.randomUUID()}` },
    related: [],
    payload,
    follows: null,
  };
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) return false;
    await Bun.sleep(5);
  }
  return true;
}

const ids = (events: { id: string }[]) => events.map((e) => e.id);
const named = (events: ReceivedEvent[], prefix: string) => events.filter((e) => e.event.startsWith(prefix));

/** The pid of a replica's listening connection, by the name it gives that connection. */
async function listenerPid(r: Replica): Promise<number | undefined> {
  const rows = await r.store.db.execute<{ pid: number }>(
    sql`SELECT pid FROM pg_stat_activity WHERE application_name = ${`prefect-lite event relay ${r.store.eventRelay.origin}`}`,
  );
  return rows[0]?.pid;
}

let database: TestDatabase;
let a: Replica;
let b: Replica;

beforeAll(async () => {
  database = await createTestDatabase();
  a = await replica(database);
  b = await replica(database);
});

// after a connection is reset mid-transaction (the test that kills every connection),
// postgres.js can take its whole 5 s end timeout to close that pool
afterAll(async () => {
  await Promise.all([a?.store.close(), b?.store.close()]);
  await database.drop();
}, 15_000);

describe("events across replicas", () => {
  test("events posted on B and emitted by B's committed writes reach A's subscribers within 1 s, in order, once", async () => {
    const posted = Array.from({ length: 20 }, (_, i) => event(`test.posted.${i}`));
    const emitted = Array.from({ length: 5 }, (_, i) => event(`test.posted.emitted.${i}`));
    const start = performance.now();
    b.bus.publish(posted.slice(0, 10));
    await b.store.write(function* (tx) {
      tx.stage(...emitted);
    });
    b.bus.publish(posted.slice(10));
    const expected = [...ids(posted.slice(0, 10)), ...ids(emitted), ...ids(posted.slice(10))];
    expect(await waitFor(() => named(a.seen, "test.posted").length >= expected.length, 1000)).toBe(true);
    expect(performance.now() - start).toBeLessThan(1000);
    await Bun.sleep(300); // nothing arrives twice
    expect(ids(named(a.seen, "test.posted"))).toEqual(expected);
    // as stamped on B, not received again on A
    expect(named(a.seen, "test.posted").map((e) => e.received)).toEqual(named(b.seen, "test.posted").map((e) => e.received));
    // B does not get its own events back; A's consumers of their own events do not get B's
    expect(ids(named(b.seen, "test.posted"))).toEqual(expected);
    expect(named(a.own, "test.posted")).toEqual([]);
  });

  test("both replicas publishing at once: each gets the other's events in the order they were published", async () => {
    const fromA = Array.from({ length: 50 }, (_, i) => event(`test.both.a.${i}`));
    const fromB = Array.from({ length: 50 }, (_, i) => event(`test.both.b.${i}`));
    for (let i = 0; i < 50; i++) {
      a.bus.publish([fromA[i]!]);
      b.bus.publish([fromB[i]!]);
      if (i % 10 === 0) await Bun.sleep(1);
    }
    expect(await waitFor(() => named(a.seen, "test.both.b").length >= 50 && named(b.seen, "test.both.a").length >= 50, 1000)).toBe(true);
    await Bun.sleep(200);
    expect(ids(named(a.seen, "test.both.b"))).toEqual(ids(fromB));
    expect(ids(named(b.seen, "test.both.a"))).toEqual(ids(fromA));
    expect(ids(named(a.seen, "test.both.a"))).toEqual(ids(fromA));
  });

  test("an event larger than a NOTIFY payload (8000 bytes) crosses whole", async () => {
    const big = event("test.big", { text: "x".repeat(200_000), nested: { list: Array.from({ length: 100 }, (_, i) => ({ i, s: "é\u0000" })) } });
    b.bus.publish([big]);
    expect(await waitFor(() => named(a.seen, "test.big").length === 1, 1000)).toBe(true);
    const [crossed] = named(a.seen, "test.big");
    expect(crossed).toEqual(named(b.seen, "test.big")[0]!);
    expect(crossed!.payload).toEqual(big.payload);
  });

  test("A's listening connection killed: it listens again and gets what B published meanwhile, once, in order", async () => {
    const before = await listenerPid(a);
    expect(before).toBeNumber();
    await a.store.db.execute(sql`SELECT pg_terminate_backend(${before!})`);
    const meanwhile = Array.from({ length: 10 }, (_, i) => event(`test.outage.${i}`));
    for (const e of meanwhile) b.bus.publish([e]);
    expect(await waitFor(() => named(a.seen, "test.outage").length >= 10, 5000)).toBe(true);
    await Bun.sleep(300);
    expect(ids(named(a.seen, "test.outage"))).toEqual(ids(meanwhile));
    // listening again, on a new connection: the next event is woken by its notification
    const after = await listenerPid(a);
    expect(after).toBeNumber();
    expect(after).not.toBe(before!);
    const next = event("test.outage.after");
    const start = performance.now();
    b.bus.publish([next]);
    expect(await waitFor(() => named(a.seen, "test.outage.after").length === 1, 1000)).toBe(true);
    expect(performance.now() - start).toBeLessThan(1000);
  });

  test("every connection to the database killed at once: what B publishes right after still reaches A, once, in order", async () => {
    await a.store.db.execute(sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`);
    const meanwhile = Array.from({ length: 30 }, (_, i) => event(`test.blip.${i}`));
    for (const e of meanwhile) b.bus.publish([e]);
    expect(await waitFor(() => named(a.seen, "test.blip").length >= 30, 5000)).toBe(true);
    await Bun.sleep(300);
    expect(ids(named(a.seen, "test.blip"))).toEqual(ids(meanwhile));
  });

  test("three replicas sending at once, one event per append: a fourth gets every event once, each sender's in its order", async () => {
    const senders = [a, b, await replica(database)];
    const reader = await replica(database);
    try {
      const sent = senders.map((_, s) => Array.from({ length: 150 }, (_, i) => event(`test.many.${s}.${i}`)));
      await Promise.all(
        senders.map(async (r, s) => {
          for (const e of sent[s]!) {
            r.bus.publish([e]);
            await Bun.sleep(0);
          }
        }),
      );
      expect(await waitFor(() => named(reader.seen, "test.many").length >= 450, 5000)).toBe(true);
      await Bun.sleep(300);
      expect(named(reader.seen, "test.many")).toHaveLength(450);
      sent.forEach((events, s) => expect(ids(named(reader.seen, `test.many.${s}.`))).toEqual(ids(events)));
    } finally {
      await Promise.all([senders[2]!.store.close(), reader.store.close()]);
    }
  });

  test("a sender slow to commit does not make readers skip its events: sequence numbers commit in order", async () => {
    // a third replica's append, held open between taking its sequence number and COMMIT
    const slow = { ...event("test.order.slow"), received: clock.now() };
    let inserted: () => void = () => {};
    const holding = new Promise<void>((resolve) => (inserted = resolve));
    const append = a.store.db.transaction(async (tx) => {
      await tx.execute(sql`SELECT pg_advisory_xact_lock(hashtext('prefect-lite event relay'))`);
      await tx.execute(sql`INSERT INTO event_relay (origin, event) VALUES (${crypto.randomUUID()}, ${JSON.stringify(slow)})`);
      inserted();
      await Bun.sleep(300);
      await tx.execute(sql`SELECT pg_notify('prefect_lite_events', 'elsewhere')`);
    });
    await holding;
    const fast = event("test.order.fast");
    b.bus.publish([fast]); // its append waits for the slow one, so its number is the larger
    await append;
    expect(await waitFor(() => named(a.seen, "test.order").length >= 2, 1000)).toBe(true);
    expect(ids(named(a.seen, "test.order"))).toEqual([slow.id, fast.id]);
  });

  test("a client re-sending to A an event B already relayed does not publish it twice", async () => {
    const once = event("test.resent");
    b.bus.publish([once]);
    expect(await waitFor(() => named(a.seen, "test.resent").length === 1, 1000)).toBe(true);
    expect(a.bus.publish([once])).toEqual([]);
    await Bun.sleep(200);
    expect(named(a.seen, "test.resent")).toHaveLength(1);
    expect(named(b.seen, "test.resent")).toHaveLength(1);
  });

  test("relayed events older than the retention are swept by the next sender; readers keep their place", async () => {
    await a.store.db.execute(sql`UPDATE event_relay SET relayed = now() - interval '2 minutes'`);
    const count = async () => (await a.store.db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM event_relay`))[0]!.n;
    expect(await count()).toBeGreaterThan(1);
    const c = await replica(database); // a new replica's first send sweeps
    try {
      const fresh = event("test.after-sweep");
      c.bus.publish([fresh]);
      expect(await waitFor(() => named(a.seen, "test.after-sweep").length === 1 && named(b.seen, "test.after-sweep").length === 1, 1000)).toBe(true);
      const deadline = performance.now() + 1000;
      while ((await count()) > 1 && performance.now() < deadline) await Bun.sleep(10);
      expect(await count()).toBe(1);
      expect(ids(named(a.seen, "test.after-sweep"))).toEqual([fresh.id]);
    } finally {
      await c.store.close();
    }
  });
});

/** A replica's services, over `store` for what they write and the replica's bus for what they see. */
function servicesContext(store: Store, bus: EventBus): AppContext {
  return { config: { ...configFromEnv({}), databasePath: ":memory:", port: 0 }, store, clock, logger, events: bus };
}

describe("/events/out across replicas", () => {
  test("a client subscribed on A receives, within 1 s, an event posted to B's /api/events", async () => {
    // only the events routes, as a replica serves them
    const serve = (r: Replica) => new Elysia({ prefix: "/api" }).use(eventRoutes(servicesContext(r.store, r.bus))).listen({ port: 0, hostname: "127.0.0.1" });
    const [serverA, serverB] = [serve(a), serve(b)];
    try {
      const socket = await connect(`ws://127.0.0.1:${serverA.server!.port}/api/events/out`);
      socket.send({ type: "auth", token: null });
      expect(await socket.next()).toEqual({ type: "auth_success" });
      const until = formatDateTime(clock.now() + 3_600_000_000);
      socket.send({ type: "filter", filter: { event: { prefix: ["test.ws."] }, occurred: { since: formatDateTime(clock.now()), until } } });
      await Bun.sleep(100); // the subscription starts once its (empty) backfill is read
      const posted = [event("test.ws.first"), event("test.ws.second")].map((e) => ({ ...e, occurred: formatDateTime(e.occurred) }));
      const start = performance.now();
      const response = await fetch(`http://127.0.0.1:${serverB.server!.port}/api/events`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(posted) });
      expect(response.status).toBe(204);
      expect((await socket.next()).event?.id).toBe(posted[0]!.id);
      expect((await socket.next()).event?.id).toBe(posted[1]!.id);
      expect(performance.now() - start).toBeLessThan(1000);
      expect(await socket.quiet(200)).toBe(true);
      socket.close();
    } finally {
      await Promise.all([serverA.stop(true), serverB.stop(true)]);
    }
  });
});

describe("two servers on one database", () => {
  test("a run cancelled through B: the runner subscribed on A hears prefect.flow-run.Cancelling within 1 s", async () => {
    const servers = await Promise.all([0, 1].map(() => startServer({ postgres: database.settings(), servicesEnabled: false, registerBlocksOnStart: false, logger })));
    const [onA, onB] = servers as [(typeof servers)[0], (typeof servers)[0]];
    try {
      const post = async <T>(path: string, body: unknown) =>
        (await (await fetch(`${onB.apiUrl}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })).json()) as T;
      const flow = await post<{ id: string }>("/flows/", { name: "cancelled-across-replicas" });
      const run = await post<{ id: string }>("/flow_runs/", { flow_id: flow.id, state: { type: "RUNNING" } });
      // what a runner does: subscribe to its runs' Cancelling events, without backfill
      const socket = await connect(`${onA.apiUrl.replace("http", "ws")}/events/out`);
      socket.send({ type: "auth", token: null });
      expect(await socket.next()).toEqual({ type: "auth_success" });
      const until = formatDateTime(clock.now() + 3_600_000_000);
      socket.send({
        type: "filter",
        backfill: false,
        filter: { event: { name: ["prefect.flow-run.Cancelling"] }, resource: { id: [`prefect.flow-run.${run.id}`] }, occurred: { since: formatDateTime(clock.now()), until } },
      });
      await Bun.sleep(50);
      const start = performance.now();
      const cancelled = await post<{ state: { id: string } }>(`/flow_runs/${run.id}/set_state`, { state: { type: "CANCELLING" } });
      const message = await socket.next();
      expect(performance.now() - start).toBeLessThan(1000);
      expect(message.event).toMatchObject({ id: cancelled.state.id, event: "prefect.flow-run.Cancelling", resource: { "prefect.resource.id": `prefect.flow-run.${run.id}` } });
      socket.close();
    } finally {
      await Promise.all(servers.map((server) => server.stop()));
    }
  });
});

describe("consumers across replicas", () => {
  test("the event persister writes each event once: each replica persists what it received", async () => {
    /** Counts the new events its flushes wrote, whether on its interval or when stopped. */
    class CountingPersister extends EventPersister {
      written = 0;
      override async flush(): Promise<number> {
        const written = await super.flush();
        this.written += written;
        return written;
      }
    }
    const persisters = [a, b].map((r) => new CountingPersister(servicesContext(r.store, r.bus)));
    for (const persister of persisters) persister.start();
    try {
      const onA = Array.from({ length: 7 }, (_, i) => event(`test.persisted.a.${i}`));
      const onB = Array.from({ length: 5 }, (_, i) => event(`test.persisted.b.${i}`));
      a.bus.publish(onA);
      b.bus.publish(onB);
      expect(await waitFor(() => named(a.seen, "test.persisted.b").length === 5 && named(b.seen, "test.persisted.a").length === 7, 1000)).toBe(true);
    } finally {
      await Promise.all(persisters.map((persister) => persister.stop()));
    }
    expect(persisters.map((persister) => persister.written)).toEqual([7, 5]);
    const rows = await a.store.db.execute<{ event: string; n: number }>(
      sql`SELECT event, count(*)::int AS n FROM events WHERE event LIKE 'test.persisted.%' GROUP BY event ORDER BY event`,
    );
    expect(rows.length).toBe(12);
    expect(rows.every((r) => r.n === 1)).toBe(true);
  });
});

/** A `prefect.task-run.<state>` event as the Prefect client emits it for a task it orchestrates itself. */
function taskRunEvent(taskRunId: string, type: string, name: string, occurred: number): Event {
  return {
    ...event(`prefect.task-run.${name}`),
    occurred,
    resource: { "prefect.resource.id": `prefect.task-run.${taskRunId}`, "prefect.resource.name": "add-2f1", "prefect.orchestration": "client" },
    payload: {
      intended: { from: null, to: type },
      initial_state: null,
      validated_state: { type, name, message: "", state_details: {}, data: null },
      task_run: { name: "add-2f1", task_key: "add-7c9e", dynamic_key: "0", tags: [], labels: {}, task_inputs: {}, run_count: 1, flow_run_run_count: 1 },
    },
  };
}

describe("the task-run recorder across replicas", () => {
  test("one task run's events split across A and B, arriving out of order: each is recorded once, the run ends in its latest state", async () => {
    // batches of one: a recorder's writes count the events it recorded
    const writes = [a, b].map((r) => spyOn(r.store, "write"));
    const recorders = [a, b].map((r) => new TaskRunRecorder(servicesContext(r.store, r.bus)));
    for (const recorder of recorders) recorder.start();
    const taskRunId = crypto.randomUUID();
    const t0 = clock.now() - 10_000_000;
    const pending = taskRunEvent(taskRunId, "PENDING", "Pending", t0);
    const running = taskRunEvent(taskRunId, "RUNNING", "Running", t0 + 1_000_000);
    const completed = taskRunEvent(taskRunId, "COMPLETED", "Completed", t0 + 2_000_000);
    try {
      // the latest state first, on B; then the earlier ones, split over both
      b.bus.publish([completed]);
      a.bus.publish([running]);
      b.bus.publish([pending]);
      expect(await waitFor(() => named(a.seen, "prefect.task-run").length >= 3 && named(b.seen, "prefect.task-run").length >= 3, 1000)).toBe(true);
      await Promise.all(recorders.map((recorder) => recorder.flush()));
    } finally {
      await Promise.all(recorders.map((recorder) => recorder.stop()));
    }
    expect(writes.map((spy) => spy.mock.calls.length)).toEqual([1, 2]);
    for (const spy of writes) spy.mockRestore();
    const run = await a.store.read((q) => q.taskRuns.get(taskRunId));
    expect(run?.state?.type).toBe("COMPLETED");
    expect(run?.state?.id).toBe(completed.id);
    const history = await b.store.read((q) => q.taskRuns.states(taskRunId));
    expect(history.map((state) => state.id).sort()).toEqual([pending.id, running.id, completed.id].sort());
    expect(formatDateTime(run!.state!.timestamp)).toBe(formatDateTime(completed.occurred));
  });
});
