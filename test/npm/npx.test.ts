/**
 * The npm packages as a user gets them: packs `prefect-lite` and this machine's
 * `@prefect-lite/<os>-<arch>` (scripts/release/npm.ts --host), installs both tarballs into an
 * empty project (the other platforms' optional dependencies are unpublished, which npm skips),
 * then runs `npx prefect-lite` and imports `startServer` from "prefect-lite" under Bun.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hostPlatform, PLATFORMS } from "../../scripts/release/platforms";
import { ensureBinary } from "../support/binary";
import { repoRoot } from "../support/python-env";
import { startServerProcess } from "../support/server-process";

const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const npx = process.platform === "win32" ? "npx.cmd" : "npx";

async function run(command: string[], cwd: string) {
  const child = Bun.spawn(command, { cwd, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  const exitCode = await child.exited;
  if (exitCode !== 0) throw new Error(`${command.join(" ")} exited ${exitCode}:\n${stdout}${stderr}`);
  return stdout.trim();
}

let work: string;
let project: string;
let version: string;

beforeAll(async () => {
  await ensureBinary();
  version = (await Bun.file(join(repoRoot, "package.json")).json()).version;
  work = mkdtempSync(join(tmpdir(), "prefect-lite-npm-"));
  const out = join(work, "packages");
  await run([process.execPath, join(repoRoot, "scripts/release/npm.ts"), "--host", "--out", out], repoRoot);
  project = join(work, "project");
  mkdirSync(project);
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "uses-prefect-lite", private: true, type: "module" }));
  const tarballs = readdirSync(out).filter((f) => f.endsWith(".tgz")).map((f) => join(out, f));
  await run([npm, "install", "--no-audit", "--no-fund", ...tarballs], project);
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("npm packages", () => {
  test("the main package lists every platform package as an optional dependency", async () => {
    const main = await Bun.file(join(project, "node_modules/prefect-lite/package.json")).json();
    expect(Object.keys(main.optionalDependencies).sort()).toEqual(PLATFORMS.map((p) => `@prefect-lite/${p.id}`).sort());
    const own = await Bun.file(join(project, `node_modules/@prefect-lite/${hostPlatform()!.id}/package.json`)).json();
    expect([own.os, own.cpu]).toEqual([[process.platform], [process.arch]]);
  });

  test("npx prefect-lite runs this machine's executable", async () => {
    expect(await run([npx, "--no-install", "prefect-lite", "--version"], project)).toBe(`prefect-lite ${version}`);
  });

  test("the launcher serves the API and passes SIGTERM through (exit 0)", async () => {
    const server = await startServerProcess([join(project, "node_modules/.bin/prefect-lite")], { dbPath: join(work, "npx.db") });
    const health = await (await fetch(`${server.apiUrl}/health`)).json();
    const { exitCode } = await server.stop();
    expect(health).toBe(true);
    expect(exitCode).toBe(0);
  });

  test('import { startServer } from "prefect-lite" works under Bun', async () => {
    const script = join(project, "library.ts");
    writeFileSync(
      script,
      [
        'import { startServer } from "prefect-lite";',
        "const server = await startServer({ port: 0 });",
        "const flow = await fetch(`${server.apiUrl}/flows/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'from-npm' }) });",
        "console.log(flow.status, (await flow.json()).name);",
        "await server.stop();",
      ].join("\n"),
    );
    expect(await run([process.execPath, script], project)).toBe("201 from-npm");
  });
});
