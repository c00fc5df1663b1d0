/**
 * How much one big log batch stalls everyone else: POSTs batches of N logs to /api/logs/ of
 * an executable while another client polls /api/health every few milliseconds, and prints the
 * health latencies seen during each batch (figures, no thresholds).
 *
 *   bun scripts/log-batch-fairness.ts [path/to/prefect-lite] [--sizes 20000,100000] [--repeats 3]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { startServerProcess } from "../test/support/server-process";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { sizes: { type: "string", default: "20000,100000" }, repeats: { type: "string", default: "3" } },
});
const binary = resolve(positionals[0] ?? join(import.meta.dir, "../dist/prefect-lite"));
const sizes = values.sizes.split(",").map(Number);
const repeats = Number(values.repeats);
const PROBE_EVERY_MS = 2;

const dir = mkdtempSync(join(tmpdir(), "prefect-lite-log-fairness-"));
const server = await startServerProcess([binary, "--max-body-mib", "64"], { dbPath: join(dir, "fairness.db"), env: { ...process.env, PREFECT_HOME: dir } });
const post = (path: string, body: string) => fetch(`${server.apiUrl}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body });

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

try {
  const flowId = ((await (await post("/flows/", JSON.stringify({ name: "fairness" }))).json()) as { id: string }).id;
  const runId = ((await (await post("/flow_runs/", JSON.stringify({ flow_id: flowId }))).json()) as { id: string }).id;
  console.log(`${binary}: /api/health latency while one client POSTs a log batch (probe every ${PROBE_EVERY_MS} ms)`);
  console.log("batch       | body    | batch time | health probes | p50     | p99     | max");
  for (const size of sizes) {
    const body = JSON.stringify(
      Array.from({ length: size }, (_, i) => ({
        name: "prefect.flow_runs",
        level: 20,
        message: `line ${i} of a long batch: ${"x".repeat(120)}`,
        timestamp: new Date(Date.UTC(2026, 0, 1) + i).toISOString(),
        flow_run_id: runId,
        task_run_id: null,
      })),
    );
    for (let r = 0; r < repeats; r++) {
      const latencies: number[] = [];
      let done = false;
      const probe = (async () => {
        while (!done) {
          const sent = performance.now();
          await (await fetch(`${server.apiUrl}/health`)).text();
          latencies.push(performance.now() - sent);
          await Bun.sleep(PROBE_EVERY_MS);
        }
      })();
      await Bun.sleep(20); // the probe is running before the batch is sent
      const started = performance.now();
      const res = await post("/logs/", body);
      const batchMs = performance.now() - started;
      done = true;
      await probe;
      if (res.status !== 201) throw new Error(`POST /logs/ answered ${res.status}: ${await res.text()}`);
      latencies.sort((a, b) => a - b);
      const ms = (x: number) => `${x.toFixed(1)} ms`.padStart(7);
      console.log(
        `${size.toLocaleString("en-US").padStart(7)} logs | ${`${(body.length / 2 ** 20).toFixed(1)} MiB`.padStart(7)} | ${`${batchMs.toFixed(0)} ms`.padStart(10)} | ${String(latencies.length).padStart(13)} | ${ms(percentile(latencies, 50))} | ${ms(percentile(latencies, 99))} | ${ms(latencies.at(-1)!)}`,
      );
    }
  }
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
