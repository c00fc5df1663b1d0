/**
 * The three schedule kinds of Prefect's `schemas/schedules.py`: TypeBox shapes for request bodies,
 * the validation pydantic runs on them (with its error types, locations and messages), the
 * normalisation it applies, and the JSON Prefect returns for each.
 *
 * `Schedule` (the TypeBox union) only checks structure. `validateSchedule` is the full pydantic
 * union: routes that want Prefect's exact 422 declare the field `t.Unknown()` and call it.
 */
import { t } from "elysia";
import { Maybe, Strict } from "../schemas/common";
import { parseDateTime, type Micros } from "../lib/time";
import { cronStringError } from "./cron";
import { parseInterval } from "./duration";
import { normalizeRRuleString, rruleStringError } from "./rrule";
import { TIMEZONES } from "./timezones";

export const IntervalSchedule = Strict({
  /** Seconds, or an ISO 8601 / `HH:MM:SS` duration string; must be positive. */
  interval: t.Union([t.Number(), t.String()]),
  /** Defaults to now; a number is a Unix timestamp. */
  anchor_date: t.Optional(t.Union([t.String(), t.Number()])),
  timezone: Maybe(t.String()),
});

export const CronSchedule = Strict({
  cron: t.String(),
  timezone: Maybe(t.String()),
  /** true: day-of-month OR day-of-week (cron); false: AND (fcron). */
  day_or: t.Optional(t.Boolean()),
});

export const RRuleSchedule = Strict({
  rrule: t.String(),
  timezone: Maybe(t.String()),
});

/** One of the three, told apart by which of `interval`, `cron`, `rrule` is present. */
export const Schedule = t.Union([IntervalSchedule, CronSchedule, RRuleSchedule]);

/** A validated interval schedule as Prefect stores and returns it. */
export interface IntervalScheduleModel {
  /** Seconds (Prefect serialises the timedelta as float seconds). */
  interval: number;
  /** ISO 8601, keeping the offset it was given in (`Z` for UTC), microseconds when non-zero. */
  anchor_date: string;
  /** As given, else inferred: always "UTC" for a JSON anchor, which carries an offset, not a zone. */
  timezone: string;
}

export interface CronScheduleModel {
  cron: string;
  timezone: string | null;
  day_or: boolean;
}

export interface RRuleScheduleModel {
  rrule: string;
  timezone: string | null;
}

export type ScheduleModel = IntervalScheduleModel | CronScheduleModel | RRuleScheduleModel;

export const isInterval = (s: ScheduleModel): s is IntervalScheduleModel => "interval" in s;
export const isCron = (s: ScheduleModel): s is CronScheduleModel => "cron" in s;
export const isRRule = (s: ScheduleModel): s is RRuleScheduleModel => "rrule" in s;

/** A pydantic error entry; `loc` is relative to the schedule value (prefix it with the body path). */
export interface ScheduleIssue {
  type: string;
  loc: (string | number)[];
  msg: string;
  input: unknown;
}

export type ScheduleValidation = { ok: true; schedule: ScheduleModel } | { ok: false; issues: ScheduleIssue[] };

type JsonObject = Record<string, unknown>;
type FieldResult<T> = { ok: true; value: T } | { ok: false; type: string; msg: string };

const ok = <T>(value: T): FieldResult<T> => ({ ok: true, value });
const fail = <T>(type: string, msg: string): FieldResult<T> => ({ ok: false, type, msg });
const valueError = <T>(message: string): FieldResult<T> => fail("value_error", `Value error, ${message}`);

const string = (value: unknown): FieldResult<string> =>
  typeof value === "string" ? ok(value) : fail("string_type", "Input should be a valid string");

const optionalString = (value: unknown): FieldResult<string | null> => (value === null ? ok(null) : string(value));

const TRUE_STRINGS = ["1", "on", "t", "true", "y", "yes"];
const FALSE_STRINGS = ["0", "off", "f", "false", "n", "no"];

/** pydantic's lax `bool`: also 0/1 and yes/no-style strings. */
function laxBool(value: unknown): FieldResult<boolean> {
  if (typeof value === "boolean") return ok(value);
  const unparsable = fail<boolean>("bool_parsing", "Input should be a valid boolean, unable to interpret input");
  if (typeof value === "number") {
    if (value === 0 || value === 1) return ok(value === 1);
    return Number.isInteger(value) ? unparsable : fail("bool_type", "Input should be a valid boolean");
  }
  if (typeof value === "string") {
    const text = value.toLowerCase();
    if (TRUE_STRINGS.includes(text)) return ok(true);
    if (FALSE_STRINGS.includes(text)) return ok(false);
    return unparsable;
  }
  return fail("bool_type", "Input should be a valid boolean");
}

function positiveInterval(value: unknown): FieldResult<Micros> {
  const parsed = parseInterval(value);
  if (!parsed.ok) return fail(parsed.type, parsed.msg);
  return parsed.micros > 0 ? ok(parsed.micros) : valueError("interval must be positive");
}

/** An anchor instant and the UTC offset (minutes) it was written with, which Prefect echoes back. */
export interface Anchor {
  instant: Micros;
  offsetMinutes: number;
}

const OFFSET_RE = /\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)$/;
/** pydantic reads numbers above 2e10 as milliseconds since the epoch. */
const MILLISECOND_TIMESTAMPS = 2e10;

function anchorFromTimestamp(value: number): Anchor {
  const seconds = Math.abs(value) > MILLISECOND_TIMESTAMPS ? value / 1000 : value;
  return { instant: Math.round(seconds * 1_000_000), offsetMinutes: 0 };
}

/** `anchor_date` as Prefect's pendulum-backed `DateTime` reads ISO 8601 text and Unix timestamps. */
export function parseAnchor(value: string): Anchor | null {
  if (/^\s*-?\d+(\.\d+)?\s*$/.test(value)) return anchorFromTimestamp(Number(value));
  const instant = parseDateTime(value);
  if (instant === null) return null;
  const offset = OFFSET_RE.exec(value.trim())?.[1];
  if (!offset || offset === "Z" || offset === "z") return { instant, offsetMinutes: 0 };
  const digits = offset.slice(1).replace(":", "");
  const minutes = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || "0");
  return { instant, offsetMinutes: offset[0] === "-" ? -minutes : minutes };
}

function anchorDate(value: unknown): FieldResult<Anchor> {
  if (typeof value === "number" && Number.isFinite(value)) return ok(anchorFromTimestamp(value));
  if (typeof value !== "string") return fail("value_error", "value is not a valid datetime");
  const anchor = parseAnchor(value);
  return anchor ? ok(anchor) : valueError(`Unable to parse string [${value}]`);
}

/** ISO 8601 in the anchor's own offset, as pydantic serialises a pendulum DateTime. */
export function formatAnchor({ instant, offsetMinutes }: Anchor): string {
  const local = instant + offsetMinutes * 60_000_000;
  const ms = Math.floor(local / 1000);
  const micros = local - Math.floor(local / 1_000_000) * 1_000_000;
  const base = new Date(ms).toISOString().slice(0, 19);
  const fraction = micros ? `.${String(micros).padStart(6, "0")}` : "";
  if (offsetMinutes === 0) return `${base}${fraction}Z`;
  const sign = offsetMinutes < 0 ? "-" : "+";
  const abs = Math.abs(offsetMinutes);
  return `${base}${fraction}${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

const TIMEZONE_SET = new Set(TIMEZONES);

/** Prefect's `default_timezone` check for interval and cron schedules ("" is let through). */
const timezoneError = (timezone: string | null): string | null =>
  timezone && !TIMEZONE_SET.has(timezone)
    ? `Invalid timezone: "${timezone}" (specify in IANA tzdata format, for example, America/New_York)`
    : null;

/**
 * RRule timezones use pydantic's `pattern`: every name OR-ed into one regex and *searched*,
 * so any text containing a zone name (`"xxUTCxx"`) passes, as it does in Prefect.
 */
const TIMEZONE_PATTERN = TIMEZONES.join("|");
const TIMEZONE_PATTERN_RE = new RegExp(TIMEZONE_PATTERN);

function rruleTimezone(value: unknown): FieldResult<string | null> {
  const text = optionalString(value);
  if (!text.ok || text.value === null || TIMEZONE_PATTERN_RE.test(text.value)) return text;
  return fail("string_pattern_mismatch", `String should match pattern '${TIMEZONE_PATTERN}'`);
}

type FieldSpec = { name: string; required: boolean; validate: (value: unknown) => FieldResult<unknown> };
type ModelResult = { ok: true; value: ScheduleModel } | { ok: false; issues: ScheduleIssue[] };

/**
 * One pydantic model with `extra="forbid"`: fields in declaration order, then unknown keys, then
 * (only when all fields passed) the model validator, whose error sits at the model's location.
 */
function validateModel(
  tag: string,
  model: string,
  input: unknown,
  fields: FieldSpec[],
  after: (values: Map<string, unknown>) => FieldResult<ScheduleModel>,
): ModelResult {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return { ok: false, issues: [{ type: "model_type", loc: [tag], msg: `Input should be a valid dictionary or instance of ${model}`, input }] };
  }
  const object = input as JsonObject;
  const issues: ScheduleIssue[] = [];
  const values = new Map<string, unknown>();
  for (const field of fields) {
    if (!(field.name in object)) {
      if (field.required) issues.push({ type: "missing", loc: [tag, field.name], msg: "Field required", input: object });
      continue;
    }
    const result = field.validate(object[field.name]);
    if (result.ok) values.set(field.name, result.value);
    else issues.push({ type: result.type, loc: [tag, field.name], msg: result.msg, input: object[field.name] });
  }
  const known = new Set(fields.map((f) => f.name));
  for (const key of Object.keys(object)) {
    if (!known.has(key)) issues.push({ type: "extra_forbidden", loc: [tag, key], msg: "Extra inputs are not permitted", input: object[key] });
  }
  if (issues.length > 0) return { ok: false, issues };
  const result = after(values);
  return result.ok ? result : { ok: false, issues: [{ type: result.type, loc: [tag], msg: result.msg, input: object }] };
}

const INTERVAL_TAG = "function-after[validate_timezone(), IntervalSchedule]";
const CRON_TAG = "function-after[validate_timezone(), CronSchedule]";
const RRULE_TAG = "RRuleSchedule";

function validateInterval(input: unknown, now: Micros): ModelResult {
  const fields: FieldSpec[] = [
    { name: "interval", required: true, validate: positiveInterval },
    { name: "anchor_date", required: false, validate: anchorDate },
    { name: "timezone", required: false, validate: optionalString },
  ];
  return validateModel(INTERVAL_TAG, "IntervalSchedule", input, fields, (values) => {
    const timezone = (values.get("timezone") as string | null | undefined) ?? null;
    const error = timezoneError(timezone);
    if (error) return valueError(error);
    const anchor = (values.get("anchor_date") as Anchor | undefined) ?? { instant: now, offsetMinutes: 0 };
    return ok({
      interval: (values.get("interval") as Micros) / 1_000_000,
      anchor_date: formatAnchor(anchor),
      timezone: timezone ?? "UTC",
    });
  });
}

function validateCron(input: unknown): ModelResult {
  const cron = (value: unknown): FieldResult<string> => {
    const text = string(value);
    if (!text.ok) return text;
    const error = cronStringError(text.value);
    return error ? valueError(error) : text;
  };
  const fields: FieldSpec[] = [
    { name: "cron", required: true, validate: cron },
    { name: "timezone", required: false, validate: optionalString },
    { name: "day_or", required: false, validate: laxBool },
  ];
  return validateModel(CRON_TAG, "CronSchedule", input, fields, (values) => {
    const timezone = (values.get("timezone") as string | null | undefined) ?? null;
    const error = timezoneError(timezone);
    if (error) return valueError(error);
    return ok({ cron: values.get("cron") as string, timezone, day_or: (values.get("day_or") as boolean | undefined) ?? true });
  });
}

function validateRRule(input: unknown, now: Micros): ModelResult {
  const rrule = (value: unknown): FieldResult<string> => {
    const text = string(value);
    if (!text.ok) return text;
    const error = rruleStringError(text.value, now);
    return error ? valueError(error) : text;
  };
  const fields: FieldSpec[] = [
    { name: "rrule", required: true, validate: rrule },
    { name: "timezone", required: false, validate: rruleTimezone },
  ];
  return validateModel(RRULE_TAG, "RRuleSchedule", input, fields, (values) =>
    ok({
      rrule: values.get("rrule") as string,
      timezone: values.has("timezone") ? (values.get("timezone") as string | null) : "UTC",
    }),
  );
}

/**
 * pydantic's `Union[IntervalSchedule, CronSchedule, RRuleSchedule]`: the first member that
 * validates wins (their required keys and `extra="forbid"` make at most one succeed); otherwise
 * every member's errors, each under the member's tag. `now` is the default anchor and the time
 * dateutil assumes when validating an rrule without DTSTART.
 */
export function validateSchedule(input: unknown, now: Micros): ScheduleValidation {
  const results = [validateInterval(input, now), validateCron(input), validateRRule(input, now)];
  for (const result of results) if (result.ok) return { ok: true, schedule: result.value };
  return { ok: false, issues: results.flatMap((r) => (r.ok ? [] : r.issues)) };
}

/**
 * The `AfterValidator` Prefect puts on `DeploymentScheduleCreate/Update.schedule` (not on the
 * schedule models, so stored schedules are never re-anchored): an rrule without DTSTART gets one.
 */
export function normalizeSchedule(schedule: ScheduleModel, now: Micros): ScheduleModel {
  if (!isRRule(schedule)) return schedule;
  return { ...schedule, rrule: normalizeRRuleString(schedule.rrule, schedule.timezone, now) };
}
