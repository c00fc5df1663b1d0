/**
 * The UI pack: Prefect's UI bundles (and its block catalog) from the pinned wheel, each
 * file gzipped on its own so it can be sent compressed as is. Layout: magic, a 4-byte
 * little-endian index length, the JSON index, then the gzipped bodies back to back.
 */
const MAGIC = new TextEncoder().encode("PLUIPACK1\n");

export interface PackEntry {
  /** e.g. `ui/index.html`, `ui-v2/assets/index-abc.js`, `collection_blocks_data.json`. */
  path: string;
  /** Modification time from the wheel, in seconds since the epoch. */
  mtime: number;
  /** Uncompressed size in bytes. */
  size: number;
  offset: number;
  length: number;
}

export interface PackIndex {
  prefectVersion: string;
  entries: PackEntry[];
}

export interface PackInput {
  path: string;
  mtime: number;
  body: Uint8Array<ArrayBuffer>;
}

export function encodePack(prefectVersion: string, files: PackInput[]): Uint8Array<ArrayBuffer> {
  const bodies = files.map((file) => Bun.gzipSync(file.body, { level: 9 }));
  let offset = 0;
  const entries = files.map((file, i): PackEntry => {
    const entry = { path: file.path, mtime: file.mtime, size: file.body.length, offset, length: bodies[i]!.length };
    offset += entry.length;
    return entry;
  });
  const index = new TextEncoder().encode(JSON.stringify({ prefectVersion, entries } satisfies PackIndex));
  const out = new Uint8Array(MAGIC.length + 4 + index.length + offset);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(MAGIC.length, index.length, true);
  out.set(index, MAGIC.length + 4);
  let at = MAGIC.length + 4 + index.length;
  for (const body of bodies) {
    out.set(body, at);
    at += body.length;
  }
  return out;
}

export interface Pack {
  prefectVersion: string;
  files: Map<string, PackEntry>;
  /** The gzipped body of an entry, read from the pack when asked for. */
  read(entry: PackEntry): Promise<Uint8Array<ArrayBuffer>>;
}

/**
 * Reads the index only; bodies are sliced out of `blob` on demand, so the pack (about 5 MB,
 * embedded in the executable) is never copied into memory as a whole.
 */
export async function openPack(blob: Blob): Promise<Pack> {
  const head = await blob.slice(0, MAGIC.length + 4).bytes();
  const magicOk = head.length === MAGIC.length + 4 && MAGIC.every((byte, i) => head[i] === byte);
  if (!magicOk) throw new Error("not a prefect-lite UI pack");
  const indexLength = new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(MAGIC.length, true);
  const indexStart = MAGIC.length + 4;
  const index = JSON.parse(await blob.slice(indexStart, indexStart + indexLength).text()) as PackIndex;
  const dataStart = indexStart + indexLength;
  return {
    prefectVersion: index.prefectVersion,
    files: new Map(index.entries.map((entry) => [entry.path, entry])),
    read: (entry) => blob.slice(dataStart + entry.offset, dataStart + entry.offset + entry.length).bytes(),
  };
}
