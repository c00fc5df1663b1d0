/** Run history (Prefect's api/run_history.py): runs bucketed by expected start time and state. */
import type { HistoryRow } from "../db/repos/runs";
import { InvalidInput, Unprocessable } from "../domain/errors";
import { parseDateTime, type Micros } from "../lib/time";
import { estimatedRunTime, estimatedStartTimeDelta } from "./estimates";

export interface HistoryRequest {
  history_start: string;
  history_end: string;
  history_interval_seconds: number;
}

export interface HistoryStateCount {
  state_type: string | null;
  state_name: string | null;
  count_runs: number;
  sum_estimated_run_time: number;
  sum_estimated_lateness: number;
}

export interface HistoryInterval {
  start: Micros;
  end: Micros;
  states: HistoryStateCount[];
}

/** Python's timedelta.max (999,999,999 days) and datetime.max: no interval or bucket bound goes past them. */
const MAX_INTERVAL_SECONDS = 999_999_999 * 86_400;
const MAX_DATETIME: Micros = Date.UTC(9999, 11, 31, 23, 59, 59) * 1000;
/** Prefect caps a history at 500 intervals. */
const MAX_INTERVALS = 500;
const bound = (at: Micros) => Math.min(at, MAX_DATETIME);

/** The window a history request covers, validated as Prefect validates it. */
export function historyWindow(body: HistoryRequest): { start: Micros; end: Micros; interval: Micros; count: number } {
  if (body.history_interval_seconds < 1) throw new Unprocessable("History interval must not be less than 1 second.");
  if (body.history_interval_seconds > MAX_INTERVAL_SECONDS) {
    const msg = "Input should be a valid timedelta, durations may not exceed 999,999,999 days";
    throw new InvalidInput([{ type: "time_delta_parsing", loc: ["body", "history_interval_seconds"], msg, input: body.history_interval_seconds }], body);
  }
  const start = parseDateTime(body.history_start)!;
  const end = parseDateTime(body.history_end)!;
  const interval = Math.round(body.history_interval_seconds * 1_000_000);
  const count = end > start ? Math.min(Math.ceil((end - start) / interval), MAX_INTERVALS) : 0;
  return { start, end: bound(start + count * interval), interval, count };
}

/** Buckets the rows of the runs expected to start inside the window. */
export function bucketHistory(rows: HistoryRow[], window: { start: Micros; interval: Micros; count: number }, now: Micros): HistoryInterval[] {
  const { start, interval, count } = window;
  const buckets = new Map<number, Map<string, HistoryStateCount>>();
  for (const row of rows) {
    const index = Math.floor((row.expectedStartTime! - start) / interval);
    const key = `${row.stateType}\u0000${row.stateName}`;
    const bucket = buckets.get(index) ?? new Map<string, HistoryStateCount>();
    buckets.set(index, bucket);
    const entry = bucket.get(key) ?? { state_type: row.stateType, state_name: row.stateName, count_runs: 0, sum_estimated_run_time: 0, sum_estimated_lateness: 0 };
    entry.count_runs += 1;
    entry.sum_estimated_run_time += Math.max(0, estimatedRunTime(row, now));
    entry.sum_estimated_lateness += Math.max(0, estimatedStartTimeDelta(row, now));
    bucket.set(key, entry);
  }
  return Array.from({ length: count }, (_, i) => ({
    start: bound(start + i * interval),
    end: bound(start + (i + 1) * interval),
    states: [...(buckets.get(i)?.values() ?? [])],
  }));
}
