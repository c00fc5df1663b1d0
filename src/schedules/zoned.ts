/**
 * Time-zone arithmetic for schedules. Prefect's three schedule kinds each go through a different
 * Python library (pendulum, whenever, dateutil) that resolve skipped and repeated wall-clock times
 * differently, so every conversion here names its Temporal disambiguation explicitly.
 *
 * A `Wall` is a zone-less wall-clock reading: microseconds since 1970-01-01T00:00 of the civil
 * calendar, i.e. the instant the same digits would denote in UTC. Calendar arithmetic on it is
 * plain integer arithmetic (a civil day is always 86,400 s of wall time).
 */
import type { Temporal as TemporalApi } from "temporal-polyfill";

type TemporalNamespace = typeof TemporalApi;
let loaded: TemporalNamespace | undefined;

/** The polyfill is loaded on first use: only schedules in a non-UTC zone need it, and it is slow to evaluate. */
function temporal(): TemporalNamespace {
  return (loaded ??= (require("temporal-polyfill") as { Temporal: TemporalNamespace }).Temporal);
}
import type { Micros } from "../lib/time";

export type Wall = number;
export type Disambiguation = "compatible" | "earlier" | "later";

export const MICROS_PER_DAY = 86_400_000_000;

/** `Factory` is in Python's tzdata (UTC, abbreviated "-00") but not in ICU. */
const zoneId = (timezone: string): string => (timezone === "Factory" ? "UTC" : timezone);

function zoned(instant: Micros, timezone: string): TemporalApi.ZonedDateTime {
  return temporal().Instant.fromEpochNanoseconds(BigInt(instant) * 1000n).toZonedDateTimeISO(zoneId(timezone));
}

const instantOf = (value: TemporalApi.ZonedDateTime): Micros => Number(value.epochNanoseconds / 1000n);

/** Whether Temporal (ICU) knows the zone; Python may know names ICU does not. */
export function isKnownZone(timezone: string): boolean {
  try {
    zoned(0, timezone);
    return true;
  } catch {
    return false;
  }
}

/** Zones whose wall clock is UTC: no Temporal round trip needed (most schedules). */
const UTC_ZONES = new Set(["UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Etc/Zulu", "Zulu", "GMT", "Etc/GMT"]);

export function wallOf(instant: Micros, timezone: string): Wall {
  if (UTC_ZONES.has(timezone)) return instant;
  const z = zoned(instant, timezone);
  return Date.UTC(z.year, z.month - 1, z.day, z.hour, z.minute, z.second, z.millisecond) * 1000 + z.microsecond;
}

/** The instant a wall-clock reading denotes in `timezone`, resolving gaps and folds as told. */
export function instantAt(wall: Wall, timezone: string, disambiguation: Disambiguation): Micros {
  const ms = Math.floor(wall / 1000);
  const d = new Date(ms);
  const plain = new (temporal().PlainDateTime)(
    d.getUTCFullYear(),
    d.getUTCMonth() + 1,
    d.getUTCDate(),
    d.getUTCHours(),
    d.getUTCMinutes(),
    d.getUTCSeconds(),
    d.getUTCMilliseconds(),
    wall - ms * 1000,
  );
  return instantOf(plain.toZonedDateTime(zoneId(timezone), { disambiguation }));
}

/** The first offset transition strictly after `instant`, or null if the zone has no more. */
export function nextTransition(instant: Micros, timezone: string): Micros | null {
  const next = zoned(instant, timezone).getTimeZoneTransition("next");
  return next ? instantOf(next) : null;
}

/** The last offset transition strictly before `instant`, or null. */
export function previousTransition(instant: Micros, timezone: string): Micros | null {
  const previous = zoned(instant, timezone).getTimeZoneTransition("previous");
  return previous ? instantOf(previous) : null;
}

/** The zone's UTC offset at `instant`, in microseconds. */
export const offsetAt = (instant: Micros, timezone: string): Micros => wallOf(instant, timezone) - instant;

/** Civil day number (days since 1970-01-01) of a wall-clock reading. */
export const dayNumber = (wall: Wall): number => Math.floor(wall / MICROS_PER_DAY);

/** A cron match (a JS Date whose UTC fields are the wall clock) as a Wall. */
export function dateToWall(date: Date): Wall {
  return date.getTime() * 1000;
}
