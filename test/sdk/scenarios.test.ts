/**
 * The real Prefect SDK against the compiled executable: each test/sdk/scenarios/NN_*.py is one
 * bun test (so each shows in the JUnit report). The server is started once, with its background
 * services, on a fresh database; every scenario gets a fresh PREFECT_HOME and checks through the
 * API what the server holds (see test/sdk/scenarios/_common.py).
 *
 * Python: $PREFECT_SDK_PYTHON, else .venv-sdk, created from test/sdk/requirements.txt on first
 * use (a minute or two). If neither yields the pinned Prefect, every scenario fails saying why.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBinary } from "../support/binary";
import { cleanEnv, failureReport, runScenario, scenariosDir, sdkPythonReady } from "../support/sdk-scenarios";
import { startServerProcess, type ServerProcess } from "../support/server-process";

/** NN_name.py files, in order. */
const SCENARIOS = readdirSync(scenariosDir)
  .filter((f) => /^\d\d_\w+\.py$/.test(f))
  .sort();

/** Scenarios that run a worker or `flow.serve()` and wait for their polling loops get longer. */
const TIMEOUT_SECONDS: Record<string, number> = { "05_serve.py": 150, "06_worker.py": 150, "11_cli.py": 120, "13_automations.py": 120, "14_deployment_triggers.py": 150 };
const DEFAULT_TIMEOUT_SECONDS = 90;
/** Scenarios that need a server of their own: the settings it starts with, and what the scenario is given. */
const OWN_SERVER_SCENARIOS: Record<string, { serverEnv: Record<string, string>; scenarioEnv: Record<string, string> }> = {
  "12_auth.py": { serverEnv: { PREFECT_SERVER_API_AUTH_STRING: "sdk-user:sdk-secret" }, scenarioEnv: { PREFECT_API_AUTH_STRING: "sdk-user:sdk-secret" } },
  // a CANCELLING timeout of 3 s, checked every second, instead of 300 s every 20 s
  "17_cancelling_timeout_cleanup.py": {
    serverEnv: { PREFECT_SERVER_SERVICES_CANCELLATION_CLEANUP_CANCELLING_TIMEOUT_SECONDS: "3", PREFECT_SERVER_SERVICES_CANCELLATION_CLEANUP_LOOP_SECONDS: "1" },
    scenarioEnv: {},
  },
};

/** Set in beforeAll: $PREFECT_SDK_PYTHON or the .venv-sdk interpreter. */
let sdkPython = "";

let workDir: string | undefined;
let server: ServerProcess | undefined;
const ownServers = new Map<string, ServerProcess>();
let setupError: Error | undefined;
let anyFailed = false;

beforeAll(async () => {
  try {
    sdkPython = await sdkPythonReady();
    const binary = await ensureBinary();
    workDir = mkdtempSync(join(tmpdir(), "prefect-lite-sdk-"));
    server = await startServerProcess([binary], {
      dbPath: join(workDir, "sdk.db"),
      env: {
        ...cleanEnv(),
        // serve() deployments get their scheduled runs within a second instead of five.
        PREFECT_SERVER_SERVICES_SCHEDULER_RECENT_DEPLOYMENTS_LOOP_SECONDS: "1",
      },
    });
    for (const [file, { serverEnv }] of Object.entries(OWN_SERVER_SCENARIOS)) {
      ownServers.set(file, await startServerProcess([binary], { dbPath: join(workDir, `${file}.db`), env: { ...cleanEnv(), ...serverEnv } }));
    }
  } catch (error) {
    setupError = error instanceof Error ? error : new Error(String(error));
  }
}, 600_000); // creating .venv-sdk on a fresh clone downloads Prefect

afterAll(async () => {
  for (const own of ownServers.values()) await own.stop();
  if (server) {
    const { exitCode, stderr } = await server.stop();
    if (anyFailed && stderr.trim()) console.log(`prefect-lite log (tail):\n${stderr.split("\n").slice(-40).join("\n")}`);
    if (exitCode !== 0) throw new Error(`the server exited with ${exitCode} on SIGTERM, not 0:\n${stderr}`);
  }
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe("sdk", () => {
  test("scenarios are present", () => {
    expect(SCENARIOS.length).toBeGreaterThanOrEqual(11);
  });

  for (const file of SCENARIOS) {
    const timeoutSeconds = TIMEOUT_SECONDS[file] ?? DEFAULT_TIMEOUT_SECONDS;
    test(
      file.replace(/\.py$/, ""),
      async () => {
        if (setupError) throw setupError;
        const own = OWN_SERVER_SCENARIOS[file];
        const result = own
          ? await runScenario(sdkPython, file, ownServers.get(file)!.apiUrl, timeoutSeconds, own.scenarioEnv)
          : await runScenario(sdkPython, file, server!.apiUrl, timeoutSeconds);
        if (result.exitCode !== 0) {
          anyFailed = true;
          throw new Error(failureReport(file, result, timeoutSeconds));
        }
        console.log(`${file} passed in ${result.seconds.toFixed(1)}s`);
      },
      (timeoutSeconds + 20) * 1000,
    );
  }
});
