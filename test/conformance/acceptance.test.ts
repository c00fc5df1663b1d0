/**
 * The shared acceptance suite (../shared/conformance/test-api-sequence) against
 * the compiled executable, as a user would run it: one bun test per required
 * section, so each shows in the JUnit report.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBinary } from "../support/binary";
import { ensureVenv, repoRoot } from "../support/python-env";
import { startServerProcess, type ServerProcess } from "../support/server-process";

const suitePath = join(repoRoot, "../shared/conformance/test-api-sequence");
const requirements = join(import.meta.dir, "requirements.txt");

const REQUIRED = [
  "admin",
  "flow_run (success)",
  "flow_run (failure)",
  "orchestration_rules",
  "task_run",
  "filters",
  "logs",
  "variables",
  "blocks",
  "work_pools",
  "deployments",
  "get_scheduled_flow_runs",
  "scheduler_idempotency",
  "parameter_merging",
] as const;

/** One entry of the suite's --json output. */
interface SectionResult {
  name: string;
  passed: boolean;
  duration_ms: number;
  requests: number;
  error: string | null;
}

const isRequired = (name: string) => (REQUIRED as readonly string[]).includes(name);

async function runSuite(python: string, apiUrl: string): Promise<SectionResult[]> {
  const suite = Bun.spawn([python, suitePath, "--json"], {
    cwd: repoRoot,
    env: { ...process.env, PREFECT_API_URL: apiUrl },
    stdout: "pipe",
    stderr: "pipe",
    timeout: 240_000,
  });
  const [stdout, stderr] = await Promise.all([new Response(suite.stdout).text(), new Response(suite.stderr).text()]);
  await suite.exited; // exits 1 whenever any section fails, so the JSON is the verdict
  try {
    return (JSON.parse(stdout) as { sections: SectionResult[] }).sections;
  } catch {
    throw new Error(`${python} ${suitePath} --json printed no JSON (exit ${suite.exitCode}):\n${stdout}\n${stderr}`);
  }
}

function describeSection(s: SectionResult): string {
  const outcome = s.passed ? "passed" : `FAILED${s.error ? `: ${s.error}` : ""}`;
  return `${s.name.padEnd(24)} ${outcome} (${s.requests} requests, ${s.duration_ms.toFixed(0)} ms)`;
}

let workDir: string;
let server: ServerProcess | undefined;
let sections: SectionResult[] = [];

beforeAll(async () => {
  if (!existsSync(suitePath)) throw new Error(`the shared acceptance suite is missing: expected ${suitePath}`);
  // $PYTHON: an interpreter that already has httpx and rich; otherwise .venv, created on first use.
  const python = process.env.PYTHON ?? (await ensureVenv(".venv", requirements));
  const binary = await ensureBinary();
  workDir = mkdtempSync(join(tmpdir(), "prefect-lite-conformance-"));
  server = await startServerProcess([binary], { dbPath: join(workDir, "conformance.db") });
  sections = await runSuite(python, server.apiUrl);

  const lines = sections.map((s) => {
    const note = isRequired(s.name) ? "" : "  [new section, not asserted]";
    return `  ${describeSection(s)}${note}`;
  });
  console.log(`conformance suite against ${binary}:\n${lines.join("\n")}`);
}, 300_000);

afterAll(async () => {
  if (server) {
    const { exitCode, stderr } = await server.stop();
    // A failed section is easier to read next to what the server logged.
    if (sections.some((s) => isRequired(s.name) && !s.passed) && stderr.trim()) console.log(`server log (tail):\n${stderr.split("\n").slice(-40).join("\n")}`);
    if (exitCode !== 0) throw new Error(`the server exited with ${exitCode} on SIGTERM, not 0:\n${stderr}`);
  }
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe("conformance", () => {
  test.each(REQUIRED)("%s", (name) => {
    const section = sections.find((s) => s.name === name);
    expect(section, `section "${name}" is not in the suite's output`).toBeDefined();
    expect(section!.passed, describeSection(section!)).toBe(true);
  });
});
