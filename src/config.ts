import { homedir } from "node:os";
import { join } from "node:path";

/** Every setting of the server, with the Prefect environment variable it falls back to. */
export interface Config {
  host: string;
  port: number;
  /** SQLite file path or ":memory:". */
  databasePath: string;
  servicesEnabled: boolean;
  logLevel: LogLevel;
  /** Default and maximum `limit` of list endpoints (PREFECT_SERVER_API_DEFAULT_LIMIT). */
  defaultLimit: number;
  /** Max serialised flow-run parameters in bytes; 0 = unlimited (PREFECT_SERVER_API_MAX_PARAMETER_SIZE). */
  maxParameterSize: number;
}

export const LOG_LEVELS = ["debug", "info", "warning", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Prefect package version reported by /admin/version: the client requires major 3. */
export const PREFECT_VERSION = "3.9.1";
/** Prefect's SERVER_API_VERSION, reported by /version. */
export const API_VERSION = "0.8.4";

type Env = Record<string, string | undefined>;

export function prefectHome(env: Env = process.env): string {
  const home = env.PREFECT_HOME;
  if (!home) return join(homedir(), ".prefect");
  return home.startsWith("~") ? join(homedir(), home.slice(1)) : home;
}

/**
 * Accepts a bare path, ":memory:", or Prefect's `sqlite+aiosqlite:///path` URL.
 * Prefect's own `prefect.db` is never used: prefect-lite has its own schema.
 */
export function databasePathFromUrl(url: string): string {
  if (url === ":memory:") return url;
  const m = /^sqlite(?:\+\w+)?:\/\/\/(.*)$/.exec(url);
  if (!m) {
    if (/^[a-z+]+:\/\//i.test(url)) throw new Error(`unsupported database URL: ${url} (only SQLite is supported)`);
    return url;
  }
  const path = m[1]!.split("?")[0]!;
  return path === ":memory:" || path === "" ? ":memory:" : path;
}

export function configFromEnv(env: Env = process.env): Config {
  const dbUrl = env.PREFECT_SERVER_DATABASE_CONNECTION_URL ?? env.PREFECT_API_DATABASE_CONNECTION_URL;
  return {
    host: env.PREFECT_SERVER_API_HOST ?? "127.0.0.1",
    port: Number(env.PREFECT_SERVER_API_PORT ?? 4200),
    databasePath: dbUrl ? databasePathFromUrl(dbUrl) : join(prefectHome(env), "prefect-lite.db"),
    servicesEnabled: true,
    logLevel: "info",
    defaultLimit: Number(env.PREFECT_SERVER_API_DEFAULT_LIMIT ?? env.PREFECT_API_DEFAULT_LIMIT ?? 200),
    maxParameterSize: Number(env.PREFECT_SERVER_API_MAX_PARAMETER_SIZE ?? 524288),
  };
}
