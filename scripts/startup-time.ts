/**
 * Start-up figures of one or more executables, runs alternated between them so a shared
 * machine's load falls on each alike: the median time from spawn to the first healthy
 * /api/health on a new database (migrations and block registration included) and on that
 * same database again, and the resident memory (VmRSS) once the second start has idled.
 *
 *   bun scripts/startup-time.ts [path/to/prefect-lite ...] [--runs N] [--idle-ms MS]
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { startServerProcess } from "../test/support/server-process";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { runs: { type: "string", default: "11" }, "idle-ms": { type: "string", default: "2000" } },
});
const binaries = (positionals.length ? positionals : [join(import.meta.dir, "../dist/prefect-lite")]).map((p) => resolve(p));
const runs = Number(values.runs);
const idleMs = Number(values["idle-ms"]);
for (const binary of binaries) {
  if (!(await Bun.file(binary).exists())) {
    console.error(`no executable at ${binary}: run npm run build first`);
    process.exit(1);
  }
}

const rssMiB = (pid: number) => Number(readFileSync(`/proc/${pid}/status`, "utf8").match(/^VmRSS:\s+(\d+) kB/m)?.[1] ?? NaN) / 1024;

async function once(binary: string): Promise<{ fresh: number; existing: number; rss: number }> {
  const dir = mkdtempSync(join(tmpdir(), "prefect-lite-startup-"));
  const env = { ...process.env, PREFECT_HOME: dir };
  try {
    const dbPath = join(dir, "startup.db");
    const first = await startServerProcess([binary], { dbPath, env });
    const fresh = first.readyMs;
    if ((await first.stop()).exitCode !== 0) throw new Error(`${binary}: exit code after SIGTERM`);
    const second = await startServerProcess([binary], { dbPath, env });
    const existing = second.readyMs;
    await Bun.sleep(idleMs);
    const rss = rssMiB(second.pid);
    if ((await second.stop()).exitCode !== 0) throw new Error(`${binary}: exit code after SIGTERM`);
    return { fresh, existing, rss };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const samples = binaries.map(() => ({ fresh: [] as number[], existing: [] as number[], rss: [] as number[] }));
for (let i = 0; i < runs; i++) {
  for (const [b, binary] of binaries.entries()) {
    const { fresh, existing, rss } = await once(binary);
    samples[b]!.fresh.push(fresh);
    samples[b]!.existing.push(existing);
    samples[b]!.rss.push(rss);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const range = (xs: number[], digits: number) => `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;
console.log(`${runs} runs each, alternated; idle RSS ${idleMs} ms after the second start`);
for (const [b, binary] of binaries.entries()) {
  const s = samples[b]!;
  console.log(
    `${binary}: fresh database ${median(s.fresh).toFixed(1)} ms (${range(s.fresh, 0)}), ` +
      `existing database ${median(s.existing).toFixed(1)} ms (${range(s.existing, 0)}), ` +
      `idle RSS ${median(s.rss).toFixed(1)} MiB (${range(s.rss, 1)})`,
  );
}
