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

describe("provenance headers (Prefect's get_created_by / get_updated_by)", () => {
  const automationId = "0190a1b2-0000-7000-8000-000000000001";
  const headers = { "prefect-automation-id": automationId, "prefect-automation-name": Buffer.from("my automation").toString("base64") };

  test("a flow run created by an automation records it; without both headers, or with an undecodable name, nobody", async () => {
    const flow = (await api.post("/flows/", { name: "provenance" })).body;
    const run = await api.request("POST", "/flow_runs/", { flow_id: flow.id }, headers);
    expect(run.body.created_by).toEqual({ id: automationId, type: "AUTOMATION", display_value: "my automation" });
    const idOnly = await api.request("POST", "/flow_runs/", { flow_id: flow.id }, { "prefect-automation-id": automationId });
    expect(idOnly.body.created_by).toBeNull();
    const garbled = await api.request("POST", "/flow_runs/", { flow_id: flow.id }, { ...headers, "prefect-automation-name": "abc" });
    expect(garbled.body.created_by).toBeNull();
    const badId = await api.request("POST", "/flow_runs/", { flow_id: flow.id }, { ...headers, "prefect-automation-id": "nope" });
    expect(badId.status).toBe(422);
    expect(badId.body.exception_detail[0]).toMatchObject({ type: "uuid_parsing", loc: ["header", "prefect-automation-id"] });
  });

  test("deployments: created_by on create, kept on upsert; updated_by replaced; deployment runs record it too", async () => {
    const flow = (await api.post("/flows/", { name: "provenance-deployments" })).body;
    const created = await api.request("POST", "/deployments/", { name: "d", flow_id: flow.id }, headers);
    expect(created.body.created_by).toEqual({ id: automationId, type: "AUTOMATION", display_value: "my automation" });
    expect(created.body.updated_by).toEqual({ id: automationId, type: "AUTOMATION", display_value: headers["prefect-automation-name"] });
    const upserted = await api.post("/deployments/", { name: "d", flow_id: flow.id });
    expect(upserted.body.created_by).toEqual(created.body.created_by);
    expect(upserted.body.updated_by).toBeNull();
    const run = await api.request("POST", `/deployments/${created.body.id}/create_flow_run`, {}, headers);
    expect(run.body.created_by).toMatchObject({ type: "AUTOMATION", display_value: "my automation" });
  });
});

describe("run names", () => {
  test("a null or empty name gets a generated one on create and update; an absent one is kept on update", async () => {
    const flow = (await api.post("/flows/", { name: "names" })).body;
    const slug = /^[a-z]+-[a-z]+$/;
    const run = (await api.post("/flow_runs/", { flow_id: flow.id, name: "" })).body;
    expect(run.name).toMatch(slug);
    await api.patch(`/flow_runs/${run.id}`, { name: "kept" });
    await api.patch(`/flow_runs/${run.id}`, { tags: ["x"] });
    expect((await api.get(`/flow_runs/${run.id}`)).body.name).toBe("kept");
    await api.patch(`/flow_runs/${run.id}`, { name: null });
    expect((await api.get(`/flow_runs/${run.id}`)).body.name).toMatch(slug);

    const task = (await api.post("/task_runs/", { task_key: "k", dynamic_key: "names", name: "" })).body;
    expect(task.name).toMatch(slug);
    await api.patch(`/task_runs/${task.id}`, { name: "kept" });
    await api.patch(`/task_runs/${task.id}`, {});
    expect((await api.get(`/task_runs/${task.id}`)).body.name).toBe("kept");
    await api.patch(`/task_runs/${task.id}`, { name: "" });
    expect((await api.get(`/task_runs/${task.id}`)).body.name).toMatch(slug);
  });
});

describe("task-run validators (TaskRunCreate, TaskRunPolicy)", () => {
  const create = (extra: object) => api.post("/task_runs/", { task_key: "k", dynamic_key: crypto.randomUUID(), ...extra });
  const valueError = (loc: string[], msg: string, input: unknown) => ({
    type: "value_error",
    loc: ["body", ...loc],
    msg: `Value error, ${msg}`,
    input,
    ctx: { error: {} },
  });

  test("more than 50 retry delays, a negative jitter factor and a too-long cache key, in Prefect's words", async () => {
    const delays = Array.from({ length: 51 }, () => 1);
    const tooMany = await create({ empirical_policy: { retry_delay: delays } });
    expect(tooMany.status).toBe(422);
    expect(tooMany.body.exception_detail).toEqual([valueError(["empirical_policy", "retry_delay"], "Can not configure more than 50 retry delays per task.", delays)]);
    const jitter = await create({ empirical_policy: { retry_jitter_factor: -1 } });
    expect(jitter.body.exception_detail).toEqual([valueError(["empirical_policy", "retry_jitter_factor"], "`retry_jitter_factor` must be >= 0.", -1)]);
    const key = "x".repeat(2001);
    const longKey = await create({ cache_key: key });
    expect(longKey.body.exception_detail).toEqual([valueError(["cache_key"], "Cache key exceeded maximum allowed length of 2000 characters.", key)]);
  });

  test("50 delays, a zero jitter factor and a 2000-character cache key are accepted", async () => {
    const ok = await create({ empirical_policy: { retry_delay: Array.from({ length: 50 }, () => 1), retry_jitter_factor: 0 }, cache_key: "x".repeat(2000) });
    expect(ok.status).toBe(201);
  });
});
