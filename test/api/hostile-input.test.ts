/** Bodies that must be refused before they reach a route: too deep, not UTF-8. */
import { afterAll, describe, expect, test } from "bun:test";
import { jsonTooDeep, MAX_JSON_DEPTH, valueTooDeep } from "../../src/api/body";
import { createApp } from "../../src/app";
import { startServer } from "../../src/server";
import { createTestApi } from "../support/api";

const api = createTestApi();
const app = createApp(api.context);
afterAll(() => api.close());

const PARSE_ERROR = { detail: "There was an error parsing the body" };
const nested = (depth: number, leaf = "1") => "[".repeat(depth) + leaf + "]".repeat(depth);

/** POSTs the exact text or bytes given (the harness would re-serialise a value). */
async function postRaw(path: string, body: string | Uint8Array) {
  const res = await app.handle(new Request(`http://localhost/api${path}`, { method: "POST", headers: { "content-type": "application/json" }, body }));
  return { status: res.status, body: (await res.json()) as any };
}

describe("nesting depth", () => {
  test("the scanner counts brackets outside strings only", () => {
    expect(jsonTooDeep(nested(MAX_JSON_DEPTH))).toBe(false);
    expect(jsonTooDeep(nested(MAX_JSON_DEPTH + 1))).toBe(true);
    expect(jsonTooDeep(JSON.stringify({ a: "[".repeat(1000), b: '\\"[[[[' }))).toBe(false);
    expect(jsonTooDeep(`{"a": "\\\\", "b": ${nested(MAX_JSON_DEPTH)}}`)).toBe(true);
    expect(valueTooDeep(JSON.parse(nested(MAX_JSON_DEPTH)))).toBe(false);
    expect(valueTooDeep(JSON.parse(nested(MAX_JSON_DEPTH + 1)))).toBe(true);
  });

  test("a body nested 30,000 levels deep gets 400 before it is parsed", async () => {
    const body = `{"name": ${nested(30_000)}}`;
    expect(await postRaw("/flows/", body)).toEqual({ status: 400, body: PARSE_ERROR });
  });

  test("parameters and job variables nested past the bound are refused, not stored", async () => {
    const flow = (await api.post("/flows/", { name: "deep" })).body;
    const deepObject = (depth: number) => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
    const parameters = `{"flow_id": "${flow.id}", "parameters": ${deepObject(MAX_JSON_DEPTH)}}`;
    expect(await postRaw("/flow_runs/", parameters)).toEqual({ status: 400, body: PARSE_ERROR });
    const jobVariables = `{"flow_id": "${flow.id}", "job_variables": ${deepObject(10_000)}}`;
    expect(await postRaw("/flow_runs/", jobVariables)).toEqual({ status: 400, body: PARSE_ERROR });
    expect((await api.post("/flow_runs/count", {})).body).toBe(0);
    const fine = `{"flow_id": "${flow.id}", "parameters": ${deepObject(MAX_JSON_DEPTH - 2)}}`;
    expect((await postRaw("/flow_runs/", fine)).status).toBe(201);
  });

  test("a 422 for a deep-but-allowed body echoes it once, unchanged", async () => {
    const res = await postRaw("/flows/", `{"name": ${nested(MAX_JSON_DEPTH - 1)}}`);
    expect(res.status).toBe(422);
    expect(res.body.request_body).toEqual({ name: JSON.parse(nested(MAX_JSON_DEPTH - 1)) });
  });
});

describe("encoding", () => {
  test("invalid UTF-8 is refused with 400, not replaced by U+FFFD", async () => {
    const before = (await api.post("/flows/count", {})).body;
    const bytes = new Uint8Array([...new TextEncoder().encode('{"name": "flow-'), 0xff, 0xfe, ...new TextEncoder().encode('"}')]);
    expect(await postRaw("/flows/", bytes)).toEqual({ status: 400, body: PARSE_ERROR });
    const overlong = new Uint8Array([...new TextEncoder().encode('{"name": "'), 0xc0, 0xaf, ...new TextEncoder().encode('"}')]);
    expect(await postRaw("/flows/", overlong)).toEqual({ status: 400, body: PARSE_ERROR });
    expect((await api.post("/flows/count", {})).body).toBe(before);
  });

  test("valid UTF-8, with or without a BOM, is accepted", async () => {
    expect((await postRaw("/flows/", JSON.stringify({ name: "fluß-流れ" }))).status).toBe(201);
    const bom = new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(JSON.stringify({ name: "with-bom" }))]);
    expect((await postRaw("/flows/", bom)).status).toBe(201);
  });
});

describe("body size", () => {
  test("a body over the maximum gets 413 before it is read; one under it is served", async () => {
    const server = await startServer({ servicesEnabled: false, maxRequestBodyBytes: 64 * 1024 });
    try {
      const post = (name: string) =>
        fetch(`${server.apiUrl}/flows/`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name }) });
      expect((await post("x".repeat(70 * 1024))).status).toBe(413);
      expect((await post("small")).status).toBe(201);
    } finally {
      await server.stop();
    }
  });
});
