/**
 * `bun scripts/fetch-prefect-ui.ts`: fetches the pinned `prefect` wheel from PyPI (pip download),
 * extracts its two UI bundles and block catalog, and writes them as one pack under the
 * git-ignored .cache/prefect-ui/. build.ts embeds the pack in the executable; `npm start`
 * and the tests read it from the cache. Nothing is fetched when the pack already exists.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { PREFECT_VERSION } from "../src/config";
import { encodePack, type PackInput } from "../src/ui/pack";
import { UI_CACHE_DIR, cachedPackPath } from "../src/ui/sources";

/** What is taken from the wheel, relative to `prefect/server/`. */
const WHEEL_PARTS = ["ui/", "ui-v2/", "collection_blocks_data.json"];

const EXTRACT = `
import os, sys, time, zipfile
wheel, target, parts = sys.argv[1], sys.argv[2], sys.argv[3:]
prefix = "prefect/server/"
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        name = info.filename
        if info.is_dir() or not name.startswith(prefix):
            continue
        rel = name[len(prefix):]
        if not any(rel == p or (p.endswith("/") and rel.startswith(p)) for p in parts):
            continue
        dest = os.path.join(target, rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with z.open(info) as src, open(dest, "wb") as out:
            out.write(src.read())
        mtime = time.mktime(info.date_time + (0, 0, -1))
        os.utime(dest, (mtime, mtime))
`;

function run(command: string[], shown = command.join(" ")): void {
  console.log(`$ ${shown}`);
  const { exitCode } = Bun.spawnSync(command, { stdio: ["ignore", "inherit", "inherit"] });
  if (exitCode !== 0) throw new Error(`${command[0]} exited with ${exitCode}`);
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

export function ensurePrefectUiPack(python = process.env.PYTHON ?? "python3"): string {
  const packPath = cachedPackPath();
  if (existsSync(packPath)) return packPath;
  mkdirSync(UI_CACHE_DIR, { recursive: true });
  const wheel = join(UI_CACHE_DIR, `prefect-${PREFECT_VERSION}-py3-none-any.whl`);
  if (!existsSync(wheel)) {
    run([python, "-m", "pip", "download", `prefect==${PREFECT_VERSION}`, "--no-deps", "--only-binary=:all:",
      "--disable-pip-version-check", "--quiet", "--dest", UI_CACHE_DIR]);
  }
  const extracted = join(UI_CACHE_DIR, `prefect-${PREFECT_VERSION}`);
  run([python, "-c", EXTRACT, wheel, extracted, ...WHEEL_PARTS], `${python} (extract ${WHEEL_PARTS.join(" ")} from ${wheel})`);
  const files: PackInput[] = listFiles(extracted).map((file) => ({
    path: relative(extracted, file),
    mtime: Math.floor(statSync(file).mtimeMs / 1000),
    body: readFileSync(file),
  }));
  // Written under a temporary name first so an interrupted run leaves no half pack behind.
  writeFileSync(`${packPath}.tmp`, encodePack(PREFECT_VERSION, files));
  renameSync(`${packPath}.tmp`, packPath);
  console.log(`wrote ${packPath} (${files.length} files, ${(statSync(packPath).size / 2 ** 20).toFixed(1)} MiB)`);
  return packPath;
}

if (import.meta.main) ensurePrefectUiPack();
