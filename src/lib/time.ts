/**
 * Instants are integer microseconds since the Unix epoch (UTC). Prefect keeps
 * microsecond precision, JS Dates only milliseconds, so we never round-trip
 * through Date for stored values.
 */
export type Micros = number;

export const MICROS_PER_SECOND = 1_000_000;

const ISO_RE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

/** Parses ISO-8601 with `T` or space separator; naive values are UTC. Returns null if invalid. */
export function parseDateTime(text: string): Micros | null {
  const m = ISO_RE.exec(text.trim());
  if (!m) return null;
  const [, y, mo, d, h = "0", mi = "0", s = "0", frac = "", tz] = m;
  const year = Number(y), month = Number(mo), day = Number(d);
  const hour = Number(h), minute = Number(mi), second = Number(s);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return null;
  const ms = Date.UTC(year, month - 1, day, hour, minute, second);
  if (Number.isNaN(ms) || new Date(ms).getUTCDate() !== day) return null;
  const micros = Number((frac + "000000").slice(0, 6));
  let offsetMinutes = 0;
  if (tz && tz !== "Z" && tz !== "z") {
    const sign = tz[0] === "-" ? -1 : 1;
    const digits = tz.slice(1).replace(":", "");
    offsetMinutes = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || "0"));
  }
  return (ms - offsetMinutes * 60_000) * 1000 + micros;
}

/** UTC ISO-8601 with `Z`; six fraction digits, only when non-zero (Python's isoformat, as Prefect serialises). */
export function formatDateTime(value: Micros): string {
  const ms = Math.floor(value / 1000);
  const micros = value - ms * 1000;
  const iso = new Date(ms).toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  const fraction = iso.slice(20, 23) + String(micros).padStart(3, "0");
  return iso.slice(0, 19) + (fraction === "000000" ? "" : "." + fraction) + "Z";
}

export function formatNullable(value: Micros | null | undefined): string | null {
  return value == null ? null : formatDateTime(value);
}

/** Durations are stored as microseconds and serialised as float seconds. */
export function microsToSeconds(value: Micros): number {
  return value / MICROS_PER_SECOND;
}

export function secondsToMicros(seconds: number): Micros {
  return Math.round(seconds * MICROS_PER_SECOND);
}
