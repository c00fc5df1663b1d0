import { afterAll, describe, expect, test } from "bun:test";
import type { flowRun } from "../../src/db/schema";
import { createTestApi, ManualClock } from "../support/api";
import { updateRow } from "../support/rows";

const api = createTestApi();
afterAll(() => api.close());

async function newFlow(name = `flow-${crypto.randomUUID().slice(0, 8)}`) {
  return (await api.post("/flows/", { name })).body as { id: string };
}

async function newRun(body: Record<string, unknown> = {}) {
  const flow = await newFlow();
  const res = await api.post("/flow_runs/", { flow_id: flow.id, ...body });
  expect(res.status).toBe(201);
  return res.body;
}

const setState = (id: string, state: Record<string, unknown>, force = false) =>
  api.post(`/flow_runs/${id}/set_state`, { state, force });

describe("flow run creation", () => {
  test("defaults: PENDING state written at creation, slug name, system labels, every field present", async () => {
    const run = await newRun();
    expect(run.state_type).toBe("PENDING");
    expect(run.state.name).toBe("Pending");
    expect(run.state.state_details.flow_run_id).toBe(run.id);
    expect(run.name).toMatch(/^[a-z]+-[a-z]+$/);
    expect(run.labels["prefect.flow.id"]).toBe(run.flow_id);
    expect(run.expected_start_time).toBe(run.state.timestamp);
    for (const key of ["estimated_run_time", "estimated_start_time_delta", "total_run_time", "work_pool_name", "job_variables", "created_by"]) {
      expect(run).toHaveProperty(key);
    }
    expect(run.total_run_time).toBe(0);
  });

  test("same flow and idempotency key returns the existing run with 200", async () => {
    const flow = await newFlow();
    const first = await api.post("/flow_runs/", { flow_id: flow.id, idempotency_key: "k1" });
    const second = await api.post("/flow_runs/", { flow_id: flow.id, idempotency_key: "k1", name: "other" });
    expect(first.status).toBe(201);
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
    expect((await api.get(`/flow_run_states/?flow_run_id=${first.body.id}`)).body).toHaveLength(1);
  });

  test("next_scheduled_start_time sets the scheduled time of an initial SCHEDULED state (decisions #2, #3)", async () => {
    const run = await newRun({ state: { type: "SCHEDULED" }, next_scheduled_start_time: "2025-06-15T10:00:00Z" });
    expect(run.next_scheduled_start_time).toBe("2025-06-15T10:00:00Z");
    expect((await setState(run.id, { type: "PENDING" })).body.status).toBe("ACCEPT");
    const after = (await api.get(`/flow_runs/${run.id}`)).body;
    expect(after.expected_start_time).toBe("2025-06-15T10:00:00Z");
    expect(after.next_scheduled_start_time).toBeNull();
    expect(after.state.state_details.scheduled_time).toBe("2025-06-15T10:00:00Z");
  });

  test("bad input: unknown keys and malformed datetimes are 422, an unknown flow is a 409 conflict, never a 500", async () => {
    const flow = await newFlow();
    expect((await api.post("/flow_runs/", { flow_id: flow.id, bogus: true })).status).toBe(422);
    expect((await api.post("/flow_runs/", { flow_id: flow.id, next_scheduled_start_time: "not a date" })).status).toBe(422);
    expect((await api.post("/flow_runs/", { flow_id: "nope" })).status).toBe(422);
    const missingFlow = await api.post("/flow_runs/", { flow_id: crypto.randomUUID() });
    expect(missingFlow.status).toBe(409);
    expect(missingFlow.body.detail).toContain("Data integrity conflict");
    expect((await api.post("/flow_runs/count", {})).body).toBeGreaterThan(0);
  });
});

describe("set_state", () => {
  test("lifecycle PENDING -> RUNNING -> COMPLETED records run bookkeeping", async () => {
    const run = await newRun();
    const running = await setState(run.id, { type: "RUNNING" });
    expect(running.status).toBe(201);
    expect(running.body).toMatchObject({ status: "ACCEPT", details: { type: "accept_details" } });
    const done = await setState(run.id, { type: "COMPLETED" });
    expect(done.body.status).toBe("ACCEPT");
    const after = (await api.get(`/flow_runs/${run.id}`)).body;
    expect(after).toMatchObject({ state_type: "COMPLETED", state_name: "Completed", run_count: 1 });
    expect(after.start_time).toBe(running.body.state.timestamp);
    expect(after.end_time).toBe(done.body.state.timestamp);
    expect(after.total_run_time).toBeGreaterThan(0);
    const states = (await api.get(`/flow_run_states/?flow_run_id=${run.id}`)).body;
    expect(states.map((s: { type: string }) => s.type)).toEqual(["PENDING", "RUNNING", "COMPLETED"]);
  });

  test("PENDING -> PENDING and RUNNING -> PENDING are REJECTed for runs no worker can submit (decisions #1)", async () => {
    const run = await newRun();
    const again = await setState(run.id, { type: "PENDING", name: "Pending" });
    expect(again.status).toBe(200);
    expect(again.body.status).toBe("REJECT");
    expect(again.body.details.reason).toBe("This run is in a PENDING state and cannot transition to a PENDING state.");
    expect(again.body.state.id).toBe(run.state.id);
    await setState(run.id, { type: "RUNNING" });
    expect((await setState(run.id, { type: "PENDING" })).body.status).toBe("REJECT");
    expect((await api.get(`/flow_runs/${run.id}`)).body.state_type).toBe("RUNNING");
  });

  test("PENDING -> PENDING is ABORTed when a worker could submit the run (has a deployment)", async () => {
    const run = await newRun({ deployment_id: crypto.randomUUID() });
    const again = await setState(run.id, { type: "PENDING" });
    expect(again.body).toMatchObject({ status: "ABORT", details: { type: "abort_details" } });
  });

  test("a repeated transition_id is rejected and the written state returned", async () => {
    const run = await newRun();
    const transitionId = crypto.randomUUID();
    const first = await setState(run.id, { type: "RUNNING", state_details: { transition_id: transitionId } });
    const retry = await setState(run.id, { type: "RUNNING", state_details: { transition_id: transitionId } });
    expect(retry.body.status).toBe("REJECT");
    expect(retry.body.state.id).toBe(first.body.state.id);
    expect((await api.get(`/flow_runs/${run.id}`)).body.run_count).toBe(1);
  });

  test("flow retries: FAILED with retries left becomes AwaitingRetry, then WAIT until due", async () => {
    const run = await newRun({ empirical_policy: { retries: 1, retry_delay: 60 } });
    await setState(run.id, { type: "RUNNING" });
    const failed = await setState(run.id, { type: "FAILED", message: "boom" });
    expect(failed.status).toBe(201);
    expect(failed.body).toMatchObject({ status: "REJECT", details: { reason: "Retrying" } });
    expect(failed.body.state).toMatchObject({ type: "SCHEDULED", name: "AwaitingRetry", message: "boom" });
    const wait = await setState(run.id, { type: "RUNNING" });
    expect(wait.body.status).toBe("WAIT");
    expect(wait.body.details.delay_seconds).toBeGreaterThanOrEqual(59);
    const after = (await api.get(`/flow_runs/${run.id}`)).body;
    expect(after.empirical_policy.retry_type).toBe("in_process");
  });

  test("force bypasses the rules; unknown runs are 404 with exception_message", async () => {
    const run = await newRun();
    await setState(run.id, { type: "COMPLETED" });
    const crash = await setState(run.id, { type: "CRASHED" });
    expect(crash.body.status).toBe("ABORT");
    const forced = await setState(run.id, { type: "CRASHED" }, true);
    expect(forced.body.status).toBe("ACCEPT");
    const missing = await setState(crypto.randomUUID(), { type: "RUNNING" });
    expect(missing.status).toBe(404);
    expect(missing.body.exception_message).toContain("not found");
  });

  test("pause and resume", async () => {
    const run = await newRun();
    await setState(run.id, { type: "RUNNING" });
    const paused = await setState(run.id, { type: "PAUSED", state_details: { pause_key: "p1" } });
    expect(paused.body.status).toBe("ACCEPT");
    const resumed = await api.post(`/flow_runs/${run.id}/resume`, {});
    expect(resumed.body.status).toBe("ACCEPT");
    const after = (await api.get(`/flow_runs/${run.id}`)).body;
    // As in Prefect: the RUNNING proposal of a resume is counted (the `resuming`
    // flag is set after it) and only spares the next RUNNING of a suspended run.
    expect(after).toMatchObject({ state_type: "RUNNING", run_count: 2 });
    expect(after.empirical_policy).toMatchObject({ pause_keys: ["p1"], resuming: true });
    const notPaused = await api.post(`/flow_runs/${run.id}/resume`, {});
    expect(notPaused.body).toMatchObject({ status: "ABORT", details: { reason: "Cannot resume a flow run that is not paused." } });
  });
});

describe("reads, filters and updates", () => {
  test("filter by state and sort; count; paginate; 422 on limit over 200", async () => {
    const run = await newRun({ tags: ["filter-me"] });
    await setState(run.id, { type: "RUNNING" });
    const res = await api.post("/flow_runs/filter", {
      flow_runs: { state: { type: { any_: ["RUNNING"] } }, tags: { all_: ["filter-me"] } },
      sort: "START_TIME_DESC",
      limit: null,
    });
    expect(res.body.map((r: { id: string }) => r.id)).toEqual([run.id]);
    expect((await api.post("/flow_runs/count", { flow_runs: { tags: { all_: ["filter-me"] } } })).body).toBe(1);
    const page = await api.post("/flow_runs/paginate", { flow_runs: { id: { any_: [run.id] } }, limit: 10 });
    expect(page.body).toMatchObject({ count: 1, pages: 1, page: 1, limit: 10 });
    expect((await api.post("/flow_runs/filter", { limit: 500 })).status).toBe(422);
  });

  test("the default sort is newest first", async () => {
    const flow = await newFlow();
    const a = (await api.post("/flow_runs/", { flow_id: flow.id })).body;
    const b = (await api.post("/flow_runs/", { flow_id: flow.id })).body;
    const res = await api.post("/flow_runs/filter", { flows: { id: { any_: [flow.id] } } });
    expect(res.body.map((r: { id: string }) => r.id)).toEqual([b.id, a.id]);
  });

  test("patch, labels, delete", async () => {
    const run = await newRun();
    expect((await api.patch(`/flow_runs/${run.id}`, { name: "renamed", infrastructure_pid: "123" })).status).toBe(204);
    expect((await api.patch(`/flow_runs/${run.id}/labels`, { team: "data" })).status).toBe(204);
    const after = (await api.get(`/flow_runs/${run.id}`)).body;
    expect(after).toMatchObject({ name: "renamed", infrastructure_pid: "123" });
    expect(after.labels).toMatchObject({ team: "data", "prefect.flow.id": run.flow_id });
    expect((await api.delete(`/flow_runs/${run.id}`)).status).toBe(204);
    expect((await api.get(`/flow_runs/${run.id}`)).status).toBe(404);
    expect((await api.get(`/flow_run_states/?flow_run_id=${run.id}`)).body).toEqual([]);
  });

  test("flow run inputs: create, 409 duplicate, read raw, filter, delete", async () => {
    const run = await newRun();
    expect((await api.post(`/flow_runs/${run.id}/input`, { key: "k-1", value: '{"a":1}' })).status).toBe(201);
    expect((await api.post(`/flow_runs/${run.id}/input`, { key: "k-1", value: "x" })).status).toBe(409);
    const raw = await api.get(`/flow_runs/${run.id}/input/k-1`);
    expect(raw.text).toBe('{"a":1}');
    const filtered = await api.post(`/flow_runs/${run.id}/input/filter`, { prefix: "k-", limit: 5 });
    expect(filtered.body.map((i: { key: string }) => i.key)).toEqual(["k-1"]);
    expect((await api.delete(`/flow_runs/${run.id}/input/k-1`)).status).toBe(204);
    expect((await api.get(`/flow_runs/${run.id}/input/k-1`)).status).toBe(404);
  });

  test("history buckets runs by expected start time", async () => {
    const run = await newRun({ state: { type: "SCHEDULED", state_details: { scheduled_time: "2030-01-01T00:30:00Z" } } });
    const res = await api.post("/flow_runs/history", {
      history_start: "2030-01-01T00:00:00Z",
      history_end: "2030-01-01T02:00:00Z",
      history_interval_seconds: 3600,
      flow_runs: { id: { any_: [run.id] } },
    });
    expect(res.body).toHaveLength(2);
    expect(res.body[0].states).toEqual([expect.objectContaining({ state_type: "SCHEDULED", count_runs: 1 })]);
    expect(res.body[1].states).toEqual([]);
    const bad = await api.post("/flow_runs/history", { history_start: "2030-01-01T00:00:00Z", history_end: "2030-01-02T00:00:00Z", history_interval_seconds: 0.5 });
    expect(bad.status).toBe(422);
  });
});

describe("lateness", () => {
  const T0 = Date.UTC(2025, 0, 1) * 1000;
  const SECOND = 1_000_000;
  const lateApi = createTestApi({ clock: new ManualClock(T0) });
  afterAll(() => lateApi.close());
  const arrange = (id: string, columns: Partial<typeof flowRun.$inferInsert>) => updateRow(lateApi.context.store, "flowRun", id, columns);

  test("averages estimated_start_time_delta over the matching runs in SQL; null when none match", async () => {
    const flow = (await lateApi.post("/flows/", { name: "late" })).body;
    const run = async (tags: string[]) => (await lateApi.post("/flow_runs/", { flow_id: flow.id, tags })).body.id as string;
    const waiting = await run(["late"]);
    await arrange(waiting, { expectedStartTime: T0 - 60 * SECOND, startTime: null, stateType: "SCHEDULED" });
    const startedLate = await run(["late"]);
    await arrange(startedLate, { expectedStartTime: T0 - 100 * SECOND, startTime: T0 - 70 * SECOND, stateType: "RUNNING" });
    const finished = await run(["late"]);
    await arrange(finished, { expectedStartTime: T0 - 500 * SECOND, startTime: null, stateType: "COMPLETED" });
    const onTime = await run(["early"]);
    await arrange(onTime, { expectedStartTime: T0 + 60 * SECOND, startTime: null, stateType: "SCHEDULED" });

    const lateness = (filter: object) => lateApi.post("/flow_runs/lateness", filter);
    expect(await lateness({ flow_runs: { tags: { all_: ["late"] } } })).toMatchObject({ status: 200, body: 30 });
    expect((await lateness({ flow_runs: { tags: { all_: ["early"] } } })).body).toBe(0);
    expect(await lateness({ flow_runs: { tags: { all_: ["nothing"] } } })).toMatchObject({ status: 200, body: null });
  });
});

describe("graph", () => {
  test("v1 lists every task run of the flow run across read pages, newest id first, with upstream inputs", async () => {
    const run = await newRun();
    const created: string[] = [];
    for (let i = 0; i < 1_005; i++) {
      const inputs = i === 0 ? {} : { x: [{ input_type: "task_run", id: created[0] }] };
      const res = await api.post("/task_runs/", { flow_run_id: run.id, task_key: "t", dynamic_key: String(i), task_inputs: inputs });
      created.push(res.body.id);
    }
    const other = await newRun();
    await api.post("/task_runs/", { flow_run_id: other.id, task_key: "elsewhere", dynamic_key: "0" });
    const graph = (await api.get(`/flow_runs/${run.id}/graph`)).body as { id: string; upstream_dependencies: unknown[] }[];
    expect(graph.map((n) => n.id)).toEqual([...created].sort().reverse());
    expect(graph.find((n) => n.id === created[1])!.upstream_dependencies).toEqual([{ input_type: "task_run", id: created[0] }]);
  });
});
