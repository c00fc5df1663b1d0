/** Run history buckets (api/run_history.py), shared by flow runs and task runs. */
import { formatDateTime, parseDateTime, type Micros } from "../lib/time";
import { detail, validationError } from "./errors";
import { estimatedRunTime, estimatedStartTimeDelta } from "./run-json";

export interface HistoryRow {
  expectedStartTime: Micros | null;
  stateType: string | null;
  stateName: string | null;
  stateTimestamp: Micros | null;
  totalRunTime: Micros;
  startTime: Micros | null;
}

/** Python's timedelta.max (999,999,999 days) and datetime.max: no interval or bucket bound goes past them. */
const MAX_INTERVAL_SECONDS = 999_999_999 * 86_400;
const MAX_DATETIME: Micros = Date.UTC(9999, 11, 31, 23, 59, 59) * 1000;
const bound = (at: Micros) => Math.min(at, MAX_DATETIME);

/** Prefect caps a history at 500 intervals. */
function historyWindow(start: Micros, end: Micros, interval: Micros): { count: number; end: Micros } {
  const count = end > start ? Math.min(Math.ceil((end - start) / interval), 500) : 0;
  return { count, end: bound(start + count * interval) };
}

function runHistory(rows: HistoryRow[], start: Micros, interval: Micros, count: number, now: Micros) {
  const buckets = new Map<number, Map<string, { state_type: string | null; state_name: string | null; count_runs: number; sum_estimated_run_time: number; sum_estimated_lateness: number }>>();
  for (const row of rows) {
    const index = Math.floor((row.expectedStartTime! - start) / interval);
    const key = `${row.stateType}\u0000${row.stateName}`;
    const bucket = buckets.get(index) ?? new Map();
    buckets.set(index, bucket);
    const entry = bucket.get(key) ?? { state_type: row.stateType, state_name: row.stateName, count_runs: 0, sum_estimated_run_time: 0, sum_estimated_lateness: 0 };
    entry.count_runs += 1;
    entry.sum_estimated_run_time += Math.max(0, estimatedRunTime(row, now));
    entry.sum_estimated_lateness += Math.max(0, estimatedStartTimeDelta(row, now));
    bucket.set(key, entry);
  }
  return Array.from({ length: count }, (_, i) => ({
    interval_start: formatDateTime(bound(start + i * interval)),
    interval_end: formatDateTime(bound(start + (i + 1) * interval)),
    states: [...(buckets.get(i)?.values() ?? [])],
  }));
}

export interface HistoryRequest {
  history_start: string;
  history_end: string;
  history_interval_seconds: number;
}

/** A `/history` answer: `rowsIn(start, end)` reads the runs expected to start in that window. */
export async function historyResponse(
  body: HistoryRequest,
  rowsIn: (start: Micros, end: Micros) => Promise<HistoryRow[]>,
  now: Micros,
) {
  if (body.history_interval_seconds < 1) throw detail(422, "History interval must not be less than 1 second.");
  if (body.history_interval_seconds > MAX_INTERVAL_SECONDS) {
    const msg = "Input should be a valid timedelta, durations may not exceed 999,999,999 days";
    throw validationError([{ type: "time_delta_parsing", loc: ["body", "history_interval_seconds"], msg, input: body.history_interval_seconds }], body);
  }
  const start = parseDateTime(body.history_start)!;
  const interval = Math.round(body.history_interval_seconds * 1_000_000);
  const window = historyWindow(start, parseDateTime(body.history_end)!, interval);
  if (window.count === 0) return [];
  return runHistory(await rowsIn(start, window.end), start, interval, window.count, now);
}
