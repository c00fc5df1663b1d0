import { afterAll, describe, expect, test } from "bun:test";
import { createTestApi } from "../support/api";

const api = createTestApi();
afterAll(() => api.close());

async function runningFlowRun() {
  const flow = (await api.post("/flows/", { name: `f-${crypto.randomUUID().slice(0, 8)}` })).body;
  const run = (await api.post("/flow_runs/", { flow_id: flow.id, labels: { team: "a" } })).body;
  await api.post(`/flow_runs/${run.id}/set_state`, { state: { type: "RUNNING" } });
  return run;
}

const taskBody = (extra: Record<string, unknown> = {}) => ({
  task_key: "my_task",
  dynamic_key: crypto.randomUUID().slice(0, 8),
  ...extra,
});

describe("task runs", () => {
  test("create: 201 new, 200 for the same (flow_run_id, task_key, dynamic_key); labels inherit the flow run's", async () => {
    const flowRun = await runningFlowRun();
    const body = taskBody({ flow_run_id: flowRun.id, labels: { kind: "etl" } });
    const first = await api.post("/task_runs/", body);
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ state_type: "PENDING", flow_run_id: flowRun.id });
    expect(first.body.labels).toEqual({ team: "a", "prefect.flow.id": flowRun.flow_id, "prefect.flow-run.id": flowRun.id, kind: "etl" });
    expect(first.body.state.state_details).toMatchObject({ task_run_id: first.body.id, flow_run_id: flowRun.id });
    const again = await api.post("/task_runs/", body);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
  });

  test("a supplied id is honoured", async () => {
    const id = Bun.randomUUIDv7();
    const res = await api.post("/task_runs/", taskBody({ id }));
    expect(res.body.id).toBe(id);
    expect((await api.get(`/task_runs/${id}`)).status).toBe(200);
  });

  test("RUNNING -> COMPLETED with run bookkeeping and flow_run_run_count", async () => {
    const flowRun = await runningFlowRun();
    const task = (await api.post("/task_runs/", taskBody({ flow_run_id: flowRun.id }))).body;
    expect((await api.post(`/task_runs/${task.id}/set_state`, { state: { type: "RUNNING" } })).body.status).toBe("ACCEPT");
    expect((await api.post(`/task_runs/${task.id}/set_state`, { state: { type: "COMPLETED" } })).body.status).toBe("ACCEPT");
    const after = (await api.get(`/task_runs/${task.id}`)).body;
    expect(after).toMatchObject({ state_type: "COMPLETED", run_count: 1, flow_run_run_count: 1 });
    expect(after.end_time).not.toBeNull();
    const states = (await api.get(`/task_run_states/?task_run_id=${task.id}`)).body;
    expect(states.map((s: { type: string }) => s.type)).toEqual(["PENDING", "RUNNING", "COMPLETED"]);
  });

  test("a task cannot start inside a flow run that is not running", async () => {
    const flow = (await api.post("/flows/", { name: "stopped" })).body;
    const flowRun = (await api.post("/flow_runs/", { flow_id: flow.id })).body;
    const task = (await api.post("/task_runs/", taskBody({ flow_run_id: flowRun.id }))).body;
    const res = await api.post(`/task_runs/${task.id}/set_state`, { state: { type: "RUNNING" } });
    expect(res.body).toMatchObject({
      status: "ABORT",
      details: { reason: "The enclosing flow must be running to begin task execution." },
    });
  });

  test("cached COMPLETED states are returned to later runs with the same cache key", async () => {
    const flowRun = await runningFlowRun();
    const cacheKey = `key-${crypto.randomUUID()}`;
    const first = (await api.post("/task_runs/", taskBody({ flow_run_id: flowRun.id }))).body;
    await api.post(`/task_runs/${first.id}/set_state`, { state: { type: "RUNNING" } });
    await api.post(`/task_runs/${first.id}/set_state`, { state: { type: "COMPLETED", state_details: { cache_key: cacheKey } } });
    const second = (await api.post("/task_runs/", taskBody({ flow_run_id: flowRun.id }))).body;
    const res = await api.post(`/task_runs/${second.id}/set_state`, { state: { type: "RUNNING", state_details: { cache_key: cacheKey } } });
    expect(res.body).toMatchObject({ status: "REJECT", details: { reason: "Retrieved state from cache" } });
    expect(res.body.state).toMatchObject({ type: "COMPLETED", name: "Cached" });
  });

  test("a subflow's states are mirrored onto its parent's tracking task run", async () => {
    const parent = await runningFlowRun();
    const tracker = (await api.post("/task_runs/", taskBody({ flow_run_id: parent.id }))).body;
    const flow = (await api.post("/flows/", { name: "child" })).body;
    const child = (await api.post("/flow_runs/", { flow_id: flow.id, parent_task_run_id: tracker.id })).body;
    expect(child.state.state_details.task_run_id).toBe(tracker.id);
    await api.post(`/flow_runs/${child.id}/set_state`, { state: { type: "RUNNING" } });
    const after = (await api.get(`/task_runs/${tracker.id}`)).body;
    expect(after.state_type).toBe("RUNNING");
    expect(after.state.state_details.child_flow_run_id).toBe(child.id);
    const subflows = await api.post("/task_runs/filter", { task_runs: { subflow_runs: { exists_: true }, id: { any_: [tracker.id] } } });
    expect(subflows.body).toHaveLength(1);
    const children = await api.post("/flow_runs/filter", { flow_runs: { parent_flow_run_id: { any_: [parent.id] } } });
    expect(children.body.map((r: { id: string }) => r.id)).toEqual([child.id]);
  });

  test("filter, count, paginate, patch, delete, and 404s", async () => {
    const flowRun = await runningFlowRun();
    const task = (await api.post("/task_runs/", taskBody({ flow_run_id: flowRun.id, name: "findable" }))).body;
    const filtered = await api.post("/task_runs/filter", { flow_runs: { id: { any_: [flowRun.id] } } });
    expect(filtered.body.map((t: { id: string }) => t.id)).toEqual([task.id]);
    expect((await api.post("/task_runs/count", { task_runs: { name: { like_: "FINDA" } } })).body).toBe(1);
    const page = await api.post("/task_runs/paginate", { task_runs: { id: { any_: [task.id] } } });
    expect(page.body.results[0]).not.toHaveProperty("dynamic_key");
    expect((await api.patch(`/task_runs/${task.id}`, { name: "renamed" })).status).toBe(204);
    expect((await api.get(`/task_runs/${task.id}`)).body.name).toBe("renamed");
    expect((await api.delete(`/task_runs/${task.id}`)).status).toBe(204);
    expect((await api.get(`/task_runs/${task.id}`)).body).toEqual({ detail: "Task not found" });
    expect((await api.post(`/task_runs/${task.id}/set_state`, { state: { type: "RUNNING" } })).status).toBe(404);
    expect((await api.post("/task_runs/", { task_key: "x" })).status).toBe(422);
  });
});
