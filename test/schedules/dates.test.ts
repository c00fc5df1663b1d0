import { describe, expect, test } from "bun:test";
import { parseDateTime, type Micros } from "../../src/lib/time";
import { getDates, ScheduleEvaluationError, type DateQuery } from "../../src/schedules/dates";
import type { ScheduleModel } from "../../src/schedules/schemas";
import { DATE_CASES, ERROR_CASES, SUMMARY_CASES } from "./prefect-cases";

/** Expected values come from Prefect 3.9.1 via test/schedules/oracle.py. */

const micros = (iso: string): Micros => parseDateTime(iso)!;

/** As the oracle prints instants: UTC, six fraction digits only when non-zero. */
function iso(value: Micros): string {
  const seconds = Math.floor(value / 1_000_000);
  const fraction = value - seconds * 1_000_000;
  const base = new Date(seconds * 1000).toISOString().slice(0, 19);
  return fraction ? `${base}.${String(fraction).padStart(6, "0")}Z` : `${base}Z`;
}

interface OracleQuery {
  n?: number;
  start: string;
  end?: string;
}

const toQuery = (q: OracleQuery): DateQuery => ({
  n: q.n,
  start: micros(q.start),
  end: q.end === undefined ? undefined : micros(q.end),
});

describe("getDates matches Prefect", () => {
  test.each(DATE_CASES.map((c) => [c.name, c] as const))("%s", (_, c) => {
    expect(getDates(c.schedule as ScheduleModel, toQuery(c.query)).map(iso)).toEqual(c.expected);
  });
});

describe("large results and the iteration guard", () => {
  test.each(SUMMARY_CASES.map((c) => [c.name, c] as const))("%s", (_, c) => {
    const dates = getDates(c.schedule as ScheduleModel, toQuery(c.query)).map(iso);
    expect({ count: dates.length, first: dates[0], last: dates.at(-1) }).toEqual({ count: c.count, first: c.first, last: c.last });
  });
});

describe("schedules Prefect fails to evaluate", () => {
  test.each(ERROR_CASES.map((c) => [c.name, c] as const))("%s", (_, c) => {
    const evaluate = () => getDates(c.schedule as ScheduleModel, toQuery(c.query));
    expect(evaluate).toThrow(ScheduleEvaluationError);
    expect(evaluate).toThrow(c.error);
  });
});

describe("defaults", () => {
  const hourly: ScheduleModel = { interval: 3600, anchor_date: "2024-01-01T00:00:00Z", timezone: "UTC" };

  test("start defaults to now", () => {
    expect(getDates(hourly, { now: micros("2024-05-05T05:05:00Z") }).map(iso)).toEqual(["2024-05-05T06:00:00Z"]);
  });

  test("results are ascending and unique", () => {
    const cron: ScheduleModel = { cron: "*/30 * * * *", timezone: "America/New_York", day_or: true };
    const dates = getDates(cron, { n: 50, start: micros("2024-03-10T06:00:00Z") });
    expect(dates).toEqual([...new Set(dates)].sort((a, b) => a - b));
  });
});
