/** The data layer's transactions: commit and rollback, the outbox, isolation of readers, another process's lock. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StoreBusyError, StoreConflictError } from "../../src/db/errors";
import { SqliteStore } from "../../src/db/store";
import type { Event } from "../../src/events/model";
import { startServer, type RunningServer } from "../../src/server";
import { insertPool } from "../../src/work-pools/service";

const T0 = Date.UTC(2025, 0, 1) * 1000;
const flowInput = (name: string) => ({ name, tags: [], labels: {} });

const event = (name: string): Event => ({
  id: crypto.randomUUID(),
  occurred: T0,
  event: name,
  resource: { "prefect.resource.id": "x" },
  related: [],
  payload: {},
  follows: null,
});

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "prefect-lite-uow-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A store on a file, so reads go through the second (read-only) connection as in production. */
function fileStore(name: string, options: { busyTimeoutMs?: number } = {}) {
  const store = SqliteStore.open(join(dir, `${name}.db`), options);
  const published: string[] = [];
  store.publishTo((events) => published.push(...events.map((e) => e.event)));
  return { store, published };
}

describe("store.write", () => {
  test("commits every write of the body and publishes its staged events after COMMIT, in order", async () => {
    const { store, published } = fileStore("commit");
    let publishedInsideBody: string[] = [];
    const created = await store.write(function* (tx) {
      const a = yield* tx.flows.upsertByName(flowInput("a"), T0);
      tx.stage(event("first"));
      const b = yield* tx.flows.upsertByName(flowInput("b"), T0);
      tx.stage(event("second"));
      publishedInsideBody = [...published];
      return [a.row.name, b.row.name];
    });
    expect(created).toEqual(["a", "b"]);
    expect(publishedInsideBody).toEqual([]);
    expect(published).toEqual(["first", "second"]);
    expect(await store.read((q) => q.flows.count({}))).toBe(2);
    store.close();
  });

  test("a throw rolls back every write and drops every staged event, server-emitted ones included", async () => {
    const { store, published } = fileStore("rollback");
    const pool = {
      name: "pool",
      description: null,
      type: "process",
      baseJobTemplate: {},
      isPaused: false,
      concurrencyLimit: null,
      storageConfiguration: {},
    };
    const failed = store.write(function* (tx) {
      yield* tx.flows.upsertByName(flowInput("never"), T0);
      yield* insertPool(tx, pool, T0); // stages prefect.work-pool.created and its queue's event
      tx.stage(event("never"));
      throw new Error("abort");
    });
    await expect(failed).rejects.toThrow("abort");
    expect(published).toEqual([]);
    expect(await store.read((q) => q.flows.getByName("never"))).toBeUndefined();
    expect(await store.read((q) => q.workPools.poolByName("pool"))).toBeUndefined();
    // the connection is usable again, and nothing of the failed body comes back with the next commit
    await store.write((tx) => tx.flows.upsertByName(flowInput("after"), T0));
    expect(await store.read((q) => q.flows.list({}, "NAME_ASC", 10, 0))).toMatchObject([{ name: "after" }]);
    expect(published).toEqual([]);
    store.close();
  });

  test("a unique-constraint violation surfaces as the driver-neutral StoreConflictError", async () => {
    const { store } = fileStore("conflict");
    const variable = { name: "x", value: 1, tags: [] };
    const first = (await store.write((tx) => tx.variables.create(variable, T0)))!;
    const second = (await store.write((tx) => tx.variables.create({ ...variable, name: "y" }, T0)))!;
    await expect(store.write((tx) => tx.variables.update(second.id, { name: first.name }, T0))).rejects.toBeInstanceOf(StoreConflictError);
    store.close();
  });
});

describe("50 concurrent writers and readers", () => {
  test("readers only ever observe committed writes, never one that was later rolled back", async () => {
    const { store } = fileStore("concurrent");
    const observed = new Set<string>();
    const writers = Array.from({ length: 50 }, (_, i) =>
      store
        .write(function* (tx) {
          yield* tx.flows.upsertByName(flowInput(`flow-${i}`), T0);
          if (i % 2 === 1) throw new Error(`writer ${i} rolls back`);
          return i;
        })
        .catch(() => null),
    );
    const readers = Array.from({ length: 50 }, () =>
      store.read((q) => q.flows.list({}, "NAME_ASC", 100, 0)).then((rows) => rows.forEach((r) => observed.add(r.name))),
    );
    const results = await Promise.all([...writers, ...readers]);
    const committed = results.slice(0, 50).filter((r): r is number => typeof r === "number");
    expect(committed).toHaveLength(25);
    const rolledBack = Array.from({ length: 25 }, (_, k) => `flow-${2 * k + 1}`);
    for (const name of rolledBack) expect(observed.has(name)).toBe(false);
    const final = (await store.read((q) => q.flows.list({}, "NAME_ASC", 100, 0))).map((r) => r.name);
    expect(final.sort()).toEqual(committed.map((i) => `flow-${i}`).sort());
    store.close();
  });
});

/** A second process that takes the database's write lock, holds it for `holdMs`, then commits. */
function holdWriteLock(path: string, holdMs: number) {
  const script = `
    const { Database } = require("bun:sqlite");
    const db = new Database(${JSON.stringify(path)});
    db.run("PRAGMA busy_timeout = 5000");
    db.run("BEGIN IMMEDIATE");
    console.log("locked");
    Bun.sleepSync(${holdMs});
    db.run("COMMIT");
    console.log("released");
  `;
  const child = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "inherit" });
  const lines: string[] = [];
  let onLine = () => {};
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      lines.push(...decoder.decode(chunk).split("\n").filter(Boolean));
      onLine();
    }
  })();
  const waitFor = (line: string) =>
    new Promise<void>((resolve) => {
      const check = () => (lines.includes(line) ? resolve() : (onLine = check));
      check();
    });
  return { child, lines, waitFor };
}

describe("another process holding the write lock", () => {
  let server: RunningServer;
  let path: string;
  beforeAll(async () => {
    path = join(dir, "locked.db");
    server = await startServer({ databasePath: path, servicesEnabled: false, registerBlocksOnStart: false });
  });
  afterAll(() => server.stop());

  test("never blocks the event loop: /api/health answers while the lock is held, and a write waits, then succeeds", async () => {
    const lock = holdWriteLock(path, 3000);
    await lock.waitFor("locked");
    const write = fetch(`${server.apiUrl}/flows/`, { method: "POST", body: JSON.stringify({ name: "after-the-lock" }) });
    const health = await fetch(`${server.apiUrl}/health`);
    expect(health.status).toBe(200);
    expect(lock.lines).not.toContain("released"); // answered while the other process still held the lock
    const created = await write;
    expect(lock.lines).toContain("released"); // the write went through only after the other commit
    expect(created.status).toBe(201);
    await lock.child.exited;
  });

  test("a write that cannot get the lock within the timeout gets Prefect's 503 with Retry-After", async () => {
    const impatient = fileStore("impatient", { busyTimeoutMs: 200 });
    const lock = holdWriteLock(join(dir, "impatient.db"), 1500);
    await lock.waitFor("locked");
    const failed = impatient.store.write((tx) => tx.flows.upsertByName(flowInput("late"), T0));
    await expect(failed).rejects.toBeInstanceOf(StoreBusyError);
    expect(lock.lines).not.toContain("released");
    await lock.child.exited;
    impatient.store.close();

    const quick = await startServer({ databasePath: path, servicesEnabled: false, registerBlocksOnStart: false, databaseTimeoutSeconds: 0.2 });
    const held = holdWriteLock(path, 1500);
    await held.waitFor("locked");
    const response = await fetch(`${quick.apiUrl}/flows/`, { method: "POST", body: JSON.stringify({ name: "refused" }) });
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ exception_message: "Service Unavailable" });
    expect(response.headers.get("retry-after")).toBe("1");
    await held.child.exited;
    await quick.stop();
  });
});
