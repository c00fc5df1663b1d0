/**
 * Where the UI bundles come from: a directory given by PREFECT_UI_STATIC_DIRECTORY or --ui-dir,
 * else the pack embedded in the executable, else the pack that scripts/fetch-prefect-ui.ts
 * left in .cache/prefect-ui/ (npm start, tests).
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { PREFECT_VERSION } from "../config";
import type { CollectionBlocksData, CollectionBlocksSource } from "../blocks/catalog";
import { decodePack, type Pack } from "./pack";

export const UI_CACHE_DIR = join(import.meta.dir, "../../.cache/prefect-ui");

export const cachedPackPath = (): string => join(UI_CACHE_DIR, `prefect-ui-${PREFECT_VERSION}.pack`);

export interface UiFile {
  body: Uint8Array<ArrayBuffer>;
  /** The same body, already gzipped, when the source stores it so. */
  gzipped?: Uint8Array<ArrayBuffer>;
  /** Seconds since the epoch. */
  mtime: number;
}

/** One bundle's files, by path relative to its root (`index.html`, `assets/x.js`). */
export interface UiFileSource {
  read(path: string): UiFile | undefined;
  isDirectory(path: string): boolean;
}

class PackSource implements UiFileSource {
  /** Every directory of the bundle, `""` for its root. */
  private readonly directories = new Set<string>();

  constructor(
    private readonly pack: Pack,
    private readonly prefix: string,
  ) {
    for (const name of pack.files.keys()) {
      if (!name.startsWith(prefix)) continue;
      const parts = name.slice(prefix.length).split("/").slice(0, -1);
      for (let i = 0; i <= parts.length; i++) this.directories.add(parts.slice(0, i).join("/"));
    }
  }

  read(path: string): UiFile | undefined {
    const packed = this.pack.files.get(this.prefix + path);
    if (!packed) return undefined;
    return { body: Bun.gunzipSync(packed.gzipped), gzipped: packed.gzipped, mtime: packed.entry.mtime };
  }

  isDirectory(path: string): boolean {
    return this.directories.has(path);
  }
}

class DirectorySource implements UiFileSource {
  constructor(private readonly root: string) {}

  read(path: string): UiFile | undefined {
    const file = join(this.root, path);
    const stat = statSync(file, { throwIfNoEntry: false });
    if (!stat?.isFile()) return undefined;
    return { body: readFileSync(file), mtime: Math.floor(stat.mtimeMs / 1000) };
  }

  isDirectory(path: string): boolean {
    return statSync(join(this.root, path), { throwIfNoEntry: false })?.isDirectory() ?? false;
  }
}

export interface UiSources {
  v1?: UiFileSource;
  v2?: UiFileSource;
  /** Where they were found, for the log. */
  origin: string;
}

let loadedPack: Pack | null | undefined;

/** The embedded pack, else the cached one, else null. Read once. */
export function uiPack(): Pack | null {
  if (loadedPack !== undefined) return loadedPack;
  const name = basename(cachedPackPath());
  const embedded = Bun.embeddedFiles.some((file) => (file as Blob & { name?: string }).name === name);
  const path = embedded ? `/$bunfs/root/${name}` : cachedPackPath();
  loadedPack = existsSync(path) ? decodePack(readFileSync(path)) : null;
  return loadedPack;
}

const hasIndex = (dir: string) => existsSync(join(dir, "index.html"));

/**
 * A directory may be prefect's own `prefect/server` (ui/, ui-v2/), Prefect's static directory
 * layout (v1/, v2/), or a v1 bundle itself.
 */
function directorySources(dir: string): UiSources {
  const v1 = [join(dir, "ui"), join(dir, "v1"), dir].find(hasIndex);
  const v2 = [join(dir, "ui-v2"), join(dir, "v2")].find(hasIndex);
  return { v1: v1 ? new DirectorySource(v1) : undefined, v2: v2 ? new DirectorySource(v2) : undefined, origin: dir };
}

export function locateUiSources(staticDirectory: string | null): UiSources {
  if (staticDirectory) return directorySources(staticDirectory);
  const pack = uiPack();
  if (!pack) return { origin: "none (run `bun scripts/fetch-prefect-ui.ts`)" };
  return { v1: new PackSource(pack, "ui/"), v2: new PackSource(pack, "ui-v2/"), origin: `prefect ${pack.prefectVersion} wheel` };
}

/** The pinned wheel's collection_blocks_data.json (the block catalog), when the pack is there. */
export function packedCollectionBlocks(): CollectionBlocksData | null {
  const file = uiPack()?.files.get("collection_blocks_data.json");
  return file ? (JSON.parse(new TextDecoder().decode(Bun.gunzipSync(file.gzipped))) as CollectionBlocksData) : null;
}

/** The same, fingerprinted by its compressed bytes, so a start on an up-to-date database never decompresses it. */
export function packedCollectionBlocksSource(): CollectionBlocksSource {
  const file = uiPack()?.files.get("collection_blocks_data.json");
  return { fingerprint: file ? Bun.hash(file.gzipped).toString(16) : "none", load: packedCollectionBlocks };
}
