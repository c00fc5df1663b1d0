/** Shared set-up for background-service tests: an in-process API on a manual clock. */
import { expect } from "bun:test";
import { createTestApi, ManualClock } from "../support/api";

export const T0 = Date.UTC(2025, 0, 1) * 1000; // 2025-01-01T00:00:00Z
export const SECOND = 1_000_000;

export type Api = ReturnType<typeof createTestApi>;

/** ISO text of an instant, as the API reads and writes it. */
export const iso = (micros: number) => new Date(micros / 1000).toISOString().replace(".000Z", "Z");

export function serviceApi() {
  const clock = new ManualClock(T0);
  return { api: createTestApi({ clock }), clock };
}

/** A flow run of a new flow, created with `body` (e.g. an initial state). */
export async function newFlowRun(api: Api, body: Record<string, unknown> = {}) {
  const flow = await api.post("/flows/", { name: `flow-${crypto.randomUUID().slice(0, 8)}` });
  const res = await api.post("/flow_runs/", { flow_id: flow.body.id, ...body });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

/** A task run of the flow run, created in `stateType`. */
export async function newTaskRun(api: Api, flowRunId: string, stateType: string) {
  const res = await api.post("/task_runs/", {
    flow_run_id: flowRunId,
    task_key: `task-${crypto.randomUUID().slice(0, 8)}`,
    dynamic_key: "0",
    state: { type: stateType },
  });
  expect(res.status).toBe(201);
  return res.body.id as string;
}

/** Proposes a state and insists it is accepted (set-up steps must not silently fail). */
export async function setFlowRunState(api: Api, id: string, state: Record<string, unknown>, force = false) {
  const res = await api.post(`/flow_runs/${id}/set_state`, { state, force });
  expect(res.body.status).toBe("ACCEPT");
}

export const flowRunOf = async (api: Api, id: string) => (await api.get(`/flow_runs/${id}`)).body;
export const taskRunOf = async (api: Api, id: string) => (await api.get(`/task_runs/${id}`)).body;
export const flowRunStates = async (api: Api, id: string) => (await api.get(`/flow_run_states/?flow_run_id=${id}`)).body as unknown[];
