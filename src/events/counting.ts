/**
 * `POST /events/count-by/{countable}` time buckets (server/events/counting.py):
 * all time since PIVOT is cut into `interval`-sized spans; a count covers every
 * span from the one holding `since` up to `until` (or the end of the current
 * period, when `until` is in the future), with zeros for empty spans.
 */
import { MICROS_PER_SECOND, type Micros } from "../lib/time";
import { pythonIsoformat } from "./model";
import type { COUNTABLES, TIME_UNITS } from "../schemas/events";

export type TimeUnit = (typeof TIME_UNITS)[number];
export type Countable = (typeof COUNTABLES)[number];

/** 2024-04-01T00:00:00Z, the Monday before the earliest possible event. */
export const PIVOT: Micros = Date.UTC(2024, 3, 1) * 1000;

const MAX_BUCKETS = 1000;
const UNIT_SECONDS: Record<TimeUnit, number> = { week: 7 * 86_400, day: 86_400, hour: 3_600, minute: 60, second: 1 };

/** The span length: `interval` units, to the microsecond (as a Python timedelta rounds). */
export const spanMicros = (unit: TimeUnit, interval: number): Micros => Math.round(interval * UNIT_SECONDS[unit] * MICROS_PER_SECOND);

/** Prefect's 422 message when the range would need too many spans, else null. */
export function bucketsProblem(since: Micros, until: Micros, unit: TimeUnit, interval: number): string | null {
  if (interval < 0.01) return "The minimum interval is 0.01";
  const buckets = Math.ceil((until - since) / spanMicros(unit, interval));
  if (buckets > MAX_BUCKETS) {
    return (
      `The given interval would create ${buckets} buckets, which is too many. Please increase the interval or ` +
      `reduce the time range to produce ${MAX_BUCKETS} buckets or fewer.`
    );
  }
  return null;
}

/** Python's floor division, for instants before the pivot too. */
const spanIndex = (at: Micros, span: Micros): number => Math.floor((at - PIVOT) / span);

/** prefect.types._datetime.end_of_period: the last microsecond of the unit containing `at` (weeks end on Sunday). */
function endOfPeriod(at: Micros, unit: TimeUnit): Micros {
  const length = (unit === "week" ? UNIT_SECONDS.day : UNIT_SECONDS[unit]) * MICROS_PER_SECOND;
  const end = at - (at % length) + length - 1;
  if (unit !== "week") return end;
  const weekday = (new Date(at / 1000).getUTCDay() + 6) % 7; // Monday = 0
  return end + (6 - weekday) * UNIT_SECONDS.day * MICROS_PER_SECOND;
}

export interface EventCount {
  value: string;
  label: string;
  count: number;
  start_time: Micros;
  end_time: Micros;
}

/**
 * Every span of the range, numbered from 0, with the counts per absolute span index
 * filled in (storage/__init__.py process_time_based_counts).
 */
export function timeBuckets(
  since: Micros,
  until: Micros,
  unit: TimeUnit,
  interval: number,
  now: Micros,
  counts: Map<number, number>,
): EventCount[] {
  const span = spanMicros(unit, interval);
  const end = until > now ? endOfPeriod(now, unit) : until;
  const first = spanIndex(since, span);
  const buckets: EventCount[] = [];
  for (let start = PIVOT + span * first, i = 0; start < end; start += span, i++) {
    buckets.push({ value: String(i), label: pythonIsoformat(start), count: counts.get(first + i) ?? 0, start_time: start, end_time: start + span - 1 });
  }
  return buckets;
}
