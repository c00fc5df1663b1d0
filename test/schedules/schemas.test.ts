import { describe, expect, test } from "bun:test";
import { Value } from "@sinclair/typebox/value";
import { parseDateTime } from "../../src/lib/time";
import { normalizeSchedule, Schedule, validateSchedule, type ScheduleModel } from "../../src/schedules/schemas";
import { NORMALIZE_CASES, NOW, VALIDATION_CASES } from "./prefect-cases";

/** Expected values come from Prefect 3.9.1 via test/schedules/oracle.py. */

const now = parseDateTime(NOW)!;

describe("validateSchedule matches DeploymentScheduleCreate.schedule", () => {
  test.each(VALIDATION_CASES.map((c) => [JSON.stringify(c.input).slice(0, 80), c] as const))("%s", (_, c) => {
    const expected = c.issues ? { ok: false, issues: c.issues } : { ok: true, schedule: c.schedule };
    expect(validateSchedule(c.input, now)).toEqual(expected as ReturnType<typeof validateSchedule>);
  });
});

describe("DTSTART injection on write (normalize_rrule_string)", () => {
  test.each(NORMALIZE_CASES.map((c) => [`${JSON.stringify(c.rrule)} in ${c.timezone}`, c] as const))("%s", (_, c) => {
    const schedule: ScheduleModel = { rrule: c.rrule, timezone: c.timezone };
    expect(normalizeSchedule(schedule, now)).toEqual({ rrule: c.expected, timezone: c.timezone });
  });

  test("other kinds pass through", () => {
    const cron: ScheduleModel = { cron: "0 9 * * *", timezone: null, day_or: true };
    expect(normalizeSchedule(cron, now)).toBe(cron);
  });
});

describe("Schedule (TypeBox) tells the kinds apart by their keys", () => {
  test.each([
    [{ interval: 60 }, true],
    [{ interval: "PT1H", anchor_date: "2024-01-01T00:00:00Z", timezone: null }, true],
    [{ cron: "0 9 * * *", day_or: false }, true],
    [{ rrule: "FREQ=DAILY", timezone: "UTC" }, true],
    [{ cron: "0 9 * * *", interval: 60 }, false],
    [{ rrule: "FREQ=DAILY", day_or: true }, false],
    [{ cron: "0 9 * * *", day_or: null }, false],
    [{}, false],
  ] as const)("%j -> %p", (input, valid) => {
    expect(Value.Check(Schedule, input)).toBe(valid);
  });
});
