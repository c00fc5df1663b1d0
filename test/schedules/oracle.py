"""
Runs the reference Prefect 3.9.1 on the schedule cases and writes their expected values.

    /work/refvenv/bin/python test/schedules/oracle.py > test/schedules/prefect-cases.ts
    /work/refvenv/bin/python test/schedules/oracle.py timezones   # the list in src/schedules/timezones.ts

The TypeScript tests never run Python: they read the generated, committed file.
"""

import asyncio
import datetime
import json
import sys
from unittest import mock

import pendulum
import pydantic

from prefect._internal.schemas.validators import normalize_rrule_string
from prefect.server.schemas.actions import DeploymentScheduleCreate
from prefect.server.schemas.schedules import CronSchedule, IntervalSchedule, RRuleSchedule
from prefect.types._datetime import get_timezones

UTC = datetime.timezone.utc
NOW = "2024-06-15T12:34:56.789012Z"


def iso(dt: datetime.datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ").replace(".000000Z", "Z")


def parse(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def model_for(schedule: dict):
    if "interval" in schedule:
        return IntervalSchedule(**schedule)
    if "cron" in schedule:
        return CronSchedule(**schedule)
    return RRuleSchedule(**schedule)


# name, schedule (API input), query: n / start / end
DATE_CASES = [
    # interval
    ("interval hourly", {"interval": 3600, "anchor_date": "2024-01-01T00:00:00Z"}, {"n": 5, "start": "2024-01-01T10:30:00Z"}),
    ("interval hourly across spring-forward keeps UTC steps", {"interval": 3600, "anchor_date": "2024-03-01T00:00:00-05:00", "timezone": "America/New_York"}, {"n": 5, "start": "2024-03-10T05:00:00Z"}),
    ("interval hourly across fall-back repeats 1am local", {"interval": 3600, "anchor_date": "2024-10-01T00:15:00-04:00", "timezone": "America/New_York"}, {"n": 5, "start": "2024-11-03T04:00:00Z"}),
    ("interval half-hourly, start inside the repeated hour: wall-clock comparisons", {"interval": 1500, "anchor_date": "2024-10-01T00:05:00-04:00", "timezone": "America/New_York"}, {"n": 6, "start": "2024-11-03T06:10:00Z"}),
    ("interval hourly, start in the first pass of the repeated hour", {"interval": 3600, "anchor_date": "2024-10-01T00:15:00-04:00", "timezone": "America/New_York"}, {"n": 3, "start": "2024-11-03T05:20:00Z"}),
    ("interval hourly, end inside the repeated hour", {"interval": 3600, "anchor_date": "2024-10-01T00:15:00-04:00", "timezone": "America/New_York"}, {"start": "2024-11-03T04:00:00Z", "end": "2024-11-03T06:20:00Z"}),
    ("interval daily 9am New York across spring-forward", {"interval": 86400, "anchor_date": "2024-03-01T14:00:00Z", "timezone": "America/New_York"}, {"n": 5, "start": "2024-03-08T00:00:00Z"}),
    ("interval daily 9am New York across fall-back", {"interval": 86400, "anchor_date": "2024-10-25T13:00:00Z", "timezone": "America/New_York"}, {"n": 5, "start": "2024-11-01T00:00:00Z"}),
    ("interval daily 02:30 New York: the skipped time moves every later date", {"interval": 86400, "anchor_date": "2024-03-01T07:30:00Z", "timezone": "America/New_York"}, {"n": 4, "start": "2024-03-08T12:00:00Z"}),
    ("interval daily 01:30 New York: the repeated time takes the later instant", {"interval": 86400, "anchor_date": "2024-10-25T05:30:00Z", "timezone": "America/New_York"}, {"n": 4, "start": "2024-11-01T12:00:00Z"}),
    ("interval daily anchor in the future (dates counted back from it)", {"interval": 86400, "anchor_date": "2024-03-20T06:30:00Z", "timezone": "America/New_York"}, {"n": 14, "start": "2024-03-08T12:00:00Z"}),
    ("interval hourly anchor in the future", {"interval": 3600, "anchor_date": "2030-01-01T00:20:00Z"}, {"n": 3, "start": "2024-01-01T10:00:00Z"}),
    ("interval 25h is days plus seconds on the wall clock", {"interval": 90000, "anchor_date": "2024-03-08T07:30:00Z", "timezone": "America/New_York"}, {"n": 4, "start": "2024-03-08T12:00:00Z"}),
    ("interval weekly Europe/Berlin across DST", {"interval": "P1W", "anchor_date": "2024-03-04T07:00:00Z", "timezone": "Europe/Berlin"}, {"n": 4, "start": "2024-03-20T00:00:00Z"}),
    ("interval 90 minutes Australia/Lord_Howe (30-minute DST)", {"interval": 5400, "anchor_date": "2024-04-06T12:00:00Z", "timezone": "Australia/Lord_Howe"}, {"n": 4, "start": "2024-04-06T14:00:00Z"}),
    ("interval end is inclusive", {"interval": 3600, "anchor_date": "2024-01-01T00:00:00Z"}, {"start": "2024-01-01T00:00:00Z", "end": "2024-01-01T05:00:00Z"}),
    ("interval n smaller than the range", {"interval": 3600, "anchor_date": "2024-01-01T00:00:00Z"}, {"n": 2, "start": "2024-01-01T00:00:00Z", "end": "2024-01-01T05:00:00Z"}),
    ("interval without n or end returns one date", {"interval": 3600, "anchor_date": "2024-01-01T00:00:00Z"}, {"start": "2024-01-01T00:00:01Z"}),
    ("interval microseconds", {"interval": 0.5, "anchor_date": "2024-01-01T00:00:00.250000Z"}, {"n": 3, "start": "2024-01-01T00:00:00.100000Z"}),
    ("interval 36h anchor with offset", {"interval": "1 day, 12:00:00", "anchor_date": "2024-03-05T18:00:00+05:30", "timezone": "Asia/Kolkata"}, {"n": 3, "start": "2024-03-10T00:00:00Z"}),
    # cron
    ("cron 9am Europe/Berlin across spring-forward", {"cron": "0 9 * * *", "timezone": "Europe/Berlin"}, {"n": 4, "start": "2024-03-29T12:00:00Z"}),
    ("cron 9am Europe/Berlin across fall-back", {"cron": "0 9 * * *", "timezone": "Europe/Berlin"}, {"n": 4, "start": "2024-10-25T12:00:00Z"}),
    ("cron 02:30 New York on spring-forward day moves to 03:30", {"cron": "30 2 * * *", "timezone": "America/New_York"}, {"n": 4, "start": "2024-03-08T12:00:00Z"}),
    ("cron 01:30 New York on fall-back day fires once, first occurrence", {"cron": "30 1 * * *", "timezone": "America/New_York"}, {"n": 4, "start": "2024-11-01T12:00:00Z"}),
    ("cron hourly New York fall-back skips the repeated hour", {"cron": "0 * * * *", "timezone": "America/New_York"}, {"n": 5, "start": "2024-11-03T04:00:00Z"}),
    ("cron hourly New York spring-forward", {"cron": "0 * * * *", "timezone": "America/New_York"}, {"n": 5, "start": "2024-03-10T05:00:00Z"}),
    ("cron start inside the repeated hour", {"cron": "*/15 * * * *", "timezone": "America/New_York"}, {"n": 4, "start": "2024-11-03T06:10:00Z"}),
    ("cron start just after spring-forward recovers the skipped 02:30", {"cron": "30 2 * * *", "timezone": "America/New_York"}, {"n": 2, "start": "2024-03-10T07:10:00Z"}),
    ("cron every 20 minutes just after spring-forward", {"cron": "*/20 * * * *", "timezone": "America/New_York"}, {"n": 5, "start": "2024-03-10T07:05:00Z"}),
    ("cron day_or true: 1st of month OR Monday", {"cron": "0 0 1 * MON", "day_or": True}, {"n": 6, "start": "2024-01-01T00:00:00Z"}),
    ("cron day_or false: 1st of month AND Monday", {"cron": "0 0 1 * MON", "day_or": False}, {"n": 3, "start": "2024-01-01T00:00:00Z"}),
    ("cron every 15 minutes", {"cron": "*/15 * * * *"}, {"n": 6, "start": "2024-01-01T10:07:00Z"}),
    ("cron start exactly on a match is included", {"cron": "*/15 * * * *"}, {"n": 2, "start": "2024-01-01T10:15:00Z"}),
    ("cron start with microseconds", {"cron": "*/15 * * * *"}, {"n": 2, "start": "2024-01-01T10:15:00.000001Z"}),
    ("cron end limit", {"cron": "0 * * * *", "timezone": "Asia/Tokyo"}, {"start": "2024-01-01T00:00:00Z", "end": "2024-01-01T04:00:00Z"}),
    ("cron seconds as sixth field", {"cron": "0 9 * * * 30"}, {"n": 2, "start": "2024-01-01T00:00:00Z"}),
    ("cron year as seventh field", {"cron": "0 0 1 * * 0 2026-2027"}, {"n": 3, "start": "2024-01-01T00:00:00Z"}),
    ("cron @hourly", {"cron": "@hourly"}, {"n": 2, "start": "2024-01-01T00:30:00Z"}),
    ("cron last day of month", {"cron": "0 12 L * *", "timezone": "America/Chicago"}, {"n": 3, "start": "2024-01-15T00:00:00Z"}),
    ("cron last Friday", {"cron": "0 0 * * L5"}, {"n": 3, "start": "2024-01-01T00:00:00Z"}),
    ("cron second Monday", {"cron": "0 0 * * 1#2"}, {"n": 3, "start": "2024-01-01T00:00:00Z"}),
    ("cron wrapping range and names", {"cron": "0 0 * nov-feb sat-sun"}, {"n": 4, "start": "2024-02-20T00:00:00Z"}),
    ("cron step from a value", {"cron": "10/25 * * * *"}, {"n": 4, "start": "2024-01-01T00:00:00Z"}),
    ("cron day-of-month list with a full weekday list is OR-ed", {"cron": "0 0 15 * 0-6"}, {"n": 3, "start": "2024-01-01T00:00:00Z"}),
    # rrule
    ("rrule daily 9am New York across spring-forward", {"rrule": "DTSTART:20240301T090000\nRRULE:FREQ=DAILY;BYHOUR=9", "timezone": "America/New_York"}, {"n": 5, "start": "2024-03-08T00:00:00Z"}),
    ("rrule daily 9am New York across fall-back", {"rrule": "DTSTART:20241001T090000\nRRULE:FREQ=DAILY;BYHOUR=9", "timezone": "America/New_York"}, {"n": 5, "start": "2024-11-01T00:00:00Z"}),
    ("rrule daily 02:30 New York: the skipped time takes the earlier instant", {"rrule": "DTSTART:20240301T023000\nRRULE:FREQ=DAILY", "timezone": "America/New_York"}, {"n": 4, "start": "2024-03-08T12:00:00Z"}),
    ("rrule hourly New York fall-back", {"rrule": "DTSTART:20241025T000000\nRRULE:FREQ=HOURLY", "timezone": "America/New_York"}, {"n": 5, "start": "2024-11-03T04:00:00Z"}),
    ("rrule hourly New York spring-forward drops the duplicate", {"rrule": "DTSTART:20240301T000000\nRRULE:FREQ=HOURLY", "timezone": "America/New_York"}, {"n": 5, "start": "2024-03-10T05:00:00Z"}),
    ("rrule COUNT", {"rrule": "DTSTART:20240101T000000\nRRULE:FREQ=DAILY;COUNT=3"}, {"n": 10, "start": "2024-01-02T00:00:00Z"}),
    ("rrule UNTIL", {"rrule": "DTSTART:20240101T090000\nRRULE:FREQ=WEEKLY;BYDAY=MO,WE;UNTIL=20240201T000000", "timezone": "Europe/Paris"}, {"n": 20, "start": "2024-01-01T00:00:00Z"}),
    ("rrule end limit", {"rrule": "DTSTART:20240101T000000\nRRULE:FREQ=HOURLY;INTERVAL=6"}, {"start": "2024-01-03T00:00:00Z", "end": "2024-01-04T00:00:00Z"}),
    ("rrule without DTSTART starts 2020-01-01", {"rrule": "FREQ=HOURLY;INTERVAL=5"}, {"n": 3, "start": "2024-01-01T00:00:00Z"}),
    ("rrule DTSTART in UTC is relabelled in the schedule zone", {"rrule": "DTSTART:20240301T090000Z\nRRULE:FREQ=DAILY", "timezone": "America/New_York"}, {"n": 2, "start": "2024-03-08T12:00:00Z"}),
    ("rrule DTSTART TZID is relabelled too", {"rrule": "DTSTART;TZID=Europe/Berlin:20240301T090000\nRRULE:FREQ=DAILY", "timezone": "Asia/Tokyo"}, {"n": 2, "start": "2024-03-08T12:00:00Z"}),
    ("rrule set with EXDATE and RDATE", {"rrule": "DTSTART:20240101T100000\nRRULE:FREQ=DAILY;COUNT=5\nEXDATE:20240102T100000,20240104T100000\nRDATE:20240110T120000", "timezone": "UTC"}, {"n": 10, "start": "2024-01-01T00:00:00Z"}),
    ("rrule last Friday of the month", {"rrule": "DTSTART:20240101T170000\nRRULE:FREQ=MONTHLY;BYDAY=-1FR", "timezone": "America/Los_Angeles"}, {"n": 4, "start": "2024-01-01T00:00:00Z"}),
    ("rrule BYSETPOS last weekday", {"rrule": "DTSTART:20240101T080000\nRRULE:FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1"}, {"n": 3, "start": "2024-01-01T00:00:00Z"}),
    ("rrule lowercase, no RRULE: prefix", {"rrule": "dtstart:20240105T060000\nfreq=weekly;interval=2;byday=fr"}, {"n": 3, "start": "2024-01-01T00:00:00Z"}),
]

# Large results, compared by count and ends: the MAX_ITERATIONS guard and the default n with an end.
SUMMARY_CASES = [
    ("interval guard stops after 1002 dates", {"interval": 60, "anchor_date": "2024-01-01T00:00:00Z"}, {"n": 5000, "start": "2024-01-01T00:00:00Z"}),
    ("interval n defaults to 1000 with an end", {"interval": 60, "anchor_date": "2024-01-01T00:00:00Z"}, {"start": "2024-01-01T00:00:00Z", "end": "2024-02-01T00:00:00Z"}),
    ("cron guard stops after 1002 candidates", {"cron": "* * * * *"}, {"n": 5000, "start": "2024-01-01T00:00:00Z"}),
    ("cron guard counts candidates before start in a repeated hour", {"cron": "* * * * *", "timezone": "America/New_York"}, {"n": 5000, "start": "2024-11-03T06:30:00Z"}),
    ("rrule guard stops after 1002 dates", {"rrule": "DTSTART:20240101T000000\nRRULE:FREQ=MINUTELY"}, {"n": 5000, "start": "2024-01-01T00:00:00Z"}),
    ("rrule n defaults to 1000 with an end", {"rrule": "DTSTART:20240101T000000\nRRULE:FREQ=MINUTELY;INTERVAL=7"}, {"start": "2024-01-01T00:00:00Z", "end": "2024-12-01T00:00:00Z"}),
]

ERROR_CASES = [
    ("cron with a year field runs out of years (the dates found are lost too)", {"cron": "0 0 1 1 * 0 2026"}, {"n": 2, "start": "2024-01-01T00:00:00Z"}),
    ("cron that never matches", {"cron": "0 0 30 2 *"}, {"n": 1, "start": "2024-01-01T00:00:00Z"}),
    ("cron nth weekday OR-ed with a day of month never matches", {"cron": "0 0 1 * mon#2"}, {"n": 1, "start": "2024-01-01T00:00:00Z"}),
    ("rrule with a null timezone", {"rrule": "FREQ=DAILY", "timezone": None}, {"n": 1, "start": "2024-01-01T00:00:00Z"}),
]

# Valid, but longer than Prefect's MAX_RRULE_LENGTH (6500).
LONG_RRULE = "FREQ=DAILY;BYMINUTE=" + "0," * 3250 + "0"

VALIDATION_CASES = [
    {"interval": 3600},
    {"interval": 3600.5, "anchor_date": "2024-01-01T00:00:00Z"},
    {"interval": "PT1H", "anchor_date": "2024-01-01T00:00:00-05:00"},
    {"interval": "P1DT12H", "anchor_date": "2024-01-01 10:00:00.123456+05:30", "timezone": "Asia/Kolkata"},
    {"interval": "2 days, 3:04:05.5", "anchor_date": "2024-01-01T00:00:00.5Z"},
    {"interval": "01:30", "anchor_date": "2024-01-01"},
    {"interval": 1e-07},
    {"interval": 0},
    {"interval": -5},
    {"interval": "-PT1H"},
    {"interval": "P1X"},
    {"interval": "PT1.5H30M"},
    {"interval": "abc"},
    {"interval": None},
    {"interval": [1]},
    {"interval": 60, "anchor_date": "garbage"},
    {"interval": 60, "anchor_date": None},
    {"interval": 60, "anchor_date": 1700000000},
    {"interval": 60, "anchor_date": 1.7e12},
    {"interval": 60, "timezone": "Mars/Base"},
    {"interval": 60, "timezone": ""},
    {"interval": 60, "timezone": 5},
    {"interval": 60, "extra": 1},
    {"cron": "0 9 * * *"},
    {"cron": "0 9 * * *", "timezone": "Europe/Berlin", "day_or": False},
    {"cron": "0 9 * * *", "day_or": "no"},
    {"cron": "0 9 * * *", "day_or": "maybe"},
    {"cron": "0 9 * * *", "day_or": 0.5},
    {"cron": "0 9 * * *", "day_or": None},
    {"cron": "bad"},
    {"cron": "60 * * * *"},
    {"cron": "* * * *"},
    {"cron": "0 0 * * 7 0"},
    {"cron": "H * * * *"},
    {"cron": "R * * * *"},
    {"cron": "0 9 * * *", "timezone": "America/New_Yorkxx"},
    {"cron": "bad", "timezone": "Bad/Zone"},
    {"cron": 5},
    {"cron": "0 9 * * *", "foo": 1},
    {"rrule": "FREQ=DAILY"},
    {"rrule": "FREQ=DAILY", "timezone": None},
    {"rrule": "FREQ=DAILY", "timezone": "xxUTCxx"},
    {"rrule": "FREQ=DAILY", "timezone": "Bad/Zone"},
    {"rrule": "FREQ=FOO"},
    {"rrule": "foo"},
    {"rrule": ""},
    {"rrule": "FREQ=DAILY;BYHOUR=abc"},
    {"rrule": "FREQ=DAILY;FOO=1"},
    {"rrule": "FREQ=DAILY;BYHOUR=25"},
    {"rrule": "FREQ=DAILY;BYHOUR=9,25;BYMINUTE=70"},
    {"rrule": "FREQ=DAILY;BYDAY=0MO"},
    {"rrule": "FREQ=DAILY;BYSETPOS=0"},
    {"rrule": "FREQ=DAILY;UNTIL=garbage"},
    {"rrule": "X:FREQ=DAILY"},
    {"rrule": "RRULE:FREQ=DAILY:X"},
    {"rrule": "RRULE;X=1:FREQ=DAILY"},
    {"rrule": "DTSTART:20240101T000000\nRRULE:FREQ=DAILY;UNTIL=20250101T000000Z"},
    {"rrule": "DTSTART;TZID=America/New_York:20240101T000000Z\nRRULE:FREQ=DAILY"},
    {"rrule": "DTSTART:garbage\nRRULE:FREQ=DAILY"},
    {"rrule": "DTSTART;FOO=1:20240101\nRRULE:FREQ=DAILY"},
    {"rrule": "FREQ=MONTHLY;BYDAY=+1MO,-1FR;WKST=SU"},
    {"rrule": LONG_RRULE},
    {"rrule": 5},
    {"cron": "0 9 * * *", "interval": 5},
    {},
    "abc",
    None,
]

NORMALIZE_CASES = [
    ("FREQ=DAILY", "UTC"),
    ("FREQ=MINUTELY;INTERVAL=7", "UTC"),
    ("FREQ=MINUTELY;INTERVAL=7", "America/New_York"),
    ("FREQ=SECONDLY;INTERVAL=45", "Asia/Kolkata"),
    ("FREQ=SECONDLY;COUNT=5", "UTC"),
    ("FREQ=MINUTELY", "xxUTCxx"),
    ("DTSTART:20240101T090000\nRRULE:FREQ=MINUTELY", "UTC"),
    ("RRULE:FREQ=DAILY\nEXDATE:20240102T000000", "UTC"),
    ("FREQ=DAILY;UNTIL=20250101T000000Z", "UTC"),
]


async def date_case(name, schedule, query):
    model = model_for(schedule)
    kwargs = {"n": query.get("n")}
    if "start" in query:
        kwargs["start"] = parse(query["start"])
    if "end" in query:
        kwargs["end"] = parse(query["end"])
    dates = await model.get_dates(**kwargs)
    return {"name": name, "schedule": model.model_dump(mode="json"), "query": query, "expected": [iso(d) for d in dates]}


async def summary_case(name, schedule, query):
    case = await date_case(name, schedule, query)
    dates = case.pop("expected")
    return {**case, "count": len(dates), "first": dates[0], "last": dates[-1]}


async def error_case(name, schedule, query):
    model = model_for(schedule)
    try:
        await model.get_dates(n=query["n"], start=parse(query["start"]))
    except Exception as exc:  # noqa: BLE001 - the error is the expectation
        return {"name": name, "schedule": model.model_dump(mode="json"), "query": query, "error": str(exc)}
    raise AssertionError(f"{name}: expected an error")


def validation_case(schedule):
    # The default anchor is `now("UTC")`; DTSTART injection is checked separately (NORMALIZE_CASES).
    with mock.patch("prefect.server.schemas.schedules.now", lambda tz="UTC": pendulum.parse(NOW)), mock.patch(
        "prefect._internal.schemas.validators.normalize_rrule_string", lambda r, **kw: r
    ):
        try:
            created = DeploymentScheduleCreate(schedule=schedule)
        except pydantic.ValidationError as exc:
            issues = [
                {"type": e["type"], "loc": list(e["loc"][1:]), "msg": e["msg"], "input": e["input"]}
                for e in exc.errors()
            ]
            return {"input": schedule, "issues": issues}
    return {"input": schedule, "schedule": created.schedule.model_dump(mode="json")}


def normalize_case(rrule, timezone):
    return {"rrule": rrule, "timezone": timezone, "expected": normalize_rrule_string(rrule, now=parse(NOW), timezone=timezone)}


async def main():
    if sys.argv[1:] == ["timezones"]:
        print(json.dumps(sorted(z for z in get_timezones() if z != "localtime"), indent=1))
        return
    dates = [await date_case(*case) for case in DATE_CASES]
    summaries = [await summary_case(*case) for case in SUMMARY_CASES]
    errors = [await error_case(*case) for case in ERROR_CASES]
    validations = [validation_case(case) for case in VALIDATION_CASES]
    normalized = [normalize_case(*case) for case in NORMALIZE_CASES]
    def dump(cases):
        return "[\n" + "".join(f"  {json.dumps(case, ensure_ascii=False)},\n" for case in cases) + "]"

    # Two long strings are written once and referred to by name.
    pattern_message = "String should match pattern '" + "|".join(sorted(z for z in get_timezones() if "localtime" not in z)) + "'"
    shorten = lambda text: text.replace(json.dumps(LONG_RRULE), "LONG_RRULE").replace(  # noqa: E731
        json.dumps(pattern_message), "TIMEZONE_PATTERN_MESSAGE"
    )
    print("// Generated by test/schedules/oracle.py from Prefect 3.9.1: do not edit.")
    print(f"export const NOW = {json.dumps(NOW)};")
    print('export const LONG_RRULE = "FREQ=DAILY;BYMINUTE=" + "0,".repeat(3250) + "0";')
    print(f"export const TIMEZONE_PATTERN_MESSAGE = {json.dumps(pattern_message)};")
    print(f"export const DATE_CASES = {dump(dates)};")
    print(f"export const SUMMARY_CASES = {dump(summaries)};")
    print(f"export const ERROR_CASES = {dump(errors)};")
    print(f"export const VALIDATION_CASES: {{ input: unknown; issues?: unknown[]; schedule?: unknown }}[] = {shorten(dump(validations))};")
    print(f"export const NORMALIZE_CASES = {dump(normalized)};")


asyncio.run(main())
