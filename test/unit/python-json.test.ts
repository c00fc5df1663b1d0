/**
 * Python's json.loads error messages. Expected values generated with CPython 3.11:
 *   python3 -c 'import json; json.loads(TEXT)'  → str(JSONDecodeError), or null when it parses.
 */
import { expect, test } from "bun:test";
import { pythonJsonError } from "../../src/lib/python-json";

const CASES: [string, string | null][] = [
  ["", "Expecting value: line 1 column 1 (char 0)"],
  [" ", "Expecting value: line 1 column 2 (char 1)"],
  ["[1,", "Expecting value: line 1 column 4 (char 3)"],
  ["[1,]", "Expecting value: line 1 column 4 (char 3)"],
  ["{\"a\":1,}", "Expecting property name enclosed in double quotes: line 1 column 8 (char 7)"],
  ["{'a': 1}", "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"],
  ["{\"a\" 1}", "Expecting ':' delimiter: line 1 column 6 (char 5)"],
  ["{\"a\":}", "Expecting value: line 1 column 6 (char 5)"],
  ["[1 2]", "Expecting ',' delimiter: line 1 column 4 (char 3)"],
  ["01", "Extra data: line 1 column 2 (char 1)"],
  ["1.", "Extra data: line 1 column 2 (char 1)"],
  ["-", "Expecting value: line 1 column 1 (char 0)"],
  ["tru", "Expecting value: line 1 column 1 (char 0)"],
  ["\"abc", "Unterminated string starting at: line 1 column 1 (char 0)"],
  ["\"a\\x\"", "Invalid \\escape: line 1 column 3 (char 2)"],
  ["\"a\\u12\"", "Invalid \\uXXXX escape: line 1 column 4 (char 3)"],
  ["\"a\\u12zz\"", "Invalid \\uXXXX escape: line 1 column 4 (char 3)"],
  ["\"a\nb\"", "Invalid control character at: line 1 column 3 (char 2)"],
  ["{\"a\": [1, 2}", "Expecting ',' delimiter: line 1 column 12 (char 11)"],
  ["[1]x", "Extra data: line 1 column 4 (char 3)"],
  ["\n\n  [1,\n  oops]", "Expecting value: line 4 column 3 (char 10)"],
  ["{\"é\": \"ü\", \"x\": ]}", "Expecting value: line 1 column 17 (char 16)"],
  ["nul", "Expecting value: line 1 column 1 (char 0)"],
  ["\"\\", "Unterminated string starting at: line 1 column 1 (char 0)"],
  ["{\"a\":1 \"b\":2}", "Expecting ',' delimiter: line 1 column 8 (char 7)"],
  ["[NaN, Infinity, -Infinity]", null],
  ["{\"a\":1}", null],
  ["  {\"a\": [true, false, null, 1.5e3, -0, \"s\\n\\u00e9\"]}  ", null],
  ["{\"\\ud83d\\ude80\": 1} x", "Extra data: line 1 column 21 (char 20)"],
  ["🚀", "Expecting value: line 1 column 1 (char 0)"],
  ["[\"🚀\", x]", "Expecting value: line 1 column 7 (char 6)"],
  ["{", "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"],
  ["[", "Expecting value: line 1 column 2 (char 1)"],
  ["{\"a\"", "Expecting ':' delimiter: line 1 column 5 (char 4)"],
  ["{\"a\":1", "Expecting ',' delimiter: line 1 column 7 (char 6)"],
];

test.each(CASES)("%j → %s", (text, expected) => {
  expect(pythonJsonError(text)).toBe(expected);
});
