/** Request handling that FastAPI does around Prefect's routes: the API-version dependency, limits, filters. */
import { afterAll, describe, expect, test } from "bun:test";
import { createTestApi } from "../support/api";

const api = createTestApi();
afterAll(() => api.close());

const withVersion = (version: string, method = "POST", path = "/flows/filter", body: unknown = {}) =>
  api.request(method, path, body, { "x-prefect-api-version": version });

describe("X-PREFECT-API-VERSION (Prefect's EnforceMinimumAPIVersion)", () => {
  test("a malformed version is 400 on every router route, before the body is validated", async () => {
    const detail = "Invalid X-PREFECT-API-VERSION header format.Expected header in format 'x.y.z' but received ";
    for (const version of ["abc", "1.2", "1.2.3.4", "1..3"]) {
      expect(await withVersion(version)).toMatchObject({ status: 400, body: { detail: detail + version } });
    }
    expect(await withVersion("abc", "POST", "/flows/filter", { limit: "x" })).toMatchObject({ status: 400 });
    expect(await withVersion("abc", "GET", "/ready", undefined)).toMatchObject({ status: 400 });
    expect(await withVersion("abc", "GET", "/work_pools/nope", undefined)).toMatchObject({ status: 400 });
  });

  test("older than 0.8.0 is 400; 0.8.0, newer and Python-int spellings pass", async () => {
    expect(await withVersion("0.7.9")).toMatchObject({
      status: 400,
      body: { detail: "The request specified API version 0.7.9 but this server requires version 0.8.0 or higher." },
    });
    for (const version of ["0.8.0", "0.8.1", "3.9.1", "+1.2.3", "1_0.0.0"]) expect((await withVersion(version)).status).toBe(200);
  });

  test("/health and /version answer whatever the header says", async () => {
    expect(await withVersion("abc", "GET", "/health", undefined)).toMatchObject({ status: 200, body: true });
    expect((await withVersion("abc", "GET", "/version", undefined)).status).toBe(200);
  });
});

describe("limits and offsets", () => {
  test("a negative limit is Prefect's LimitBody detail; a negative offset a pydantic issue with its ctx", async () => {
    expect(await api.post("/flows/filter", { limit: -1 })).toMatchObject({
      status: 422,
      body: { detail: "Invalid limit: must be greater than or equal to 0." },
    });
    const offset = await api.post("/flow_runs/filter", { offset: -1 });
    expect(offset.status).toBe(422);
    expect(offset.body.exception_detail).toEqual([
      { type: "greater_than_equal", loc: ["body", "offset"], msg: "Input should be greater than or equal to 0", input: -1, ctx: { ge: 0 } },
    ]);
  });
});

describe("flow filters", () => {
  test("flows.deployment.is_null_: true keeps flows without a deployment, false those with one", async () => {
    const deployed = (await api.post("/flows/", { name: "deployed" })).body;
    await api.post("/flows/", { name: "plain" });
    expect((await api.post("/deployments/", { name: "d", flow_id: deployed.id })).status).toBe(201);
    const names = async (isNull: boolean) =>
      (await api.post("/flows/filter", { flows: { deployment: { is_null_: isNull } } })).body.map((f: { name: string }) => f.name).sort();
    expect(await names(true)).toEqual(["plain"]);
    expect(await names(false)).toEqual(["deployed"]);
    expect((await api.post("/flows/count", { flows: { deployment: { is_null_: true } } })).body).toBe(1);
  });
});
