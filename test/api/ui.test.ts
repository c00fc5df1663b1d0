import { afterAll, describe, expect, test } from "bun:test";
import { createTestApi, ManualClock } from "../support/api";

const T0 = Date.UTC(2025, 0, 1) * 1000;
const MINUTE = 60_000_000;

describe("ui: flows", () => {
  const clock = new ManualClock(T0);
  const api = createTestApi({ clock });
  afterAll(() => api.close());

  let flowA: { id: string };
  let flowB: { id: string };

  test("setup", async () => {
    flowA = (await api.post("/flows/", { name: "a" })).body;
    flowB = (await api.post("/flows/", { name: "b" })).body;
    await api.post("/deployments/", { flow_id: flowA.id, name: "d1" });
    await api.post("/deployments/", { flow_id: flowA.id, name: "d2" });
  });

  test("count-deployments answers every id asked for, 0 when none", async () => {
    const res = await api.post("/ui/flows/count-deployments", { flow_ids: [flowA.id, flowB.id] });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ [flowA.id]: 2, [flowB.id]: 0 });
  });

  test("next-runs: each flow's scheduled run that starts first, null when none", async () => {
    const at = (minutes: number) => new Date((T0 + minutes * MINUTE) / 1000).toISOString();
    const scheduled = (minutes: number) => ({ type: "SCHEDULED", state_details: { scheduled_time: at(minutes) } });
    await api.post("/flow_runs/", { flow_id: flowA.id, name: "later", state: scheduled(30) });
    const first = (await api.post("/flow_runs/", { flow_id: flowA.id, name: "sooner", state: scheduled(10) })).body;
    await api.post("/flow_runs/", { flow_id: flowB.id, name: "running", state: { type: "RUNNING" } });
    const res = await api.post("/ui/flows/next-runs", { flow_ids: [flowA.id, flowB.id] });
    expect(res.body).toEqual({
      [flowA.id]: {
        id: first.id,
        flow_id: flowA.id,
        name: "sooner",
        state_name: "Scheduled",
        state_type: "SCHEDULED",
        next_scheduled_start_time: "2025-01-01T00:10:00Z",
      },
      [flowB.id]: null,
    });
  });

  test("more than 200 ids is 422", async () => {
    const ids = Array.from({ length: 201 }, () => crypto.randomUUID());
    const res = await api.post("/ui/flows/count-deployments", { flow_ids: ids });
    expect(res.status).toBe(422);
    expect(res.body.exception_detail[0]).toMatchObject({ type: "too_long", loc: ["body", "flow_ids"] });
    expect((await api.post("/ui/flows/next-runs", {})).status).toBe(422);
  });
});

describe("ui: flow runs and task runs", () => {
  const clock = new ManualClock(T0);
  const api = createTestApi({ clock });
  afterAll(() => api.close());

  let flow: { id: string };
  let parent: { id: string };
  let other: { id: string };

  const taskRun = async (flowRunId: string, key: string, state?: Record<string, unknown>) =>
    (await api.post("/task_runs/", { flow_run_id: flowRunId, task_key: key, dynamic_key: "0", ...(state && { state }) })).body;

  test("setup: a parent run with two tasks (one standing for a subflow), another run with a failed task", async () => {
    flow = (await api.post("/flows/", { name: "f" })).body;
    parent = (await api.post("/flow_runs/", { flow_id: flow.id, name: "parent", tags: ["p"] })).body;
    other = (await api.post("/flow_runs/", { flow_id: flow.id, name: "other" })).body;
    await taskRun(parent.id, "plain");
    const wrapper = await taskRun(parent.id, "subflow");
    await api.post("/flow_runs/", { flow_id: flow.id, name: "child", parent_task_run_id: wrapper.id });
    const failing = await taskRun(other.id, "failing");
    await api.post(`/flow_runs/${other.id}/set_state`, { state: { type: "RUNNING" } });
    expect((await api.post(`/task_runs/${failing.id}/set_state`, { state: { type: "RUNNING" } })).body.status).toBe("ACCEPT");
    clock.advance(MINUTE);
    await api.post(`/task_runs/${failing.id}/set_state`, { state: { type: "FAILED" } });
  });

  test("count-task-runs leaves out task runs that stand for subflows", async () => {
    const res = await api.post("/ui/flow_runs/count-task-runs", { flow_run_ids: [parent.id, other.id, crypto.randomUUID()] });
    expect(Object.values(res.body)).toEqual([1, 1, 0]);
    expect(res.body[parent.id]).toBe(1);
  });

  test("task_runs/count answers every state type, filtered through flow runs", async () => {
    const res = await api.post("/ui/task_runs/count", {});
    expect(res.body).toEqual({ COMPLETED: 0, PENDING: 2, RUNNING: 0, FAILED: 1, CANCELLED: 0, CRASHED: 0, PAUSED: 0, CANCELLING: 0, SCHEDULED: 0 });
    expect(Object.keys(res.body)).toEqual(["COMPLETED", "PENDING", "RUNNING", "FAILED", "CANCELLED", "CRASHED", "PAUSED", "CANCELLING", "SCHEDULED"]);
    const parentOnly = await api.post("/ui/task_runs/count", { flow_runs: { tags: { all_: ["p"] } } });
    expect(parentOnly.body).toMatchObject({ PENDING: 2, FAILED: 0 });
    expect((await api.request("POST", "/ui/task_runs/count")).body.FAILED).toBe(1);
  });

  test("dashboard counts: twenty buckets of finished task runs by start time", async () => {
    const res = await api.post("/ui/task_runs/dashboard/counts", {
      task_runs: { start_time: { after_: "2025-01-01T00:00:00Z", before_: "2025-01-01T00:19:00Z" }, state: { type: { any_: ["PENDING"] } } },
    });
    expect(res.status).toBe(200);
    // The window is 00:00:00 to 00:19:59.999999 in buckets of a minute; the failed run started at 00:00:00.
    // (The state filter sent is replaced by the finished states.)
    expect(res.body).toEqual([{ completed: 0, failed: 1 }, ...Array.from({ length: 19 }, () => ({ completed: 0, failed: 0 }))]);
    const later = await api.post("/ui/task_runs/dashboard/counts", { task_runs: { start_time: { after_: "2025-01-01T00:00:30Z" } } });
    expect(later.body.every((b: { failed: number }) => b.failed === 0)).toBe(true);
    const all = await api.post("/ui/task_runs/dashboard/counts", { task_runs: { start_time: { after_: "2024-12-31T23:59:00Z" } } });
    expect(all.body.reduce((n: number, b: { failed: number }) => n + b.failed, 0)).toBe(1);
    const missing = await api.post("/ui/task_runs/dashboard/counts", { task_runs: {} });
    expect(missing).toMatchObject({ status: 422, body: { detail: "task_runs.start_time.after_ is required" } });
  });

  test("history: one point per run (start or expected start, run time, lateness), newest expected start first", async () => {
    const res = await api.post("/ui/flow_runs/history", { flow_runs: { name: { any_: ["parent", "other"] } } });
    expect(res.status).toBe(200);
    const [running, pending] = res.body;
    expect(running).toMatchObject({ id: other.id, state_type: "RUNNING", duration: expect.closeTo(60, 3), lateness: expect.closeTo(0, 3) });
    expect(pending).toEqual({ id: parent.id, state_type: "PENDING", timestamp: "2025-01-01T00:00:00Z", duration: 0, lateness: 60 });
    expect((await api.post("/ui/flow_runs/history", { limit: 1001 })).body.exception_detail[0]).toMatchObject({
      type: "less_than_equal",
      loc: ["body", "limit"],
    });
  });
});
