/**
 * Prefect's log text-search query syntax (server/utilities/text_search_parser.py),
 * ported term for term so a query selects the same logs here as in Prefect:
 *
 *   word            include (include terms are OR-ed)
 *   -word / !word   exclude
 *   +word           required (AND-ed)
 *   "a phrase"      one term with spaces; `\"` and `\\` are escapes inside it
 *
 * A prefix followed by whitespace is dropped; an unclosed quote runs to the end.
 */
export interface TextSearchQuery {
  include: string[];
  exclude: string[];
  required: string[];
}

/** Python's str.isspace() (Unicode White_Space plus the ASCII separators \x1c-\x1f), which JS's \s does not match exactly. */
const PY_SPACE = /^[\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/;
const isSpace = (ch: string) => PY_SPACE.test(ch);

export function parseTextSearchQuery(query: string): TextSearchQuery {
  const result: TextSearchQuery = { include: [], exclude: [], required: [] };
  let i = 0;
  while (i < query.length) {
    if (isSpace(query[i]!)) {
      i++;
      continue;
    }
    let prefix: string | null = null;
    if ("-!+".includes(query[i]!)) {
      i++;
      if (i >= query.length || isSpace(query[i]!)) continue; // a dangling prefix is ignored
      prefix = query[i - 1]!;
    }
    let term: string;
    if (query[i] === '"') {
      const end = closingQuote(query, i + 1);
      term = unescapePhrase(query.slice(i + 1, end));
      i = end + 1;
      if ([...term].every(isSpace)) continue; // blank phrases are dropped
    } else {
      const start = i;
      while (i < query.length && !isSpace(query[i]!) && query[i] !== '"') i++;
      term = query.slice(start, i);
    }
    bucket(result, prefix).push(term);
  }
  return result;
}

function bucket(result: TextSearchQuery, prefix: string | null): string[] {
  if (prefix === "-" || prefix === "!") return result.exclude;
  if (prefix === "+") return result.required;
  return result.include;
}

/** Index of the quote closing a phrase that starts at `from` (or the end of the query); a backslash skips the next character. */
function closingQuote(query: string, from: number): number {
  let i = from;
  while (i < query.length && query[i] !== '"') i += query[i] === "\\" && i + 1 < query.length ? 2 : 1;
  return i;
}

/** `\"` -> `"` and `\\` -> `\`; any other backslash is kept as written. */
function unescapePhrase(phrase: string): string {
  return phrase.replace(/\\(["\\])/g, "$1");
}
