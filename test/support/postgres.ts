/**
 * A fresh PostgreSQL database per test file, dropped afterwards. The server is
 * $PREFECT_LITE_TEST_POSTGRES_URL, else 127.0.0.1:5432 (trust auth), as on CI.
 */
import postgres from "postgres";
import type { PostgresSettings } from "../../src/db/postgres/client";

export const POSTGRES_ADMIN_URL = process.env.PREFECT_LITE_TEST_POSTGRES_URL ?? "postgresql://postgres@127.0.0.1:5432/test";

export interface TestDatabase {
  name: string;
  url: string;
  settings(overrides?: Partial<PostgresSettings>): PostgresSettings;
  drop(): Promise<void>;
}

export function urlOf(database: string, base = POSTGRES_ADMIN_URL): string {
  const url = new URL(base);
  url.pathname = `/${database}`;
  return url.toString();
}

export function testSettings(url: string, overrides: Partial<PostgresSettings> = {}): PostgresSettings {
  return { url, poolSize: 5, maxOverflow: 10, poolRecycleSeconds: 3600, connectTimeoutSeconds: 5, statementTimeoutSeconds: 10, ...overrides };
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `h_pg_${Bun.randomUUIDv7().replaceAll("-", "").slice(-12)}`;
  const admin = postgres(POSTGRES_ADMIN_URL, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } catch (error) {
    throw new Error(`the PostgreSQL tests need a server at ${new URL(POSTGRES_ADMIN_URL).host}: ${(error as Error).message}`);
  } finally {
    await admin.end();
  }
  const url = urlOf(name);
  return {
    name,
    url,
    settings: (overrides) => testSettings(url, overrides),
    async drop() {
      const admin = postgres(POSTGRES_ADMIN_URL, { max: 1, onnotice: () => {} });
      try {
        await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await admin.end();
      }
    },
  };
}
