#!/usr/bin/env bun
/**
 * `npm run bench [-- --quick]`: prefect-lite against the Python Prefect server (pinned
 * prefect==3.9.1 from PyPI, installed into bench/.venv when missing), side by side on this
 * machine. Each server in turn runs on SQLite in a fresh temporary PREFECT_HOME with its
 * background services on, pinned to core 0; this script (the load generator) re-runs itself
 * pinned to core 1. Prints one table and writes it, with the raw figures, to
 * bench/results/latest.json (or --out PATH).
 *
 * Flags: --quick (fewer repetitions, smaller populations: under 3 minutes), --only lite|python,
 * --no-build (use dist/prefect-lite as it is), --out PATH.
 * --pg: instead, the lifecycle on PostgreSQL (bench/lib/postgres.ts), prefect-lite with 1 and 2
 * replicas beside Prefect's server, written to bench/results/postgres.json unless --out says.
 * Not part of the tests: it takes minutes and loads both cores.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join, resolve } from "node:path";
import { closedLoop, ingestEvents, lifecycle, lifecycleNote, median, post, sequential, type EventsResult, type Latencies } from "./lib/load";
import { populate, SPAN_DAYS } from "./lib/populate";
import { benchPostgres } from "./lib/postgres";
import {
  CLIENT_CORE,
  cleanEnv,
  DB_FILE,
  hasTaskset,
  LABEL,
  liteBinary,
  memory,
  newHome,
  pinned,
  PREFECT_VERSION,
  removeHome,
  repoRoot,
  rssSampler,
  SERVER_CORE,
  startServer,
  venvDir,
  venvPython,
  type Memory,
  type ServerKey,
} from "./lib/proc";
import { writeReport } from "./lib/report";
import { advantage, fmt, markdownTable, ratioText } from "./lib/table";

// ---------- options ----------
const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(name);
const option = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith(`${name}=`))?.slice(name.length + 1);
};
const quick = flag("--quick");
const pgMode = flag("--pg");
const only = option("--only") as ServerKey | undefined;
const outPath = resolve(option("--out") ?? join(repoRoot, pgMode ? "bench/results/postgres.json" : "bench/results/latest.json"));
const servers: ServerKey[] = only ? [only] : ["lite", "python"];

const MODE = quick
  ? {
      name: "quick",
      coldRuns: { lite: 4, python: 1 }, // + the main instance's start
      idleSettleS: 2,
      acceptanceRepeats: 1,
      lifecycleS: 4,
      lifecycleWarmupS: 1,
      events: 3_000,
      populate: 20_000,
      readReps: 40,
      schedulerDeployments: 200,
    }
  : {
      name: "full",
      coldRuns: { lite: 10, python: 4 }, // + the main instance's start
      idleSettleS: 5,
      acceptanceRepeats: 3,
      lifecycleS: 15,
      lifecycleWarmupS: 2,
      events: 20_000,
      populate: 100_000,
      readReps: 200,
      schedulerDeployments: 1000,
    };
const CONCURRENCY = [1, 8, 32] as const;

// ---------- pin this process (the load generator) to core 1 ----------
if (process.env.PREFECT_BENCH_PINNED !== "1" && hasTaskset() && cpus().length >= 2) {
  const child = Bun.spawnSync(["taskset", "-c", CLIENT_CORE, process.execPath, import.meta.path, ...argv], {
    stdio: ["inherit", "inherit", "inherit"],
    env: { ...process.env, PREFECT_BENCH_PINNED: "1" },
  });
  process.exit(child.exitCode ?? 1);
}

const log = (msg: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);
const t0 = performance.now();
const loadStart = loadavg()[0]!;

// ---------- setup: the Python server in a venv, prefect-lite's binary ----------
function run(cmd: string[], cwd = repoRoot): void {
  log(`$ ${cmd.join(" ")}`);
  const r = spawnSync(cmd[0]!, cmd.slice(1), { cwd, stdio: "inherit" });
  if (r.status !== 0) throw new Error(`${cmd.join(" ")} exited with ${r.status}`);
}

function installedPrefect(): string | null {
  if (!existsSync(venvPython)) return null;
  const r = spawnSync(venvPython, ["-c", "import prefect; print(prefect.__version__)"], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : null;
}

if (servers.includes("python") && installedPrefect() !== PREFECT_VERSION) {
  if (!existsSync(venvPython)) run([process.env.PYTHON3 ?? "python3", "-m", "venv", venvDir]);
  run([venvPython, "-m", "pip", "install", "--quiet", `prefect==${PREFECT_VERSION}`]);
  if (installedPrefect() !== PREFECT_VERSION) throw new Error(`bench/.venv has no prefect ${PREFECT_VERSION} after pip install`);
}
// Prefect's PostgreSQL driver; `prefect` depends on it, so this only mends a venv that lost it.
if (servers.includes("python") && pgMode && spawnSync(venvPython, ["-c", "import asyncpg"]).status !== 0)
  run([venvPython, "-m", "pip", "install", "--quiet", "asyncpg"]);
if (servers.includes("lite")) {
  if (!flag("--no-build")) run([process.execPath, "build.ts"]);
  if (!existsSync(liteBinary)) throw new Error(`no ${liteBinary}: npm run build`);
}

if (pgMode) {
  writeReport({ argv, t0, loadStart, outPath, mode: MODE, ...(await benchPostgres(servers, MODE, log)) });
  process.exit(0);
}

// ---------- per-server measurements (SQLite) ----------
interface AcceptanceRun {
  total_ms: number;
  requests: number;
  sections: { name: string; passed: boolean; duration_ms: number; requests: number; error: string | null }[];
}
interface SchedulerTick {
  deployments: number;
  firstMs: number;
  runsCreated: number;
  secondMs: number;
}
interface ServerResult {
  coldStartMs: number[];
  idle: Memory;
  peakSampledMiB: number;
  afterWorkload: Memory;
  acceptance: AcceptanceRun[] | { error: string };
  lifecycle: Record<number, Latencies>;
  events: EventsResult;
  populated: {
    runs: number;
    taskRuns: number;
    logs: number;
    populateSeconds: number;
    /** spawn to healthy on the populated (already migrated) database */
    startMs: number;
    reads: Record<string, Latencies>;
    memoryAfterReads: Memory;
  };
  scheduler: SchedulerTick | { error: string };
}

const suitePath = join(repoRoot, "../shared/conformance/test-api-sequence");

function acceptance(apiUrl: string): AcceptanceRun[] | { error: string } {
  if (!existsSync(suitePath)) return { error: `no acceptance suite at ${suitePath}` };
  const py = existsSync(venvPython) ? venvPython : (process.env.PYTHON ?? "python3");
  const r = spawnSync(py, [join(repoRoot, "bench/python/acceptance_sections.py"), suitePath, apiUrl, String(MODE.acceptanceRepeats)], {
    encoding: "utf8",
    env: cleanEnv({}),
    timeout: 600_000,
    maxBuffer: 1 << 26,
  });
  try {
    return (JSON.parse(r.stdout.trim().split("\n").at(-1)!) as { runs: AcceptanceRun[] }).runs;
  } catch {
    return { error: `acceptance_sections.py exited ${r.status}: ${r.stderr.slice(-500)}` };
  }
}

/** Mulberry32: the same "random" windows and runs for both servers. */
function rng(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function schedulerTick(key: ServerKey, deployments: number, seed: (home: string) => void): SchedulerTick | { error: string } {
  if (key === "lite") {
    const cmd = pinned(SERVER_CORE, [process.execPath, "scripts/scheduler-tick.ts", String(deployments)]);
    const r = spawnSync(cmd[0]!, cmd.slice(1), {
      cwd: repoRoot,
      encoding: "utf8",
      env: cleanEnv({}),
      timeout: 600_000,
    });
    const first = r.stdout.match(/first tick:\s+(\d+) ms, (\d+) runs/);
    const second = r.stdout.match(/second tick:\s+(\d+) ms/);
    if (!first || !second) return { error: `scripts/scheduler-tick.ts exited ${r.status}: ${(r.stdout + r.stderr).slice(-500)}` };
    return { deployments, firstMs: Number(first[1]), runsCreated: Number(first[2]), secondMs: Number(second[1]) };
  }
  const home = newHome("sched");
  seed(home);
  try {
    const cmd = pinned(SERVER_CORE, [venvPython, join(repoRoot, "bench/python/scheduler_tick.py"), String(deployments)]);
    const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: "utf8", env: cleanEnv({ PREFECT_HOME: home }), timeout: 600_000 });
    try {
      const j = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
      return { deployments, firstMs: j.first_tick_ms, runsCreated: j.runs_created, secondMs: j.second_tick_ms };
    } catch {
      return { error: `scheduler_tick.py exited ${r.status}: ${r.stderr.slice(-500)}` };
    }
  } finally {
    removeHome(home);
  }
}

async function benchServer(key: ServerKey): Promise<ServerResult> {
  const label = LABEL[key];

  // (1) cold start. The last run's home is kept: its database, migrated by the server itself
  // and otherwise empty, seeds the populated database and Prefect's scheduler tick, so they
  // skip the migrations (which take the Python server most of its start-up).
  const coldStartMs: number[] = [];
  let pristine = "";
  for (let i = 0; i < MODE.coldRuns[key]; i++) {
    const home = newHome(key);
    try {
      const s = await startServer(key, home);
      coldStartMs.push(s.readyMs);
      await s.stop();
    } finally {
      if (i === MODE.coldRuns[key] - 1) pristine = home;
      else removeHome(home);
    }
  }
  const seed = (into: string) => {
    for (const suffix of ["", "-wal", "-shm"]) {
      const from = join(pristine, DB_FILE[key] + suffix);
      if (existsSync(from)) copyFileSync(from, join(into, DB_FILE[key] + suffix));
    }
  };

  // (2)-(4) one fresh server: idle memory, acceptance sections, lifecycle load, events
  const home = newHome(key);
  const s = await startServer(key, home);
  coldStartMs.push(s.readyMs); // started exactly as the cold-start runs are
  log(`${label}: cold start median ${median(coldStartMs).toFixed(0)} ms over ${coldStartMs.length} runs`);
  let result: Omit<ServerResult, "populated" | "scheduler">;
  try {
    await Bun.sleep(MODE.idleSettleS * 1000);
    const idle = memory(s.pid);
    log(`${label}: idle RSS ${idle.rssMiB.toFixed(1)} MiB (${idle.processes} process${idle.processes > 1 ? "es" : ""})`);
    const sampler = rssSampler(s.pid);

    const acc = acceptance(s.apiUrl);
    if ("error" in acc) log(`${label}: acceptance sections: ${acc.error}`);
    else log(`${label}: acceptance sections: ${acc.map((r) => `${r.total_ms.toFixed(0)} ms`).join(", ")}; ${acc[0]!.sections.filter((x) => x.passed).length}/${acc[0]!.sections.length} passed`);

    const flow = await post(s.apiUrl, "/flows/", { name: "bench-lifecycle" });
    const lifecycleResults: Record<number, Latencies> = {};
    for (const c of CONCURRENCY) {
      const r = await closedLoop(c, MODE.lifecycleS, MODE.lifecycleWarmupS, (n) => lifecycle(s.apiUrl, flow.id, n));
      lifecycleResults[c] = r;
      log(`${label}: lifecycle x${c}: ${r.opsPerSec.toFixed(1)} runs/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, ${r.retries} retries, ${r.errors} errors${r.firstError ? ` (${r.firstError.slice(0, 160)})` : ""}`);
    }
    const peakSampledMiB = sampler.stop();
    await Bun.sleep(2000);
    const afterWorkload = memory(s.pid);
    log(`${label}: peak RSS ${afterWorkload.hwmMiB.toFixed(1)} MiB (VmHWM), ${afterWorkload.rssMiB.toFixed(1)} MiB after`);

    const events = await ingestEvents(s.apiUrl, MODE.events);
    log(`${label}: events: ${events.available ? `${events.persistedPerSec.toFixed(0)}/s persisted (${events.persisted}/${events.events} in ${events.seconds.toFixed(1)} s), ${events.sentPerSec.toFixed(0)}/s sent` : `n/a (${events.reason})`}`);
    result = { coldStartMs, idle, peakSampledMiB, afterWorkload, acceptance: acc, lifecycle: lifecycleResults, events };
  } finally {
    await s.stop();
    removeHome(home);
  }

  // (5) read paths on a populated database
  const popHome = newHome(`${key}-pop`);
  seed(popHome);
  let populated: ServerResult["populated"];
  try {
    const pop = await populate(key, popHome, MODE.populate);
    log(`${label}: populated ${pop.runs} flow runs, ${pop.taskRuns} task runs, ${pop.logs} logs in ${pop.seconds.toFixed(1)} s`);
    const ps = await startServer(key, popHome);
    try {
      await Bun.sleep(1000);
      const spanMs = pop.to - pop.from;
      const day = 86_400_000;
      const random = rng(42);
      const reads: Record<string, Latencies> = {};
      const queries: Record<string, (i: number) => Promise<void>> = {
        "flow_runs/filter": async () => {
          const after = pop.from + random() * (spanMs - day);
          const r = await post(ps.apiUrl, "/flow_runs/filter", {
            flow_runs: {
              state: { type: { any_: ["COMPLETED", "FAILED"] } },
              expected_start_time: { after_: new Date(after).toISOString(), before_: new Date(after + day).toISOString() },
            },
            sort: "EXPECTED_START_TIME_DESC",
            limit: 50,
          });
          if (!Array.isArray(r) || r.length !== 50) throw new Error(`filter returned ${Array.isArray(r) ? r.length : typeof r} runs`);
        },
        "flow_runs/count": async () => {
          const r = await post(ps.apiUrl, "/flow_runs/count", { flow_runs: { state: { type: { any_: ["COMPLETED"] } } } });
          if (typeof r !== "number" || r < pop.runs / 2) throw new Error(`count returned ${r}`);
        },
        "flow_runs/paginate": async (i) => {
          const r = await post(ps.apiUrl, "/flow_runs/paginate", { page: 1 + (Math.abs(i) % 5), limit: 10, sort: "START_TIME_DESC" });
          if (r?.results?.length !== 10 || r.count < pop.runs) throw new Error(`paginate returned ${r?.results?.length} of ${r?.count}`);
        },
        "logs/filter (one run)": async () => {
          const id = pop.runId(Math.floor(random() * pop.runs));
          const r = await post(ps.apiUrl, "/logs/filter", { logs: { flow_run_id: { any_: [id] } }, sort: "TIMESTAMP_ASC", limit: 200 });
          if (!Array.isArray(r) || r.length !== 3) throw new Error(`logs/filter returned ${Array.isArray(r) ? r.length : typeof r} logs`);
        },
      };
      for (const [name, q] of Object.entries(queries)) {
        reads[name] = await sequential(MODE.readReps, 3, q);
        const r = reads[name]!;
        log(`${label}: ${name} at ${pop.runs} runs: p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, ${r.errors} errors${r.firstError ? ` (${r.firstError.slice(0, 200)})` : ""}`);
      }
      populated = { runs: pop.runs, taskRuns: pop.taskRuns, logs: pop.logs, populateSeconds: pop.seconds, startMs: ps.readyMs, reads, memoryAfterReads: memory(ps.pid) };
    } finally {
      await ps.stop();
    }
  } finally {
    removeHome(popHome);
  }

  // (6) one scheduler tick over N deployments, in-process
  const scheduler = schedulerTick(key, MODE.schedulerDeployments, seed);
  removeHome(pristine);
  log(`${label}: scheduler tick: ${"error" in scheduler ? scheduler.error : `${scheduler.firstMs.toFixed(0)} ms for ${scheduler.deployments} deployments (${scheduler.runsCreated} runs), idle tick ${scheduler.secondMs.toFixed(0)} ms`}`);

  return { ...result, populated, scheduler };
}

const results: Partial<Record<ServerKey, ServerResult>> = {};
for (const key of servers) {
  log(`=== ${LABEL[key]} ===`);
  results[key] = await benchServer(key);
}

// ---------- the table ----------
interface Row {
  figure: string;
  unit: string;
  better: "lower" | "higher";
  lite: number | null;
  python: number | null;
  /** text shown instead of a number */
  liteText?: string;
  pythonText?: string;
  /** "x >= 10" style target on the ratio, or an absolute bound on prefect-lite's figure */
  target?: { ratio?: number; liteBelow?: number; text: string };
}
const rows: Row[] = [];
const num = (k: ServerKey, f: (r: ServerResult) => number | null | undefined) => {
  const r = results[k];
  if (!r) return null;
  const v = f(r);
  return v === undefined || v === null || Number.isNaN(v) ? null : v;
};
const add = (row: Omit<Row, "lite" | "python">, f: (r: ServerResult) => number | null | undefined) =>
  rows.push({ ...row, lite: num("lite", f), python: num("python", f) });

add({ figure: "cold start: spawn to healthy /api/health (median)", unit: "ms", better: "lower", target: { ratio: 50, text: "≤ 1/50" } }, (r) => median(r.coldStartMs));
add({ figure: `start on the populated database (${MODE.populate.toLocaleString("en-US")} runs, no migrations)`, unit: "ms", better: "lower" }, (r) => r.populated.startMs);
add({ figure: "RSS idle after start", unit: "MiB", better: "lower", target: { ratio: 8, text: "≤ 1/8" } }, (r) => r.idle.rssMiB);
add({ figure: "peak RSS during workload (VmHWM)", unit: "MiB", better: "lower" }, (r) => r.afterWorkload.hwmMiB);
add({ figure: "RSS after workload", unit: "MiB", better: "lower" }, (r) => r.afterWorkload.rssMiB);
{
  // Sections failing on one server stop early, so the like-for-like total is over the sections both pass.
  const acc = (k: ServerKey) => {
    const a = results[k]?.acceptance;
    return a && !("error" in a) ? a : null;
  };
  const passed = (k: ServerKey) => new Set(acc(k)?.[0]!.sections.filter((x) => x.passed).map((x) => x.name) ?? []);
  const both = servers.every((k) => acc(k)) ? [...passed(servers[0]!)].filter((n) => servers.every((k) => passed(k).has(n))) : [];
  const total = (k: ServerKey, names: string[]) => {
    const a = acc(k);
    return a ? median(a.map((run) => run.sections.filter((x) => names.includes(x.name)).reduce((t, x) => t + x.duration_ms, 0))) : null;
  };
  const row: Row = { figure: "acceptance suite: request sections passed", unit: "", better: "higher", lite: null, python: null };
  for (const k of servers) {
    const a = acc(k);
    row[k === "lite" ? "liteText" : "pythonText"] = a ? `${passed(k).size}/${a[0]!.sections.length}` : "error";
  }
  rows.push(row);
  rows.push({
    figure: `acceptance suite: total time of the ${both.length} sections both pass`,
    unit: "ms",
    better: "lower",
    lite: results.lite ? total("lite", both) : null,
    python: results.python ? total("python", both) : null,
  });
}
for (const c of CONCURRENCY) {
  add({ figure: `lifecycle x${c} clients: throughput`, unit: "runs/s", better: "higher", target: c === 8 ? { ratio: 10, text: "≥ 10×" } : undefined }, (r) => r.lifecycle[c]?.opsPerSec);
  add({ figure: `lifecycle x${c} clients: p50`, unit: "ms", better: "lower" }, (r) => r.lifecycle[c]?.p50);
  add({ figure: `lifecycle x${c} clients: p99`, unit: "ms", better: "lower", target: c === 8 ? { ratio: 10, text: "≤ 1/10" } : undefined }, (r) => r.lifecycle[c]?.p99);
}
add({ figure: "lifecycle: requests retried as Prefect's client does (503, reset)", unit: "", better: "lower" }, (r) => Object.values(r.lifecycle).reduce((a, l) => a + l.retries, 0));
add({ figure: "lifecycle: failed operations after retries", unit: "", better: "lower" }, (r) => Object.values(r.lifecycle).reduce((a, l) => a + l.errors, 0));
const popRuns = results.lite?.populated.runs ?? results.python?.populated.runs ?? MODE.populate;
for (const q of ["flow_runs/filter", "flow_runs/count", "flow_runs/paginate", "logs/filter (one run)"]) {
  const target = q.startsWith("flow_runs") ? { liteBelow: 50, text: "p99 < 50 ms at 100k" } : undefined;
  add({ figure: `${q} at ${popRuns.toLocaleString("en-US")} runs: p50`, unit: "ms", better: "lower" }, (r) => r.populated.reads[q]?.p50);
  add({ figure: `${q} at ${popRuns.toLocaleString("en-US")} runs: p99`, unit: "ms", better: "lower", target }, (r) => r.populated.reads[q]?.p99);
}
add({ figure: `RSS after the reads at ${popRuns.toLocaleString("en-US")} runs`, unit: "MiB", better: "lower" }, (r) => r.populated.memoryAfterReads.rssMiB);
const schedRow: Row = {
  figure: `scheduler tick over ${MODE.schedulerDeployments.toLocaleString("en-US")} deployments (first: 3 runs each)`,
  unit: "ms",
  better: "lower",
  lite: num("lite", (r) => ("error" in r.scheduler ? null : r.scheduler.firstMs)),
  python: num("python", (r) => ("error" in r.scheduler ? null : r.scheduler.firstMs)),
};
rows.push(schedRow);
add({ figure: "scheduler tick with nothing to do (second)", unit: "ms", better: "lower" }, (r) => ("error" in r.scheduler ? null : r.scheduler.secondMs));
{
  const ev = (k: ServerKey) => results[k]?.events;
  const row: Row = {
    figure: `events over /events/in, ${MODE.events.toLocaleString("en-US")} on one socket (persisted/s)`,
    unit: "events/s",
    better: "higher",
    lite: null,
    python: null,
  };
  for (const k of ["lite", "python"] as const) {
    const e = ev(k);
    if (!e) continue;
    if (e.available) {
      row[k] = e.persistedPerSec;
      if (e.persisted < e.events)
        row[k === "lite" ? "liteText" : "pythonText"] = `${e.persistedPerSec.toFixed(0)}/s (${e.persisted}/${e.events} in ${e.seconds.toFixed(0)} s)`;
    } else row[k === "lite" ? "liteText" : "pythonText"] = "n/a: not implemented yet";
  }
  rows.push(row);
}

/** How many times better prefect-lite is (> 1: better, < 1: worse). */
const rowAdvantage = (r: Row) => advantage(r.better, r.lite, r.python);
const verdict = (r: Row) => {
  if (!r.target) return "";
  if (r.target.liteBelow !== undefined) {
    if (r.lite === null) return r.target.text;
    const atScale = popRuns >= 100_000;
    return `${r.target.text}: ${r.lite < r.target.liteBelow ? "met" : "MISSED"}${atScale ? "" : ` (at ${popRuns.toLocaleString("en-US")})`}`;
  }
  const a = rowAdvantage(r);
  return a === null ? r.target.text : `${r.target.text}: ${a >= r.target.ratio! ? "met" : "MISSED"}`;
};
const tableRows = rows.map((r) => ({
  figure: r.figure,
  lite: r.liteText ?? fmt(r.lite, r.unit),
  python: r.pythonText ?? fmt(r.python, r.unit),
  ratio: ratioText(rowAdvantage(r)),
  target: verdict(r),
}));
const table = markdownTable(
  [
    { header: "figure", align: "left" },
    { header: LABEL.lite, align: "right" },
    { header: `${LABEL.python} (Python)`, align: "right" },
    { header: "prefect-lite advantage", align: "right" },
    { header: "target", align: "left" },
  ],
  tableRows.map((r) => [r.figure, r.lite, r.python, r.ratio, r.target]),
);

const notes = [
  `mode: ${MODE.name}; servers pinned to core ${SERVER_CORE} (taskset), load generator to core ${CLIENT_CORE}${hasTaskset() ? "" : " (NOT pinned: no taskset)"}`,
  `both on SQLite in a fresh temporary PREFECT_HOME with background services on; Prefect ${PREFECT_VERSION} from PyPI in bench/.venv, with its UI and analytics off`,
  lifecycleNote(MODE.lifecycleS, MODE.lifecycleWarmupS),
  `reads: ${popRuns.toLocaleString("en-US")} flow runs over ${SPAN_DAYS} days (60% completed, 20% failed, 10% cancelled, 10% running), each with its state history, 1 task run and 3 logs, copied into each server's own SQLite file from runs made through its API; one client, ${MODE.readReps} requests per query after 3 untimed`,
  "filter: state COMPLETED|FAILED and a 1-day expected_start_time window, 50 newest; count: state COMPLETED over all runs; paginate: pages 1-5 of 10 by START_TIME_DESC (count included); logs/filter: one random run's logs",
  `memory: VmRSS / VmHWM from /proc, summed over the server process and its descendants; idle after ${MODE.idleSettleS} s; peak = VmHWM after the acceptance sections and the lifecycle load`,
  `scheduler tick: prefect-lite's scripts/scheduler-tick.ts and Prefect's schedule_deployments() called in-process (bench/python/scheduler_tick.py), both on core ${SERVER_CORE}, hourly interval schedules`,
  "events: one websocket, Prefect's protocol (subprotocol prefect + auth message), sent as fast as the socket takes them; rate = events queryable through /events/filter / time from the first send until all are (or 120 s)",
];
if (quick)
  notes.push(
    `--quick: ${popRuns.toLocaleString("en-US")} runs instead of 100,000 (the 50 ms target is for 100,000), ${MODE.lifecycleS} s per lifecycle level, ${MODE.readReps} reads per query, ${MODE.schedulerDeployments} deployments instead of 1,000 (setting up 1,000 takes the Python side ~20 s)`,
  );
writeReport({
  argv,
  t0,
  loadStart,
  outPath,
  mode: MODE,
  table,
  rows: rows.map((r, i) => ({ ...r, advantage: rowAdvantage(r), target: r.target ? { ...r.target, verdict: verdict(r) } : undefined, shown: tableRows[i] })),
  notes,
  raw: results,
});
