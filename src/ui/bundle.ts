/**
 * One mounted UI bundle: its files with `/PREFECT_UI_SERVE_BASE_REPLACE_PLACEHOLDER` replaced by
 * the bundle's base (as Prefect's create_ui_static_subpath does when it copies them), answered
 * the way Starlette's StaticFiles does (etag, last-modified, 304, HEAD) plus GZipMiddleware.
 */
import type { UiFileSource } from "./sources";

export const BASE_PLACEHOLDER = "/PREFECT_UI_SERVE_BASE_REPLACE_PLACEHOLDER";
const REPLACED_EXTENSIONS = [".txt", ".html", ".css", ".js", ".json"];
/** GZipMiddleware's minimum_size. */
const GZIP_MIN_SIZE = 500;
/** Content types GZipMiddleware leaves alone (already compressed). */
const INCOMPRESSIBLE = /^(application\/(gzip|x-gzip|zip)|audio\/|font\/woff2?|image\/(avif|gif|jpeg|png|webp)|text\/event-stream|video\/)/;

interface Asset {
  body: Uint8Array<ArrayBuffer>;
  gzipped: Uint8Array<ArrayBuffer> | undefined;
  etag: string;
  lastModified: string;
  contentType: string;
}

export class UiBundle {
  /** Files found so far; misses are not kept, so arbitrary SPA paths cannot grow it. */
  private readonly assets = new Map<string, Promise<Asset | null>>();

  constructor(
    readonly version: "v1" | "v2",
    /** Normalized: `/` or `/something` without a trailing slash. */
    readonly baseUrl: string,
    private readonly source: UiFileSource,
  ) {}

  /** The file at a normalized relative path (no leading slash), or null. */
  asset(path: string): Promise<Asset | null> {
    const cached = this.assets.get(path);
    if (cached) return cached;
    const asset = this.load(path);
    this.assets.set(path, asset);
    void asset.then((found) => found ?? this.assets.delete(path), () => this.assets.delete(path));
    return asset;
  }

  isDirectory(path: string): Promise<boolean> {
    return this.source.isDirectory(path);
  }

  private async load(path: string): Promise<Asset | null> {
    const file = await this.source.read(path);
    if (!file) return null;
    let { body, gzipped } = file;
    if (REPLACED_EXTENSIONS.some((ext) => path.endsWith(ext))) {
      const text = new TextDecoder().decode(body);
      if (text.includes(BASE_PLACEHOLDER)) {
        body = new TextEncoder().encode(text.replaceAll(BASE_PLACEHOLDER, this.baseUrl === "/" ? "" : this.baseUrl));
        gzipped = undefined;
      }
    }
    const contentType = Bun.file(path).type;
    const compressible = body.length >= GZIP_MIN_SIZE && !INCOMPRESSIBLE.test(contentType);
    return {
      body,
      gzipped: compressible ? (gzipped ?? Bun.gzipSync(body, { level: 9 })) : undefined,
      etag: `"${new Bun.CryptoHasher("md5").update(body).digest("hex")}"`,
      lastModified: new Date(file.mtime * 1000).toUTCString(),
      contentType,
    };
  }
}

/** A file answer: 304 when the client's copy is current, gzip when asked, no body for HEAD. */
export function fileResponse(asset: Asset, request: Request, status = 200): Response {
  const headers = new Headers({ "accept-ranges": "bytes", etag: asset.etag, "last-modified": asset.lastModified });
  if (isNotModified(asset, request.headers)) return new Response(null, { status: 304, headers });
  headers.set("content-type", asset.contentType);
  let body = asset.body;
  if (asset.gzipped) {
    headers.set("vary", "Accept-Encoding");
    if (/\bgzip\b/.test(request.headers.get("accept-encoding") ?? "")) {
      body = asset.gzipped;
      headers.set("content-encoding", "gzip");
    }
  }
  headers.set("content-length", String(body.length));
  return new Response(request.method === "HEAD" ? null : body, { status, headers });
}

function isNotModified(asset: Asset, request: Headers): boolean {
  const ifNoneMatch = request.get("if-none-match");
  if (ifNoneMatch) {
    if (ifNoneMatch.trim() === "*") return true;
    return ifNoneMatch.split(",").some((tag) => tag.trim().replace(/^W\//, "") === asset.etag);
  }
  const since = Date.parse(request.get("if-modified-since") ?? "");
  return Number.isFinite(since) && since >= Date.parse(asset.lastModified);
}
