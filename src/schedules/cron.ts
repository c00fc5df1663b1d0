/**
 * Cron expressions exactly as Prefect's vendored croniter reads and steps them.
 *
 * Why not a cron library: Prefect never lets croniter see a time zone. It steps *naive* wall-clock
 * times and localises each one itself (see `dates.ts`), so a library's DST handling is unusable,
 * and croniter's grammar differs from croner's and cron-parser's in ways users can see: seconds
 * are the 6th field and a year the 7th, `L5` (last Friday), `10/5`, `*` in day-of-week meaning
 * "all" only when day-of-month has a `*`, `7` for Sunday only in 5-field form, ranges that wrap
 * (`5-1`), `R` random fields. Validation has to be croniter's anyway, so this is a port of
 * croniter's `_expand` and forward `_calc` on the expanded field sets.
 */
import { type Wall, dateToWall } from "./zoned";

const MINUTE = 0, HOUR = 1, DAY = 2, MONTH = 3, DOW = 4, SECOND = 5, YEAR = 6;
const UNIX_LEN = 5, SECOND_LEN = 6, YEAR_LEN = 7;

const RANGES: readonly (readonly [number, number])[] = [[0, 59], [0, 23], [1, 31], [1, 12], [0, 6], [0, 59], [1970, 2099]];
const LEN_MEANS_ALL = [60, 24, 31, 12, 7, 60, 130];
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const MONTH_ALPHAS: Record<string, number> = { jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12 };
const DOW_ALPHAS: Record<string, number> = { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 };
const ALPHACONV: readonly Record<string, number | "l">[] = [{}, {}, { l: "l" }, MONTH_ALPHAS, DOW_ALPHAS, {}, {}];
const ALIASES: Record<string, string> = {
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
  "@daily": "0 0 * * *",
  "@weekly": "0 0 * * 0",
  "@monthly": "0 0 1 * *",
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
};
/** croniter stops looking this many years after the start and raises "failed to find next date". */
const MAX_YEARS_BETWEEN_MATCHES = 50;

const WEEKDAYS = Object.keys(DOW_ALPHAS).join("|");
const MONTHS = Object.keys(MONTH_ALPHAS).join("|");
const STEP_SEARCH_RE = /^([^-]+)-([^-/]+)(\/(\d+))?$/;
const ONLY_INT_RE = /^\d+$/;
const STAR_OR_INT_RE = /^(\d+|\*)$/;
const SPECIAL_DOW_RE = new RegExp(
  `^(?<pre>((?<he>((${WEEKDAYS})(-(${WEEKDAYS}))?)|((${MONTHS})(-(${MONTHS}))?)|\\w+)#)|l)(?<last>\\d+)$`,
);
const HASH_RE = /^(?<type>h|r)(\((?<begin>\d+)-(?<end>\d+)\))?(\/(?<divisor>\d+))?$/;

/** A croniter `CroniterBadCronError`: the expression is not valid. */
export class CronSyntaxError extends Error {}
/** croniter's `CroniterBadDateError`: nothing matches within 50 years (e.g. `0 0 30 2 *`). */
export class CronNoMatchError extends Error {
  constructor() {
    super("failed to find next date");
  }
}

type FieldValue = number | "*" | "l";
type NthWeekday = number | "l";

export interface CronExpression {
  /** Allowed values per field, sorted as croniter sorts them; `["*"]` means any. */
  readonly fields: readonly (readonly FieldValue[])[];
  /** Day-of-week -> which occurrences in the month (`#n`, or `l` for last). */
  readonly nthWeekday: ReadonlyMap<number, ReadonlySet<NthWeekday>>;
}

/** Prefect's `validate_cron_string`: the error message, or null when Prefect accepts `cron`. */
export function cronStringError(cron: string): string | null {
  try {
    expandCron(cron);
  } catch (error) {
    if (error instanceof CronSyntaxError) return `Invalid cron string: "${cron}"`;
    throw error;
  }
  // croniter accepts random fields, Prefect refuses a bare `R`/`H` field (but not `R/5`, `R(1-9)`).
  if (pythonSplit(cron).some((part) => ["r", "h"].includes(part.toLowerCase()))) {
    return `Random and Hashed expressions are unsupported, received: "${cron}"`;
  }
  return null;
}

/** Python's `str.split()`: runs of whitespace separate, leading/trailing whitespace is dropped. */
const pythonSplit = (text: string): string[] => text.split(/\s+/).filter(Boolean);

function alphaconv(field: number, key: string, expressions: string[]): FieldValue {
  const value = ALPHACONV[field]![key];
  if (value === undefined) throw new CronSyntaxError(`[${expressions.join(" ")}] is not acceptable`);
  return value;
}

/** croniter's LOWMAP (`0` day/month -> 1, `7` weekday -> 0) except where its field count forbids it. */
function valueAlias(value: number, field: number, length: number): number {
  const lowmap: Record<number, number> | undefined = field === DAY || field === MONTH ? { 0: 1 } : field === DOW ? { 7: 0 } : undefined;
  if (!lowmap || !(value in lowmap)) return value;
  const excluded =
    (length === UNIX_LEN && (field === DAY || field === MONTH)) ||
    (length === SECOND_LEN && (field === MONTH || field === DOW)) ||
    (length === YEAR_LEN && (field === DAY || field === MONTH || field === DOW));
  return excluded ? value : lowmap[value]!;
}

/** croniter's random expander (`r`, `r(1-5)`, `r/10`); `h` needs a hash id Prefect never passes. */
function expandHash(field: number, expr: string): string {
  const m = HASH_RE.exec(expr);
  if (!m?.groups) return expr;
  const { type, begin, end, divisor } = m.groups;
  if (type === "h") throw new CronSyntaxError("Hashed definitions must include hash_id");
  const [low, high] = RANGES[field]!;
  const random = (from: number, to: number) => ((Math.floor(Math.random() * 0x1_0000_0000) >>> field) % (to - from + 1)) + from;
  if (begin && end && Number(begin) >= Number(end)) throw new CronSyntaxError("Range end must be greater than range begin");
  if (divisor && Number(divisor) === 0) throw new CronSyntaxError(`Bad expression: ${expr}`);
  if (begin && end && divisor) return `${random(Number(begin), Number(divisor) - 1 + Number(begin))}-${Number(end)}/${Number(divisor)}`;
  if (begin && end) return String(random(Number(begin), Number(end)));
  if (divisor) return `${random(low, Number(divisor) - 1 + low)}-${high}/${Number(divisor)}`;
  return String(random(low, high));
}

/** croniter's `[low-high/step]` expansion, including its wrap-around for ranges like `5-1`. */
function expandRange(field: number, low: number, high: number, step: number): number[] {
  const [min, max] = RANGES[field]!;
  const range = (from: number, to: number, by: number) => {
    if (by === 0) throw new CronSyntaxError("invalid range: range() arg 3 must not be zero");
    const out: number[] = [];
    for (let v = from; v < to; v += by) out.push(v);
    return out;
  };
  if (low === high) return range(min, max + 1, step);
  if (low < high) return range(low, high + 1, step);
  const whole = range(min, max + 1, 1);
  const head = range(low, max + 1, step);
  let toSkip = 0;
  if (head.length > 0) {
    const last = head[head.length - 1]!;
    const alreadySkipped = [...whole].reverse().indexOf(last);
    const position = whole.indexOf(last);
    if (position + step > whole.length && alreadySkipped < step) toSkip = step - alreadySkipped;
  }
  return [...head, ...range(min + toSkip, high + 1, step)];
}

/** croniter's sort key: ints zero-padded to two digits, `*` and `l` as themselves. */
const sortKey = (value: FieldValue): string => (typeof value === "number" ? String(value).padStart(2, "0") : value);

function expandField(
  cron: string,
  field: number,
  rawExpr: string,
  expressions: string[],
  nthWeekday: Map<number, Set<NthWeekday>>,
): FieldValue[] {
  let expr = expandHash(field, rawExpr);
  if (expr.includes("?")) {
    if (expr !== "?") throw new CronSyntaxError(`[${cron}] is not acceptable. Question mark can not used with other characters`);
    if (field !== DAY && field !== DOW) throw new CronSyntaxError(`[${cron}] is not acceptable. Question mark can only used in day_of_month or day_of_week`);
    expr = "*";
  }
  const [min, max] = RANGES[field]!;
  const pending: (string | number)[] = expr.split(",");
  const result: FieldValue[] = [];
  while (pending.length > 0) {
    let e = String(pending.pop());
    let nth: NthWeekday | null = null;
    if (field === DOW) {
      const special = SPECIAL_DOW_RE.exec(e)?.groups;
      if (special?.he) {
        e = special.he;
        nth = Number(special.last);
        if (!(nth >= 1 && nth <= 5)) throw new CronSyntaxError(`[${cron}] is not acceptable. Invalid day_of_week value: '${nth}'`);
      } else if (special?.last) {
        e = special.last;
        nth = "l";
      }
    }
    let t = e.replace(/^\*(\/.+)$/, `${min}-${max}$1`);
    let m = STEP_SEARCH_RE.exec(t);
    if (!m) {
      t = e.replace(/^(.+)\/(.+)$/, `$1-${max}/$2`);
      m = STEP_SEARCH_RE.exec(t);
    }
    if (m) {
      let low: string = m[1]!;
      let high: string = m[2]!;
      const step = Number(m[4] ?? 1);
      if (field === DAY && high === "l") high = "31";
      if (!ONLY_INT_RE.test(low)) low = String(alphaconv(field, low, expressions));
      if (!ONLY_INT_RE.test(high)) high = String(alphaconv(field, high, expressions));
      if (!ONLY_INT_RE.test(low) || !ONLY_INT_RE.test(high)) {
        throw new CronSyntaxError(`[${cron}] bands '${low}-${high}' in field ${field} are not acceptable`);
      }
      const lowValue = valueAlias(Number(low), field, expressions.length);
      const highValue = valueAlias(Number(high), field, expressions.length);
      if (Math.max(lowValue, highValue) > Math.max(min, max)) throw new CronSyntaxError(`${cron} is out of bands`);
      const values = expandRange(field, lowValue, highValue, step);
      const expanded = field === DOW && nth !== null && nth !== "l" ? values.map((v) => `${v}#${nth}`) : values;
      for (const value of expanded) if (!pending.includes(value)) pending.push(value);
      continue;
    }
    if (t.startsWith("-")) throw new CronSyntaxError(`[${cron}] is not acceptable,negative numbers not allowed`);
    let value: FieldValue;
    if (STAR_OR_INT_RE.test(t)) value = t === "*" ? "*" : Number(t);
    else value = alphaconv(field, t, expressions);
    if (typeof value === "number") value = valueAlias(value, field, expressions.length);
    if (typeof value === "number" && (value < min || value > max)) throw new CronSyntaxError(`[${cron}] is not acceptable, out of range`);
    result.push(value);
    if (field === DOW && nth !== null && typeof value === "number") {
      if (!nthWeekday.has(value)) nthWeekday.set(value, new Set());
      nthWeekday.get(value)!.add(nth);
    }
  }
  const sorted = [...new Set(result)].sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0));
  if (sorted.length === LEN_MEANS_ALL[field]) {
    // "every value" collapses to "*", except that day-of-month and day-of-week stay lists unless
    // the other one is written with a `*` (it decides whether they are OR-ed in `_get_next`).
    const keepList = (field === DAY && !expressions[DOW]!.includes("*")) || (field === DOW && !expressions[DAY]!.includes("*"));
    if (!keepList) return ["*"];
  }
  return sorted.length === 1 && sorted[0] === "*" ? ["*"] : sorted;
}

/** croniter's `expand`: throws CronSyntaxError where croniter raises CroniterBadCronError. */
export function expandCron(cron: string): CronExpression {
  const lowered = cron.toLowerCase();
  const expressions = pythonSplit(ALIASES[lowered] ?? lowered);
  if (![UNIX_LEN, SECOND_LEN, YEAR_LEN].includes(expressions.length)) {
    throw new CronSyntaxError("Exactly 5, 6 or 7 columns has to be specified for iterator expression.");
  }
  const nthWeekday = new Map<number, Set<NthWeekday>>();
  const fields = expressions.map((expr, field) => expandField(cron, field, expr, expressions, nthWeekday));
  if (nthWeekday.size > 0) {
    const dows = new Set(fields[DOW]);
    const literal = [...dows].filter((v) => v !== "*" && !(typeof v === "number" && nthWeekday.has(v)));
    if (literal.length > 0 && dows.size !== LEN_MEANS_ALL[DOW]) {
      throw new CronSyntaxError("day-of-week field does not support mixing literal values and nth day of week syntax.");
    }
  }
  return { fields, nthWeekday };
}

const isLeap = (year: number) => year % 400 === 0 || (year % 4 === 0 && year % 100 !== 0);
const daysInMonth = (year: number, month: number) => DAYS_IN_MONTH[month - 1]! + (month === 2 && isLeap(year) ? 1 : 0);

/** croniter's `_get_next_nearest_diff`: distance to the next allowed value, wrapping by `range`. */
function nearestDiff(x: number, allowed: readonly FieldValue[], range: number | null): number | null {
  for (const v of allowed) {
    const d = v === "l" && range !== null ? range : v;
    if (typeof d === "number" && d >= x) return d - x;
  }
  if (range === null) return null;
  return (allowed[0] as number) - x + range;
}

/** Days of the month falling on `weekday` (0 = Sunday), ascending. */
function weekdayDays(year: number, month: number, weekday: number): number[] {
  const days: number[] = [];
  const last = daysInMonth(year, month);
  for (let day = 1; day <= last; day++) if (new Date(Date.UTC(year, month - 1, day)).getUTCDay() === weekday) days.push(day);
  return days;
}

/** A naive datetime with croniter's `relativedelta` moves. Months are 1-based as in Python. */
class Naive {
  constructor(public d: Date) {}
  get year() { return this.d.getUTCFullYear(); }
  get month() { return this.d.getUTCMonth() + 1; }
  get day() { return this.d.getUTCDate(); }
  get hour() { return this.d.getUTCHours(); }
  get minute() { return this.d.getUTCMinutes(); }
  get second() { return this.d.getUTCSeconds(); }
  /** Zero the fields below `unit` (relativedelta's absolute `hour=0, minute=0, second=0`). */
  private truncated(unit: "day" | "hour" | "minute"): number {
    const { year, month, day, hour, minute } = this;
    if (unit === "day") return Date.UTC(year, month - 1, day);
    if (unit === "hour") return Date.UTC(year, month - 1, day, hour);
    return Date.UTC(year, month - 1, day, hour, minute);
  }
  startOfYear(years: number) { this.d = new Date(Date.UTC(this.year + years, 0, 1)); }
  startOfMonth(months: number) { this.d = new Date(Date.UTC(this.year, this.month - 1 + months, 1)); }
  addDays(days: number) { this.d = new Date(this.truncated("day") + days * 86_400_000); }
  addHours(hours: number) { this.d = new Date(this.truncated("hour") + hours * 3_600_000); }
  addMinutes(minutes: number) { this.d = new Date(this.truncated("minute") + minutes * 60_000); }
  addSeconds(seconds: number) { this.d = new Date(this.d.getTime() + seconds * 1000); }
  zeroSeconds() { this.d = new Date(this.truncated("minute")); }
}

/** One `_calc` step of croniter: the first match at or after `from` (a whole-second naive time). */
function calc(fields: readonly (readonly FieldValue[])[], nthWeekday: CronExpression["nthWeekday"], from: Date): Date {
  const d = new Naive(from);
  const currentYear = d.year;
  const any = (field: number) => fields[field]!.includes("*");
  const hasSeconds = fields.length > UNIX_LEN;
  type Step = () => boolean | null;

  const year: Step = () => {
    if (fields.length !== YEAR_LEN || any(YEAR)) return false;
    const diff = nearestDiff(d.year, fields[YEAR]!, null);
    if (diff === null) return null;
    if (diff === 0) return false;
    d.startOfYear(diff);
    return true;
  };
  const month: Step = () => {
    if (any(MONTH)) return false;
    const diff = nearestDiff(d.month, fields[MONTH]!, 12);
    if (!diff) return false;
    d.startOfMonth(diff);
    return true;
  };
  const dayOfMonth: Step = () => {
    if (any(DAY)) return false;
    const days = daysInMonth(d.year, d.month);
    if (fields[DAY]!.includes("l") && d.day === days) return false;
    const diff = nearestDiff(d.day, fields[DAY]!, days);
    if (!diff) return false;
    d.addDays(diff);
    return true;
  };
  const dayOfWeek: Step = () => {
    if (any(DOW)) return false;
    const diff = nearestDiff(d.d.getUTCDay(), fields[DOW]!, 7);
    if (!diff) return false;
    d.addDays(diff);
    return true;
  };
  const nthDayOfWeek: Step = () => {
    const candidates: number[] = [];
    for (const [weekday, nths] of nthWeekday) {
      const days = weekdayDays(d.year, d.month, weekday);
      for (const n of nths) {
        if (n !== "l" && days.length < n) continue;
        const candidate = n === "l" ? days[days.length - 1]! : days[n - 1]!;
        if (d.day <= candidate) candidates.push(candidate);
      }
    }
    if (candidates.length === 0) {
      d.addDays(daysInMonth(d.year, d.month) - d.day + 1);
      return true;
    }
    const diff = Math.min(...candidates) - d.day;
    if (diff === 0) return false;
    d.addDays(diff);
    return true;
  };
  const hour: Step = () => {
    if (any(HOUR)) return false;
    const diff = nearestDiff(d.hour, fields[HOUR]!, 24);
    if (!diff) return false;
    d.addHours(diff);
    return true;
  };
  const minute: Step = () => {
    if (any(MINUTE)) return false;
    const diff = nearestDiff(d.minute, fields[MINUTE]!, 60);
    if (!diff) return false;
    d.addMinutes(diff);
    return true;
  };
  const second: Step = () => {
    if (!hasSeconds) {
      d.zeroSeconds();
      return false;
    }
    if (any(SECOND)) return false;
    const diff = nearestDiff(d.second, fields[SECOND]!, 60);
    if (!diff) return false;
    d.addSeconds(diff);
    return true;
  };

  // croniter picks the weekday step by whether any `#`/`L` weekday exists, even when day-of-week
  // was replaced by `*` for the day-of-month half of an OR (so `0 0 1 * mon#2` never matches).
  const steps = [year, month, dayOfMonth, nthWeekday.size > 0 ? nthDayOfWeek : dayOfWeek, hour, minute, second];
  search: while (Math.abs(d.year - currentYear) <= MAX_YEARS_BETWEEN_MATCHES) {
    for (const step of steps) {
      const changed = step();
      if (changed === null) break search;
      if (changed) continue search;
    }
    return d.d;
  }
  throw new CronNoMatchError();
}

/**
 * croniter's iterator over naive wall-clock times, as Prefect builds it:
 * `croniter(cron, start_naive, day_or=...)` then repeated `get_next(datetime)`.
 */
export class CronWallIterator {
  private readonly expression: CronExpression;
  private current: Wall;

  constructor(cron: string, start: Wall, private readonly dayOr: boolean) {
    this.expression = expandCron(cron);
    this.current = start;
  }

  next(): Wall {
    const { fields, nthWeekday } = this.expression;
    // croniter floors to the second, then starts one minute (one second with a seconds field) later.
    const step = fields.length > UNIX_LEN ? 1000 : 60_000;
    const from = new Date(Math.floor(this.current / 1_000_000) * 1000 + step);
    let result: Date;
    if (fields[DAY]![0] !== "*" && fields[DOW]![0] !== "*" && this.dayOr) {
      const dayOnly = calc(fields.map((f, i) => (i === DOW ? ["*"] : f)), nthWeekday, from);
      const weekdayOnly = calc(fields.map((f, i) => (i === DAY ? ["*"] : f)), nthWeekday, from);
      result = dayOnly < weekdayOnly ? dayOnly : weekdayOnly;
    } else {
      result = calc(fields, nthWeekday, from);
    }
    this.current = dateToWall(result);
    return this.current;
  }
}

