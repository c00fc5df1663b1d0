/**
 * Start-up figures of one or more executables, runs alternated between them so a shared
 * machine's load falls on each alike: the median time from spawn to the first healthy
 * /api/health on a new database (migrations and block registration included) and on that
 * same database again, and the resident memory (VmRSS) after each has idled.
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

/** One start on a new database and one on that database again, each idled and measured. */
async function once(binary: string): Promise<Sample> {
  const dir = mkdtempSync(join(tmpdir(), "prefect-lite-startup-"));
  const env = { ...process.env, PREFECT_HOME: dir };
  try {
    const dbPath = join(dir, "startup.db");
    const start = async () => {
      const server = await startServerProcess([binary], { dbPath, env });
      await Bun.sleep(idleMs);
      const rss = rssMiB(server.pid);
      if ((await server.stop()).exitCode !== 0) throw new Error(`${binary}: exit code after SIGTERM`);
      return { ms: server.readyMs, rss };
    };
    const fresh = await start();
    const existing = await start();
    return { fresh: fresh.ms, existing: existing.ms, freshRss: fresh.rss, existingRss: existing.rss };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

type Sample = { fresh: number; existing: number; freshRss: number; existingRss: number };
const samples = binaries.map((): { [K in keyof Sample]: number[] } => ({ fresh: [], existing: [], freshRss: [], existingRss: [] }));
for (let i = 0; i < runs; i++) {
  for (const [b, binary] of binaries.entries()) {
    const sample = await once(binary);
    for (const key of Object.keys(sample) as (keyof Sample)[]) samples[b]![key].push(sample[key]);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const range = (xs: number[], digits: number) => `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;
console.log(`${runs} runs each, alternated; RSS (VmRSS) ${idleMs} ms after each start; medians (min–max)`);
for (const [b, binary] of binaries.entries()) {
  const s = samples[b]!;
  console.log(
    `${binary}:\n  new database:      ${median(s.fresh).toFixed(1)} ms (${range(s.fresh, 0)}), idle RSS ${median(s.freshRss).toFixed(1)} MiB (${range(s.freshRss, 1)})` +
      `\n  existing database: ${median(s.existing).toFixed(1)} ms (${range(s.existing, 0)}), idle RSS ${median(s.existingRss).toFixed(1)} MiB (${range(s.existingRss, 1)})`,
  );
}
