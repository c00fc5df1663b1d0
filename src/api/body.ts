/**
 * Request bodies are checked before a JSON tree is built from them: bytes that are not
 * UTF-8 and JSON nested deeper than MAX_JSON_DEPTH are refused with Prefect's answer to
 * a body its decoder cannot take, 400 "There was an error parsing the body". The depth
 * bound keeps a hostile body from exhausting memory here, and keeps stored parameters
 * and job variables within what the Python client can read back (its decoders stop
 * near 200-1,000 levels: a run stored deeper would break every worker polling its pool).
 */
import { detail, type HttpError } from "./errors";

export const MAX_JSON_DEPTH = 128;

const parseError = (): HttpError => detail(400, "There was an error parsing the body");

// A leading BOM is dropped, as Python's json.loads does for bytes.
const utf8 = new TextDecoder("utf-8", { fatal: true });

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

/** True when the JSON text opens more than `max` objects/arrays at once (brackets inside strings do not count). */
export function jsonTooDeep(text: string, max: number = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = closingQuote(text, i + 1);
      if (i < 0) return false; // an unterminated string: the parser refuses it
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > max) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
    }
  }
  return false;
}

/**
 * The index of the quote that ends the string starting at `from`, or -1. Strings are skipped
 * with indexOf rather than character by character: most of a big body (log messages) is string.
 */
function closingQuote(text: string, from: number): number {
  for (let quote = text.indexOf('"', from); quote >= 0; quote = text.indexOf('"', quote + 1)) {
    let backslashes = 0;
    while (quote - backslashes - 1 >= from && text.charCodeAt(quote - backslashes - 1) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote;
  }
  return -1;
}

/** True when an already-parsed value (a websocket message) nests deeper than `max`. */
export function valueTooDeep(value: unknown, max: number = MAX_JSON_DEPTH): boolean {
  if (value === null || typeof value !== "object") return false;
  if (max === 0) return true;
  const children = Array.isArray(value) ? value : Object.values(value);
  return children.some((child) => valueTooDeep(child, max - 1));
}

/** The body as text, refusing bytes that are not UTF-8 and JSON too deep to accept. */
export async function readJsonText(request: Request): Promise<string> {
  let text: string;
  try {
    text = utf8.decode(await request.arrayBuffer());
  } catch {
    throw parseError();
  }
  if (jsonTooDeep(text)) throw parseError();
  return text;
}
