/**
 * `get_dates` of Prefect's three schedule kinds (server/schemas/schedules.py, Python 3.11 paths):
 * the next occurrences of a schedule as UTC instants, with Prefect's DST behaviour.
 *
 * Libraries:
 * - `temporal-polyfill`: IANA zone arithmetic with explicit gap/fold disambiguation, which is how
 *   pendulum, whenever and dateutil differ; spec-exact and typed (Bun's own Temporal has no types).
 * - `rrule`: a port of dateutil's recurrence engine, so RRULE expansion matches Prefect's.
 * - cron: no library. `croner` was evaluated: it resolves DST itself (a 02:30 job fires at 03:00 on
 *   spring-forward day and twice at fall-back, where Prefect fires at 03:30 and once) and reads a
 *   different grammar (seconds first, no year field, no `10/5` or `L5`); cron-parser likewise.
 *   Prefect steps naive wall times with croniter and localises them itself: see `cron.ts`.
 */
import type { RRule, RRuleSet } from "rrule";
import type { Micros } from "../lib/time";
import { CronNoMatchError, CronSyntaxError, CronWallIterator } from "./cron";
import { floatingRule, RRuleSyntaxError } from "./rrule";
import { type CronScheduleModel, type IntervalScheduleModel, type RRuleScheduleModel, type ScheduleModel, isCron, isInterval, parseAnchor } from "./schemas";
import { TIMEZONES } from "./timezones";
import { type Wall, MICROS_PER_DAY, dayNumber, instantAt, isKnownZone, nextTransition, offsetAt, previousTransition, wallOf } from "./zoned";

/** Prefect checks at most this many candidates after the start (plus a couple, see below). */
const MAX_ITERATIONS = 1000;
const SECOND = 1_000_000;

export interface DateQuery {
  /** How many dates at most; default 1, or 1000 when `end` is given. */
  n?: number;
  /** The first date returned is at or after this; default `now`. */
  start?: Micros;
  /** No date returned is after this. */
  end?: Micros;
  /** The current time, when `start` is not given. */
  now?: Micros;
}

/** Prefect would raise evaluating this schedule (its scheduler logs it and skips the schedule). */
export class ScheduleEvaluationError extends Error {}

/**
 * The next dates of `schedule` in the order Prefect's `get_dates` returns them: ascending, except
 * that interval dates inside a repeated (fall-back) hour are ordered by wall clock, as Python sorts.
 */
export function getDates(schedule: ScheduleModel, query: DateQuery = {}): Micros[] {
  const start = query.start ?? query.now ?? Date.now() * 1000;
  const n = query.n ?? (query.end !== undefined ? MAX_ITERATIONS : 1);
  if (isInterval(schedule)) return intervalDates(schedule, n, start, query.end);
  const dates = isCron(schedule) ? cronDates(schedule, n, start, query.end) : rruleDates(schedule, n, start, query.end);
  return dates.sort((a, b) => a - b);
}

function requireZone(timezone: string): string {
  if (!TIMEZONES.includes(timezone) || !isKnownZone(timezone)) throw new ScheduleEvaluationError(`Invalid timezone: "${timezone}"`);
  return timezone;
}

/**
 * Prefect's final loop: stop past `end`, skip repeats (DST can produce them), stop after `n` dates
 * or once more than MAX_ITERATIONS candidates have been looked at. `key` is what Python compares.
 */
function collect(candidates: Iterable<Micros>, n: number, end: Micros | undefined, key: (date: Micros) => number = (d) => d): Micros[] {
  const endKey = end === undefined ? undefined : key(end);
  const dates = new Map<number, Micros>();
  let counter = 0;
  for (const date of candidates) {
    const k = key(date);
    if (endKey !== undefined && k > endKey) break;
    if (!dates.has(k)) dates.set(k, date);
    if (dates.size >= n || counter > MAX_ITERATIONS) break;
    counter++;
  }
  return [...dates.values()];
}

// ---------------------------------------------------------------------------------------------
// Interval: pendulum semantics. Adding whole days moves the wall clock (a skipped or repeated
// time resolves to the later instant); adding seconds alone is exact elapsed time. So intervals
// of whole days keep the local time of day across DST, shorter ones are fixed UTC steps, and
// mixed ones (e.g. 25 h) add days and seconds to the wall clock.
// ---------------------------------------------------------------------------------------------

function intervalDates(schedule: IntervalScheduleModel, n: number, start: Micros, end: Micros | undefined): Micros[] {
  // pendulum's in_tz("") raises, as in Prefect ("" passes the model validator).
  if (schedule.timezone === "") throw new ScheduleEvaluationError("ZoneInfo keys must be normalized relative paths, got: ");
  const tz = requireZone(schedule.timezone);
  const anchor = parseAnchor(schedule.anchor_date)!.instant;
  const interval = Math.round(schedule.interval * SECOND);
  const days = Math.floor(interval / MICROS_PER_DAY);
  const seconds = interval - days * MICROS_PER_DAY;
  // The dates, `start` and `end` all carry the same pendulum zone object, and Python compares,
  // hashes and sorts such datetimes by their wall clock (ignoring `fold`). So in a repeated hour
  // a date equal in wall time to an earlier one is dropped as a duplicate, and `start`/`end` cut
  // by wall time. (Subtraction, used for the first jump, is pendulum's and exact.)
  const wall = (date: Micros) => wallOf(date, tz);
  const startWall = wall(start);

  const add = (instant: Micros, dayCount: number, micros: number): Micros =>
    dayCount === 0 ? instant + micros : instantAt(wall(instant) + dayCount * MICROS_PER_DAY + micros, tz, "later");
  // A direct jump from the anchor is exact for pure seconds and for pure days; mixed intervals
  // jump by elapsed time and then step sequentially.
  const jump = (k: number): Micros => (days === 0 || seconds === 0 ? add(anchor, days * k, seconds * k) : anchor + interval * k);
  const calendarDays = days !== 0 && seconds === 0;

  let offset = 0;
  let next: Micros;
  if (startWall >= wall(anchor) && calendarDays && tz !== "UTC") {
    // A skipped local time shifts every later occurrence, so walk from the anchor.
    next = seekCalendarDays(anchor, start, tz, days, add);
  } else {
    offset = Math.trunc((start - anchor) / interval);
    next = jump(offset);
    while (wall(next) > startWall) next = jump(--offset);
  }
  // Before a future anchor, whole-day dates are computed back from the anchor rather than
  // forward from a normalised gap time.
  const beforeAnchor = startWall < wall(anchor) && calendarDays;
  const step = (date: Micros): Micros => {
    if (beforeAnchor && offset < 0) return jump(++offset);
    return add(date, days, seconds);
  };
  while (wall(next) < startWall) next = step(next);

  function* candidates(): Generator<Micros> {
    for (let date = next; ; date = step(date)) yield date;
  }
  return collect(candidates(), n, end, wall).sort((a, b) => wall(a) - wall(b));
}

/**
 * Prefect's `_seek_calendar_interval`: the first whole-day occurrence at or after `start`, jumping
 * through each stretch without offset transitions and stepping across every transition so gap
 * normalisation happens exactly where sequential addition would make it happen.
 */
function seekCalendarDays(
  anchor: Micros,
  start: Micros,
  tz: string,
  days: number,
  add: (instant: Micros, dayCount: number, micros: number) => Micros,
): Micros {
  let current = anchor;
  while (current < start) {
    const transition = nextTransition(current, tz);
    const boundary = transition !== null && transition < start ? transition : start;
    const elapsedDays = dayNumber(wallOf(boundary, tz)) - dayNumber(wallOf(current, tz));
    const count = Math.max(1, Math.floor(elapsedDays / days) - 1);
    current = add(current, days * count, 0);
  }
  return current;
}

// ---------------------------------------------------------------------------------------------
// Cron: croniter steps naive wall-clock times; each is localised independently with whenever's
// default (a skipped time moves forward by the gap, a repeated time takes its first occurrence).
// ---------------------------------------------------------------------------------------------

function* cronWalls(cron: string, from: Wall, dayOr: boolean): Generator<Wall> {
  const iterator = new CronWallIterator(cron, from, dayOr);
  for (;;) yield iterator.next();
}

/** `heapq.merge` by value: ties go to the first iterable. */
function* merge(first: Iterator<Micros>, second: Iterator<Micros>): Generator<Micros> {
  let a = first.next();
  let b = second.next();
  while (!a.done || !b.done) {
    if (!a.done && (b.done || a.value <= b.value)) {
      yield a.value;
      a = first.next();
    } else if (!b.done) {
      yield b.value;
      b = second.next();
    }
  }
}

function cronDates(schedule: CronScheduleModel, n: number, start: Micros, end: Micros | undefined): Micros[] {
  const tz = requireZone(schedule.timezone || "UTC");
  const localize = (wall: Wall): Micros => instantAt(wall, tz, "compatible");

  // croniter returns matches after its start, so start one second early (unless the start has
  // microseconds, which croniter floors away anyway).
  let from = wallOf(start, tz) - SECOND + (start % SECOND !== 0 ? SECOND : 0);
  const transition = previousTransition(start + SECOND, tz);
  const gap = transition === null ? 0 : offsetAt(transition, tz) - offsetAt(transition - SECOND, tz);
  const sinceTransition = transition === null ? -1 : start - transition;
  if (transition !== null && sinceTransition >= 0 && sinceTransition < -gap) {
    // Inside a repeated hour after falling back: its wall times resolve to their first (earlier)
    // occurrence, so skip past them without spending the candidate budget.
    from = wallOf(transition, tz) - gap - SECOND;
  }

  let candidates: Iterator<Micros> = map(cronWalls(schedule.cron, from, schedule.day_or), localize);
  if (transition !== null && sinceTransition >= 0 && sinceTransition < gap) {
    // Just after springing forward: wall times in the skipped hour land after `start` once moved
    // forward, but a walk from `start`'s wall clock would already be past them.
    const gapEnd = wallOf(transition, tz);
    const skipped = takeWhile(cronWalls(schedule.cron, from - gap, schedule.day_or), (wall) => wall < gapEnd);
    candidates = merge(map(skipped, localize), candidates);
  }
  try {
    return collect(filterFrom(take(candidates, MAX_ITERATIONS + 2), start), n, end);
  } catch (error) {
    // croniter's "failed to find next date" (nothing within 50 years) loses the dates found so far.
    if (error instanceof CronNoMatchError || error instanceof CronSyntaxError) throw new ScheduleEvaluationError(error.message);
    throw error;
  }
}

function* map<T, U>(items: Iterator<T>, f: (item: T) => U): Generator<U> {
  for (let r = items.next(); !r.done; r = items.next()) yield f(r.value);
}

function* takeWhile<T>(items: Iterator<T>, keep: (item: T) => boolean): Generator<T> {
  for (let r = items.next(); !r.done && keep(r.value); r = items.next()) yield r.value;
}

function* take<T>(items: Iterator<T>, count: number): Generator<T> {
  for (let i = 0; i < count; i++) {
    const r = items.next();
    if (r.done) return;
    yield r.value;
  }
}

/** Prefect's cron loop skips candidates before `start` (they still count towards the 1002). */
function* filterFrom(items: Iterable<Micros>, start: Micros): Generator<Micros> {
  for (const date of items) if (date >= start) yield date;
}

// ---------------------------------------------------------------------------------------------
// RRule: dateutil expands the rule on wall-clock time in the schedule's zone; dateutil's tzfile
// resolves a skipped time with the offset after the gap and a repeated time to its first
// occurrence, i.e. both to the earlier instant. (Not so in zones tzdata models with negative DST,
// Europe/Dublin and Africa/Casablanca/El_Aaiun, where dateutil misplaces the transition by an
// hour; within that hour these dates differ from Prefect's.)
// ---------------------------------------------------------------------------------------------

const LAST_DATE = new Date(Date.UTC(9999, 11, 31, 23, 59, 59));
/** More than any zone's offset changes at once, so no occurrence at or after `start` is missed. */
const WALL_MARGIN = 2 * MICROS_PER_DAY;

function rruleDates(schedule: RRuleScheduleModel, n: number, start: Micros, end: Micros | undefined): Micros[] {
  // Prefect hands None to dateutil.tz.gettz / ZoneInfo and fails.
  if (schedule.timezone === null) throw new ScheduleEvaluationError("expected str, bytes or os.PathLike object, not NoneType");
  const tz = requireZone(schedule.timezone);
  let rule: RRule | RRuleSet;
  try {
    rule = floatingRule(schedule.rrule);
  } catch (error) {
    if (error instanceof RRuleSyntaxError) throw new ScheduleEvaluationError(error.message);
    throw error;
  }
  const dates: Micros[] = [];
  const seen = new Set<Micros>();
  let counter = 0;
  const after = new Date(Math.floor((wallOf(start, tz) - WALL_MARGIN) / 1000));
  // `between` walks the rule from DTSTART like dateutil's `xafter`; returning false stops it.
  rule.between(after, LAST_DATE, true, (occurrence) => {
    const date = instantAt(occurrence.getTime() * 1000, tz, "earlier");
    if (date < start) return true;
    if (end !== undefined && date > end) return false;
    if (!seen.has(date)) {
      seen.add(date);
      dates.push(date);
    }
    if (seen.size >= n || counter > MAX_ITERATIONS) return false;
    counter++;
    return true;
  });
  return dates;
}
