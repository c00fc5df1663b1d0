/**
 * /api/openapi.json and /api/docs, generated from the route schemas, against Prefect 3.9.1's own
 * document (../shared/reference/prefect-openapi.json, found as test/conformance finds ../shared).
 * Prints every difference in paths and methods; fails when a Prefect operation is missing that is
 * not a known gap below, or when a known gap has been filled (so the list stays true).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../support/python-env";
import { createTestApi } from "../support/api";

const referencePath = join(repoRoot, "../shared/reference/prefect-openapi.json");

/** Prefect operations prefect-lite does not serve yet (none, as of Prefect 3.9.1). */
const KNOWN_GAPS: string[] = [
];

const METHODS = ["get", "post", "put", "patch", "delete"] as const;

interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<string, Partial<Record<(typeof METHODS)[number], unknown>>>;
}

/** "METHOD /path" with parameter names dropped ({id} and {flow_run_id} compare equal) and no trailing slash. */
function operations(doc: OpenApiDocument, prefix = ""): Set<string> {
  const out = new Set<string>();
  for (const [path, item] of Object.entries(doc.paths)) {
    const bare = path.startsWith(prefix) ? path.slice(prefix.length) : path;
    const normalized = bare.replace(/\{[^}]+\}/g, "{}").replace(/\/$/, "") || "/";
    for (const method of METHODS) if (item[method]) out.add(`${method.toUpperCase()} ${normalized}`);
  }
  return out;
}

const api = createTestApi();
afterAll(() => api.close());

describe("OpenAPI document", () => {
  test("/api/openapi.json is an OpenAPI 3 document titled prefect-lite, at the package's version", async () => {
    const res = await api.get<OpenApiDocument>("/openapi.json");
    expect(res.status).toBe(200);
    expect(res.body.openapi).toMatch(/^3\./);
    expect(res.body.info.title).toBe("prefect-lite");
    expect(res.body.info.version).toBe((await Bun.file(join(repoRoot, "package.json")).json()).version);
    // Generated from the TypeBox schemas: a route's body schema shows up in the document.
    const createFlow = res.body.paths["/api/flows/"]?.post as { requestBody?: { content: Record<string, { schema: { properties?: object } }> } };
    expect(Object.keys(createFlow.requestBody!.content["application/json"]!.schema.properties ?? {})).toContain("name");
  });

  test("/api/docs is the interactive reference over /api/openapi.json", async () => {
    const res = await api.get("/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("text/html");
    expect(res.text).toContain("openapi.json");
  });

  test("every Prefect 3.9.1 path and method is present, but for the known gaps", async () => {
    if (!existsSync(referencePath)) throw new Error(`Prefect's OpenAPI document is missing: expected ${referencePath}`);
    const prefect = operations((await Bun.file(referencePath).json()) as OpenApiDocument);
    const ours = operations((await api.get<OpenApiDocument>("/openapi.json")).body, "/api");
    const missing = [...prefect].filter((op) => !ours.has(op)).sort();
    const extra = [...ours].filter((op) => !prefect.has(op)).sort();
    console.log(
      [
        `OpenAPI: Prefect 3.9.1 has ${prefect.size} operations; prefect-lite documents ${ours.size}.`,
        `  missing from prefect-lite (${missing.length}): ${missing.join(", ") || "none"}`,
        `  only in prefect-lite (${extra.length}): ${extra.join(", ") || "none"}`,
      ].join("\n"),
    );
    expect(missing.filter((op) => !KNOWN_GAPS.includes(op))).toEqual([]);
    expect(KNOWN_GAPS.filter((op) => !missing.includes(op))).toEqual([]);
  });
});
