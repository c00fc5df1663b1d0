import { describe, expect, test } from "bun:test";
import { parseTextSearchQuery } from "../../src/lib/text-search";

// Expected values were produced by Prefect's own parse_text_search_query.
const CASES: [string, { include: string[]; exclude: string[]; required: string[] }][] = [
  ["error -debug", { include: ["error"], exclude: ["debug"], required: [] }],
  ['"connection timeout"', { include: ["connection timeout"], exclude: [], required: [] }],
  ["+required -excluded !skip", { include: [], exclude: ["excluded", "skip"], required: ["required"] }],
  ["- dangling", { include: ["dangling"], exclude: [], required: [] }],
  ["trailing -", { include: ["trailing"], exclude: [], required: [] }],
  ["--double", { include: [], exclude: ["-double"], required: [] }],
  ['-"bad phrase"', { include: [], exclude: ["bad phrase"], required: [] }],
  ['foo"bar baz"', { include: ["foo", "bar baz"], exclude: [], required: [] }],
  ['"unclosed phrase', { include: ["unclosed phrase"], exclude: [], required: [] }],
  ['"say \\"hi\\""', { include: ['say "hi"'], exclude: [], required: [] }],
  ['"back\\\\slash"', { include: ["back\\slash"], exclude: [], required: [] }],
  ['"keep \\n backslash"', { include: ["keep \\n backslash"], exclude: [], required: [] }],
  ['"a\\', { include: ["a\\"], exclude: [], required: [] }],
  ['"   "', { include: [], exclude: [], required: [] }],
  ["  ", { include: [], exclude: [], required: [] }],
  ["x\x1cy a\u3000b", { include: ["x", "y", "a", "b"], exclude: [], required: [] }],
];

describe("parseTextSearchQuery", () => {
  test.each(CASES)("%p", (query, expected) => {
    expect(parseTextSearchQuery(query)).toEqual(expected);
  });
});
