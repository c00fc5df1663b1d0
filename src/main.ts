#!/usr/bin/env bun
/**
 * The prefect-lite executable: parse the command line, start the server, print
 * where it listens, and shut down cleanly on SIGINT/SIGTERM.
 */
import "./production-mode";
import { CliError, parseCli, USAGE, VERSION, type CliCommand } from "./cli";
import { postgresLabel } from "./db/postgres/url";
import { startServer, type RunningServer } from "./server";

const errorText = (error: unknown) => (error instanceof Error ? error.message : String(error));

function fail(message: string, code: number): never {
  console.error(`prefect-lite: ${message}`);
  process.exit(code);
}

let command: CliCommand;
try {
  command = parseCli(process.argv.slice(2), process.env);
} catch (error) {
  if (!(error instanceof CliError)) throw error;
  fail(`${error.message}\nRun "prefect-lite --help" for usage.`, 2);
}

if (command.kind === "help") {
  console.log(USAGE);
  process.exit(0);
}
if (command.kind === "version") {
  console.log(`prefect-lite ${VERSION}`);
  process.exit(0);
}

const { config } = command;
let server: RunningServer;
try {
  server = await startServer(config);
  // build.ts starts the executable with JavaScriptCore's tier-up thresholds raised, so code that
  // runs once during start-up is not compiled by the JIT; from here on the normal policy applies.
  Bun.unsafe.setJITPolicy(1);
} catch (error) {
  // Typically the port is taken or the database path is not writable.
  fail(`cannot start: ${errorText(error)}`, 1);
}

console.log(
  [
    `prefect-lite ${VERSION} serving the Prefect API at ${server.apiUrl}`,
    `  database: ${config.postgres ? postgresLabel(config.postgres.url) : config.databasePath}${config.servicesEnabled ? "" : " (background services disabled)"}`,
    `export PREFECT_API_URL=${server.apiUrl}`,
    ...(server.uiUrl ? [`Check out the dashboard at ${server.uiUrl}`] : []),
  ].join("\n"),
);

/**
 * Under `npm start` or `bun run start`, Ctrl-C reaches the server twice: from the terminal (to
 * the whole process group) and forwarded by the wrapper, milliseconds apart. Only a signal
 * arriving later than this after the first is the operator refusing to wait.
 */
const REPEAT_SIGNAL_GRACE_MS = 1000;
let stoppingSince: number | undefined;

async function shutdown(signal: NodeJS.Signals): Promise<void> {
  if (stoppingSince !== undefined) {
    if (performance.now() - stoppingSince >= REPEAT_SIGNAL_GRACE_MS) fail(`${signal} again: exiting without waiting`, 1);
    return;
  }
  stoppingSince = performance.now();
  server.context.logger.info(`${signal} received: finishing in-flight requests`);
  try {
    await server.stop();
  } catch (error) {
    fail(`error while stopping: ${errorText(error)}`, 1);
  }
  process.exit(0);
}
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);
// Windows delivers Ctrl-C as SIGINT and Ctrl-Break (how a parent asks a console child to stop) as SIGBREAK.
if (process.platform === "win32") process.on("SIGBREAK", shutdown);
