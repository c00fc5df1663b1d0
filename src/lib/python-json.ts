/**
 * Why Python's `json.loads` (CPython 3.11's scanner, strict mode) refuses a text, in its
 * words: Prefect's `json` placeholders report `Invalid JSON: <that message>`. Only the
 * error is computed here; a text this accepts is then parsed with JSON.parse. Positions
 * count code points, as Python's string indices do.
 */

const WHITESPACE = new Set([" ", "\t", "\n", "\r"]);
const ESCAPES = new Set(['"', "\\", "/", "b", "f", "n", "r", "t"]);
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?/y;
const HEX4 = /^[0-9a-fA-F]{4}$/;

class Refusal {
  constructor(
    readonly message: string,
    readonly at: number,
  ) {}
}

/** Python's JSONDecodeError text for `text`, or null when json.loads accepts it. */
export function pythonJsonError(text: string): string | null {
  const chars = Array.from(text);
  try {
    const end = skip(chars, value(chars, skip(chars, 0)));
    if (end !== chars.length) throw new Refusal("Extra data", end);
    return null;
  } catch (error) {
    if (!(error instanceof Refusal)) throw error;
    return `${error.message}: ${where(chars, error.at)}`;
  }
}

function where(chars: string[], at: number): string {
  let line = 1;
  let lastNewline = -1;
  for (let i = 0; i < at; i++) {
    if (chars[i] === "\n") {
      line += 1;
      lastNewline = i;
    }
  }
  return `line ${line} column ${at - lastNewline} (char ${at})`;
}

function skip(chars: string[], at: number): number {
  while (at < chars.length && WHITESPACE.has(chars[at]!)) at++;
  return at;
}

/** Scans one value at `at` (scan_once); returns the index after it. */
function value(chars: string[], at: number): number {
  const c = chars[at];
  if (c === '"') return string(chars, at + 1);
  if (c === "{") return object(chars, at + 1);
  if (c === "[") return array(chars, at + 1);
  for (const literal of ["null", "true", "false", "NaN", "Infinity", "-Infinity"]) {
    if (chars.slice(at, at + literal.length).join("") === literal) return at + literal.length;
  }
  NUMBER.lastIndex = 0;
  const rest = chars.slice(at, at + 400).join("");
  const match = NUMBER.exec(rest);
  if (match && match[0].length > 0) return at + Array.from(match[0]).length;
  throw new Refusal("Expecting value", at);
}

/** scanstring: `at` is just past the opening quote. */
function string(chars: string[], at: number): number {
  const begin = at - 1;
  for (;;) {
    if (at >= chars.length) throw new Refusal("Unterminated string starting at", begin);
    const c = chars[at]!;
    if (c === '"') return at + 1;
    if (c.codePointAt(0)! < 0x20) throw new Refusal("Invalid control character at", at);
    if (c !== "\\") {
      at++;
      continue;
    }
    const escape = chars[at + 1];
    if (escape === undefined) throw new Refusal("Unterminated string starting at", begin);
    if (escape === "u") {
      if (at + 6 >= chars.length || !HEX4.test(chars.slice(at + 2, at + 6).join(""))) throw new Refusal("Invalid \\uXXXX escape", at + 1);
      at += 6;
      continue;
    }
    if (!ESCAPES.has(escape)) throw new Refusal("Invalid \\escape", at);
    at += 2;
  }
}

/** JSONObject: `at` is just past `{`. */
function object(chars: string[], at: number): number {
  at = skip(chars, at);
  if (chars[at] === "}") return at + 1;
  for (;;) {
    if (chars[at] !== '"') throw new Refusal("Expecting property name enclosed in double quotes", at);
    at = skip(chars, string(chars, at + 1));
    if (chars[at] !== ":") throw new Refusal("Expecting ':' delimiter", at);
    at = skip(chars, value(chars, skip(chars, at + 1)));
    const next = chars[at];
    if (next === "}") return at + 1;
    if (next !== ",") throw new Refusal("Expecting ',' delimiter", at);
    at = skip(chars, at + 1);
  }
}

/** JSONArray: `at` is just past `[`. */
function array(chars: string[], at: number): number {
  at = skip(chars, at);
  if (chars[at] === "]") return at + 1;
  for (;;) {
    at = skip(chars, value(chars, at));
    const next = chars[at];
    if (next === "]") return at + 1;
    if (next !== ",") throw new Refusal("Expecting ',' delimiter", at);
    at = skip(chars, at + 1);
  }
}
