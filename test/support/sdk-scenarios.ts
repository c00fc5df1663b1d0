/**
 * Running the SDK scenarios (test/sdk/scenarios/NN_*.py): the pinned SDK python, a clean
 * environment and a fresh PREFECT_HOME per run, and a failure report that leads with the reason.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureVenv } from "./python-env";

export const scenariosDir = join(import.meta.dir, "../sdk/scenarios");
const requirements = join(import.meta.dir, "../sdk/requirements.txt");
export const PREFECT_VERSION = "3.9.1";

const INSTALL_HINT = `Unset PREFECT_SDK_PYTHON to let the tests create .venv-sdk, or install test/sdk/requirements.txt (prefect==${PREFECT_VERSION}) into it.`;

/** $PREFECT_SDK_PYTHON, else .venv-sdk (created from test/sdk/requirements.txt on first use), checked. */
export async function sdkPythonReady(): Promise<string> {
  const python = process.env.PREFECT_SDK_PYTHON ?? (await ensureVenv(".venv-sdk", requirements));
  await checkSdkPython(python);
  return python;
}

/** Fails with instructions unless the SDK python exists and has the pinned Prefect. */
export async function checkSdkPython(python: string): Promise<void> {
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
export function cleanEnv(): Record<string, string | undefined> {
  return Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("PREFECT_")));
}

export interface ScenarioResult {
  exitCode: number | null;
  signalled: boolean;
  output: string;
  seconds: number;
}

export async function runScenario(
  sdkPython: string,
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
export function failureReport(file: string, result: ScenarioResult, timeoutSeconds: number): string {
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
