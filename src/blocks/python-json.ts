/**
 * Python's `json.dumps(value, sort_keys=True)` with its default separators
 * (", " and ": ") and `ensure_ascii=True`, byte for byte. Block schema checksums
 * are SHA-256 digests of this text, so any formatting difference breaks lookups.
 *
 * Known limits (the information is gone once the request body is parsed):
 * an integral float such as `10.0` or `1e16` is indistinguishable from an int,
 * and integers beyond 2^53 have already lost precision.
 */
import type { JsonValue } from "../lib/json";

/** Anything but printable ASCII other than the quote and the backslash: most keys and values have none, and are copied as they are. */
const NEEDS_ESCAPING = /[^\x20\x21\x23-\x5b\x5d-\x7e]/;

/** Python's ensure_ascii escaping: everything outside printable ASCII becomes \uXXXX (per UTF-16 unit). */
function pythonString(text: string): string {
  if (!NEEDS_ESCAPING.test(text)) return `"${text}"`;
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    const ch = text[i]!;
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\b") out += "\\b";
    else if (ch === "\f") out += "\\f";
    else if (code < 0x20 || code > 0x7e) out += "\\u" + code.toString(16).padStart(4, "0");
    else out += ch;
  }
  return out + '"';
}

/**
 * Python's `repr(float)`: the same shortest round-trip digits as JavaScript, but
 * scientific notation when the exponent is < -4 or >= 16, written `1e-05` / `1.5e+16`.
 */
function pythonFloat(value: number): string {
  const [mantissa, exponentText] = value.toExponential().split("e") as [string, string];
  const exponent = Number(exponentText);
  if (exponent < -4 || exponent >= 16) {
    const sign = exponent < 0 ? "-" : "+";
    return `${mantissa}e${sign}${String(Math.abs(exponent)).padStart(2, "0")}`;
  }
  const negative = mantissa.startsWith("-");
  const digits = mantissa.replace("-", "").replace(".", "");
  const point = exponent + 1; // digits before the decimal point
  const fixed =
    point <= 0
      ? "0." + "0".repeat(-point) + digits
      : digits.length > point
        ? digits.slice(0, point) + "." + digits.slice(point)
        : digits + "0".repeat(point - digits.length) + ".0";
  return (negative ? "-" : "") + fixed;
}

function pythonNumber(value: number): string {
  // JSON ints parse to integral numbers; BigInt avoids JavaScript's "1e+21" for large ones.
  return Number.isInteger(value) ? BigInt(value).toString() : pythonFloat(value);
}

const SURROGATE = /[\uD800-\uDFFF]/;

/** Python orders str keys by code point; JavaScript's default sort compares UTF-16 units. */
export function compareCodePoints(a: string, b: string): number {
  // Without surrogate pairs, UTF-16 order is code point order.
  if (!SURROGATE.test(a) && !SURROGATE.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  const left = Array.from(a, (c) => c.codePointAt(0)!);
  const right = Array.from(b, (c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    if (left[i] !== right[i]) return left[i]! - right[i]!;
  }
  return left.length - right.length;
}

export function pythonJsonDumps(value: JsonValue): string {
  if (value === null) return "null";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") return pythonNumber(value);
  if (typeof value === "string") return pythonString(value);
  if (Array.isArray(value)) return "[" + value.map(pythonJsonDumps).join(", ") + "]";
  const keys = Object.keys(value).sort(compareCodePoints);
  return "{" + keys.map((k) => `${pythonString(k)}: ${pythonJsonDumps(value[k]!)}`).join(", ") + "}";
}
