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

export interface PackedFile {
  entry: PackEntry;
  gzipped: Uint8Array<ArrayBuffer>;
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
  files: Map<string, PackedFile>;
}

export function decodePack(bytes: Uint8Array<ArrayBuffer>): Pack {
  const magicOk = MAGIC.every((byte, i) => bytes[i] === byte);
  if (!magicOk) throw new Error("not a prefect-lite UI pack");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const indexLength = view.getUint32(MAGIC.length, true);
  const indexStart = MAGIC.length + 4;
  const index = JSON.parse(new TextDecoder().decode(bytes.subarray(indexStart, indexStart + indexLength))) as PackIndex;
  const dataStart = indexStart + indexLength;
  const files = new Map<string, PackedFile>();
  for (const entry of index.entries) {
    files.set(entry.path, { entry, gzipped: bytes.subarray(dataStart + entry.offset, dataStart + entry.offset + entry.length) });
  }
  return { prefectVersion: index.prefectVersion, files };
}
