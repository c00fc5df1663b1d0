/**
 * One Python wheel per platform from the binaries in dist/release/ (npm run build -- --all), into
 * dist/release/python/: prefect_lite-<version>-py3-none-<tag>.whl, written by python/build_wheel.py.
 *
 *   bun scripts/release/wheels.ts      (npm run release runs it)
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { basePython } from "../../test/support/python-env";
import { PLATFORMS, releaseName } from "./platforms";

const root = join(import.meta.dir, "../..");
const releaseDir = join(root, "dist/release");
const python = basePython();

for (const platform of PLATFORMS) {
  const binary = join(releaseDir, releaseName(platform));
  if (!existsSync(binary)) throw new Error(`no ${binary}: run npm run build -- --all first`);
  const { exitCode, stdout, stderr } = Bun.spawnSync(
    [python, join(root, "python/build_wheel.py"), "--binary", binary, "--platform-tag", platform.wheelTag, "--out", join(releaseDir, "python")],
    { stdout: "pipe", stderr: "pipe" },
  );
  if (exitCode !== 0) throw new Error(`build_wheel.py failed for ${platform.id}:\n${stdout}${stderr}`);
  console.log(`wrote ${stdout.toString().trim()}`);
}
