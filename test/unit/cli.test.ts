import { describe, expect, test } from "bun:test";
import { CliError, parseCli, type CliCommand } from "../../src/cli";
import type { Config } from "../../src/config";

const HOME = { PREFECT_HOME: "/srv/prefect" };

function serve(argv: string[], env: Record<string, string | undefined> = HOME): Config {
  const command: CliCommand = parseCli(argv, env);
  if (command.kind !== "serve") throw new Error(`expected serve, got ${command.kind}`);
  return command.config;
}

describe("parseCli", () => {
  test("defaults: loopback, port 4200, prefect-lite.db under PREFECT_HOME, services on, info logs", () => {
    expect(serve([])).toMatchObject({
      host: "127.0.0.1",
      port: 4200,
      databasePath: "/srv/prefect/prefect-lite.db",
      servicesEnabled: true,
      logLevel: "info",
    });
  });

  test("flags set every option", () => {
    const config = serve(["--host", "0.0.0.0", "--port", "0", "--db", ":memory:", "--no-services", "--log-level", "debug"]);
    expect(config).toMatchObject({ host: "0.0.0.0", port: 0, databasePath: ":memory:", servicesEnabled: false, logLevel: "debug" });
    expect(serve(["--port=8080", "--db=/tmp/x.db"])).toMatchObject({ port: 8080, databasePath: "/tmp/x.db" });
  });

  test("Prefect's environment variables are the fallback, SQLAlchemy URLs included", () => {
    const env = {
      ...HOME,
      PREFECT_SERVER_API_HOST: "::",
      PREFECT_SERVER_API_PORT: "4300",
      PREFECT_API_DATABASE_CONNECTION_URL: "sqlite+aiosqlite:////var/lib/prefect/lite.db",
    };
    expect(serve([], env)).toMatchObject({ host: "::", port: 4300, databasePath: "/var/lib/prefect/lite.db" });
    expect(serve([], { ...HOME, PREFECT_SERVER_DATABASE_CONNECTION_URL: "sqlite:///:memory:" }).databasePath).toBe(":memory:");
  });

  test("flags win over the environment", () => {
    const env = { ...HOME, PREFECT_SERVER_API_HOST: "0.0.0.0", PREFECT_SERVER_API_PORT: "4300", PREFECT_API_DATABASE_CONNECTION_URL: "/env.db" };
    expect(serve(["--host", "127.0.0.2", "--port", "4400", "--db", "/flag.db"], env)).toMatchObject({
      host: "127.0.0.2",
      port: 4400,
      databasePath: "/flag.db",
    });
  });

  test("--db replaces an unsupported database URL from the environment", () => {
    const env = { ...HOME, PREFECT_API_DATABASE_CONNECTION_URL: "mysql://db/prefect" };
    expect(serve(["--db", "/flag.db"], env).databasePath).toBe("/flag.db");
    expect(() => parseCli([], env)).toThrow(CliError);
  });

  test("PostgreSQL: Prefect's postgresql+asyncpg URL or --db postgresql://, pool and timeouts from Prefect's settings", () => {
    const env = { ...HOME, PREFECT_API_DATABASE_CONNECTION_URL: "postgresql+asyncpg://u:p@db:5433/prefect" };
    expect(serve([], env).postgres).toEqual({
      url: "postgresql://u:p@db:5433/prefect",
      poolSize: 5,
      maxOverflow: 10,
      poolRecycleSeconds: 3600,
      connectTimeoutSeconds: 5,
      statementTimeoutSeconds: 10,
    });
    const tuned = {
      ...HOME,
      PREFECT_SERVER_DATABASE_CONNECTION_URL: "postgresql://db/x",
      PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_SIZE: "20",
      PREFECT_SERVER_DATABASE_SQLALCHEMY_MAX_OVERFLOW: "-1",
      PREFECT_SERVER_DATABASE_SQLALCHEMY_POOL_RECYCLE: "-1",
      PREFECT_SERVER_DATABASE_CONNECTION_TIMEOUT: "2.5",
      PREFECT_SERVER_DATABASE_TIMEOUT: "30",
    };
    expect(serve([], tuned).postgres).toMatchObject({ poolSize: 20, maxOverflow: -1, poolRecycleSeconds: -1, connectTimeoutSeconds: 2.5, statementTimeoutSeconds: 30 });
    expect(serve(["--db", "postgres://h/db", "--db-pool-size", "7"], HOME).postgres).toMatchObject({ url: "postgresql://h/db", poolSize: 7 });
    expect(serve(["--db", "/flag.db"], env).postgres).toBeNull();
    expect(serve([]).postgres).toBeNull();
  });

  test("the default database is never Prefect's own prefect.db", () => {
    expect(serve([], {}).databasePath).toEndWith("/.prefect/prefect-lite.db");
  });

  test("log levels are case-insensitive, as Prefect spells them in upper case", () => {
    expect(serve(["--log-level", "WARNING"]).logLevel).toBe("warning");
  });

  test("--shutdown-grace sets the grace period, 10 s by default", () => {
    expect(serve([]).shutdownGraceSeconds).toBe(10);
    expect(serve(["--shutdown-grace", "2.5"]).shutdownGraceSeconds).toBe(2.5);
  });

  test("--max-body-mib sets the request body maximum, 16 MiB by default", () => {
    expect(serve([]).maxRequestBodyBytes).toBe(16 * 1024 * 1024);
    expect(serve(["--max-body-mib", "0.5"]).maxRequestBodyBytes).toBe(512 * 1024);
  });

  test("--help and --version win over everything else", () => {
    expect(parseCli(["--port", "1", "--help"], HOME)).toEqual({ kind: "help" });
    expect(parseCli(["-h"], HOME)).toEqual({ kind: "help" });
    expect(parseCli(["--version"], HOME)).toEqual({ kind: "version" });
  });

  test.each([
    [["--bogus"], /bogus/],
    [["positional"], /positional/],
    [["--port"], /port/],
    [["--port", "http"], /--port must be a port number/],
    [["--port", "65536"], /--port must be a port number/],
    [["--port", "-1"], /port/],
    [["--port", "1.5"], /--port must be a port number/],
    [["--host", ""], /--host must not be empty/],
    [["--db", ""], /--db must not be empty/],
    [["--db", "mysql://db/x"], /SQLite or PostgreSQL/],
    [["--db-pool-size", "3"], /applies to a PostgreSQL database/],
    [["--db", "postgresql://db/x", "--db-pool-size", "0"], /--db-pool-size must be a whole number/],
    [["--log-level", "verbose"], /--log-level must be one of/],
    [["--no-services=yes"], /no-services/],
    [["--shutdown-grace=-1"], /--shutdown-grace must be a number of seconds/],
    [["--shutdown-grace", "soon"], /--shutdown-grace must be a number of seconds/],
    [["--max-body-mib", "0"], /--max-body-mib must be a positive number of MiB/],
  ])("usage mistake %p is a CliError", (argv, message) => {
    expect(() => parseCli(argv, HOME)).toThrow(CliError);
    expect(() => parseCli(argv, HOME)).toThrow(message);
  });

  test("a malformed PREFECT_SERVER_API_PORT is reported by name", () => {
    expect(() => parseCli([], { ...HOME, PREFECT_SERVER_API_PORT: "42o0" })).toThrow(/PREFECT_SERVER_API_PORT must be a port number.*'42o0'/);
  });
});
