/** Server-side tag concurrency on task-run set_state, seen through the v1 and v2 limit views. */
import { afterAll, describe, expect, test } from "bun:test";
import { createTestApi } from "../support/api";

const api = createTestApi();
afterAll(() => api.close());

const tag = () => `t-${crypto.randomUUID().slice(0, 8)}`;

async function runningFlowRun() {
  const flow = (await api.post("/flows/", { name: `f-${crypto.randomUUID().slice(0, 8)}` })).body;
  const run = (await api.post("/flow_runs/", { flow_id: flow.id })).body;
  await api.post(`/flow_runs/${run.id}/set_state`, { state: { type: "RUNNING" } });
  return run;
}

async function taskRun(flowRunId: string, tags: string[]) {
  return (await api.post("/task_runs/", { task_key: "k", dynamic_key: crypto.randomUUID(), flow_run_id: flowRunId, tags })).body;
}

const setState = (id: string, type: string) => api.post(`/task_runs/${id}/set_state`, { state: { type } });
const holders = async (t: string) => (await api.get(`/concurrency_limits/tag/${t}`)).body.active_slots;
const v2Slots = async (t: string) => (await api.get(`/v2/concurrency_limits/tag:${t}`)).body.active_slots;

describe("SecureTaskConcurrencySlots / ReleaseTaskConcurrencySlots", () => {
  test("RUNNING takes a slot per tag limit (the holders list the task run); leaving RUNNING gives it back", async () => {
    const [a, b] = [tag(), tag()];
    await api.post("/concurrency_limits/", { tag: a, concurrency_limit: 1 });
    await api.post("/concurrency_limits/", { tag: b, concurrency_limit: 2 });
    const flowRun = await runningFlowRun();
    const task = await taskRun(flowRun.id, [a, b, "untracked"]);
    const res = await setState(task.id, "RUNNING");
    expect(res).toMatchObject({ status: 201, body: { status: "ACCEPT" } });
    expect(await holders(a)).toEqual([task.id]);
    expect(await holders(b)).toEqual([task.id]);
    expect(await v2Slots(a)).toBe(1);

    const second = await taskRun(flowRun.id, [a]);
    const wait = await setState(second.id, "RUNNING");
    expect(wait.status).toBe(200);
    expect(wait.body).toMatchObject({ status: "WAIT", details: { type: "wait_details", reason: `Concurrency limit reached for tags: ${a}` } });
    // Around PREFECT_SERVER_TASKS_TAG_CONCURRENCY_SLOT_WAIT_SECONDS (10), clamped to at most 13.
    expect(wait.body.details.delay_seconds).toBeGreaterThanOrEqual(0);
    expect(wait.body.details.delay_seconds).toBeLessThanOrEqual(13);
    expect(wait.body.state.type).toBe("PENDING");

    expect((await setState(task.id, "COMPLETED")).body.status).toBe("ACCEPT");
    expect(await holders(a)).toEqual([]);
    expect(await v2Slots(a)).toBe(0);
    expect(await v2Slots(b)).toBe(0);
    expect((await setState(second.id, "RUNNING")).body.status).toBe("ACCEPT");
    expect(await holders(a)).toEqual([second.id]);
  });

  test("a limit of 0 ABORTs with Prefect's deadlock reason", async () => {
    const z = tag();
    await api.post("/concurrency_limits/", { tag: z, concurrency_limit: 0 });
    const flowRun = await runningFlowRun();
    const task = await taskRun(flowRun.id, [z]);
    const res = await setState(task.id, "RUNNING");
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      status: "ABORT",
      details: { type: "abort_details", reason: `The concurrency limit on tag "${z}" is 0 and will deadlock if the task tries to run again.` },
      state: { type: "PENDING" },
    });
  });

  test("a forced terminal state releases too; an inactive limit is not taken", async () => {
    const [a, off] = [tag(), tag()];
    await api.post("/concurrency_limits/", { tag: a, concurrency_limit: 1 });
    await api.post("/v2/concurrency_limits/", { name: `tag:${off}`, limit: 1, active: false });
    const flowRun = await runningFlowRun();
    const task = await taskRun(flowRun.id, [a, off]);
    await setState(task.id, "RUNNING");
    expect(await v2Slots(off)).toBe(0);
    expect(await holders(a)).toEqual([task.id]);
    await api.post(`/task_runs/${task.id}/set_state`, { state: { type: "FAILED" }, force: true });
    expect(await holders(a)).toEqual([]);
  });

  test("a full v2 `tag:` limit made through /v2 counts the same", async () => {
    const g = tag();
    await api.post("/v2/concurrency_limits/", { name: `tag:${g}`, limit: 1, active_slots: 1 });
    const flowRun = await runningFlowRun();
    const task = await taskRun(flowRun.id, [g]);
    expect((await setState(task.id, "RUNNING")).body).toMatchObject({ status: "WAIT", details: { reason: `Concurrency limit reached for tags: ${g}` } });
  });
});
