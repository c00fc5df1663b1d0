/**
 * startServer(): opens the database, builds the app, starts the services and
 * listens. The CLI uses it, and so can any TypeScript test suite.
 */
import { SystemClock, type Clock } from "./clock";
import { configFromEnv, type Config } from "./config";
import type { AppContext } from "./context";
import { SqliteStore, type Store } from "./db/store";
import { createEventBus } from "./events/bus";
import { createApp, type App } from "./app";
import { createLogger, type Logger } from "./logger";
import { createServices } from "./services";
import { mountUi } from "./ui/routes";
import { registerBlockCatalog } from "./blocks/catalog";
import { packedCollectionBlocksSource } from "./ui/sources";
import { RequestGate } from "./shutdown";

export interface ServerOptions extends Partial<Config> {
  clock?: Clock;
  logger?: Logger;
}

export interface RunningServer {
  /** e.g. http://127.0.0.1:4200 */
  url: string;
  /** e.g. http://127.0.0.1:4200/api: the PREFECT_API_URL to use. */
  apiUrl: string;
  /** Where the Prefect UI is served, e.g. http://127.0.0.1:4200; null when it is not. */
  uiUrl: string | null;
  port: number;
  context: AppContext;
  /** Answers the requests already received (within the grace period), stops services and closes the database. */
  stop(): Promise<void>;
}

/**
 * The configured database: SQLite (a file or :memory:), or PostgreSQL, connected and
 * migrated before the server listens. The PostgreSQL driver is loaded only then, so
 * SQLite's start-up does not pay for it.
 */
async function openStore(config: Config): Promise<Store> {
  if (config.postgres) {
    const { PgStore } = await import("./db/postgres/store");
    return PgStore.open(config.postgres);
  }
  return SqliteStore.open(config.databasePath, { busyTimeoutMs: config.databaseTimeoutSeconds * 1000 });
}

/** Defaults suit tests: in-memory database, random port, quiet logs. */
export async function startServer(options: ServerOptions = {}): Promise<RunningServer> {
  const { clock = new SystemClock(), logger: givenLogger, ...overrides } = options;
  const config: Config = {
    ...configFromEnv({}),
    databasePath: ":memory:",
    port: 0,
    logLevel: "warning",
    ...overrides,
  };
  const logger = givenLogger ?? createLogger(config.logLevel);
  if (config.authString !== null) logger.info("API auth is on: every request needs PREFECT_SERVER_API_AUTH_STRING");
  const store = await openStore(config);
  // As Prefect's server does at start: the protected system block types (Secret, Webhook,
  // LocalFileSystem), the registry's and the collections' (54 block types in 3.9.1).
  if (config.registerBlocksOnStart) await registerBlockCatalog(store, await packedCollectionBlocksSource(), clock.now());
  const context: AppContext = { config, store, clock, logger, events: createEventBus(store, clock, logger) };
  // Elysia turns SO_REUSEPORT on by default, which lets a second server on the same
  // port silently share its traffic; a taken port must be an error, as in Prefect.
  const ui = mountUi(context);
  const gate = new RequestGate();
  let app: App;
  try {
    app = createApp(context, gate, ui).listen({
      hostname: config.host,
      port: config.port,
      reusePort: false,
      maxRequestBodySize: config.maxRequestBodyBytes,
    });
  } catch (error) {
    store.close(); // e.g. the port is taken: do not leave the database open behind a failed start
    throw error;
  }
  const services = config.servicesEnabled ? createServices(context) : [];
  for (const service of services) service.start();
  const server = app.server!;
  // An IPv6 literal needs brackets inside a URL.
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  const url = `http://${host}:${server.port}`;
  let stopped = false;
  return {
    url,
    apiUrl: `${url}/api`,
    uiUrl: ui.dashboardPath === null ? null : `${url}${ui.dashboardPath === "/" ? "" : ui.dashboardPath}`,
    port: server.port!,
    context,
    async stop() {
      if (stopped) return;
      stopped = true;
      const answered = await gate.drain(server, config.shutdownGraceSeconds * 1000);
      await Promise.all(services.map((s) => s.stop()));
      context.events.close(); // closes the websockets, which app.stop() would otherwise wait for
      await app.stop(!answered); // past the grace period, the connections still open are closed
      await store.close();
    },
  };
}
