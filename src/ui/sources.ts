/**
 * Where the UI bundles come from: a directory given by PREFECT_UI_STATIC_DIRECTORY or --ui-dir,
 * else the pack embedded in the executable, else the pack that scripts/fetch-prefect-ui.ts
 * left in .cache/prefect-ui/ (npm start, tests).
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { PREFECT_VERSION } from "../config";
import type { CollectionBlocksData, CollectionBlocksSource } from "../blocks/catalog";
import { openPack, type Pack } from "./pack";

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
  read(path: string): Promise<UiFile | undefined>;
  isDirectory(path: string): Promise<boolean>;
}

/** A bundle inside the pack, which is opened on the first request for a UI file. */
class PackSource implements UiFileSource {
  private directories: Promise<Set<string>> | undefined;

  constructor(
    private readonly pack: () => Promise<Pack | null>,
    private readonly prefix: string,
  ) {}

  async read(path: string): Promise<UiFile | undefined> {
    const pack = await this.pack();
    const entry = pack?.files.get(this.prefix + path);
    if (!pack || !entry) return undefined;
    const gzipped = await pack.read(entry);
    return { body: Bun.gunzipSync(gzipped), gzipped, mtime: entry.mtime };
  }

  isDirectory(path: string): Promise<boolean> {
    this.directories ??= this.pack().then((pack) => {
      // Every directory of the bundle, `""` for its root.
      const directories = new Set<string>();
      for (const name of pack?.files.keys() ?? []) {
        if (!name.startsWith(this.prefix)) continue;
        const parts = name.slice(this.prefix.length).split("/").slice(0, -1);
        for (let i = 0; i <= parts.length; i++) directories.add(parts.slice(0, i).join("/"));
      }
      return directories;
    });
    return this.directories.then((directories) => directories.has(path));
  }
}

class DirectorySource implements UiFileSource {
  constructor(private readonly root: string) {}

  async read(path: string): Promise<UiFile | undefined> {
    const file = join(this.root, path);
    const stat = statSync(file, { throwIfNoEntry: false });
    if (!stat?.isFile()) return undefined;
    return { body: readFileSync(file), mtime: Math.floor(stat.mtimeMs / 1000) };
  }

  async isDirectory(path: string): Promise<boolean> {
    return statSync(join(this.root, path), { throwIfNoEntry: false })?.isDirectory() ?? false;
  }
}

export interface UiSources {
  v1?: UiFileSource;
  v2?: UiFileSource;
  /** Where they were found, for the log. */
  origin: string;
}

/** The embedded pack, else the cached one; null when there is neither. Looked up without reading it. */
function packBlob(): Blob | null {
  const name = basename(cachedPackPath());
  const embedded = Bun.embeddedFiles.find((file) => (file as Blob & { name?: string }).name === name);
  if (embedded) return embedded;
  return existsSync(cachedPackPath()) ? Bun.file(cachedPackPath()) : null;
}

let openedPack: Promise<Pack | null> | undefined;

/** The pack's index, read once, on first use. */
export function uiPack(): Promise<Pack | null> {
  openedPack ??= (async () => {
    const blob = packBlob();
    return blob ? openPack(blob) : null;
  })();
  return openedPack;
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
  if (!packBlob()) return { origin: "none (run `bun scripts/fetch-prefect-ui.ts`)" };
  return { v1: new PackSource(uiPack, "ui/"), v2: new PackSource(uiPack, "ui-v2/"), origin: `prefect ${PREFECT_VERSION} wheel` };
}

const COLLECTION_BLOCKS = "collection_blocks_data.json";

/** The pinned wheel's collection_blocks_data.json (the block catalog), when the pack is there. */
export async function packedCollectionBlocks(): Promise<CollectionBlocksData | null> {
  const pack = await uiPack();
  const entry = pack?.files.get(COLLECTION_BLOCKS);
  if (!pack || !entry) return null;
  return JSON.parse(new TextDecoder().decode(Bun.gunzipSync(await pack.read(entry)))) as CollectionBlocksData;
}

/**
 * The same, fingerprinted by the pack's Prefect version and the file's size and time in the
 * wheel, so a start on an up-to-date database never reads it.
 */
export async function packedCollectionBlocksSource(): Promise<CollectionBlocksSource> {
  const pack = await uiPack();
  const entry = pack?.files.get(COLLECTION_BLOCKS);
  const fingerprint = pack && entry ? `${pack.prefectVersion}:${entry.size}:${entry.mtime}` : "none";
  return { fingerprint, load: packedCollectionBlocks };
}
