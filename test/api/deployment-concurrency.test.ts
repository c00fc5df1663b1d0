import { afterAll, describe, expect, test } from "bun:test";
import { createTestApi } from "../support/api";

const api = createTestApi();
afterAll(() => api.close());

async function deploymentWithLimit(limit: number, options: Record<string, unknown> | null = null) {
  const flow = (await api.post("/flows/", { name: `f-${crypto.randomUUID().slice(0, 8)}` })).body;
  const res = await api.post("/deployments/", { name: "d", flow_id: flow.id, concurrency_limit: limit, concurrency_options: options });
  expect(res.status).toBe(201);
  return res.body;
}

const newRun = async (deploymentId: string) => (await api.post(`/deployments/${deploymentId}/create_flow_run`, {})).body;
const propose = (id: string, state: Record<string, unknown>) => api.post(`/flow_runs/${id}/set_state`, { state });
const limitOf = async (deploymentId: string) => (await api.get(`/deployments/${deploymentId}`)).body.global_concurrency_limit;

describe("deployment concurrency", () => {
  test("a full deployment answers AwaitingConcurrencySlot until a slot is released", async () => {
    const deployment = await deploymentWithLimit(1);
    expect(deployment.concurrency_limit).toBeNull();
    expect(deployment.global_concurrency_limit).toMatchObject({ name: `deployment:${deployment.id}`, limit: 1, active_slots: 0 });
    const [a, b] = [await newRun(deployment.id), await newRun(deployment.id)];

    const first = await propose(a.id, { type: "PENDING" });
    expect(first.body.status).toBe("ACCEPT");
    expect(first.body.state.state_details.deployment_concurrency_lease_id).toEqual(expect.any(String));
    expect((await limitOf(deployment.id)).active_slots).toBe(1);

    const second = await propose(b.id, { type: "PENDING" });
    expect(second.body).toMatchObject({ status: "REJECT", details: { reason: "Deployment concurrency limit reached." } });
    expect(second.body.state).toMatchObject({ type: "SCHEDULED", name: "AwaitingConcurrencySlot" });

    // the lease follows the run to RUNNING and is released when it finishes
    expect((await propose(a.id, { type: "RUNNING" })).body.state.state_details.deployment_concurrency_lease_id).toBe(
      first.body.state.state_details.deployment_concurrency_lease_id,
    );
    await propose(a.id, { type: "COMPLETED" });
    expect((await limitOf(deployment.id)).active_slots).toBe(0);
    expect((await propose(b.id, { type: "PENDING" })).body.status).toBe("ACCEPT");
  });

  test("CANCEL_NEW cancels the run that finds the deployment full", async () => {
    const deployment = await deploymentWithLimit(1, { collision_strategy: "CANCEL_NEW" });
    const [a, b] = [await newRun(deployment.id), await newRun(deployment.id)];
    await propose(a.id, { type: "PENDING" });
    const second = await propose(b.id, { type: "PENDING" });
    expect(second.body.status).toBe("REJECT");
    expect(second.body.state).toMatchObject({ type: "CANCELLED", message: "Deployment concurrency limit reached." });
  });

  test("an in-process retry keeps its slot; a forced crash gives it back", async () => {
    const flow = (await api.post("/flows/", { name: "retrying" })).body;
    const deployment = (await api.post("/deployments/", { name: "d", flow_id: flow.id, concurrency_limit: 1 })).body;
    const run = (await api.post(`/deployments/${deployment.id}/create_flow_run`, { empirical_policy: { retries: 1 } })).body;
    await propose(run.id, { type: "PENDING" });
    await propose(run.id, { type: "RUNNING" });
    const failed = await propose(run.id, { type: "FAILED" });
    expect(failed.body.state.name).toBe("AwaitingRetry");
    expect((await limitOf(deployment.id)).active_slots).toBe(1);
    await api.post(`/flow_runs/${run.id}/set_state`, { state: { type: "RUNNING" }, force: true });
    await api.post(`/flow_runs/${run.id}/set_state`, { state: { type: "CRASHED" }, force: true });
    expect((await limitOf(deployment.id)).active_slots).toBe(0);
  });

  test("removing the limit on PATCH deletes it; deleting the deployment deletes its limit", async () => {
    const deployment = await deploymentWithLimit(2);
    expect((await api.patch(`/deployments/${deployment.id}`, { concurrency_limit: null })).status).toBe(204);
    expect(await limitOf(deployment.id)).toBeNull();
    expect((await api.get(`/v2/concurrency_limits/deployment:${deployment.id}`)).status).toBe(404);
  });
});

describe("run lists filtered through deployments and work pools", () => {
  test("flow_runs, task_runs and flows accept deployments / work_pools / work_pool_queues filters", async () => {
    const flow = (await api.post("/flows/", { name: "related-filters" })).body;
    await api.post("/work_pools/", { name: "rf-pool", type: "process" });
    const deployment = (await api.post("/deployments/", { name: "rf", flow_id: flow.id, work_pool_name: "rf-pool" })).body;
    const inPool = (await api.post(`/deployments/${deployment.id}/create_flow_run`, {})).body;
    const adHoc = (await api.post("/flow_runs/", { flow_id: flow.id })).body;
    const ids = async (path: string, body: unknown) => (await api.post(path, body)).body.map((r: { id: string }) => r.id);

    expect(await ids("/flow_runs/filter", { deployments: { id: { any_: [deployment.id] } } })).toEqual([inPool.id]);
    expect(await ids("/flow_runs/filter", { work_pools: { name: { any_: ["rf-pool"] } } })).toEqual([inPool.id]);
    expect(await ids("/flow_runs/filter", { work_pool_queues: { name: { any_: ["default"] } }, flows: { id: { any_: [flow.id] } } })).toEqual([inPool.id]);
    expect((await api.post("/flow_runs/count", { flows: { id: { any_: [flow.id] } } })).body).toBe(2);
    expect(await ids("/flows/filter", { work_pools: { name: { any_: ["rf-pool"] } } })).toEqual([flow.id]);
    expect(await ids("/flows/filter", { work_pools: { name: { any_: ["no-such-pool"] } } })).toEqual([]);
    expect(inPool.work_pool_name).toBe("rf-pool");
    expect(adHoc.work_pool_name).toBeNull();
  });
});
