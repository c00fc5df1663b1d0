/**
 * The npm packages, esbuild style, built and packed locally (never published): `prefect-lite`
 * (the library's TypeScript sources for Bun, and a small launcher as its bin) with one optional
 * dependency per platform, `@prefect-lite/<os>-<arch>`, each carrying that platform's executable
 * and marked with npm's os/cpu (and libc) fields so npm installs only the matching one.
 *
 *   bun scripts/release/npm.ts [--host] [--out DIR]
 *
 * --host packs only this machine's platform package, from dist/prefect-lite (npm run build);
 * otherwise all five, from dist/release/ (npm run build -- --all). Output: DIR (default
 * dist/npm/) with a folder per package and the `npm pack` tarballs.
 */
import { chmodSync, copyFileSync, cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { hostPlatform, PLATFORMS, releaseName, type Platform } from "./platforms";

const root = join(import.meta.dir, "../..");
const { values } = parseArgs({ options: { host: { type: "boolean" }, out: { type: "string" } } });
const outDir = resolve(values.out ?? join(root, "dist/npm"));

interface RepoPackage {
  name: string;
  version: string;
  description: string;
  type: string;
  main: string;
  module: string;
  types: string;
  exports: Record<string, string>;
  dependencies: Record<string, string>;
}
const repo = (await Bun.file(join(root, "package.json")).json()) as RepoPackage;
const platformPackageName = (p: Platform) => `@prefect-lite/${p.id}`;

function writeJson(path: string, value: unknown): void {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** `npm pack` into outDir; returns the tarball's path. */
function pack(dir: string): string {
  const npm = process.platform === "win32" ? "npm.cmd" : "npm";
  const { exitCode, stdout, stderr } = Bun.spawnSync([npm, "pack", "--json", "--pack-destination", outDir], { cwd: dir, stdout: "pipe", stderr: "pipe" });
  if (exitCode !== 0) throw new Error(`npm pack in ${dir} failed:\n${stdout}${stderr}`);
  const [{ filename }] = JSON.parse(stdout.toString()) as { filename: string }[];
  return join(outDir, filename);
}

function platformPackage(platform: Platform, binary: string): string {
  const dir = join(outDir, platform.id);
  mkdirSync(join(dir, "bin"), { recursive: true });
  const target = join(dir, "bin", platform.executable);
  copyFileSync(binary, target);
  chmodSync(target, 0o755);
  writeJson(join(dir, "package.json"), {
    name: platformPackageName(platform),
    version: repo.version,
    description: `The prefect-lite executable for ${platform.id}`,
    os: [platform.os],
    cpu: [platform.cpu],
    ...(platform.os === "linux" ? { libc: ["glibc"] } : {}),
    files: ["bin"],
    preferUnplugged: true,
  });
  return pack(dir);
}

function mainPackage(platforms: Platform[]): string {
  const dir = join(outDir, "prefect-lite");
  mkdirSync(join(dir, "bin"), { recursive: true });
  copyFileSync(join(import.meta.dir, "npm/prefect-lite.js"), join(dir, "bin/prefect-lite.js"));
  chmodSync(join(dir, "bin/prefect-lite.js"), 0o755);
  // The library is the TypeScript sources, which Bun runs as they are (src/db imports drizzle/*.sql).
  cpSync(join(root, "src"), join(dir, "src"), { recursive: true });
  cpSync(join(root, "drizzle"), join(dir, "drizzle"), { recursive: true });
  copyFileSync(join(root, "README.md"), join(dir, "README.md"));
  writeJson(join(dir, "package.json"), {
    name: repo.name,
    version: repo.version,
    description: repo.description,
    type: repo.type,
    main: repo.main,
    module: repo.module,
    types: repo.types,
    exports: repo.exports,
    bin: { "prefect-lite": "bin/prefect-lite.js" },
    files: ["bin", "src", "drizzle", "README.md"],
    dependencies: repo.dependencies,
    optionalDependencies: Object.fromEntries(platforms.map((p) => [platformPackageName(p), repo.version])),
  });
  return pack(dir);
}

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const host = hostPlatform();
if (values.host && !host) throw new Error(`no platform package for ${process.platform}-${process.arch}`);
const tarballs = values.host
  ? [platformPackage(host!, join(root, "dist", host!.executable))]
  : PLATFORMS.map((p) => platformPackage(p, join(root, "dist/release", releaseName(p))));
// The main package always lists every platform, so an install from it fits any machine.
tarballs.push(mainPackage(PLATFORMS));
for (const tarball of tarballs) console.log(`packed ${tarball}`);
