import { afterAll, describe, expect, test } from "bun:test";
import { createTestApi } from "../support/api";

const api = createTestApi();
afterAll(() => api.close());

describe("GET /ui/task_runs/{id}", () => {
  test("the task run with its flow run's name; 404 when missing", async () => {
    const flow = (await api.post("/flows/", { name: "f" })).body;
    const flowRun = (await api.post("/flow_runs/", { flow_id: flow.id, name: "brave-otter" })).body;
    const taskRun = (await api.post("/task_runs/", { flow_run_id: flowRun.id, task_key: "t", dynamic_key: "0", name: "t-0" })).body;
    const res = await api.get(`/ui/task_runs/${taskRun.id}`);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: taskRun.id, name: "t-0", flow_run_id: flowRun.id, flow_run_name: "brave-otter" });
    const missing = await api.get("/ui/task_runs/00000000-0000-0000-0000-000000000000");
    expect(missing.status).toBe(404);
    expect(missing.body).toEqual({ detail: "Task not found" });
  });
});

describe("POST /ui/schemas/validate", () => {
  const schema = {
    type: "object",
    properties: { name: { type: "string" }, count: { type: "integer" }, items: { type: "array", items: { type: "integer" } } },
    required: ["name"],
  };

  test("valid values", async () => {
    const res = await api.post("/ui/schemas/validate", { schema, values: { name: "x", count: null } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ errors: [], valid: true });
  });

  // The messages are Prefect 3.9.1's for the same requests (its preprocessing makes an optional
  // field anyOf [its schema, null], so a wrong type fails the anyOf as a whole).
  test("errors by property and index, as build_error_obj nests them", async () => {
    const res = await api.post("/ui/schemas/validate", { schema, values: { count: "many", items: [1, "two"] } });
    expect(res.body.valid).toBe(false);
    expect(res.body.errors).toHaveLength(3);
    expect(res.body.errors).toEqual(
      expect.arrayContaining([
        { property: "count", errors: ["'many' is not valid under any of the given schemas"] },
        { property: "items", errors: [{ index: 1, errors: ["'two' is not of type 'integer'"] }] },
        { property: "name", errors: ["'name' is a required property"] },
      ]),
    );
  });

  test("jsonschema's words: Python reprs in enum and bound messages", async () => {
    const bounded = {
      type: "object",
      properties: { choice: { type: "string", enum: ["a", "b"] }, size: { type: "integer", minimum: 3 } },
      required: ["size"],
    };
    const res = await api.post("/ui/schemas/validate", { schema: bounded, values: { choice: "c", size: 1 } });
    expect(res.body).toEqual({
      errors: [
        { property: "choice", errors: ["'c' is not one of ['a', 'b']"] },
        { property: "size", errors: ["1 is less than the minimum of 3"] },
      ],
      valid: false,
    });
  });

  test("values are hydrated: json and workspace variables", async () => {
    await api.post("/variables/", { name: "who", value: "world" });
    const ok = await api.post("/ui/schemas/validate", {
      schema,
      values: { name: { __prefect_kind: "workspace_variable", variable_name: "who" }, items: { __prefect_kind: "json", value: "[1, 2]" } },
    });
    expect(ok.body).toEqual({ errors: [], valid: true });
    const bad = await api.post("/ui/schemas/validate", { schema, values: { name: "x", items: { __prefect_kind: "json", value: "[1," } } });
    // Prefect 3.9.1's answer to the same request: Python's json error, position included
    expect(bad.body).toEqual({ errors: [{ property: "items", errors: ["Invalid JSON: Expecting value: line 1 column 4 (char 3)"] }], valid: false });
  });

  test("a missing field is Prefect's 422", async () => {
    const res = await api.post("/ui/schemas/validate", { values: {} });
    expect(res.status).toBe(422);
    expect(res.body.exception_message).toBe("Invalid request received.");
  });
});

describe("GET /observed-states", () => {
  test("each state type and name seen in run histories, searchable by prefix", async () => {
    const flow = (await api.post("/flows/", { name: "observed" })).body;
    const run = (await api.post("/flow_runs/", { flow_id: flow.id, state: { type: "SCHEDULED", name: "Late" } })).body;
    await api.post(`/flow_runs/${run.id}/set_state`, { state: { type: "RUNNING" }, force: true });
    const all = await api.get("/observed-states");
    expect(all.status).toBe(200);
    const pairs = all.body.map((s: { state_type: string; state_name: string }) => `${s.state_type}/${s.state_name}`);
    expect(pairs).toContain("SCHEDULED/Late");
    expect(pairs).toContain("RUNNING/Running");
    expect(all.body[0]).toMatchObject({ first_seen: expect.any(String), last_seen: expect.any(String) });
    const late = await api.get("/observed-states?query=la&order_by=NAME_ASC");
    expect(late.body.map((s: { state_name: string }) => s.state_name)).toEqual(["Late"]);
    expect((await api.get("/observed-states?limit=0")).status).toBe(422);
  });
});

describe("GET /flow_runs/{id}/graph-v2 artifacts", () => {
  test("the run's artifacts (results left out) on the flow run and on their task runs, with is_latest and progress data", async () => {
    const flow = (await api.post("/flows/", { name: "graphed" })).body;
    const run = (await api.post("/flow_runs/", { flow_id: flow.id, state: { type: "RUNNING" } })).body;
    const task = (await api.post("/task_runs/", { flow_run_id: run.id, task_key: "t", dynamic_key: "0", state: { type: "RUNNING" } })).body;
    const older = (await api.post("/artifacts/", { key: "report", type: "markdown", data: "# 1", flow_run_id: run.id })).body;
    const newer = (await api.post("/artifacts/", { key: "report", type: "markdown", data: "# 2", flow_run_id: run.id })).body;
    const progress = (await api.post("/artifacts/", { type: "progress", data: 40, flow_run_id: run.id, task_run_id: task.id })).body;
    await api.post("/artifacts/", { type: "result", data: "x", flow_run_id: run.id });
    const graph = (await api.get(`/flow_runs/${run.id}/graph-v2`)).body;
    expect(graph.artifacts.map((a: { id: string; is_latest: boolean; data: unknown }) => [a.id, a.is_latest, a.data])).toEqual([
      [older.id, false, null],
      [newer.id, true, null],
    ]);
    const [, node] = graph.nodes.find(([id]: [string]) => id === task.id);
    expect(node.artifacts).toEqual([{ id: progress.id, created: progress.created, key: null, type: "progress", is_latest: true, data: 40 }]);
  });
});

describe("GET /admin/settings", () => {
  test("Prefect's whole settings tree, with this server's values", async () => {
    const res = await api.get("/admin/settings");
    expect(res.status).toBe(200);
    expect(res.body.server.api).toMatchObject({ host: "127.0.0.1", port: 0, default_limit: 200, cors_allowed_origins: "*" });
    expect(res.body.server.database.connection_url).toBe("**********");
    expect(res.body.server.ui).toMatchObject({ enabled: true, v2_enabled: true, serve_base: "/" });
    expect(Object.keys(res.body)).toEqual(expect.arrayContaining(["home", "api", "client", "logging", "results", "server", "worker"]));
    expect(res.body.server.services.scheduler.enabled).toBe(true);
  });
});
