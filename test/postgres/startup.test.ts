/** Selecting PostgreSQL from the command line: one clear line and exit 1, never a half-working server. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import postgres from "postgres";
import { migrations } from "../../src/db/postgres/migrations.generated";
import { createTestDatabase, type TestDatabase } from "../support/postgres";

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

test("a reachable database is migrated, then the server refuses to start: the backend is not complete yet", async () => {
  const { stdout, stderr, code } = await run([], { PREFECT_API_DATABASE_CONNECTION_URL: database.url.replace("postgresql://", "postgresql+asyncpg://") });
  expect(code).toBe(1);
  expect(stdout).toBe("");
  expect(stderr.trim().split("\n")).toHaveLength(1);
  expect(stderr).toStartWith("prefect-lite: cannot start: the PostgreSQL backend is not complete yet");
  const client = postgres(database.url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await client<{ n: number }[]>`SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations`;
    expect(row!.n).toBe(migrations.length);
  } finally {
    await client.end();
  }
});
