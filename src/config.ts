import { homedir } from "node:os";
import { join } from "node:path";
import type { PostgresSettings } from "./db/postgres/client";
import { isPostgresUrl, normalisePostgresUrl } from "./db/postgres/url";
import type { Micros } from "./lib/time";
import { parseInterval } from "./schedules/duration";
import { corsConfigFromEnv, uiConfigFromEnv, type CorsConfig, type UiConfig } from "./ui/config";

/** Every setting of the server, with the Prefect environment variable it falls back to. */
export interface Config {
  host: string;
  port: number;
  /** SQLite file path or ":memory:"; unused when `postgres` is set. */
  databasePath: string;
  /** PostgreSQL instead of SQLite: `--db postgresql://...` or a `postgresql+asyncpg://` connection URL. */
  postgres: PostgresSettings | null;
  /** How long a write waits for another process's database lock before answering 503 (PREFECT_SERVER_DATABASE_TIMEOUT). */
  databaseTimeoutSeconds: number;
  servicesEnabled: boolean;
  logLevel: LogLevel;
  /** Default and maximum `limit` of list endpoints (PREFECT_SERVER_API_DEFAULT_LIMIT). */
  defaultLimit: number;
  /** Max serialised flow-run parameters in bytes; 0 = unlimited (PREFECT_SERVER_API_MAX_PARAMETER_SIZE). */
  maxParameterSize: number;
  /** The longest task-run cache key accepted (PREFECT_API_TASK_CACHE_KEY_MAX_LENGTH). */
  taskCacheKeyMaxLength: number;
  /** Register Prefect's system block types at start (PREFECT_SERVER_REGISTER_BLOCKS_ON_START). */
  registerBlocksOnStart: boolean;
  services: ServiceSettings;
  /** How long events are kept (PREFECT_SERVER_EVENTS_RETENTION_PERIOD). */
  eventRetention: Micros;
  /** Serving Prefect's UI (PREFECT_SERVER_UI_*). */
  ui: UiConfig;
  /** PREFECT_SERVER_CORS_ALLOWED_*. */
  cors: CorsConfig;
  /** `user:password` every request must carry as HTTP Basic auth, or null for none (PREFECT_SERVER_API_AUTH_STRING). */
  authString: string | null;
  /** Mutating requests need a CSRF token (PREFECT_SERVER_CSRF_PROTECTION_ENABLED). */
  csrfProtectionEnabled: boolean;
  /** How long an issued CSRF token is valid (PREFECT_SERVER_CSRF_TOKEN_EXPIRATION). */
  csrfTokenExpiration: Micros;
  /** On SIGTERM/SIGINT, how long requests already received may take before the rest get 503. */
  shutdownGraceSeconds: number;
  /** Larger request bodies get 413 before they are read (Prefect's client sends log batches of at most 4 MB). */
  maxRequestBodyBytes: number;
  /** Where automation templates' `ui_url` links point (PREFECT_UI_URL), or null for where the server listens. */
  uiUrl: string | null;
  /** Cleanup delivery over the worker channel (PREFECT_SERVER_WORKER_CHANNEL_*). */
  workerChannel: WorkerChannelSettings;
}

export interface WorkerChannelSettings {
  /** How long a worker holds a reserved cleanup message before it is delivered again. */
  leaseSeconds: number;
  /** Reservations of one message before it moves to the dead letters. */
  maxDeliveryAttempts: number;
}

/** Background service cadences and limits, named after Prefect's PREFECT_SERVER_SERVICES_* settings. */
export interface ServiceSettings {
  schedulerLoopSeconds: number;
  schedulerRecentDeploymentsLoopSeconds: number;
  schedulerDeploymentBatchSize: number;
  schedulerMaxRuns: number;
  schedulerMinRuns: number;
  schedulerMaxScheduledTimeSeconds: number;
  schedulerMinScheduledTimeSeconds: number;
  lateRunsLoopSeconds: number;
  lateRunsAfterSeconds: number;
  foremanLoopSeconds: number;
  foremanInactivityHeartbeatMultiple: number;
  foremanFallbackHeartbeatIntervalSeconds: number;
  foremanDeploymentLastPolledTimeoutSeconds: number;
  foremanWorkQueueLastPolledTimeoutSeconds: number;
  cancellationCleanupLoopSeconds: number;
  cancellingTimeoutSeconds: number;
  pauseExpirationsLoopSeconds: number;
  repossessorLoopSeconds: number;
  eventPersisterBatchSize: number;
  eventPersisterFlushInterval: number;
  taskRunRecorderBatchSize: number;
  taskRunRecorderFlushInterval: number;
  dbVacuumLoopSeconds: number;
  dbVacuumBatchSize: number;
}

/** Each setting: its PREFECT_SERVER_SERVICES_ suffix and Prefect's default. */
const SERVICE_SETTINGS: Record<keyof ServiceSettings, [string, number]> = {
  schedulerLoopSeconds: ["SCHEDULER_LOOP_SECONDS", 60],
  schedulerRecentDeploymentsLoopSeconds: ["SCHEDULER_RECENT_DEPLOYMENTS_LOOP_SECONDS", 5],
  schedulerDeploymentBatchSize: ["SCHEDULER_DEPLOYMENT_BATCH_SIZE", 100],
  schedulerMaxRuns: ["SCHEDULER_MAX_RUNS", 100],
  schedulerMinRuns: ["SCHEDULER_MIN_RUNS", 3],
  schedulerMaxScheduledTimeSeconds: ["SCHEDULER_MAX_SCHEDULED_TIME", 100 * 86400],
  schedulerMinScheduledTimeSeconds: ["SCHEDULER_MIN_SCHEDULED_TIME", 3600],
  lateRunsLoopSeconds: ["LATE_RUNS_LOOP_SECONDS", 5],
  lateRunsAfterSeconds: ["LATE_RUNS_AFTER_SECONDS", 15],
  foremanLoopSeconds: ["FOREMAN_LOOP_SECONDS", 15],
  foremanInactivityHeartbeatMultiple: ["FOREMAN_INACTIVITY_HEARTBEAT_MULTIPLE", 3],
  foremanFallbackHeartbeatIntervalSeconds: ["FOREMAN_FALLBACK_HEARTBEAT_INTERVAL_SECONDS", 30],
  foremanDeploymentLastPolledTimeoutSeconds: ["FOREMAN_DEPLOYMENT_LAST_POLLED_TIMEOUT_SECONDS", 60],
  foremanWorkQueueLastPolledTimeoutSeconds: ["FOREMAN_WORK_QUEUE_LAST_POLLED_TIMEOUT_SECONDS", 60],
  cancellationCleanupLoopSeconds: ["CANCELLATION_CLEANUP_LOOP_SECONDS", 20],
  cancellingTimeoutSeconds: ["CANCELLATION_CLEANUP_CANCELLING_TIMEOUT_SECONDS", 300],
  pauseExpirationsLoopSeconds: ["PAUSE_EXPIRATIONS_LOOP_SECONDS", 5],
  repossessorLoopSeconds: ["REPOSSESSOR_LOOP_SECONDS", 15],
  eventPersisterBatchSize: ["EVENT_PERSISTER_BATCH_SIZE", 20],
  eventPersisterFlushInterval: ["EVENT_PERSISTER_FLUSH_INTERVAL", 5],
  taskRunRecorderBatchSize: ["TASK_RUN_RECORDER_BATCH_SIZE", 1],
  taskRunRecorderFlushInterval: ["TASK_RUN_RECORDER_FLUSH_INTERVAL", 5],
  dbVacuumLoopSeconds: ["DB_VACUUM_LOOP_SECONDS", 3600],
  dbVacuumBatchSize: ["DB_VACUUM_BATCH_SIZE", 200],
};

/** Reads PREFECT_SERVER_SERVICES_* (durations as seconds); unset or invalid values keep Prefect's defaults. */
export function serviceSettingsFromEnv(env: Env): ServiceSettings {
  const entries = Object.entries(SERVICE_SETTINGS).map(([key, [suffix, fallback]]) => {
    const value = Number(env[`PREFECT_SERVER_SERVICES_${suffix}`]);
    return [key, Number.isFinite(value) && value > 0 ? value : fallback];
  });
  return Object.fromEntries(entries) as ServiceSettings;
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
    if (/^[a-z+]+:\/\//i.test(url)) throw new Error(`unsupported database URL: ${url} (SQLite or PostgreSQL)`);
    return url;
  }
  const path = m[1]!.split("?")[0]!;
  return path === ":memory:" || path === "" ? ":memory:" : path;
}

/** A positive number setting; unset or invalid keeps the default. */
function numberFromEnv(text: string | undefined, fallback: number, allowNegative = false): number {
  const value = Number(text);
  return text !== undefined && text.trim() !== "" && Number.isFinite(value) && (allowNegative || value >= 0) ? value : fallback;
}

/** The pool and timeouts for `url`, from Prefect's PREFECT_SERVER_DATABASE_* settings (and their older names). */
export function postgresSettingsFromEnv(url: string, env: Env): PostgresSettings {
  return {
    url: normalisePostgresUrl(url),
    poolSize: Math.max(1, numberFromEnv(env.PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_SIZE ?? env.PREFECT_SQLALCHEMY_POOL_SIZE, 5)),
    maxOverflow: numberFromEnv(env.PREFECT_SERVER_DATABASE_SQLALCHEMY_MAX_OVERFLOW ?? env.PREFECT_SQLALCHEMY_MAX_OVERFLOW, 10, true),
    poolRecycleSeconds: numberFromEnv(env.PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_RECYCLE, 3600, true),
    connectTimeoutSeconds: numberFromEnv(env.PREFECT_SERVER_DATABASE_CONNECTION_TIMEOUT ?? env.PREFECT_API_DATABASE_CONNECTION_TIMEOUT, 5),
    statementTimeoutSeconds: numberFromEnv(env.PREFECT_SERVER_DATABASE_TIMEOUT ?? env.PREFECT_API_DATABASE_TIMEOUT, 10),
  };
}

export function configFromEnv(env: Env = process.env): Config {
  const dbUrl = env.PREFECT_SERVER_DATABASE_CONNECTION_URL ?? env.PREFECT_API_DATABASE_CONNECTION_URL;
  const postgres = dbUrl !== undefined && isPostgresUrl(dbUrl);
  return {
    host: env.PREFECT_SERVER_API_HOST ?? "127.0.0.1",
    port: Number(env.PREFECT_SERVER_API_PORT ?? 4200),
    databasePath: dbUrl && !postgres ? databasePathFromUrl(dbUrl) : join(prefectHome(env), "prefect-lite.db"),
    postgres: postgres ? postgresSettingsFromEnv(dbUrl, env) : null,
    databaseTimeoutSeconds: Number(env.PREFECT_SERVER_DATABASE_TIMEOUT ?? env.PREFECT_API_DATABASE_TIMEOUT ?? 10),
    servicesEnabled: true,
    logLevel: "info",
    defaultLimit: Number(env.PREFECT_SERVER_API_DEFAULT_LIMIT ?? env.PREFECT_API_DEFAULT_LIMIT ?? 200),
    maxParameterSize: Number(env.PREFECT_SERVER_API_MAX_PARAMETER_SIZE ?? 524288),
    taskCacheKeyMaxLength: Number(env.PREFECT_API_TASK_CACHE_KEY_MAX_LENGTH ?? 2000),
    registerBlocksOnStart: !/^(false|0|no|off)$/i.test(env.PREFECT_SERVER_REGISTER_BLOCKS_ON_START ?? "true"),
    services: serviceSettingsFromEnv(env),
    eventRetention: eventRetentionFromEnv(env),
    ui: uiConfigFromEnv(env),
    cors: corsConfigFromEnv(env),
    authString: env.PREFECT_SERVER_API_AUTH_STRING || null,
    csrfProtectionEnabled: /^(true|1|yes|on)$/i.test(
      env.PREFECT_SERVER_CSRF_PROTECTION_ENABLED ?? env.PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED ?? "false",
    ),
    csrfTokenExpiration: durationFromEnv(
      env.PREFECT_SERVER_CSRF_TOKEN_EXPIRATION ?? env.PREFECT_SERVER_API_CSRF_TOKEN_EXPIRATION,
      DEFAULT_CSRF_TOKEN_EXPIRATION,
    ),
    shutdownGraceSeconds: DEFAULT_SHUTDOWN_GRACE_SECONDS,
    maxRequestBodyBytes: DEFAULT_MAX_BODY_MIB * 1024 * 1024,
    uiUrl: env.PREFECT_UI_URL?.replace(/\/+$/, "") || null,
    workerChannel: {
      leaseSeconds: positive(env.PREFECT_SERVER_WORKER_CHANNEL_CLEANUP_LEASE_SECONDS, 30),
      maxDeliveryAttempts: Math.floor(positive(env.PREFECT_SERVER_WORKER_CHANNEL_CLEANUP_MAX_DELIVERY_ATTEMPTS, 3)),
    },
  };
}

/** A positive number from the environment; unset or invalid keeps Prefect's default. */
function positive(text: string | undefined, fallback: number): number {
  const value = Number(text);
  return text !== undefined && Number.isFinite(value) && value > 0 ? value : fallback;
}

const DEFAULT_CSRF_TOKEN_EXPIRATION: Micros = 3600 * 1_000_000;
export const DEFAULT_SHUTDOWN_GRACE_SECONDS = 10;
export const DEFAULT_MAX_BODY_MIB = 16;

const DEFAULT_EVENT_RETENTION: Micros = 7 * 86_400 * 1_000_000;

/** PREFECT_SERVER_EVENTS_RETENTION_PERIOD (or PREFECT_EVENTS_RETENTION_PERIOD) as a timedelta: seconds, `P7D`, `7 days, 0:00:00`. */
export function eventRetentionFromEnv(env: Env): Micros {
  return durationFromEnv(env.PREFECT_SERVER_EVENTS_RETENTION_PERIOD ?? env.PREFECT_EVENTS_RETENTION_PERIOD, DEFAULT_EVENT_RETENTION);
}

/** A positive timedelta setting: seconds, `P7D`, `7 days, 0:00:00`; unset or invalid keeps the default. */
function durationFromEnv(text: string | undefined, fallback: Micros): Micros {
  if (text === undefined) return fallback;
  const seconds = Number(text);
  const parsed = parseInterval(text.trim() !== "" && Number.isFinite(seconds) ? seconds : text);
  return parsed.ok && parsed.micros > 0 ? parsed.micros : fallback;
}
