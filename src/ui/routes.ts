/**
 * Serves Prefect's UI beside the API, as prefect/server/api/server.py's create_ui_app does:
 * v1 at the serve base, v2 under `<base>/v2`, `GET <base>/ui-settings`, a 307 from neutral
 * entry points to the preferred UI, SPA fallback for HTML navigations only. Also the CORS
 * middleware Prefect puts in front of everything. API routes always win: `/api/...` never
 * reaches the UI.
 */
import { Elysia } from "elysia";
import type { AppContext } from "../context";
import { fileResponse, UiBundle } from "./bundle";
import { corsPreflight, corsSimpleHeaders, isPreflight } from "./cors";
import { locateUiSources } from "./sources";

export type UiVersion = "v1" | "v2";
export const UI_VERSION_COOKIE = "prefect_ui_version";

export function normalizeUiBaseUrl(base: string): string {
  if (!base) return "/";
  let url = base.startsWith("/") ? base : `/${base}`;
  if (url !== "/") url = url.replace(/\/+$/, "");
  return url || "/";
}

export function joinUiPath(base: string, suffix: string): string {
  const normalized = normalizeUiBaseUrl(base);
  const tail = `/${suffix.replace(/^\/+/, "")}`;
  return normalized === "/" ? tail : normalized + tail;
}

/** [v1 base, v2 base]: a base ending in /v2 is v2's, and v1 sits above it. */
export function resolveUiBaseUrls(configured: string): [string, string] {
  const base = normalizeUiBaseUrl(configured);
  if (base === "/v2") return ["/", base];
  if (base.endsWith("/v2")) return [base.slice(0, -3) || "/", base];
  return [base, joinUiPath(base, "v2")];
}

const targets = (path: string, base: string) => (base === "/" ? path.startsWith("/") : path === base || path.startsWith(`${base}/`));
const relativeTo = (path: string, base: string) => (base === "/" ? path || "/" : path.slice(base.length) || "/");

function buildUiPath(base: string, relative: string): string {
  const normalized = normalizeUiBaseUrl(base);
  const tail = relative.startsWith("/") ? relative : `/${relative}`;
  if (normalized === "/") return tail;
  // Keeps the trailing slash so the target is inside the bundle's mount.
  return tail === "/" ? `${normalized}/` : normalized + tail;
}

function isHtmlNavigation(request: Request): boolean {
  if (request.method !== "GET" && request.method !== "HEAD") return false;
  const mode = request.headers.get("sec-fetch-mode");
  const dest = request.headers.get("sec-fetch-dest");
  if (mode === "navigate" || dest === "document" || dest === "iframe") return true;
  return (request.headers.get("accept") ?? "").toLowerCase().includes("text/html");
}

/** FastAPI's frontend fallback test: the client accepts HTML (q > 0). */
function acceptsHtml(request: Request): boolean {
  return (request.headers.get("accept") ?? "").split(",").some((part) => {
    const [type, ...params] = part.trim().toLowerCase().split(";");
    if (type?.trim() !== "text/html" && type?.trim() !== "application/xhtml+xml") return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    return q === undefined || Number(q.slice(2)) !== 0;
  });
}

function cookie(request: Request, name: string): string | undefined {
  for (const part of (request.headers.get("cookie") ?? "").split(";")) {
    const [key, ...value] = part.trim().split("=");
    if (key === name) return value.join("=");
  }
  return undefined;
}

/** A relative path with `.` and `..` resolved; null when it climbs out of the bundle. */
function normalizeFilePath(path: string): string | null {
  const parts: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") {
      if (parts.length === 0) return null;
      parts.pop();
    } else parts.push(segment);
  }
  return parts.join("/");
}

const jsonResponse = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

export interface UiMount {
  /** e.g. `/` or `/ui`: where the dashboard is; null when no bundle is served. */
  dashboardPath: string | null;
  bundles: UiBundle[];
}

export function mountUi({ config, logger }: AppContext): UiMount {
  const [v1Base, v2Base] = resolveUiBaseUrls(config.ui.serveBase);
  if (!config.ui.enabled) return { dashboardPath: null, bundles: [] };
  const sources = locateUiSources(config.ui.staticDirectory);
  const bundles: UiBundle[] = [];
  if (sources.v1) bundles.push(new UiBundle("v1", v1Base, sources.v1));
  if (sources.v2) bundles.push(new UiBundle("v2", v2Base, sources.v2));
  if (bundles.length === 0) logger.warning(`no UI bundle found in ${sources.origin}: the UI is not served`);
  else logger.debug(`UI bundles ${bundles.map((b) => `${b.version} at ${b.baseUrl}`).join(", ")} from ${sources.origin}`);
  return { dashboardPath: bundles.length > 0 ? v1Base : null, bundles };
}

export function uiRoutesAndCors(ctx: AppContext, mount: UiMount = mountUi(ctx)) {
  const { ui, cors } = ctx.config;
  const [v1Base, v2Base] = resolveUiBaseUrls(ui.serveBase);
  const settingsPath = joinUiPath(v1Base, "ui-settings");
  const mounted = new Map(mount.bundles.map((bundle) => [bundle.version, bundle]));
  const available = (): UiVersion[] => (["v1", "v2"] as const).filter((v) => mounted.has(v));
  const configuredDefault: UiVersion = ui.v2Default ? "v2" : "v1";
  const defaultUi = (): UiVersion => (mounted.has(configuredDefault) ? configuredDefault : (available()[0] ?? configuredDefault));

  function settings(request: Request, port: number | undefined) {
    return {
      api_url: ui.apiUrl ?? listeningApiUrl(request, ctx.config.host, port),
      // prefect-lite has no CSRF protection, so the UI must not ask for tokens.
      csrf_enabled: false,
      auth: ui.basicAuth ? "BASIC" : null,
      flags: [],
      default_ui: defaultUi(),
      available_uis: available(),
      v1_base_url: mounted.has("v1") ? v1Base : null,
      v2_base_url: mounted.has("v2") ? v2Base : null,
    };
  }

  /** redirect_to_preferred_ui: a neutral entry point (or a missing v2) sends the browser to its UI. */
  function preferredUiRedirect(request: Request, url: URL, path: string): Response | undefined {
    if (!isHtmlNavigation(request) || mounted.size === 0 || path.endsWith("/ui-settings")) return undefined;
    let requested: UiVersion;
    let relative: string;
    if (targets(path, v2Base)) [requested, relative] = ["v2", relativeTo(path, v2Base)];
    else if (targets(path, v1Base)) [requested, relative] = ["v1", relativeTo(path, v1Base)];
    else return undefined;
    if (requested === "v2" ? mounted.has("v2") : relative !== "/") return undefined;
    const fromCookie = cookie(request, UI_VERSION_COOKIE);
    const preferred = fromCookie !== undefined && mounted.has(fromCookie as UiVersion) ? (fromCookie as UiVersion) : defaultUi();
    if (preferred === requested) return undefined;
    const location = buildUiPath(mounted.get(preferred)!.baseUrl, relative) + url.search;
    return new Response(null, { status: 307, headers: { location } });
  }

  /** FastAPI's `frontend()` route: the most specific mounted bundle whose base holds the path. */
  async function frontend(request: Request, url: URL, path: string): Promise<Response> {
    let match: { bundle: UiBundle; rest: string } | undefined;
    for (const bundle of mount.bundles) {
      const base = bundle.baseUrl;
      const rest = base === "/" ? path.replace(/^\/+/, "") : path === base ? "" : path.startsWith(`${base}/`) ? path.slice(base.length + 1) : undefined;
      if (rest === undefined) continue;
      if (!match || base.length > match.bundle.baseUrl.length) match = { bundle, rest };
    }
    if (!match) return jsonResponse(404, { detail: "Not Found" });
    const { bundle } = match;
    const file = normalizeFilePath(match.rest);
    const directoryIndex = file !== null && (await bundle.isDirectory(file));
    const asset = file === null ? null : await bundle.asset(directoryIndex ? (file === "" ? "index.html" : `${file}/index.html`) : file);
    if (request.method !== "GET" && request.method !== "HEAD") {
      return asset ? jsonResponse(405, { detail: "Method Not Allowed" }) : jsonResponse(404, { detail: "Not Found" });
    }
    if (asset) {
      if (directoryIndex && !path.endsWith("/")) {
        const target = new URL(url);
        target.pathname += "/";
        return new Response(null, { status: 307, headers: { location: target.toString() } });
      }
      return fileResponse(asset, request);
    }
    const index = await bundle.asset("index.html");
    if (index && acceptsHtml(request)) return fileResponse(index, request);
    return jsonResponse(404, { detail: "Not Found" });
  }

  async function uiResponse(request: Request, port: number | undefined): Promise<Response> {
    const url = new URL(request.url);
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      return jsonResponse(404, { detail: "Not Found" });
    }
    const redirect = preferredUiRedirect(request, url, path);
    if (redirect) return redirect;
    if (path === settingsPath) {
      return request.method === "GET" ? jsonResponse(200, settings(request, port)) : jsonResponse(405, { detail: "Method Not Allowed" });
    }
    return frontend(request, url, path);
  }

  return new Elysia({ name: "ui-and-cors" }).onRequest(async ({ request, set, server }) => {
    const origin = request.headers.get("origin");
    if (isPreflight(request)) return corsPreflight(cors, request);
    const corsHeaders = corsSimpleHeaders(cors, origin);
    if (isApiPath(request.url)) {
      Object.assign(set.headers, corsHeaders);
      return;
    }
    const response = await uiResponse(request, server?.port);
    for (const [name, value] of Object.entries(corsHeaders)) {
      if (name === "vary" && response.headers.has("vary")) response.headers.set("vary", `${response.headers.get("vary")}, ${value}`);
      else response.headers.set(name, value);
    }
    return response;
  });
}

/** `/api` or below, read off the URL without parsing it: this runs before every API request. */
function isApiPath(url: string): boolean {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0 || !url.startsWith("/api", start)) return false;
  const next = url[start + 4];
  return next === undefined || next === "/" || next === "?" || next === "#";
}

/** Where the API really listens; a wildcard host is replaced by the one the browser used. */
function listeningApiUrl(request: Request, host: string, port: number | undefined): string {
  if (host === "0.0.0.0" || host === "::" || host === "") return `${new URL(request.url).origin}/api`;
  const shown = host.includes(":") ? `[${host}]` : host;
  return `http://${shown}:${port ?? new URL(request.url).port}/api`;
}
