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
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBinary } from "../support/binary";
import { ensureVenv } from "../support/python-env";
import { startServerProcess, type ServerProcess } from "../support/server-process";

const scenariosDir = join(import.meta.dir, "scenarios");
const requirements = join(import.meta.dir, "requirements.txt");
const PREFECT_VERSION = "3.9.1";

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

const INSTALL_HINT = `Unset PREFECT_SDK_PYTHON to let the tests create .venv-sdk, or install test/sdk/requirements.txt (prefect==${PREFECT_VERSION}) into it.`;

/** Set in beforeAll: $PREFECT_SDK_PYTHON or the .venv-sdk interpreter. */
let sdkPython = "";

/** Fails with instructions unless the SDK python exists and has the pinned Prefect. */
async function checkSdkPython(python: string): Promise<void> {
  if (!existsSync(python)) throw new Error(`no SDK python at ${python}.\n${INSTALL_HINT}`);
  const probe = Bun.spawn([python, "-c", "import prefect; print(prefect.__version__)"], {
    stdout: "pipe",
    stderr: "pipe",
    timeout: 60_000,
  });
  const [out, err] = await Promise.all([new Response(probe.stdout).text(), new Response(probe.stderr).text()]);
  if ((await probe.exited) !== 0) throw new Error(`${python} cannot import prefect:\n${err.trim()}\n${INSTALL_HINT}`);
  if (out.trim() !== PREFECT_VERSION) {
    throw new Error(`${python} has prefect ${out.trim()}, the scenarios pin ${PREFECT_VERSION} (${requirements}).\n${INSTALL_HINT}`);
  }
}

/** The caller's environment without PREFECT_* settings (profiles, API keys) that would leak into the scenarios. */
function cleanEnv(): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("PREFECT_")));
}

interface ScenarioResult {
  exitCode: number | null;
  signalled: boolean;
  output: string;
  seconds: number;
}

async function runScenario(
  file: string,
  apiUrl: string,
  timeoutSeconds: number,
  extraEnv: Record<string, string> = {},
): Promise<ScenarioResult> {
  const home = mkdtempSync(join(tmpdir(), "prefect-lite-sdk-home-"));
  const started = performance.now();
  try {
    const child = Bun.spawn([sdkPython, join(scenariosDir, file)], {
      cwd: scenariosDir,
      env: {
        ...cleanEnv(),
        PREFECT_API_URL: apiUrl,
        PREFECT_HOME: home,
        PYTHONUNBUFFERED: "1",
        PYTHONDONTWRITEBYTECODE: "1",
        DO_NOT_TRACK: "1",
        ...extraEnv,
      },
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      // SIGTERM: the scenario exits through its clean-up (stopping any worker or serve() it started).
      timeout: timeoutSeconds * 1000,
      killSignal: "SIGTERM",
    });
    const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
    const exitCode = await child.exited;
    return {
      exitCode,
      signalled: child.signalCode !== null,
      output: `${stdout}${stderr ? `\n--- stderr\n${stderr}` : ""}`,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

/** The reason first, then the end of what the scenario printed. */
function failureReport(file: string, result: ScenarioResult, timeoutSeconds: number): string {
  const lines = result.output.split("\n");
  const reason = [...new Set(lines.filter((l) => l.startsWith("SCENARIO FAILED")))].join("\n");
  const progress = lines.filter((l) => l.startsWith("[+")).join("\n");
  const head = result.signalled
    ? `${file} was stopped after its ${timeoutSeconds}s timeout`
    : `${file} exited ${result.exitCode} after ${result.seconds.toFixed(1)}s`;
  return [
    head,
    reason || "(no SCENARIO FAILED line)",
    ...(progress ? ["--- progress", progress] : []),
    "--- output (tail)",
    lines.slice(-80).join("\n"),
  ].join("\n");
}

let workDir: string | undefined;
let server: ServerProcess | undefined;
const ownServers = new Map<string, ServerProcess>();
let setupError: Error | undefined;
let anyFailed = false;

beforeAll(async () => {
  try {
    sdkPython = process.env.PREFECT_SDK_PYTHON ?? (await ensureVenv(".venv-sdk", requirements));
    await checkSdkPython(sdkPython);
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
          ? await runScenario(file, ownServers.get(file)!.apiUrl, timeoutSeconds, own.scenarioEnv)
          : await runScenario(file, server!.apiUrl, timeoutSeconds);
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
