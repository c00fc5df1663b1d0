/**
 * RRule strings as Prefect reads them through `dateutil.rrule.rrulestr`.
 *
 * Parsing and validation mirror dateutil's `_rrulestr` and `rrule.__init__` line by line, because
 * Prefect's 422 message embeds dateutil's exception text. Expanding the recurrence is left to the
 * `rrule` npm package, itself a port of dateutil's engine, run on floating (zone-less) wall-clock
 * dates: Prefect relabels every date of the rule with the schedule's timezone (`to_rrule`), so the
 * recurrence is pure calendar arithmetic and only the final wall -> instant step knows the zone.
 */
import { Frequency, RRule, RRuleSet, Weekday } from "rrule";
import type { Micros } from "../lib/time";
import { TIMEZONES } from "./timezones";
import { type Wall, wallOf, isKnownZone } from "./zoned";

/** dateutil's `ValueError` (or, for a missing FREQ, `TypeError`) text. */
export class RRuleSyntaxError extends Error {}

/** A date from the rule text: its wall-clock digits, and whether it named a zone (`Z`, offset, TZID). */
interface DateValue {
  readonly wall: Wall;
  readonly aware: boolean;
}

interface RuleParts {
  freq?: Frequency;
  interval?: number;
  count?: number;
  until?: DateValue;
  wkst?: number;
  bysetpos?: number[];
  bymonth?: number[];
  bymonthday?: number[];
  byyearday?: number[];
  byeaster?: number[];
  byweekno?: number[];
  byweekday?: Weekday[];
  byhour?: number[];
  byminute?: number[];
  bysecond?: number[];
}

interface ParsedRRule {
  readonly dtstart: DateValue | null;
  readonly rrules: readonly RuleParts[];
  readonly exrules: readonly RuleParts[];
  readonly rdates: readonly DateValue[];
  readonly exdates: readonly DateValue[];
  /** dateutil returns an `rruleset` rather than a single `rrule`. */
  readonly isSet: boolean;
}

const FREQUENCIES: Record<string, Frequency> = {
  YEARLY: Frequency.YEARLY,
  MONTHLY: Frequency.MONTHLY,
  WEEKLY: Frequency.WEEKLY,
  DAILY: Frequency.DAILY,
  HOURLY: Frequency.HOURLY,
  MINUTELY: Frequency.MINUTELY,
  SECONDLY: Frequency.SECONDLY,
};
const WEEKDAYS: Record<string, number> = { MO: 0, TU: 1, WE: 2, TH: 3, FR: 4, SA: 5, SU: 6 };

/** Prefect's `DEFAULT_ANCHOR_DATE`, the DTSTART of a rule that has none. */
export const DEFAULT_DTSTART: Wall = Date.UTC(2020, 0, 1) * 1000;
/** Prefect's `MAX_RRULE_LENGTH` ("approx. 1 years worth of RDATEs + buffer"). */
const MAX_RRULE_LENGTH = 6500;

/** Python's `int()` on a string: whitespace around, a sign, digits with single underscores. */
function pythonInt(text: string): number {
  if (!/^\s*[+-]?\d+(?:_\d+)*\s*$/.test(text)) throw new RRuleSyntaxError(`invalid literal for int() with base 10: '${text}'`);
  return Number.parseInt(text.replace(/_/g, ""), 10);
}

/** Python's "not enough values to unpack" / "too many values to unpack" for `a, b = text.split(sep)`. */
function splitPair(text: string, separator: string): [string, string] {
  const parts = text.split(separator);
  if (parts.length < 2) throw new RRuleSyntaxError(`not enough values to unpack (expected 2, got ${parts.length})`);
  if (parts.length > 2) throw new RRuleSyntaxError("too many values to unpack (expected 2)");
  return [parts[0]!, parts[1]!];
}

const COMPACT_DATE_RE = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})?)?(Z)?$/;
const ISO_DATE_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6})\d*)?)?)?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * The date forms rule strings use, as `dateutil.parser.parse` reads them: RFC 5545 basic
 * (`20240101T090000Z`) and ISO 8601 extended. Only the digits matter to Prefect (`to_rrule`
 * relabels every date with the schedule's zone), plus whether a zone was named.
 */
function parseDate(text: string): DateValue {
  const m = COMPACT_DATE_RE.exec(text) ?? ISO_DATE_RE.exec(text);
  if (!m) throw new RRuleSyntaxError(text ? `Unknown string format: ${text}` : "String does not contain a date: ");
  const [, y, mo, d, h = "0", mi = "0", s = "0"] = m;
  const fraction = COMPACT_DATE_RE.test(text) ? "" : (m[7] ?? "");
  const zone = COMPACT_DATE_RE.test(text) ? m[7] : m[8];
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  const date = new Date(ms);
  if (date.getUTCMonth() !== Number(mo) - 1 || date.getUTCDate() !== Number(d) || Number(h) > 23 || Number(mi) > 59 || Number(s) > 59) {
    throw new RRuleSyntaxError(`Unknown string format: ${text}`);
  }
  return { wall: ms * 1000 + Number(fraction.padEnd(6, "0")), aware: zone !== undefined };
}

type Handler = (parts: RuleParts, value: string) => void;

const intList = (value: string) => value.split(",").map(pythonInt);

const SIGN_OR_DIGIT = "+-0123456789";

/** dateutil's `_handle_BYWEEKDAY`: `MO`, `+1MO`, `-1FR` or `TH(+1)`. */
function parseWeekdays(value: string): Weekday[] {
  return value.split(",").map((token) => {
    if (token.length === 0) throw new RRuleSyntaxError("Invalid (empty) BYDAY specification.");
    let name: string;
    let n: number | null;
    if (token.includes("(")) {
      const [head, rest] = token.split("(") as [string, string];
      name = head;
      n = pythonInt(rest.slice(0, -1));
    } else {
      // dateutil's scan stops at the first letter, or on the last character when there is none.
      const letter = [...token].findIndex((c) => !SIGN_OR_DIGIT.includes(c));
      const split = letter === -1 ? token.length - 1 : letter;
      name = token.slice(split);
      n = split > 0 ? pythonInt(token.slice(0, split)) : null;
    }
    const weekday = WEEKDAYS[name];
    if (weekday === undefined) throw new RRuleSyntaxError(name);
    if (n === 0) throw new RRuleSyntaxError("Can't create weekday with n==0");
    return new Weekday(weekday, n ?? undefined);
  });
}

const HANDLERS: Record<string, Handler> = {
  FREQ: (p, v) => {
    const freq = FREQUENCIES[v];
    if (freq === undefined) throw new RRuleSyntaxError(v);
    p.freq = freq;
  },
  INTERVAL: (p, v) => void (p.interval = pythonInt(v)),
  COUNT: (p, v) => void (p.count = pythonInt(v)),
  UNTIL: (p, v) => void (p.until = parseDate(v)),
  WKST: (p, v) => {
    const weekday = WEEKDAYS[v];
    if (weekday === undefined) throw new RRuleSyntaxError(v);
    p.wkst = weekday;
  },
  BYSETPOS: (p, v) => void (p.bysetpos = intList(v)),
  BYMONTH: (p, v) => void (p.bymonth = intList(v)),
  BYMONTHDAY: (p, v) => void (p.bymonthday = intList(v)),
  BYYEARDAY: (p, v) => void (p.byyearday = intList(v)),
  BYEASTER: (p, v) => void (p.byeaster = intList(v)),
  BYWEEKNO: (p, v) => void (p.byweekno = intList(v)),
  BYHOUR: (p, v) => void (p.byhour = intList(v)),
  BYMINUTE: (p, v) => void (p.byminute = intList(v)),
  BYSECOND: (p, v) => void (p.bysecond = intList(v)),
  BYWEEKDAY: (p, v) => void (p.byweekday = parseWeekdays(v)),
  BYDAY: (p, v) => void (p.byweekday = parseWeekdays(v)),
};

/** dateutil's `_parse_rfc_rrule`: the `FREQ=...;...` body, optionally prefixed by `RRULE:`. */
function parseRuleParts(line: string): RuleParts {
  let body = line;
  if (line.includes(":")) {
    const [name, value] = splitPair(line, ":");
    if (name !== "RRULE") throw new RRuleSyntaxError("unknown parameter name");
    body = value;
  }
  const parts: RuleParts = {};
  for (const pair of body.split(";")) {
    const [rawName, rawValue] = splitPair(pair, "=");
    const name = rawName.toUpperCase();
    const value = rawValue.toUpperCase();
    const handler = HANDLERS[name];
    if (!handler) throw new RRuleSyntaxError(`unknown parameter '${name}'`);
    try {
      handler(parts, value);
    } catch (error) {
      if (error instanceof RRuleSyntaxError) throw new RRuleSyntaxError(`invalid '${name}': ${value}`);
      throw error;
    }
  }
  return parts;
}

/** dateutil's `_parse_date_value`: DTSTART/EXDATE values with their `TZID=`/`VALUE=` parameters. */
function parseDateValues(value: string, params: string[], tzids: Map<string, string>): DateValue[] {
  let zoned = false;
  let valueFound = false;
  for (const param of params) {
    if (param.startsWith("TZID=")) {
      const name = tzids.get(param.split("TZID=").pop()!);
      // dateutil's gettz returns None for a name it does not know, leaving the date naive.
      if (name !== undefined) zoned = TIMEZONES.includes(name) && isKnownZone(name);
      continue;
    }
    if (param !== "VALUE=DATE-TIME" && param !== "VALUE=DATE") throw new RRuleSyntaxError(`unsupported parm: ${param}`);
    if (valueFound) throw new RRuleSyntaxError(`Duplicate value parameter found in: ${param}`);
    valueFound = true;
  }
  return value.split(",").map((text) => {
    const date = parseDate(text);
    if (!zoned) return date;
    if (date.aware) throw new RRuleSyntaxError("DTSTART/EXDATE specifies multiple timezone");
    return { wall: date.wall, aware: true };
  });
}

/** dateutil's `rrulestr(text)` structure, before any rule is constructed. */
function parseRRuleText(text: string): { dtstart: DateValue | null; lines: ParsedLines } {
  const tzids = new Map([...text.matchAll(/TZID=([^:]+):/g)].map((m) => [m[1]!.toUpperCase(), m[1]!] as [string, string]));
  const upper = text.toUpperCase();
  if (!upper.trim()) throw new RRuleSyntaxError("empty string");
  const lines = upper.split(/\s+/).filter(Boolean);
  if (lines.length === 1 && (!upper.includes(":") || upper.startsWith("RRULE:"))) {
    return { dtstart: null, lines: { single: lines[0]! } };
  }
  let dtstart: DateValue | null = null;
  const rrules: string[] = [];
  const rdates: string[] = [];
  const exrules: string[] = [];
  const exdates: DateValue[] = [];
  for (const line of lines) {
    const colon = line.indexOf(":");
    const [head, value] = colon === -1 ? ["RRULE", line] : [line.slice(0, colon), line.slice(colon + 1)];
    const [name, ...params] = head.split(";");
    if (name === "RRULE") {
      if (params.length > 0) throw new RRuleSyntaxError(`unsupported RRULE parm: ${params[0]}`);
      rrules.push(value);
    } else if (name === "RDATE") {
      const bad = params.find((p) => p !== "VALUE=DATE-TIME");
      if (bad !== undefined) throw new RRuleSyntaxError(`unsupported RDATE parm: ${bad}`);
      rdates.push(value);
    } else if (name === "EXRULE") {
      if (params.length > 0) throw new RRuleSyntaxError(`unsupported EXRULE parm: ${params[0]}`);
      exrules.push(value);
    } else if (name === "EXDATE") {
      exdates.push(...parseDateValues(value, params, tzids));
    } else if (name === "DTSTART") {
      const values = parseDateValues(value, params, tzids);
      if (values.length !== 1) throw new RRuleSyntaxError(`Multiple DTSTART values specified:${value}`);
      dtstart = values[0]!;
    } else {
      throw new RRuleSyntaxError(`unsupported property: ${name}`);
    }
  }
  return { dtstart, lines: { rrules, rdates, exrules, exdates } };
}

type ParsedLines =
  | { single: string }
  | { rrules: string[]; rdates: string[]; exrules: string[]; exdates: DateValue[] };

/**
 * The DTSTART a rule without one gets: the `dtstart` Prefect passes to `rrulestr` (naive), or when
 * it passes none (validation) dateutil's current time, which is aware exactly when UNTIL is.
 */
interface DefaultStart {
  readonly wall: Wall;
  readonly followsUntil: boolean;
}

/** `rrulestr(text, dtstart=default)`: parse, then construct every rule in dateutil's order. */
function parseRRule(text: string, defaultDtstart: DefaultStart): ParsedRRule {
  const { dtstart, lines } = parseRRuleText(text);
  if ("single" in lines) {
    const rule = checkedRule(parseRuleParts(lines.single), null, defaultDtstart);
    return { dtstart: null, rrules: [rule], exrules: [], rdates: [], exdates: [], isSet: false };
  }
  const isSet = lines.rrules.length > 1 || lines.rdates.length > 0 || lines.exrules.length > 0 || lines.exdates.length > 0;
  if (!isSet && lines.rrules.length === 0) throw new RRuleSyntaxError("list index out of range");
  const rrules = lines.rrules.map((line) => checkedRule(parseRuleParts(line), dtstart, defaultDtstart));
  const rdates = lines.rdates.flatMap((value) => value.split(",").map(parseDate));
  const exrules = lines.exrules.map((line) => checkedRule(parseRuleParts(line), dtstart, defaultDtstart));
  return { dtstart, rrules, exrules, rdates, exdates: lines.exdates, isSet };
}

const gcd = (a: number, b: number): number => (b === 0 ? Math.abs(a) : gcd(b, a % b));
const pyMod = (a: number, b: number) => ((a % b) + b) % b;

/** dateutil's `__construct_byset`: BYxxx values reachable from DTSTART at this INTERVAL. */
function reachable(start: number, values: number[], base: number, interval: number): void {
  const step = gcd(interval, base);
  if (!values.some((v) => step === 1 || pyMod(v - start, step) === 0)) {
    throw new RRuleSyntaxError("Invalid rrule byxxx generates an empty set.");
  }
}

/** The checks `rrule.__init__` makes; `dtstart` null means the rule text had none. */
function checkedRule(parts: RuleParts, dtstart: DateValue | null, defaultDtstart: DefaultStart): RuleParts {
  if (parts.freq === undefined) throw new RRuleSyntaxError("rrule.__init__() missing 1 required positional argument: 'freq'");
  const start = dtstart ?? { wall: defaultDtstart.wall, aware: defaultDtstart.followsUntil && (parts.until?.aware ?? false) };
  if (parts.until && parts.until.aware !== start.aware) {
    throw new RRuleSyntaxError("RRULE UNTIL values must be specified in UTC when DTSTART is timezone-aware");
  }
  if (parts.bysetpos?.some((p) => p === 0 || p < -366 || p > 366)) {
    throw new RRuleSyntaxError("bysetpos must be between 1 and 366, or between -366 and -1");
  }
  const date = new Date(Math.floor(start.wall / 1000));
  const interval = parts.interval ?? 1;
  if (parts.byhour && parts.freq === Frequency.HOURLY) reachable(date.getUTCHours(), parts.byhour, 24, interval);
  if (parts.byminute && parts.freq === Frequency.MINUTELY) reachable(date.getUTCMinutes(), parts.byminute, 60, interval);
  if (parts.bysecond && parts.freq === Frequency.SECONDLY) reachable(date.getUTCSeconds(), parts.bysecond, 60, interval);
  if (parts.freq < Frequency.HOURLY) checkTimeset(parts, date);
  return parts;
}

/** Daily-or-coarser rules build `datetime.time(h, m, s)` for every BY combination. */
function checkTimeset(parts: RuleParts, start: Date): void {
  const sortedSet = (values: number[] | undefined, fallback: number) => [...new Set(values ?? [fallback])].sort((a, b) => a - b);
  for (const hour of sortedSet(parts.byhour, start.getUTCHours())) {
    for (const minute of sortedSet(parts.byminute, start.getUTCMinutes())) {
      for (const second of sortedSet(parts.bysecond, start.getUTCSeconds())) {
        if (hour < 0 || hour > 23) throw new RRuleSyntaxError("hour must be in 0..23");
        if (minute < 0 || minute > 59) throw new RRuleSyntaxError("minute must be in 0..59");
        if (second < 0 || second > 59) throw new RRuleSyntaxError("second must be in 0..59");
      }
    }
  }
}

/** Python's `len()` and slicing count code points, not UTF-16 units. */
const codePoints = (text: string) => [...text];

/**
 * Prefect's `validate_rrule_string`: the message, or null when Prefect accepts `rrule`.
 * `now` is the server's current time, which dateutil uses as DTSTART when the text has none.
 */
export function rruleStringError(rrule: string, now: Micros): string | null {
  try {
    parseRRule(rrule, { wall: wallOf(now, "UTC"), followsUntil: true });
  } catch (error) {
    if (error instanceof RRuleSyntaxError) return `Invalid RRule string "${rrule}": ${error.message}`;
    throw error;
  }
  const chars = codePoints(rrule);
  if (chars.length > MAX_RRULE_LENGTH) {
    return `Invalid RRule string "${chars.slice(0, 40).join("")}..."\nMax length is ${MAX_RRULE_LENGTH}, got ${chars.length}`;
  }
  return null;
}

const floating = (wall: Wall) => new Date(Math.floor(wall / 1000));

function toRRule(parts: RuleParts, dtstart: Wall): RRule {
  return new RRule(
    {
      freq: parts.freq!,
      // dateutil drops DTSTART's microseconds
      dtstart: new Date(Math.floor(dtstart / 1_000_000) * 1000),
      interval: parts.interval ?? 1,
      wkst: parts.wkst ?? 0,
      count: parts.count ?? null,
      until: parts.until ? floating(parts.until.wall) : null,
      bysetpos: parts.bysetpos ?? null,
      bymonth: parts.bymonth ?? null,
      bymonthday: parts.bymonthday ?? null,
      byyearday: parts.byyearday ?? null,
      byweekno: parts.byweekno ?? null,
      byweekday: parts.byweekday ?? null,
      byhour: parts.byhour ?? null,
      byminute: parts.byminute ?? null,
      bysecond: parts.bysecond ?? null,
      byeaster: parts.byeaster?.[0] ?? null,
    },
    true,
  );
}

/**
 * Prefect's `RRuleSchedule.to_rrule`: the rule with DTSTART defaulting to 2020-01-01 and every date
 * relabelled as floating wall-clock time (JS Dates whose UTC fields are the wall clock).
 * Throws RRuleSyntaxError where dateutil would raise (e.g. an UNTIL in UTC without a DTSTART).
 */
export function floatingRule(rrule: string): RRule | RRuleSet {
  const parsed = parseRRule(rrule, { wall: DEFAULT_DTSTART, followsUntil: false });
  const dtstart = parsed.dtstart?.wall ?? DEFAULT_DTSTART;
  if (!parsed.isSet) return toRRule(parsed.rrules[0]!, dtstart);
  const set = new RRuleSet(true);
  for (const rule of parsed.rrules) set.rrule(toRRule(rule, dtstart));
  for (const rule of parsed.exrules) set.exrule(toRRule(rule, dtstart));
  for (const date of parsed.rdates) set.rdate(floating(date.wall));
  for (const date of parsed.exdates) set.exdate(floating(date.wall));
  return set;
}

/**
 * Prefect's `normalize_rrule_string`, applied to schedules written through the API: a rule without
 * DTSTART gets one, the legacy 2020-01-01 anchor, or for SECONDLY/MINUTELY rules without COUNT the
 * latest phase-equivalent anchor at or before `now` (in the schedule's zone) so evaluation does
 * not replay years of occurrences.
 */
export function normalizeRRuleString(rrule: string, timezone: string | null, now: Micros): string {
  if (rrule.toUpperCase().includes("DTSTART")) return rrule;
  let parsed: ParsedRRule;
  try {
    parsed = parseRRule(rrule, { wall: DEFAULT_DTSTART, followsUntil: false });
  } catch (error) {
    if (error instanceof RRuleSyntaxError) return rrule;
    throw error;
  }
  const rule = parsed.rrules[0];
  const highFrequency = rule && (rule.freq === Frequency.SECONDLY || rule.freq === Frequency.MINUTELY);
  if (parsed.isSet || !rule || !highFrequency || rule.count !== undefined) return withDtstart(rrule, DEFAULT_DTSTART);
  const period = (rule.freq === Frequency.SECONDLY ? 1 : 60) * (rule.interval ?? 1) * 1_000_000;
  // dateutil's gettz falls back to UTC for an unknown zone; Prefect divides by a zero INTERVAL
  // and fails with a 500, where this keeps the legacy anchor.
  const zone = timezone && TIMEZONES.includes(timezone) && isKnownZone(timezone) ? timezone : "UTC";
  const elapsed = wallOf(now, zone) - DEFAULT_DTSTART;
  if (elapsed <= 0 || period <= 0) return withDtstart(rrule, DEFAULT_DTSTART);
  return withDtstart(rrule, DEFAULT_DTSTART + Math.floor(elapsed / period) * period);
}

function withDtstart(rrule: string, wall: Wall): string {
  const iso = new Date(Math.floor(wall / 1000)).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  const basic = iso.slice(0, 19).replace(/[-:]/g, "");
  return `DTSTART:${basic}\n${rrule}`;
}
