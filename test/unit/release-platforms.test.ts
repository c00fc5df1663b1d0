/**
 * The release platform table (scripts/release/platforms.ts) against what reads it: the header
 * check of scripts/release/check.ts on a real executable, and python/build_wheel.py's own copy of
 * the wheel tags for building on the machine itself.
 */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { headerPlatform } from "../../scripts/release/check";
import { hostPlatform, PLATFORMS } from "../../scripts/release/platforms";
import { repoRoot } from "../support/python-env";

test("the header check names this machine's platform for the Bun runtime running the tests", () => {
  // process.execPath is a Bun executable for this machine, as a compiled prefect-lite is.
  expect(headerPlatform(readFileSync(process.execPath))).toBe(hostPlatform()!.id);
});

test("the header check rejects what is not an executable", () => {
  expect(headerPlatform(new TextEncoder().encode("#!/bin/sh\necho not a binary\n".padEnd(128)))).toBe("not an executable");
});

test("python/build_wheel.py knows the same wheel tags as the release platforms", () => {
  const builder = readFileSync(join(repoRoot, "python/build_wheel.py"), "utf8");
  const hostTags = [...builder.matchAll(/\): "([^"]+)",/g)].map((m) => m[1]);
  expect(hostTags.sort()).toEqual(PLATFORMS.map((p) => p.wheelTag).sort());
});
