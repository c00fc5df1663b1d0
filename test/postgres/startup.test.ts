/** Selecting PostgreSQL: Prefect's connection URL setting serves from it; an unreachable database is one clear line and exit 1. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import postgres from "postgres";
import { migrations } from "../../src/db/postgres/migrations.generated";
import { createTestDatabase, type TestDatabase } from "../support/postgres";
import { freePort } from "../support/server-process";

const main = join(import.meta.dir, "../../src/main.ts");

async function run(args: string[], env: Record<string, string> = {}) {
  const child = Bun.spawn([process.execPath, main, "--port", "0", "--no-ui", ...args], {
    env: { ...process.env, PREFECT_HOME: "/nonexistent-prefect-home", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { stdout, stderr, code };
}

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(() => database.drop());

test("an unreachable database: exit 1 with one line naming host, port and the reason, no stack trace", async () => {
  const { stdout, stderr, code } = await run(["--db", "postgresql://postgres@127.0.0.1:1/test"]);
  expect(code).toBe(1);
  expect(stdout).toBe("");
  expect(stderr).toBe("prefect-lite: cannot start: cannot connect to PostgreSQL at 127.0.0.1:1: connection refused\n");
});

test("Prefect's PREFECT_API_DATABASE_CONNECTION_URL (postgresql+asyncpg://) selects PostgreSQL: migrated, then served", async () => {
  const port = freePort();
  const child = Bun.spawn([process.execPath, main, "--port", String(port), "--no-ui"], {
    env: { ...process.env, PREFECT_HOME: "/nonexistent-prefect-home", PREFECT_API_DATABASE_CONNECTION_URL: database.url.replace("postgresql://", "postgresql+asyncpg://") },
    stdout: "pipe",
    stderr: "pipe",
  });
  const stdout = new Response(child.stdout).text();
  try {
    const api = `http://127.0.0.1:${port}/api`;
    for (let i = 0; i < 200 && !(await fetch(`${api}/health`).then((r) => r.ok, () => false)); i++) await Bun.sleep(25);
    const created = await fetch(`${api}/flows/`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "on-postgres" }) });
    expect(created.status).toBe(201);
    const client = postgres(database.url, { max: 1, onnotice: () => {} });
    try {
      const [migrated] = await client<{ n: number }[]>`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`;
      expect(migrated!.n).toBe(migrations.length);
      const [flow] = await client<{ name: string }[]>`SELECT name FROM flow`;
      expect(flow!.name).toBe("on-postgres");
    } finally {
      await client.end();
    }
  } finally {
    child.kill("SIGTERM");
    expect(await child.exited).toBe(0);
  }
  // the banner names the database, never a password
  expect(await stdout).toContain(`database: ${database.url}`);
});
