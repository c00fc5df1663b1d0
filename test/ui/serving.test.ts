/** Serving Prefect's UI beside the API, as Prefect 3.9's create_ui_app does (in-process, no socket). */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createApp } from "../../src/app";
import { SystemClock } from "../../src/clock";
import { configFromEnv } from "../../src/config";
import type { AppContext } from "../../src/context";
import { SqliteStore } from "../../src/db/store";
import { createEventBus } from "../../src/events/bus";
import { createLogger } from "../../src/logger";
import { resolveUiBaseUrls } from "../../src/ui/routes";
import { locateUiSources, uiPack } from "../../src/ui/sources";

const PLACEHOLDER = "/PREFECT_UI_SERVE_BASE_REPLACE_PLACEHOLDER";
const bundles = mkdtempSync(join(tmpdir(), "prefect-lite-ui-"));
const files: Record<string, string> = {
  "ui/index.html": `<html><script src="${PLACEHOLDER}/assets/app.js"></script>v1</html>`,
  "ui/assets/app.js": `const base = "${PLACEHOLDER}";\n${"// padding so gzip applies\n".repeat(40)}`,
  "ui/robots.txt": "User-agent: *",
  "ui/logo.png": "not really a png",
  "ui-v2/index.html": `<html><script src="${PLACEHOLDER}/assets/v2.js"></script>v2</html>`,
  "ui-v2/assets/v2.js": `fetch("${PLACEHOLDER}/ui-settings")`,
};
for (const [path, text] of Object.entries(files)) {
  mkdirSync(dirname(join(bundles, path)), { recursive: true });
  writeFileSync(join(bundles, path), text);
}
afterAll(() => rmSync(bundles, { recursive: true, force: true }));

function serve(env: Record<string, string> = {}) {
  const store = SqliteStore.open(":memory:");
  const logger = createLogger("error");
  const clock = new SystemClock();
  const context: AppContext = {
    config: { ...configFromEnv({ PREFECT_UI_STATIC_DIRECTORY: bundles, ...env }), databasePath: ":memory:", port: 0 },
    store,
    clock,
    logger,
    events: createEventBus(store, clock, logger),
  };
  const app = createApp(context);
  afterAll(() => store.close());
  return (path: string, init: RequestInit = {}) => app.handle(new Request(`http://localhost:4200${path}`, init));
}

const html = { accept: "text/html,application/xhtml+xml,*/*;q=0.8" };

describe("ui: bundles and settings", () => {
  const get = serve();

  test("/ui-settings answers Prefect's UISettings, with the API URL the server answers on", async () => {
    const res = await get("/ui-settings");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      api_url: "http://127.0.0.1:4200/api",
      csrf_enabled: false,
      auth: null,
      flags: [],
      default_ui: "v2",
      available_uis: ["v1", "v2"],
      v1_base_url: "/",
      v2_base_url: "/v2",
    });
  });

  test("an HTML navigation to / goes (307) to the preferred UI: the default v2, or the cookie's", async () => {
    const toV2 = await get("/?a=1", { headers: html });
    expect(toV2.status).toBe(307);
    expect(toV2.headers.get("location")).toBe("/v2/?a=1");
    const v1 = await get("/", { headers: { ...html, cookie: "prefect_ui_version=v1" } });
    expect(v1.status).toBe(200);
    expect(await v1.text()).toContain("v1</html>");
  });

  test("the placeholder becomes each bundle's base ('' for /)", async () => {
    expect(await (await get("/v2/", { headers: html })).text()).toBe(`<html><script src="/v2/assets/v2.js"></script>v2</html>`);
    expect(await (await get("/assets/app.js")).text()).toStartWith(`const base = "";`);
    expect(await (await get("/v2/assets/v2.js")).text()).toBe(`fetch("/v2/ui-settings")`);
  });

  test("SPA fallback to index.html only for clients that accept HTML; JSON 404 otherwise", async () => {
    const page = await get("/runs/flow-run/abc", { headers: html });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain("v1</html>");
    const v2Page = await get("/v2/runs/flow-run/abc", { headers: html });
    expect(await v2Page.text()).toContain("v2</html>");
    const missing = await get("/assets/missing.js", { headers: { accept: "*/*" } });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ detail: "Not Found" });
    const refused = await get("/runs", { headers: { accept: "text/html;q=0" } });
    expect(refused.status).toBe(404);
  });

  test("/v2 is redirected to /v2/", async () => {
    const res = await get("/v2");
    expect(res.status).toBe(307);
    expect(res.headers.get("location")).toBe("http://localhost:4200/v2/");
  });

  test("etag and last-modified give 304; HEAD has headers and no body", async () => {
    const first = await get("/robots.txt");
    const etag = first.headers.get("etag")!;
    expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
    expect((await get("/robots.txt", { headers: { "if-none-match": `W/${etag}` } })).status).toBe(304);
    const since = first.headers.get("last-modified")!;
    expect((await get("/robots.txt", { headers: { "if-modified-since": since } })).status).toBe(304);
    const head = await get("/robots.txt", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-type")).toStartWith("text/plain");
    expect(await head.text()).toBe("");
  });

  test("gzip when asked and the body is worth it", async () => {
    const res = await get("/assets/app.js", { headers: { "accept-encoding": "gzip, br" } });
    expect(res.headers.get("content-encoding")).toBe("gzip");
    expect(res.headers.get("vary")).toBe("Accept-Encoding, Origin");
    const body = new Uint8Array(await res.arrayBuffer());
    expect(new TextDecoder().decode(Bun.gunzipSync(body))).toStartWith(`const base = "";`);
    expect((await get("/robots.txt", { headers: { "accept-encoding": "gzip" } })).headers.get("content-encoding")).toBeNull();
  });

  test("only GET and HEAD reach the files", async () => {
    expect((await get("/assets/app.js", { method: "POST" })).status).toBe(405);
    expect((await get("/nothing-here", { method: "POST" })).status).toBe(404);
  });

  test("a path climbing out of the bundle is not found", async () => {
    const res = await get("/assets/%2e%2e/%2e%2e/%2e%2e/etc/passwd", { headers: { accept: "*/*" } });
    expect(res.status).toBe(404);
  });

  test("API routes win over UI paths, HTML navigation or not", async () => {
    const health = await get("/api/health", { headers: html });
    expect(await health.json()).toBe(true);
    const missing = await get("/api/no-such-route", { headers: html });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ detail: "Not Found" });
    // Only /api itself and what is below it: /apis is a UI path.
    expect(await (await get("/apis", { headers: html })).text()).toContain("v1</html>");
  });
});

describe("ui: CORS as Prefect's CORSMiddleware with its defaults", () => {
  const get = serve();

  test("a preflight from any origin is allowed, with the requested headers echoed", async () => {
    const res = await get("/api/flows/filter", {
      method: "OPTIONS",
      headers: { origin: "http://elsewhere:3000", "access-control-request-method": "POST", "access-control-request-headers": "content-type,x-prefect-ui" },
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("OK");
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
    expect(res.headers.get("access-control-allow-methods")).toBe("DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT, QUERY");
    expect(res.headers.get("access-control-allow-headers")).toBe("content-type,x-prefect-ui");
    expect(res.headers.get("access-control-max-age")).toBe("600");
  });

  test("an API answer to a cross-origin request carries access-control-allow-origin, errors too", async () => {
    const ok = await get("/api/health", { headers: { origin: "http://elsewhere:3000" } });
    expect(ok.headers.get("access-control-allow-origin")).toBe("*");
    const missing = await get("/api/flows/00000000-0000-0000-0000-000000000000", { headers: { origin: "http://elsewhere:3000" } });
    expect(missing.status).toBe(404);
    expect(missing.headers.get("access-control-allow-origin")).toBe("*");
    expect((await get("/api/health")).headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("ui: PREFECT_SERVER_CORS_ALLOWED_ORIGINS lists origins", () => {
  const get = serve({ PREFECT_SERVER_CORS_ALLOWED_ORIGINS: "http://a.example,http://b.example" });

  test("a listed origin is echoed, another is refused at preflight", async () => {
    const ok = await get("/api/health", { headers: { origin: "http://b.example" } });
    expect(ok.headers.get("access-control-allow-origin")).toBe("http://b.example");
    const refused = await get("/api/health", { method: "OPTIONS", headers: { origin: "http://c.example", "access-control-request-method": "GET" } });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toBe("Disallowed CORS origin");
  });
});

describe("ui: PREFECT_UI_SERVE_BASE", () => {
  const get = serve({ PREFECT_UI_SERVE_BASE: "/dash/", PREFECT_SERVER_UI_V2_ENABLED: "false" });

  test("v1 at the base, v2 under it, settings beside v1", async () => {
    const settings = await (await get("/dash/ui-settings")).json();
    expect(settings).toMatchObject({ default_ui: "v1", v1_base_url: "/dash", v2_base_url: "/dash/v2" });
    expect(await (await get("/dash/", { headers: html })).text()).toBe(`<html><script src="/dash/assets/app.js"></script>v1</html>`);
    expect(await (await get("/dash/v2/", { headers: html })).text()).toContain(`src="/dash/v2/assets/v2.js"`);
    expect((await get("/", { headers: html })).status).toBe(404);
  });

  test("bases ending in /v2 name v2's mount", () => {
    expect(resolveUiBaseUrls("/")).toEqual(["/", "/v2"]);
    expect(resolveUiBaseUrls("")).toEqual(["/", "/v2"]);
    expect(resolveUiBaseUrls("v2")).toEqual(["/", "/v2"]);
    expect(resolveUiBaseUrls("/prefect/v2/")).toEqual(["/prefect", "/prefect/v2"]);
    expect(resolveUiBaseUrls("/prefect")).toEqual(["/prefect", "/prefect/v2"]);
  });
});

describe("ui: turned off", () => {
  const get = serve({ PREFECT_UI_ENABLED: "false" });

  test("no page is served, /ui-settings says none is available, the API still answers", async () => {
    const res = await get("/", { headers: html });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ detail: "Not Found" });
    expect(await (await get("/ui-settings")).json()).toMatchObject({ available_uis: [], v1_base_url: null, v2_base_url: null });
    expect(await (await get("/api/health")).json()).toBe(true);
  });
});

describe("ui: a missing v2 bundle", () => {
  const onlyV1 = join(bundles, "ui");
  const get = serve({ PREFECT_UI_STATIC_DIRECTORY: onlyV1 });

  test("a directory that is itself a bundle serves v1, and /v2 paths go there", async () => {
    expect(((await (await get("/ui-settings")).json()) as { available_uis: string[] }).available_uis).toEqual(["v1"]);
    const res = await get("/v2/runs?x=1", { headers: html });
    expect(res.status).toBe(307);
    expect(res.headers.get("location")).toBe("/runs?x=1");
  });
});

describe("ui: the bundles from the pinned prefect wheel", () => {
  test("the pack (built by scripts/fetch-prefect-ui.ts, which npm run build runs) holds both UIs", async () => {
    const pack = await uiPack();
    if (!pack) throw new Error("no UI pack: run `bun scripts/fetch-prefect-ui.ts` (or npm run build) first");
    expect(pack.prefectVersion).toBe("3.9.1");
    const sources = locateUiSources(null);
    const v2Index = new TextDecoder().decode((await sources.v2!.read("index.html"))!.body);
    expect(v2Index).toContain(PLACEHOLDER);
    expect(await sources.v1!.read("index.html")).toBeDefined();
    expect(pack.files.has("collection_blocks_data.json")).toBe(true);
  });

  test("served at / and /v2 with the placeholder replaced", async () => {
    const get = serve({ PREFECT_UI_STATIC_DIRECTORY: "" });
    const v2 = await (await get("/v2/", { headers: html })).text();
    expect(v2).toContain(`src="/v2/assets/`);
    expect(v2).not.toContain(PLACEHOLDER);
    const v1 = await (await get("/", { headers: { ...html, cookie: "prefect_ui_version=v1" } })).text();
    expect(v1).not.toContain(PLACEHOLDER);
  });
});
