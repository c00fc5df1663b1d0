/**
 * startServer(): opens the database, builds the app, starts the services and
 * listens. The CLI uses it, and so can any TypeScript test suite.
 */
import { SystemClock, type Clock } from "./clock";
import { configFromEnv, type Config } from "./config";
import type { AppContext } from "./context";
import { Store } from "./db/store";
import { createApp } from "./app";
import { createLogger, type Logger } from "./logger";

export interface ServerOptions extends Partial<Config> {
  clock?: Clock;
  logger?: Logger;
}

export interface RunningServer {
  /** e.g. http://127.0.0.1:4200 */
  url: string;
  /** e.g. http://127.0.0.1:4200/api: the PREFECT_API_URL to use. */
  apiUrl: string;
  port: number;
  context: AppContext;
  /** Stops services, finishes in-flight requests and closes the database. */
  stop(): Promise<void>;
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
  const store = Store.open(config.databasePath);
  const context: AppContext = { config, store, clock, logger };
  const app = createApp(context).listen({ hostname: config.host, port: config.port });
  const server = app.server!;
  const url = `http://${config.host}:${server.port}`;
  let stopped = false;
  return {
    url,
    apiUrl: `${url}/api`,
    port: server.port!,
    context,
    async stop() {
      if (stopped) return;
      stopped = true;
      await app.stop();
      store.close();
    },
  };
}
