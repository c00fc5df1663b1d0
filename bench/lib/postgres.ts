/**
 * `npm run bench -- --pg`: the flow-run lifecycle on PostgreSQL, prefect-lite with one replica
 * and with two behind a round-robin TCP proxy (both on one database), beside Prefect's server on
 * the same PostgreSQL. Each setup gets a fresh database, dropped afterwards.
 */
import { createTestDatabase, POSTGRES_ADMIN_URL } from "../../test/support/postgres";
import { startTcpProxy, type TcpProxy } from "../../test/support/tcp-proxy";
import { closedLoop, lifecycle, lifecycleNote, post, type Latencies } from "./load";
import { CLIENT_CORE, hasTaskset, LABEL, newHome, PREFECT_VERSION, removeHome, SERVER_CORE, startServer, type Running, type ServerKey } from "./proc";
import { advantage, fmt, markdownTable, ratioText, type Better } from "./table";

const CONCURRENCY = [8, 32] as const;

type Setup = "lite1" | "lite2" | "python";
const SETUPS: { setup: Setup; key: ServerKey; replicas: number; label: string }[] = [
  { setup: "lite1", key: "lite", replicas: 1, label: `${LABEL.lite}, 1 replica` },
  { setup: "lite2", key: "lite", replicas: 2, label: `${LABEL.lite}, 2 replicas` },
  { setup: "python", key: "python", replicas: 1, label: `${LABEL.python} (Python)` },
];

export interface PostgresMode {
  idleSettleS: number;
  lifecycleS: number;
  lifecycleWarmupS: number;
}

interface SetupResult {
  /** spawn to healthy /api/health per replica (the first one migrates the new database) */
  readyMs: number[];
  lifecycle: Record<number, Latencies>;
  /** how many client connections the proxy gave each replica */
  proxyConnections: number[] | null;
}

async function benchSetup(key: ServerKey, replicas: number, label: string, mode: PostgresMode, log: (msg: string) => void): Promise<SetupResult> {
  const db = await createTestDatabase();
  const homes: string[] = [];
  const running: Running[] = [];
  let proxy: TcpProxy | null = null;
  try {
    // One after the other: the second replica finds the database migrated, as a scaled-out
    // deployment's later replicas do.
    for (let i = 0; i < replicas; i++) {
      const home = newHome(`pg-${key}`);
      homes.push(home);
      running.push(await startServer(key, home, { postgresUrl: db.url, timeoutMs: 180_000 }));
    }
    log(`${label}: healthy on ${db.name} after ${running.map((s) => `${s.readyMs.toFixed(0)} ms`).join(", ")}`);
    proxy = replicas > 1 ? startTcpProxy(running.map((s) => s.port)) : null;
    const apiUrl = proxy ? `http://127.0.0.1:${proxy.port}/api` : running[0]!.apiUrl;
    await Bun.sleep(mode.idleSettleS * 1000);
    const flow = await post(apiUrl, "/flows/", { name: "bench-lifecycle" });
    const results: Record<number, Latencies> = {};
    for (const c of CONCURRENCY) {
      const r = await closedLoop(c, mode.lifecycleS, mode.lifecycleWarmupS, (n) => lifecycle(apiUrl, flow.id, n));
      results[c] = r;
      log(`${label}: lifecycle x${c}: ${r.opsPerSec.toFixed(1)} runs/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms, ${r.retries} retries, ${r.errors} errors${r.firstError ? ` (${r.firstError.slice(0, 160)})` : ""}`);
    }
    return { readyMs: running.map((s) => s.readyMs), lifecycle: results, proxyConnections: proxy ? [...proxy.connections] : null };
  } finally {
    proxy?.stop();
    for (const s of running) await s.stop();
    for (const home of homes) removeHome(home);
    await db.drop();
  }
}

interface PgRow {
  figure: string;
  unit: string;
  better: Better;
  values: Record<Setup, number | null>;
}

export async function benchPostgres(servers: ServerKey[], mode: PostgresMode & { name: string }, log: (msg: string) => void) {
  const setups = SETUPS.filter((s) => servers.includes(s.key));
  const results: Partial<Record<Setup, SetupResult>> = {};
  for (const { setup, key, replicas, label } of setups) {
    log(`=== ${label} on PostgreSQL ===`);
    results[setup] = await benchSetup(key, replicas, label, mode, log);
  }

  const rows: PgRow[] = [];
  const add = (figure: string, unit: string, better: Better, f: (r: SetupResult) => number) =>
    rows.push({
      figure,
      unit,
      better,
      values: { lite1: null, lite2: null, python: null, ...Object.fromEntries(Object.entries(results).map(([s, r]) => [s, f(r)])) },
    });
  for (const c of CONCURRENCY) {
    add(`lifecycle x${c} clients: throughput`, "runs/s", "higher", (r) => r.lifecycle[c]!.opsPerSec);
    add(`lifecycle x${c} clients: p50`, "ms", "lower", (r) => r.lifecycle[c]!.p50);
    add(`lifecycle x${c} clients: p99`, "ms", "lower", (r) => r.lifecycle[c]!.p99);
  }
  add("lifecycle: requests retried as Prefect's client does (503, reset)", "", "lower", (r) => Object.values(r.lifecycle).reduce((a, l) => a + l.retries, 0));
  add("lifecycle: failed operations after retries", "", "lower", (r) => Object.values(r.lifecycle).reduce((a, l) => a + l.errors, 0));

  // Counts (unit "") get no ratio: 0 retries against 3 is not "3× better".
  const ratios = (r: PgRow) => {
    const a = (ours: Setup, theirs: Setup) => (r.unit ? advantage(r.better, r.values[ours], r.values[theirs]) : null);
    return { lite1: a("lite1", "python"), lite2: a("lite2", "python"), scaleOut: a("lite2", "lite1") };
  };
  const table = markdownTable(
    [
      { header: "figure", align: "left" },
      ...SETUPS.map((s) => ({ header: s.label, align: "right" as const })),
      { header: "prefect-lite advantage, 1 replica", align: "right" },
      { header: "prefect-lite advantage, 2 replicas", align: "right" },
      { header: "2 replicas against 1", align: "right" },
    ],
    rows.map((r) => {
      const x = ratios(r);
      return [r.figure, ...SETUPS.map((s) => fmt(r.values[s.setup], r.unit)), ratioText(x.lite1), ratioText(x.lite2), ratioText(x.scaleOut)];
    }),
  );

  const notes = [
    `mode: ${mode.name} --pg; every server process (both prefect-lite replicas, Prefect's server and its children) pinned to core ${SERVER_CORE}, the load generator and the round-robin TCP proxy (test/support/tcp-proxy.ts, in the load generator's process) to core ${CLIENT_CORE}${hasTaskset() ? "" : " (NOT pinned: no taskset)"}; PostgreSQL is the machine's own service, not started by the benchmark and not pinned, so its backends take whichever core is free`,
    "both replicas share one core so that every setup has the same server CPU: the 2-replica column shows what two processes on one database cost or gain (advisory-lock leadership, a second pool, two event loops overlapping their waits on PostgreSQL), not scale-out across cores, which a 2-core machine cannot show",
    `PostgreSQL at ${new URL(POSTGRES_ADMIN_URL).host}, a fresh database per setup (dropped after); prefect-lite --db postgresql://..., Prefect ${PREFECT_VERSION} (bench/.venv) with PREFECT_API_DATABASE_CONNECTION_URL=postgresql+asyncpg://...; both with Prefect's default pool (5 connections + 10 overflow, per replica), background services on, UI and analytics of Prefect off`,
    lifecycleNote(mode.lifecycleS, mode.lifecycleWarmupS),
  ];
  return {
    table,
    rows: rows.map((r) => ({ ...r, advantage: ratios(r) })),
    notes,
    raw: results,
  };
}
