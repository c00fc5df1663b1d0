/** Layering rules the compiler cannot see. */
import { expect, test } from "bun:test";
import { Glob } from "bun";
import { join, relative } from "node:path";

const root = join(import.meta.dir, "../..");

test("only the data layer makes pending queries: nothing outside src/db imports src/db/postgres/query", async () => {
  const offenders: string[] = [];
  for await (const file of new Glob("src/**/*.ts").scan(root)) {
    if (file.startsWith("src/db/")) continue;
    const text = await Bun.file(join(root, file)).text();
    if (/from\s+["'][^"']*db\/postgres\/query["']/.test(text)) offenders.push(relative(root, join(root, file)));
  }
  expect(offenders).toEqual([]);
});
