/**
 * `IntervalSchedule.interval` as pydantic reads a `timedelta`: a number of seconds, or a string
 * in ISO 8601 (`PT1H`, `P1DT12H`, `P1W`; Y = 365 d, M = 30 d) or `[D day[s][,]] HH:MM[:SS[.ffffff]]`
 * form. Real Prefect clients send float seconds; the string forms are accepted for parity.
 */
import type { Micros } from "../lib/time";

const MICROS_PER_SECOND = 1_000_000;
const SECONDS_PER_DAY = 86_400;
const MAX_DAYS = 999_999_999;

export type DurationResult = { ok: true; micros: Micros } | { ok: false; type: "time_delta_parsing" | "time_delta_type"; msg: string };

const parsingError = (reason: string): DurationResult => ({
  ok: false,
  type: "time_delta_parsing",
  msg: `Input should be a valid timedelta, ${reason}`,
});

/** The `timedelta` pydantic builds from `value`, in microseconds (it may be zero or negative). */
export function parseInterval(value: unknown): DurationResult {
  if (typeof value === "boolean") return { ok: true, micros: value ? MICROS_PER_SECOND : 0 };
  if (typeof value === "number") return fromSeconds(value);
  if (typeof value === "string") return fromString(value);
  return { ok: false, type: "time_delta_type", msg: "Input should be a valid timedelta" };
}

function fromSeconds(seconds: number): DurationResult {
  if (Number.isNaN(seconds)) return parsingError("NaN values not permitted");
  if (!Number.isFinite(seconds) || Math.abs(seconds) / SECONDS_PER_DAY > MAX_DAYS) {
    return parsingError("durations may not exceed 999,999,999 days");
  }
  // pydantic rounds only the fractional part, so large values keep their whole seconds exact.
  const whole = Math.trunc(seconds);
  return { ok: true, micros: whole * MICROS_PER_SECOND + Math.round((seconds - whole) * MICROS_PER_SECOND) };
}

function fromString(text: string): DurationResult {
  if (text.length === 0) return parsingError("input is too short");
  const sign = text[0] === "-" ? -1 : 1;
  const body = text[0] === "-" || text[0] === "+" ? text.slice(1) : text;
  const parsed = body.startsWith("P") ? fromIso(body.slice(1)) : fromClock(body);
  if (!parsed.ok) return parsed;
  if (Math.abs(parsed.micros) / MICROS_PER_SECOND / SECONDS_PER_DAY > MAX_DAYS) {
    return parsingError("durations may not exceed 999,999,999 days");
  }
  return { ok: true, micros: sign * parsed.micros };
}

const DATE_UNITS: Record<string, number> = { Y: 365 * SECONDS_PER_DAY, M: 30 * SECONDS_PER_DAY, W: 7 * SECONDS_PER_DAY, D: SECONDS_PER_DAY };
const TIME_UNITS: Record<string, number> = { H: 3600, M: 60, S: 1 };

/** ISO 8601 `PnYnMnWnDTnHnMnS` as speedate reads it: only the last quantity may have a fraction. */
function fromIso(rest: string): DurationResult {
  if (rest.length === 0 || rest === "T") return parsingError("input is too short");
  let inTime = false;
  let sawFraction = false;
  let micros = 0;
  const quantity = /^(\d+)(?:[.,](\d*))?/;
  for (let i = 0; i < rest.length; ) {
    if (rest[i] === "T") {
      if (inTime) return parsingError("`t` character repeated in duration");
      inTime = true;
      i++;
      continue;
    }
    const m = quantity.exec(rest.slice(i));
    if (!m) return parsingError("invalid digit in duration");
    if (sawFraction) return parsingError("quantity fraction invalid in duration");
    sawFraction = m[2] !== undefined;
    i += m[0].length;
    const unit = (inTime ? TIME_UNITS : DATE_UNITS)[rest[i] ?? ""];
    if (unit === undefined) return parsingError(`quantity invalid in ${inTime ? "time" : "date"} part of duration`);
    i++;
    micros += Math.round(Number(`${m[1]}.${m[2] || "0"}`) * unit * MICROS_PER_SECOND);
  }
  return { ok: true, micros };
}

const CLOCK = String.raw`(?:(\d{2,}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6})\d*)?)?|(\d+):(\d{2}):(\d{2})(?:[.,](\d{1,6})\d*)?)`;
const CLOCK_RE = new RegExp(`^${CLOCK}$`);
const DAYS_RE = new RegExp(`^(\\d+) ?d(?:ays?)?(?:,? ?(?:${CLOCK})?)?$`, "i");

/** `HH:MM[:SS[.f]]`, optionally after `D day[s],`. Malformed input gets speedate's commonest reasons. */
function fromClock(text: string): DurationResult {
  if (!/^\d/.test(text)) return parsingError("invalid digit in duration");
  const clock = CLOCK_RE.exec(text);
  if (clock) return clockMicros(0, clock.slice(1), Number.POSITIVE_INFINITY);
  const days = DAYS_RE.exec(text);
  // After a day count the clock is a time of day, so its hour is below 24.
  if (days) return clockMicros(Number(days[1]), days.slice(2), 23);
  return parsingError('"day" identifier in duration not correctly formatted');
}

function clockMicros(days: number, groups: (string | undefined)[], maxHour: number): DurationResult {
  const [h1, m1, s1, f1, h2, m2, s2, f2] = groups;
  const hour = Number(h1 ?? h2 ?? 0);
  const minute = Number(m1 ?? m2 ?? 0);
  const second = Number(s1 ?? s2 ?? 0);
  const fraction = Number((f1 ?? f2 ?? "").padEnd(6, "0"));
  if (hour > maxHour) return parsingError("durations may not exceed 999,999,999 hours");
  if (minute > 59) return parsingError("minute value is outside expected range of 0-59");
  if (second > 59) return parsingError("second value is outside expected range of 0-59");
  return { ok: true, micros: ((days * 24 + hour) * 3600 + minute * 60 + second) * MICROS_PER_SECOND + fraction };
}
