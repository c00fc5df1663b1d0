import { afterAll, describe, expect, test } from "bun:test";
import { createServices } from "../../src/services";
import { Foreman } from "../../src/services/foreman";
import { updateRow } from "../support/rows";
import { iso, SECOND, serviceApi, T0, type Api } from "./fixtures";

const poolStatus = async (api: Api, pool: string) => (await api.get(`/work_pools/${pool}`)).body.status as string;
/**
 * Stored worker statuses. The API derives a worker's status from its heartbeat age at
 * read time (as Prefect's WorkerResponse does), so it would not show what the foreman wrote.
 */
async function workerStatuses(api: Api, pool: string) {
  const poolId = (await api.get(`/work_pools/${pool}`)).body.id as string;
  const workers = await api.context.store.read((q) => q.workPools.listWorkers(poolId, null, 100, 0));
  return Object.fromEntries(workers.map((w) => [w.name, w.status]));
}
const queueStatus = async (api: Api, pool: string, queue = "default") => (await api.get(`/work_pools/${pool}/queues/${queue}`)).body.status as string;

describe("Foreman: workers and work pools", () => {
  const { api, clock } = serviceApi();
  const foreman = new Foreman(api.context);
  afterAll(() => api.close());

  const heartbeat = (pool: string, name: string, at: number, heartbeat_interval_seconds?: number) => {
    clock.set(at);
    return api.post(`/work_pools/${pool}/workers/heartbeat`, { name, ...(heartbeat_interval_seconds && { heartbeat_interval_seconds }) });
  };
  const poll = (pool: string, at: number) => {
    clock.set(at);
    return api.post(`/work_pools/${pool}/get_scheduled_flow_runs`, {});
  };

  test("a worker silent for 3 × the fallback 30 s interval goes OFFLINE, and its pool NOT_READY, in the same pass", async () => {
    await api.post("/work_pools/", { name: "stale", type: "process" });
    await heartbeat("stale", "w1", T0);
    expect(await poolStatus(api, "stale")).toBe("READY");

    await foreman.tick(T0 + 90 * SECOND);
    expect(await workerStatuses(api, "stale")).toEqual({ w1: "ONLINE" });
    expect(await poolStatus(api, "stale")).toBe("READY");

    await foreman.tick(T0 + 91 * SECOND);
    expect(await workerStatuses(api, "stale")).toEqual({ w1: "OFFLINE" });
    expect(await poolStatus(api, "stale")).toBe("NOT_READY");
    expect((await api.get("/work_pools/stale")).body.updated).toBe(iso(T0 + 91 * SECOND));
  });

  test("a worker's own heartbeat_interval_seconds sets its timeout; one ONLINE worker keeps the pool READY", async () => {
    await api.post("/work_pools/", { name: "mixed", type: "process" });
    await heartbeat("mixed", "fast", T0, 10);
    await heartbeat("mixed", "slow", T0);
    await foreman.tick(T0 + 31 * SECOND);
    expect(await workerStatuses(api, "mixed")).toEqual({ fast: "OFFLINE", slow: "ONLINE" });
    expect(await poolStatus(api, "mixed")).toBe("READY");
  });

  test("decision #8: a pool polled within the heartbeat timeout stays READY without workers; silence makes it NOT_READY", async () => {
    await api.post("/work_pools/", { name: "polled", type: "process" });
    await poll("polled", T0);
    expect(await poolStatus(api, "polled")).toBe("READY");

    await poll("polled", T0 + 60 * SECOND);
    await foreman.tick(T0 + 120 * SECOND); // 120 s after the first poll, 60 s after the last
    expect(await poolStatus(api, "polled")).toBe("READY");

    await foreman.tick(T0 + 151 * SECOND);
    expect(await poolStatus(api, "polled")).toBe("NOT_READY");
  });

  test("in one pass, a stale worker's pool goes NOT_READY while a recently polled pool stays READY", async () => {
    await api.post("/work_pools/", { name: "abandoned", type: "process" });
    await api.post("/work_pools/", { name: "busy", type: "process" });
    await heartbeat("abandoned", "w", T0 + 1000 * SECOND);
    await poll("busy", T0 + 1060 * SECOND);

    await foreman.tick(T0 + 1100 * SECOND);
    expect(await workerStatuses(api, "abandoned")).toEqual({ w: "OFFLINE" });
    expect(await poolStatus(api, "abandoned")).toBe("NOT_READY");
    expect(await poolStatus(api, "busy")).toBe("READY");
  });

  test("paused pools keep their status", async () => {
    await api.post("/work_pools/", { name: "paused", type: "process", is_paused: true });
    await foreman.tick(T0 + 10_000 * SECOND);
    expect(await poolStatus(api, "paused")).toBe("PAUSED");
  });

  test("is one of the services the server starts", () => {
    expect(createServices(api.context).some((s) => s instanceof Foreman)).toBe(true);
  });
});

describe("Foreman: work queues and deployments", () => {
  const { api, clock } = serviceApi();
  const foreman = new Foreman(api.context);
  afterAll(() => api.close());

  const deploymentOf = async (id: string) => (await api.get(`/deployments/${id}`)).body;

  async function deployTo(pool: string) {
    await api.post("/work_pools/", { name: pool, type: "process" });
    const flow = await api.post("/flows/", { name: `flow-${pool}` });
    const res = await api.post("/deployments/", { name: "d", flow_id: flow.body.id, work_pool_name: pool, work_queue_name: "default" });
    expect(res.status).toBe(201);
    return res.body.id as string;
  }

  test("a queue and its deployment polled more than 60 s ago go NOT_READY; the deployment's `updated` is kept", async () => {
    const id = await deployTo("pool");
    clock.set(T0);
    await api.post("/work_pools/pool/get_scheduled_flow_runs", {});
    expect(await queueStatus(api, "pool")).toBe("READY");
    expect((await deploymentOf(id)).status).toBe("READY");
    const updated = (await deploymentOf(id)).updated;

    await foreman.tick(T0 + 60 * SECOND);
    expect(await queueStatus(api, "pool")).toBe("READY");
    expect((await deploymentOf(id)).status).toBe("READY");

    await foreman.tick(T0 + 61 * SECOND);
    expect(await queueStatus(api, "pool")).toBe("NOT_READY");
    expect((await deploymentOf(id)).status).toBe("NOT_READY");
    expect((await deploymentOf(id)).updated).toBe(updated);
  });

  test("a deployment stays READY while its work queue was polled recently, even if it was not", async () => {
    const id = await deployTo("shared");
    const queueId = (await deploymentOf(id)).work_queue_id as string;
    await updateRow(api.context.store, "deployment", id, { status: "READY", lastPolled: T0 });
    await updateRow(api.context.store, "workQueue", queueId, { lastPolled: T0 + 50 * SECOND });

    await foreman.tick(T0 + 100 * SECOND);
    expect((await deploymentOf(id)).status).toBe("READY");

    await foreman.tick(T0 + 111 * SECOND);
    expect((await deploymentOf(id)).status).toBe("NOT_READY");
  });

  test("the timeouts come from the settings", async () => {
    const id = await deployTo("patient");
    clock.set(T0);
    await api.post("/work_pools/patient/get_scheduled_flow_runs", {});
    const services = api.context.config.services;
    services.foremanWorkQueueLastPolledTimeoutSeconds = 600;
    services.foremanDeploymentLastPolledTimeoutSeconds = 600;
    await foreman.tick(T0 + 300 * SECOND);
    expect(await queueStatus(api, "patient")).toBe("READY");
    expect((await deploymentOf(id)).status).toBe("READY");
  });
});
