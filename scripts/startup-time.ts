/**
 * Median time from spawning the executable to its first healthy /api/health,
 * each run on a new database (so migrations are included).
 *
 *   bun scripts/startup-time.ts [path/to/prefect-lite] [runs]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startServerProcess } from "../test/support/server-process";

const binary = resolve(process.argv[2] ?? join(import.meta.dir, "../dist/prefect-lite"));
const runs = Number(process.argv[3] ?? 11);
if (!(await Bun.file(binary).exists())) {
  console.error(`no executable at ${binary}: run npm run build first`);
  process.exit(1);
}

const times: number[] = [];
for (let i = 0; i < runs; i++) {
  const dir = mkdtempSync(join(tmpdir(), "prefect-lite-startup-"));
  try {
    const server = await startServerProcess([binary], { dbPath: join(dir, "startup.db") });
    times.push(server.readyMs);
    const { exitCode } = await server.stop();
    if (exitCode !== 0) throw new Error(`exit code ${exitCode} after SIGTERM`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)]!;
console.log(`startup (spawn to healthy /api/health, fresh database): median ${median.toFixed(1)} ms over ${runs} runs (min ${times[0]!.toFixed(1)}, max ${times.at(-1)!.toFixed(1)})`);
