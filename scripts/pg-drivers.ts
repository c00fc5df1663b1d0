/**
 * `bun scripts/pg-drivers.ts [postgresql://...]`: measures the PostgreSQL drivers that fit Bun
 * under the pinned drizzle-orm (postgres.js, Bun's SQL, and node-postgres when `pg` is
 * installed), on a fresh database it creates and drops: sequential insert and select
 * throughput, both with 8 in flight, and whether a jsonb value round-trips as an object
 * (Bun's SQL under drizzle 0.45 has been seen storing it as a JSON string).
 * Prints one table; it is not part of the tests.
 */
import { SQL } from "bun";
import { eq, sql } from "drizzle-orm";
import { jsonb, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { drizzle as drizzleBunSql } from "drizzle-orm/bun-sql";
import { drizzle as drizzlePostgresJs } from "drizzle-orm/postgres-js";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import postgres from "postgres";

const admin = process.argv[2] ?? "postgresql://postgres@127.0.0.1:5432/test";
const N = Number(process.env.N ?? 3000);
const IN_FLIGHT = 8;

const item = pgTable("item", {
  id: uuid("id").primaryKey(),
  name: text("name").notNull(),
  doc: jsonb("doc").$type<{ n: number; tags: string[] }>().notNull(),
  at: timestamp("at", { withTimezone: true, mode: "string" }).notNull(),
});

type Db = PgDatabase<PgQueryResultHKT, Record<string, never>>;

interface Driver {
  name: string;
  open(url: string): Promise<{ db: Db; close(): Promise<void> }>;
}

const drivers: Driver[] = [
  {
    name: `postgres.js ${(await import("postgres/package.json" as string)).version}`,
    async open(url) {
      const client = postgres(url, { max: IN_FLIGHT, onnotice: () => {} });
      return { db: drizzlePostgresJs({ client }) as unknown as Db, close: () => client.end() };
    },
  },
  {
    name: `Bun SQL (bun ${Bun.version})`,
    async open(url) {
      const client = new SQL({ url, max: IN_FLIGHT });
      return { db: drizzleBunSql({ client }) as unknown as Db, close: () => client.close() };
    },
  },
];
try {
  const pg = await import("pg" as string);
  const { drizzle } = await import("drizzle-orm/node-postgres");
  const version = (await import("pg/package.json" as string)).version as string;
  drivers.push({
    name: `node-postgres ${version}`,
    async open(url) {
      const pool = new pg.default.Pool({ connectionString: url, max: IN_FLIGHT });
      return { db: drizzle({ client: pool }) as unknown as Db, close: () => pool.end() };
    },
  });
} catch {
  console.log("node-postgres: `pg` is not installed (npm install --no-save pg), skipped");
}

async function timed(label: string, count: number, run: (i: number) => Promise<unknown>, inFlight: number): Promise<string> {
  const start = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < count) await run(next++);
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  return `${label} ${Math.round(count / seconds)}/s`;
}

const adminClient = postgres(admin, { max: 1, onnotice: () => {} });
const results: string[][] = [];
for (const driver of drivers) {
  const dbName = `h_pg_drivers_${Math.random().toString(36).slice(2, 8)}`;
  await adminClient.unsafe(`CREATE DATABASE ${dbName}`);
  const url = new URL(admin);
  url.pathname = `/${dbName}`;
  const { db, close } = await driver.open(url.toString());
  try {
    await db.execute(sql`CREATE TABLE item (id uuid PRIMARY KEY, name text NOT NULL, doc jsonb NOT NULL, at timestamptz NOT NULL)`);
    const ids = Array.from({ length: 2 * N }, () => Bun.randomUUIDv7());
    const insert = (i: number) =>
      db.insert(item).values({ id: ids[i]!, name: `item-${i}`, doc: { n: i, tags: ["a", "b"] }, at: "2026-12-03T10:00:00.123456Z" });
    const select = (i: number) => db.select().from(item).where(eq(item.id, ids[i % N]!));
    const row = [
      driver.name,
      await timed("insert", N, insert, 1),
      await timed("select", N, select, 1),
      await timed("insert×8", N, (i) => insert(N + i), IN_FLIGHT),
      await timed("select×8", N, select, IN_FLIGHT),
    ];
    // postgres.js and Bun's SQL answer an array of rows, node-postgres a result with `rows`.
    const answer = (await db.execute(sql`SELECT jsonb_typeof(doc) AS t FROM item LIMIT 1`)) as unknown as { t: string }[] | { rows: { t: string }[] };
    const kind = (Array.isArray(answer) ? answer : answer.rows)[0];
    const [back] = await db.select().from(item).where(eq(item.id, ids[0]!));
    row.push(`jsonb stored as ${kind?.t}, read back as ${typeof back?.doc}`);
    results.push(row);
  } finally {
    await close();
    await adminClient.unsafe(`DROP DATABASE ${dbName}`);
  }
}
await adminClient.end();
console.log(`${N} operations each, sequential and ${IN_FLIGHT} in flight, on ${new URL(admin).host}`);
for (const row of results) console.log(row.join(" | "));
