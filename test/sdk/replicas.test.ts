/**
 * The real Prefect SDK through two replicas: two executables on one PostgreSQL database behind
 * the round-robin TCP proxy (test/support/tcp-proxy.ts), PREFECT_API_URL pointing at the proxy, so
 * a scenario's requests, its runner's or worker's polls and its event websockets land on either
 * replica. Three scenarios: a local flow with tasks and logs (01), a process worker with a
 * cancellation (06) and flow.serve() with a cancellation (18); each checks through the API what
 * the server holds. The cancellations are told to the runner over `/events/out` on whichever
 * replica its socket reached: they cross replicas through the event relay.
 */
import { afterAll, beforeAll, describe, test } from "bun:test";
import { ensureBinary } from "../support/binary";
import { createTestDatabase, type TestDatabase } from "../support/postgres";
import { cleanEnv, failureReport, runScenario, sdkPythonReady } from "../support/sdk-scenarios";
import { startServerProcess, type ServerProcess } from "../support/server-process";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy";

const SCENARIOS: [string, number][] = [
  ["01_local_flow.py", 90],
  ["06_worker.py", 150],
  ["18_serve_cancel.py", 120],
];

let sdkPython = "";
let database: TestDatabase | undefined;
const replicas: ServerProcess[] = [];
let proxy: TcpProxy | undefined;
let setupError: Error | undefined;

beforeAll(async () => {
  try {
    sdkPython = await sdkPythonReady();
    const binary = await ensureBinary();
    database = await createTestDatabase();
    const env = { ...cleanEnv(), PREFECT_SERVER_SERVICES_SCHEDULER_RECENT_DEPLOYMENTS_LOOP_SECONDS: "1" };
    for (let i = 0; i < 2; i++) replicas.push(await startServerProcess([binary, "--no-ui"], { dbPath: database.url, env }));
    proxy = startTcpProxy(replicas.map((r) => Number(new URL(r.apiUrl).port)));
  } catch (error) {
    setupError = error instanceof Error ? error : new Error(String(error));
  }
}, 600_000);

afterAll(async () => {
  proxy?.stop();
  const stopped = await Promise.all(replicas.map((r) => r.stop()));
  await database?.drop();
  for (const { exitCode, stderr } of stopped) if (exitCode !== 0) throw new Error(`a replica exited ${exitCode} on SIGTERM:\n${stderr}`);
});

describe("sdk through two replicas on one PostgreSQL database", () => {
  for (const [file, timeoutSeconds] of SCENARIOS) {
    test(
      file.replace(/\.py$/, ""),
      async () => {
        if (setupError) throw setupError;
        const result = await runScenario(sdkPython, file, `http://127.0.0.1:${proxy!.port}/api`, timeoutSeconds);
        if (result.exitCode !== 0) throw new Error(failureReport(file, result, timeoutSeconds));
        console.log(`${file} passed through two replicas in ${result.seconds.toFixed(1)}s (connections per replica: ${proxy!.connections.join(", ")})`);
      },
      (timeoutSeconds + 20) * 1000,
    );
  }
});
