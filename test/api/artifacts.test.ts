import { afterAll, describe, expect, test } from "bun:test";
import { createTestApi, ManualClock } from "../support/api";

const T0 = Date.UTC(2025, 0, 1) * 1000;
const SECOND = 1_000_000;

function freshApi() {
  const clock = new ManualClock(T0);
  const api = createTestApi({ clock });
  /** Creates an artifact a second after the previous one, so versions of a key are ordered. */
  const create = async (body: Record<string, unknown>) => {
    clock.advance(SECOND);
    const res = await api.post("/artifacts/", body);
    expect(res.status).toBe(201);
    return res.body;
  };
  return { api, clock, create };
}

const keys = (rows: { key: string | null }[]) => rows.map((row) => row.key);

describe("artifacts: create, read, update", () => {
  const { api, clock, create } = freshApi();
  afterAll(() => api.close());

  test("create answers 201 with every field; unset fields are null", async () => {
    const res = await api.post("/artifacts/", { key: "my-report", type: "markdown", data: "# Hello", description: "d" });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(String),
      created: "2025-01-01T00:00:00Z",
      updated: "2025-01-01T00:00:00Z",
      key: "my-report",
      type: "markdown",
      description: "d",
      data: "# Hello",
      metadata_: null,
      flow_run_id: null,
      task_run_id: null,
    });
    expect((await api.get(`/artifacts/${res.body.id}`)).body).toEqual(res.body);
  });

  test.each([
    ["a string", "text"],
    ["a table", [{ a: 1 }, { a: 2 }]],
    ["an object", { nested: { x: [1, null] } }],
    ["a number", 42.5],
    ["null", null],
  ])("data may be %s", async (_kind, data) => {
    const created = await create({ data });
    expect((await api.get(`/artifacts/${created.id}`)).body.data).toEqual(data);
  });

  test("metadata values are cut to 500 characters (code points) followed by '...'", async () => {
    const created = await create({ metadata_: { long: "é".repeat(501), short: "ok", exact: "x".repeat(500) } });
    expect(created.metadata_).toEqual({ long: "é".repeat(500) + "...", short: "ok", exact: "x".repeat(500) });
  });

  test("metadata values must be strings", async () => {
    const res = await api.post("/artifacts/", { metadata_: { n: 1 } });
    expect(res.status).toBe(422);
    expect(res.body.exception_detail).toEqual([
      { type: "string_type", loc: ["body", "metadata_", "n"], msg: "Input should be a valid string", input: 1 },
    ]);
  });

  test.each(["My-Key", "with space", "under_score"])("a key outside [a-z0-9-] (%s) is 422 with Prefect's message", async (key) => {
    const res = await api.post("/artifacts/", { key });
    expect(res.status).toBe(422);
    expect(res.body.exception_detail).toEqual([
      {
        type: "value_error",
        loc: ["body", "key"],
        msg: "Value error, Artifact key must only contain lowercase letters, numbers, and dashes.",
        input: key,
      },
    ]);
  });

  test("unknown fields are 422", async () => {
    expect((await api.post("/artifacts/", { key: "k", bogus: 1 })).status).toBe(422);
  });

  test("read misses: unknown id 404 with Prefect's detail; a malformed id does not match the route", async () => {
    expect(await api.get(`/artifacts/${crypto.randomUUID()}`)).toMatchObject({ status: 404, body: { detail: "Artifact not found." } });
    expect(await api.get("/artifacts/not-a-uuid")).toMatchObject({ status: 404, body: { detail: "Not Found" } });
  });

  test("update writes only the fields sent (null clears), moves `updated`, answers 204", async () => {
    const created = await create({ key: "upd", data: { v: 1 }, description: "before", metadata_: { a: "b" } });
    clock.set(Date.UTC(2025, 0, 2) * 1000);
    const res = await api.patch(`/artifacts/${created.id}`, { description: null, data: { v: 2 } });
    expect(res.status).toBe(204);
    expect(res.text).toBe("");
    const read = (await api.get(`/artifacts/${created.id}`)).body;
    expect(read).toMatchObject({ description: null, data: { v: 2 }, metadata_: { a: "b" }, created: created.created });
    expect(read.updated).toBe("2025-01-02T00:00:00Z");
    // The key's latest is the same artifact, so the collection follows.
    expect((await api.get("/artifacts/upd/latest")).body).toMatchObject({ description: null, data: { v: 2 }, updated: "2025-01-02T00:00:00Z" });
    // An empty update still moves `updated`.
    clock.set(Date.UTC(2025, 0, 3) * 1000);
    expect((await api.patch(`/artifacts/${created.id}`, {})).status).toBe(204);
    expect((await api.get(`/artifacts/${created.id}`)).body.updated).toBe("2025-01-03T00:00:00Z");
  });

  test("update of an unknown artifact is 404; unknown fields 422", async () => {
    expect(await api.patch(`/artifacts/${crypto.randomUUID()}`, {})).toMatchObject({ status: 404, body: { detail: "Artifact not found." } });
    const created = await create({});
    expect((await api.patch(`/artifacts/${created.id}`, { key: "x" })).status).toBe(422);
  });
});

describe("artifacts: the latest of each key", () => {
  const { api, create } = freshApi();
  afterAll(() => api.close());

  test("each keyed create becomes the latest; /{key}/latest answers the collection row (its id, first creation)", async () => {
    const first = await create({ key: "report", type: "markdown", data: "v1" });
    const second = await create({ key: "report", type: "table", data: [1] });
    const latest = await api.get("/artifacts/report/latest");
    expect(latest.status).toBe(200);
    expect(latest.body).toMatchObject({ key: "report", type: "table", data: [1], created: first.created, updated: second.created });
    // Prefect answers the collection row in the Artifact shape: its id is not the artifact's.
    expect(latest.body.id).not.toBe(second.id);
    const [collection] = (await api.post("/artifacts/latest/filter", { artifacts: { key: { any_: ["report"] } } })).body;
    expect(collection).toEqual({
      id: latest.body.id,
      created: first.created,
      updated: second.created,
      key: "report",
      latest_id: second.id,
      type: "table",
      description: null,
      data: [1],
      metadata_: null,
      flow_run_id: null,
      task_run_id: null,
    });
  });

  test("an unknown key is 404", async () => {
    expect(await api.get("/artifacts/nope/latest")).toMatchObject({ status: 404, body: { detail: "Artifact not found." } });
  });

  test("artifacts without a key have no collection row", async () => {
    await create({ type: "progress", data: 50 });
    expect(keys((await api.post("/artifacts/latest/filter", {})).body)).toEqual(["report"]);
  });

  test("deleting the latest re-points the collection to the previous version, with that version's fields and times", async () => {
    const v1 = await create({ key: "versions", data: 1, description: "one" });
    await create({ key: "versions", data: 2 });
    const v3 = await create({ key: "versions", data: 3 });
    expect((await api.delete(`/artifacts/${v3.id}`)).status).toBe(204);
    const [collection] = (await api.post("/artifacts/latest/filter", { artifacts: { key: { any_: ["versions"] } } })).body;
    expect(collection).toMatchObject({ data: 2, description: null });
    const v2 = (await api.get(`/artifacts/${collection.latest_id}`)).body;
    expect(v2.data).toBe(2);
    expect(collection).toMatchObject({ created: v2.created, updated: v2.updated });
    // Deleting an older version leaves the collection alone.
    expect((await api.delete(`/artifacts/${v1.id}`)).status).toBe(204);
    expect((await api.get("/artifacts/versions/latest")).body.data).toBe(2);
    // The last one takes the collection row with it.
    expect((await api.delete(`/artifacts/${v2.id}`)).status).toBe(204);
    expect((await api.get("/artifacts/versions/latest")).status).toBe(404);
  });

  test("delete misses are 404", async () => {
    expect(await api.delete(`/artifacts/${crypto.randomUUID()}`)).toMatchObject({ status: 404, body: { detail: "Artifact not found." } });
  });
});

describe("artifacts: filter, count, sort", () => {
  const { api, create } = freshApi();
  afterAll(() => api.close());

  let flowA: { id: string };
  let runA: { id: string };
  let runB: { id: string };
  let task: { id: string };
  let deployment: { id: string };

  test("setup: flows, runs (one from a deployment), a task run and artifacts on them", async () => {
    flowA = (await api.post("/flows/", { name: "flow-a" })).body;
    const flowB = (await api.post("/flows/", { name: "flow-b" })).body;
    deployment = (await api.post("/deployments/", { flow_id: flowA.id, name: "dep" })).body;
    runA = (await api.post(`/deployments/${deployment.id}/create_flow_run`, {})).body;
    runB = (await api.post("/flow_runs/", { flow_id: flowB.id, tags: ["b"] })).body;
    task = (await api.post("/task_runs/", { flow_run_id: runB.id, task_key: "t", dynamic_key: "0", name: "my-task" })).body;
    await create({ key: "alpha", type: "markdown", flow_run_id: runA.id });
    await create({ key: "beta", type: "table", flow_run_id: runB.id, task_run_id: task.id });
    await create({ key: "gamma", type: "markdown" });
    await create({ type: "progress" });
  });

  const list = async (body: Record<string, unknown>) => {
    const res = await api.post("/artifacts/filter", body);
    expect(res.status).toBe(200);
    return keys(res.body);
  };
  const count = async (body: Record<string, unknown>) => (await api.post("/artifacts/count", body)).body;

  test("default sort is ID_DESC (newest first with time-ordered ids)", async () => {
    expect(await list({})).toEqual([null, "gamma", "beta", "alpha"]);
    expect(await count({})).toBe(4);
  });

  test.each([
    ["KEY_ASC", [null, "alpha", "beta", "gamma"]],
    ["KEY_DESC", ["gamma", "beta", "alpha", null]],
    ["CREATED_DESC", [null, "gamma", "beta", "alpha"]],
  ])("sort %s", async (sort, expected) => {
    expect(await list({ sort })).toEqual(expected as (string | null)[]);
  });

  test("artifact criteria: key any_/like_/exists_, type any_/not_any_, ids, runs", async () => {
    expect(await list({ artifacts: { key: { any_: ["alpha", "gamma"] } }, sort: "KEY_ASC" })).toEqual(["alpha", "gamma"]);
    expect(await list({ artifacts: { key: { like_: "ET" } } })).toEqual(["beta"]);
    expect(await list({ artifacts: { key: { exists_: false } } })).toEqual([null]);
    expect(await count({ artifacts: { key: { exists_: true } } })).toBe(3);
    expect(await list({ artifacts: { type: { not_any_: ["markdown"] } }, sort: "KEY_ASC" })).toEqual([null, "beta"]);
    expect(await list({ artifacts: { flow_run_id: { any_: [runA.id.toUpperCase()] } } })).toEqual(["alpha"]);
    expect(await list({ artifacts: { task_run_id: { any_: [task.id] } } })).toEqual(["beta"]);
    expect(await list({ artifacts: { operator: "or_", key: { any_: ["alpha"] }, type: { any_: ["table"] } }, sort: "KEY_ASC" })).toEqual([
      "alpha",
      "beta",
    ]);
    expect(await list({ artifacts: { key: { any_: [] } } })).toEqual([]);
  });

  test("cross filters: through the flow run, its flow and deployment, and the task run", async () => {
    // A present (even empty) flow-run filter requires a flow run.
    expect(await list({ flow_runs: {}, sort: "KEY_ASC" })).toEqual(["alpha", "beta"]);
    expect(await list({ flow_runs: { tags: { all_: ["b"] } } })).toEqual(["beta"]);
    expect(await list({ flows: { name: { any_: ["flow-a"] } } })).toEqual(["alpha"]);
    expect(await list({ deployments: { id: { any_: [deployment.id] } } })).toEqual(["alpha"]);
    expect(await list({ deployments: {} })).toEqual(["alpha"]);
    expect(await list({ task_runs: { name: { any_: ["my-task"] } } })).toEqual(["beta"]);
    expect(await list({ task_runs: {} })).toEqual(["beta"]);
    expect(await count({ flows: { name: { any_: ["flow-b"] } }, task_runs: {} })).toBe(1);
  });

  test("latest filter and count take collection criteria (latest_id) and the same cross filters", async () => {
    const latest = async (body: Record<string, unknown>) => keys((await api.post("/artifacts/latest/filter", body)).body);
    expect(await latest({ sort: "KEY_ASC" })).toEqual(["alpha", "beta", "gamma"]);
    expect(await latest({ flow_runs: {}, sort: "KEY_DESC" })).toEqual(["beta", "alpha"]);
    expect(await latest({ artifacts: { type: { any_: ["markdown"] } }, sort: "KEY_ASC" })).toEqual(["alpha", "gamma"]);
    const [beta] = (await api.post("/artifacts/latest/filter", { artifacts: { key: { any_: ["beta"] } } })).body;
    expect(await latest({ artifacts: { latest_id: { any_: [beta.latest_id] } } })).toEqual(["beta"]);
    expect((await api.post("/artifacts/latest/count", { task_runs: {} })).body).toBe(1);
    expect((await api.post("/artifacts/latest/count", {})).body).toBe(3);
  });

  test("paging: limit and offset; limits above the server's are 422", async () => {
    expect(await list({ sort: "KEY_ASC", limit: 2, offset: 1 })).toEqual(["alpha", "beta"]);
    const res = await api.post("/artifacts/filter", { limit: 201 });
    expect(res).toMatchObject({ status: 422, body: { detail: "Invalid limit: must be less than or equal to 200." } });
  });

  test("filters forbid unknown keys; unknown sorts are 422", async () => {
    expect((await api.post("/artifacts/filter", { artifacts: { nope: {} } })).status).toBe(422);
    expect((await api.post("/artifacts/latest/filter", { artifacts: { id: {} } })).status).toBe(422);
    expect((await api.post("/artifacts/filter", { sort: "NAME_ASC" })).status).toBe(422);
  });
});
