/**
 * A populated database for the read-path benchmark, built the same way for both servers:
 *
 *  1. through the API of the server itself (services off), one template flow run per final
 *     state (COMPLETED, FAILED, CANCELLED, RUNNING), each with its state history, one task run
 *     (PENDING -> RUNNING -> COMPLETED) and three logs;
 *  2. with the server stopped, each template's rows (flow_run, flow_run_state, task_run,
 *     task_run_state, log) are copied N times straight into the server's own SQLite file:
 *     every id of a template row gets a new one, and every instant is shifted so that run i
 *     is expected at T0 + i * (30 days / N). Nothing about either schema is assumed beyond
 *     Prefect's table and column names (both use them): values are copied as the server wrote
 *     them, which also keeps each server's own instant format (integer microseconds for
 *     prefect-lite, "YYYY-MM-DD HH:MM:SS.ffffff" text for Prefect).
 *
 * Run i's flow run id is `runId(i)`, so the benchmark can ask for one run's logs.
 */
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { post } from "./load";
import { DB_FILE, startServer, type ServerKey } from "./proc";

/** Final state of run i is PATTERN[i % 10]: 60% completed, 20% failed, 10% cancelled, 10% running. */
const PATTERN = ["COMPLETED", "COMPLETED", "FAILED", "COMPLETED", "COMPLETED", "CANCELLED", "COMPLETED", "FAILED", "COMPLETED", "RUNNING"] as const;
type Final = (typeof PATTERN)[number];
const NAMES: Record<string, string> = { PENDING: "Pending", RUNNING: "Running", COMPLETED: "Completed", FAILED: "Failed", CANCELLED: "Cancelled" };
export const SPAN_DAYS = 30;

export interface Populated {
  dbPath: string;
  runs: number;
  taskRuns: number;
  logs: number;
  /** from and to (ms since the epoch) of the runs' expected start times */
  from: number;
  to: number;
  runId(i: number): string;
  seconds: number;
}

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const PY_TIME = /^(\d{4})-(\d\d)-(\d\d)([ T])(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(\+00:00|Z)?$/;
const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** Shifts an instant by deltaUs when the value is one (micros for prefect-lite, datetime text for Prefect). */
function shift(value: unknown, deltaUs: number): unknown {
  if (typeof value === "number") return value > 1e15 && value < 1e17 ? value + deltaUs : value;
  if (typeof value !== "string") return value;
  const m = PY_TIME.exec(value);
  if (!m || Number(m[1]) < 2000) return value; // intervals are stored as 1970-based datetimes
  const us = Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[5]!, +m[6]!, +m[7]!) * 1000 + Number((m[8] ?? "").padEnd(6, "0"));
  const t = us + deltaUs;
  const d = new Date(Math.floor(t / 1000));
  const frac = ((t % 1_000_000) + 1_000_000) % 1_000_000;
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}${m[4]}${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(frac, 6)}${m[9] ?? ""}`;
}

function toMicros(value: unknown): number {
  if (typeof value === "number") return value;
  const shifted = shift(value, 0);
  const m = PY_TIME.exec(String(shifted));
  if (!m) throw new Error(`not an instant: ${value}`);
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[5]!, +m[6]!, +m[7]!) * 1000 + Number((m[8] ?? "").padEnd(6, "0"));
}

async function makeTemplates(api: string): Promise<{ flowId: string; runs: Record<Final, string> }> {
  const flow = await post(api, "/flows/", { name: "bench-populated" });
  const runs = {} as Record<Final, string>;
  for (const final of new Set(PATTERN)) {
    const run = await post(api, "/flow_runs/", { flow_id: flow.id, name: `template-${final.toLowerCase()}`, tags: ["bench"], parameters: { x: 1 } });
    const path = ["RUNNING", ...(final === "RUNNING" ? [] : [final])];
    const task = await post(api, "/task_runs/", { flow_run_id: run.id, task_key: "bench-task", dynamic_key: "0", name: "bench-task-0" });
    await post(api, `/flow_runs/${run.id}/set_state`, { state: { type: "RUNNING", name: "Running" }, force: true });
    for (const t of ["PENDING", "RUNNING", "COMPLETED"])
      await post(api, `/task_runs/${task.id}/set_state`, { state: { type: t, name: NAMES[t] }, force: true });
    for (const t of path.slice(1)) await post(api, `/flow_runs/${run.id}/set_state`, { state: { type: t, name: NAMES[t] }, force: true });
    const now = Date.now();
    await post(
      api,
      "/logs/",
      [0, 1, 2].map((k) => ({
        name: "prefect.flow_runs",
        level: 20,
        message: `bench log line ${k} of a populated run`,
        timestamp: new Date(now + k).toISOString(),
        flow_run_id: run.id,
        task_run_id: k === 1 ? task.id : null,
      })),
    );
    runs[final] = run.id;
  }
  return { flowId: flow.id, runs };
}

type Row = Record<string, unknown>;

export async function populate(key: ServerKey, home: string, n: number): Promise<Populated> {
  const t0 = performance.now();
  const server = await startServer(key, home, { services: false });
  let templates: Awaited<ReturnType<typeof makeTemplates>>;
  try {
    templates = await makeTemplates(server.apiUrl);
  } finally {
    await server.stop();
  }
  const dbPath = join(home, DB_FILE[key]);
  const db = new Database(dbPath);
  db.exec("PRAGMA busy_timeout = 10000");
  const rows = (sql: string, ...params: string[]) => db.query(sql).all(...params) as Row[];

  // every template's rows, table by table, in insertion (foreign-key) order
  const perTemplate = new Map<Final, { table: string; rows: Row[] }[]>();
  const base = new Map<Final, number>();
  for (const [final, runId] of Object.entries(templates.runs) as [Final, string][]) {
    const flowRun = rows("SELECT * FROM flow_run WHERE id = ?", runId);
    const taskRuns = rows("SELECT * FROM task_run WHERE flow_run_id = ?", runId);
    const taskRunStates = taskRuns.flatMap((t) => rows("SELECT * FROM task_run_state WHERE task_run_id = ?", String(t.id)));
    perTemplate.set(final, [
      { table: "flow_run", rows: flowRun },
      { table: "flow_run_state", rows: rows("SELECT * FROM flow_run_state WHERE flow_run_id = ?", runId) },
      { table: "task_run", rows: taskRuns },
      { table: "task_run_state", rows: taskRunStates },
      { table: "log", rows: rows("SELECT * FROM log WHERE flow_run_id = ?", runId) },
    ]);
    base.set(final, toMicros(flowRun[0]!.expected_start_time));
  }
  // The ids to renumber: those of the copied rows (the flow's id is kept).
  const templateIds = new Set<string>();
  for (const tables of perTemplate.values()) for (const { rows: rs } of tables) for (const r of rs) templateIds.add(String(r.id));

  const statements = new Map<string, { cols: string[]; stmt: ReturnType<Database["prepare"]> }>();
  const insert = (table: string, row: Row) => {
    let s = statements.get(table);
    if (!s) {
      const cols = Object.keys(row);
      s = { cols, stmt: db.prepare(`INSERT INTO "${table}" (${cols.map((c) => `"${c}"`).join(", ")}) VALUES (${cols.map(() => "?").join(", ")})`) };
      statements.set(table, s);
    }
    s.stmt.run(...(s.cols.map((c) => row[c]) as any[]));
  };

  const to = Date.now() - 60_000;
  const from = to - SPAN_DAYS * 86_400_000;
  const stepUs = (SPAN_DAYS * 86_400_000_000) / n;
  const hex = (i: number) => i.toString(16).padStart(12, "0");
  const counts = { runs: 0, taskRuns: 0, logs: 0 };
  const CHUNK = 20_000;
  for (let startI = 0; startI < n; startI += CHUNK) {
    db.transaction(() => {
      for (let i = startI; i < Math.min(n, startI + CHUNK); i++) {
        const final = PATTERN[i % PATTERN.length]!;
        const deltaUs = Math.round(from * 1000 + i * stepUs) - base.get(final)!;
        const suffix = hex(i);
        const renumber = (s: string) => s.replace(UUID, (u) => (templateIds.has(u) ? u.slice(0, 24) + suffix : u));
        for (const { table, rows: rs } of perTemplate.get(final)!) {
          for (const r of rs) {
            const out: Row = {};
            for (const [c, v] of Object.entries(r)) {
              const shifted = shift(v, deltaUs);
              out[c] = typeof shifted === "string" ? renumber(shifted) : shifted;
            }
            if (table === "flow_run") out.name = `bench-run-${i}`;
            insert(table, out);
            if (table === "flow_run") counts.runs++;
            else if (table === "task_run") counts.taskRuns++;
            else if (table === "log") counts.logs++;
          }
        }
      }
    })();
  }
  db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  db.close();
  const runIds = templates.runs;
  return {
    dbPath,
    ...counts,
    from,
    to,
    runId: (i: number) => runIds[PATTERN[i % PATTERN.length]!].slice(0, 24) + hex(i),
    seconds: (performance.now() - t0) / 1000,
  };
}
