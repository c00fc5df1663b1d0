/**
 * Command-line parsing, kept apart from src/main.ts so it can be unit-tested
 * without starting a server or touching process state.
 */
import { parseArgs } from "node:util";
import { isPostgresUrl } from "./db/postgres/url";
import { configFromEnv, databasePathFromUrl, postgresSettingsFromEnv, DEFAULT_MAX_BODY_MIB, DEFAULT_SHUTDOWN_GRACE_SECONDS, LOG_LEVELS, type Config, type LogLevel } from "./config";
import pkg from "../package.json" with { type: "json" };

export const VERSION: string = pkg.version;

export const USAGE = `Usage: prefect-lite [options]

A lightweight server for the Prefect 3 orchestration API.

Options:
  --host HOST          address to listen on (env PREFECT_SERVER_API_HOST; default 127.0.0.1)
  --port PORT          port to listen on, 0 for any free port (env PREFECT_SERVER_API_PORT; default 4200)
  --db PATH|URL        SQLite file, :memory:, sqlite:///PATH, or postgresql://user:pass@host:5432/db
                       (env PREFECT_API_DATABASE_CONNECTION_URL; default $PREFECT_HOME/prefect-lite.db)
  --db-pool-size N     PostgreSQL connections kept open
                       (env PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_SIZE; default 5)
  --no-services        do not run background services
  --log-level LEVEL    ${LOG_LEVELS.join(", ")} (default info)
  --no-ui              do not serve the Prefect UI (env PREFECT_SERVER_UI_ENABLED=false)
  --ui-dir DIR         serve the UI bundles in DIR, e.g. an installed prefect's prefect/server
                       (env PREFECT_UI_STATIC_DIRECTORY; default: the bundles built in)
  --shutdown-grace SECONDS
                       on SIGINT/SIGTERM, how long requests already received may take;
                       later ones get 503 (default ${DEFAULT_SHUTDOWN_GRACE_SECONDS})
  --max-body-mib MIB   larger request bodies get 413 (default ${DEFAULT_MAX_BODY_MIB})
  -h, --help           show this help
  --version            show the version`;

export type CliCommand = { kind: "serve"; config: Config } | { kind: "help" } | { kind: "version" };

/** A usage mistake: main.ts prints it, points at --help and exits 2. */
export class CliError extends Error {}

type Env = Record<string, string | undefined>;

/** Turns argv (without the executable and script) and the environment into what to do. Flags win over env. */
export function parseCli(argv: string[], env: Env): CliCommand {
  const { values } = asUsageError(() =>
    parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        host: { type: "string" },
        port: { type: "string" },
        db: { type: "string" },
        "db-pool-size": { type: "string" },
        "no-services": { type: "boolean" },
        "log-level": { type: "string" },
        "no-ui": { type: "boolean" },
        "ui-dir": { type: "string" },
        "shutdown-grace": { type: "string" },
        "max-body-mib": { type: "string" },
        help: { type: "boolean", short: "h" },
        version: { type: "boolean" },
      },
    }),
  );
  if (values.help) return { kind: "help" };
  if (values.version) return { kind: "version" };

  // --db replaces the environment's URL, so an unsupported one there must not stop it.
  const envForConfig =
    values.db === undefined
      ? env
      : { ...env, PREFECT_API_DATABASE_CONNECTION_URL: undefined, PREFECT_SERVER_DATABASE_CONNECTION_URL: undefined };
  const config = asUsageError(() => configFromEnv(envForConfig));

  if (values.host !== undefined) config.host = nonEmpty(values.host, "--host");
  if (values.port !== undefined) config.port = parsePort(values.port, "--port");
  else if (env.PREFECT_SERVER_API_PORT !== undefined) config.port = parsePort(env.PREFECT_SERVER_API_PORT, "PREFECT_SERVER_API_PORT");
  if (values.db !== undefined) {
    const url = nonEmpty(values.db, "--db");
    if (isPostgresUrl(url)) config.postgres = postgresSettingsFromEnv(url, env);
    else config.databasePath = asUsageError(() => databasePathFromUrl(url));
  }
  if (values["db-pool-size"] !== undefined) {
    if (!config.postgres) throw new CliError("--db-pool-size applies to a PostgreSQL database (--db postgresql://...)");
    config.postgres.poolSize = parsePoolSize(values["db-pool-size"]);
  }
  if (values["no-services"]) config.servicesEnabled = false;
  if (values["log-level"] !== undefined) config.logLevel = parseLogLevel(values["log-level"]);
  if (values["no-ui"]) config.ui.enabled = false;
  if (values["ui-dir"] !== undefined) config.ui.staticDirectory = nonEmpty(values["ui-dir"], "--ui-dir");
  if (values["shutdown-grace"] !== undefined) config.shutdownGraceSeconds = parseSeconds(values["shutdown-grace"], "--shutdown-grace");
  if (values["max-body-mib"] !== undefined) config.maxRequestBodyBytes = parseMib(values["max-body-mib"], "--max-body-mib");
  return { kind: "serve", config };
}

/** parseArgs and the config helpers throw plain Errors for bad input; they are usage mistakes here. */
function asUsageError<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new CliError(error instanceof Error ? error.message : String(error));
  }
}

function nonEmpty(text: string, flag: string): string {
  if (text === "") throw new CliError(`${flag} must not be empty`);
  return text;
}

function parsePort(text: string, source: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port > 65535) throw new CliError(`${source} must be a port number from 0 to 65535, got '${text}'`);
  return port;
}

function parsePoolSize(text: string): number {
  const size = Number(text);
  if (!/^\d+$/.test(text) || size < 1) throw new CliError(`--db-pool-size must be a whole number of connections, at least 1, got '${text}'`);
  return size;
}

function parseSeconds(text: string, flag: string): number {
  const seconds = Number(text);
  if (text.trim() === "" || !Number.isFinite(seconds) || seconds < 0) throw new CliError(`${flag} must be a number of seconds, got '${text}'`);
  return seconds;
}

function parseMib(text: string, flag: string): number {
  const mib = Number(text);
  if (text.trim() === "" || !Number.isFinite(mib) || mib <= 0) throw new CliError(`${flag} must be a positive number of MiB, got '${text}'`);
  return Math.round(mib * 1024 * 1024);
}

function parseLogLevel(text: string): LogLevel {
  // Prefect's settings spell levels in upper case (PREFECT_LOGGING_LEVEL=WARNING); accept both.
  const level = text.toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new CliError(`--log-level must be one of ${LOG_LEVELS.join(", ")}, got '${text}'`);
  }
  return level as LogLevel;
}
