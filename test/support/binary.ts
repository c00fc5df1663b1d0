/**
 * dist/prefect-lite for the tests that drive the executable: built when missing or older than
 * the code it is compiled from, so `npm test` never checks a stale binary. $PREFECT_LITE_BINARY
 * points the tests at another executable instead (a release build, say), used as it is.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { repoRoot } from "./python-env";

export const binary = join(repoRoot, "dist", process.platform === "win32" ? "prefect-lite.exe" : "prefect-lite");

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

export async function ensureBinary(): Promise<string> {
  const chosen = process.env.PREFECT_LITE_BINARY;
  if (chosen) {
    if (!existsSync(chosen)) throw new Error(`PREFECT_LITE_BINARY=${chosen} does not exist`);
    return resolve(chosen);
  }
  const sources = Math.max(newestMtime(join(repoRoot, "src")), newestMtime(join(repoRoot, "drizzle")), statSync(join(repoRoot, "build.ts")).mtimeMs);
  if (existsSync(binary) && statSync(binary).mtimeMs >= sources) return binary;
  const build = Bun.spawn([process.execPath, join(repoRoot, "build.ts")], { cwd: repoRoot, stdout: "inherit", stderr: "inherit" });
  if ((await build.exited) !== 0 || !existsSync(binary)) throw new Error("npm run build failed: no dist/prefect-lite");
  return binary;
}
