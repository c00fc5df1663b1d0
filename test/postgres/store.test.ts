/** The PostgreSQL store itself: migrating at start, an unreachable database, an outage while running, deadlocks. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { PgTable } from "drizzle-orm/pg-core";
import type { Socket, TCPSocketListener } from "bun";
import { StoreUnavailableError } from "../../src/db/errors";
import { migratePostgres, PostgresConnectError } from "../../src/db/postgres/client";
import { tagsCond } from "../../src/db/postgres/filters";
import { migrations } from "../../src/db/postgres/migrations.generated";
import * as schema from "../../src/db/postgres/schema";
import { variable } from "../../src/db/postgres/schema";
import { PgStore } from "../../src/db/postgres/store";
import postgres, { type Sql } from "postgres";
import { createTestDatabase, POSTGRES_ADMIN_URL, testSettings, urlOf, type TestDatabase } from "../support/postgres";

const T0 = Date.UTC(2026, 11, 3) * 1000 + 1;

describe("migrations", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(() => database.drop());

  test("two processes migrating a fresh database at once: one applies every migration, the other none", async () => {
    const applied = await Promise.all([migratePostgres(database.settings()), migratePostgres(database.settings())]);
    expect(applied.sort()).toEqual([0, migrations.length]);
    const store = await PgStore.open(database.settings());
    try {
      const rows = await store.db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`);
      expect(rows[0]!.n).toBe(migrations.length);
      const tables = await store.db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'`);
      expect(tables[0]!.n).toBe(Object.values(schema).filter((v) => v instanceof PgTable).length);
    } finally {
      await store.close();
    }
    expect(await migratePostgres(database.settings())).toBe(0);
  });
});

describe("an unreachable database at start", () => {
  test("refused: one line with host, port and the driver's reason", async () => {
    const error = await PgStore.open(testSettings("postgresql://postgres@127.0.0.1:1/test", { connectTimeoutSeconds: 2 })).catch((e) => e);
    expect(error).toBeInstanceOf(PostgresConnectError);
    expect(error.message).toBe("cannot connect to PostgreSQL at 127.0.0.1:1: connection refused");
  });

  test("a database that does not exist: PostgreSQL's own reason", async () => {
    const error = await PgStore.open(testSettings(urlOf("h_pg_does_not_exist"))).catch((e) => e);
    expect(error).toBeInstanceOf(PostgresConnectError);
    expect(error.message).toBe(`cannot connect to PostgreSQL at ${new URL(POSTGRES_ADMIN_URL).host}: database "h_pg_does_not_exist" does not exist`);
  });
});

/** A TCP relay to the real server that the test can cut and restore: the database "going away". */
function relay(port: number, target: { hostname: string; port: number }) {
  const pairs = new Set<Socket<{ peer?: Socket<unknown> }>>();
  let listener: TCPSocketListener<{ peer?: Socket<unknown>; buffered: Uint8Array[] }> | null = null;
  return {
    start() {
      listener = Bun.listen<{ peer?: Socket<unknown>; buffered: Uint8Array[] }>({
        hostname: "127.0.0.1",
        port,
        socket: {
          open(client) {
            client.data = { buffered: [] };
            pairs.add(client as never);
            void Bun.connect({
              ...target,
              socket: {
                open(server) {
                  client.data.peer = server;
                  for (const chunk of client.data.buffered) server.write(chunk);
                },
                data: (_server, chunk) => void client.write(chunk),
                close: () => void client.end(),
                error: () => void client.end(),
              },
            }).catch(() => client.end());
          },
          data(client, chunk) {
            if (client.data.peer) client.data.peer.write(chunk);
            else client.data.buffered.push(new Uint8Array(chunk));
          },
          close(client) {
            client.data.peer?.end();
            pairs.delete(client as never);
          },
        },
      });
      return listener.port;
    },
    cut() {
      listener?.stop(true);
      listener = null;
      for (const client of pairs) {
        client.data.peer?.terminate();
        client.terminate();
      }
      pairs.clear();
    },
  };
}

describe("the database going away while running", () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  });
  afterAll(() => database.drop());

  test("requests get StoreUnavailableError (503), isReachable is false, and both recover when it is back", async () => {
    const admin = new URL(POSTGRES_ADMIN_URL);
    const probe = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const port = probe.port;
    probe.stop(true);
    const proxy = relay(port, { hostname: admin.hostname, port: Number(admin.port || 5432) });
    proxy.start();
    const url = new URL(database.url);
    url.host = `127.0.0.1:${port}`;
    const store = await PgStore.open(testSettings(url.toString(), { connectTimeoutSeconds: 1 }));
    try {
      await store.write((tx) => tx.variables.create({ name: "before", value: 1, tags: [] }, T0));
      expect(await store.isReachable()).toBe(true);

      proxy.cut();
      const read = await store.read((q) => q.variables.getByName("before")).catch((e) => e);
      expect(read).toBeInstanceOf(StoreUnavailableError);
      const write = await store.write((tx) => tx.variables.create({ name: "during", value: 1, tags: [] }, T0)).catch((e) => e);
      expect(write).toBeInstanceOf(StoreUnavailableError);
      expect(await store.isReachable()).toBe(false);

      proxy.start();
      expect(await store.isReachable()).toBe(true);
      expect((await store.read((q) => q.variables.getByName("before")))?.value).toBe(1);
      await store.write((tx) => tx.variables.create({ name: "after", value: 2, tags: [] }, T0));
      expect(await store.read((q) => q.variables.count(null))).toBe(2);
    } finally {
      // postgres.js's end() waits out its 5 s grace for the relayed sockets to close
      await store.close();
      proxy.cut();
    }
  }, 20_000);

  test("connections the server terminates are replaced without a restart", async () => {
    const store = await PgStore.open(database.settings());
    try {
      await store.read((q) => q.variables.count(null));
      await store.db.execute(
        sql`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
      );
      const outcomes = await Promise.all(
        Array.from({ length: 4 }, () => store.read((q) => q.variables.count(null)).then(() => "ok", (e) => (e instanceof StoreUnavailableError ? "503" : String(e)))),
      );
      expect(outcomes.every((o) => o === "ok" || o === "503")).toBe(true);
      expect(await store.read((q) => q.variables.count(null))).toBeGreaterThanOrEqual(0);
      expect(await store.isReachable()).toBe(true);
    } finally {
      await store.close();
    }
  });
});

/** Sessions of this database waiting for a lock. */
async function waitingOnLocks(sql: Sql): Promise<number> {
  const [row] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`;
  return row!.n;
}

describe("concurrent writes", () => {
  let database: TestDatabase;
  let store: PgStore;
  beforeAll(async () => {
    database = await createTestDatabase();
    store = await PgStore.open(database.settings());
  });
  afterAll(async () => {
    await store.close();
    await database.drop();
  });

  test("a write PostgreSQL picks as a deadlock victim is run again, and commits", async () => {
    const a = (await store.write((tx) => tx.variables.create({ name: "a", value: 0, tags: [] }, T0)))!;
    const b = (await store.write((tx) => tx.variables.create({ name: "b", value: 0, tags: [] }, T0)))!;
    // Another client holds b and will then ask for a; it waits long before checking for deadlocks, so the store's write is the victim.
    const other = postgres(database.url, { max: 1, onnotice: () => {} });
    const conn = await other.reserve();
    try {
      await conn`SET deadlock_timeout = '10s'`;
      await conn`BEGIN`;
      await conn`UPDATE variable SET value = '9'::jsonb WHERE id = ${b.id}`;
      let bodies = 0;
      const write = store.write(function* (tx) {
        bodies++;
        yield* tx.variables.update(a.id, { value: 1 }, T0);
        yield* tx.variables.update(b.id, { value: 1 }, T0);
      });
      for (let i = 0; i < 200 && (await waitingOnLocks(conn)) === 0; i++) await Bun.sleep(10);
      await conn`UPDATE variable SET value = '9'::jsonb WHERE id = ${a.id}`;
      await conn`COMMIT`;
      await write;
      expect(bodies).toBe(2);
      expect((await store.read((q) => q.variables.get(a.id)))!.value).toBe(1);
      expect((await store.read((q) => q.variables.get(b.id)))!.value).toBe(1);
    } finally {
      conn.release();
      await other.end();
    }
  });

  test("tag filters on jsonb: any_ matches a run holding at least one of the tags", async () => {
    await store.write((tx) => tx.variables.create({ name: "tagged", value: 0, tags: ["x", "y"] }, T0));
    const match = async (any_: string[]) =>
      (await store.db.select({ name: variable.name }).from(variable).where(tagsCond(variable.tags, { any_ }))).map((r) => r.name);
    expect(await match(["y", "z"])).toEqual(["tagged"]);
    expect(await match(["z"])).toEqual([]);
    expect(await match([])).toEqual([]);
  });
});
