import { afterAll, describe, expect, test } from "bun:test";
import { newState } from "../../src/orchestration/states";
import { MarkLateRunsPolicy } from "../../src/orchestration/policies";
import { createServices } from "../../src/services";
import { MarkLateRuns } from "../../src/services/late-runs";
import { flowRunOf, flowRunStates, iso, newFlowRun, SECOND, serviceApi, setFlowRunState, T0 } from "./fixtures";

describe("MarkLateRuns", () => {
  const { api } = serviceApi();
  const service = new MarkLateRuns(api.context);
  afterAll(() => api.close());

  const scheduledAt = (at: number, name?: string) =>
    newFlowRun(api, { state: { type: "SCHEDULED", ...(name && { name }), state_details: { scheduled_time: iso(at) } } });

  test("a run 10 s overdue is left alone; 20 s overdue it becomes Late, keeping its scheduled time", async () => {
    const id = await scheduledAt(T0);
    await service.tick(T0 + 10 * SECOND);
    expect((await flowRunOf(api, id)).state.name).toBe("Scheduled");

    await service.tick(T0 + 20 * SECOND);
    const run = await flowRunOf(api, id);
    expect(run.state_type).toBe("SCHEDULED");
    expect(run.state_name).toBe("Late");
    expect(run.state.state_details.scheduled_time).toBe(iso(T0));
    expect(run.next_scheduled_start_time).toBe(iso(T0));
    expect(run.state.timestamp).toBe(iso(T0 + 20 * SECOND));
  });

  test("the threshold is inclusive: exactly lateRunsAfterSeconds (15 s) overdue is late", async () => {
    const id = await scheduledAt(T0 + 1000 * SECOND);
    await service.tick(T0 + 1015 * SECOND);
    expect((await flowRunOf(api, id)).state_name).toBe("Late");
  });

  test("a Late run is not marked again", async () => {
    const id = await scheduledAt(T0 + 2000 * SECOND);
    await service.tick(T0 + 2020 * SECOND);
    const late = (await flowRunOf(api, id)).state;
    await service.tick(T0 + 2100 * SECOND);
    expect((await flowRunOf(api, id)).state.id).toBe(late.id);
    expect(await flowRunStates(api, id)).toHaveLength(2);
  });

  test("AwaitingRetry, AwaitingConcurrencySlot and Resuming runs and runs past SCHEDULED are never marked late", async () => {
    const named = await Promise.all(["AwaitingRetry", "AwaitingConcurrencySlot", "Resuming"].map((name) => scheduledAt(T0, name)));
    const pending = await scheduledAt(T0);
    await setFlowRunState(api, pending, { type: "PENDING" });
    await service.tick(T0 + 3600 * SECOND);
    const names = await Promise.all(named.map(async (id) => (await flowRunOf(api, id)).state_name));
    expect(names).toEqual(["AwaitingRetry", "AwaitingConcurrencySlot", "Resuming"]);
    expect((await flowRunOf(api, pending)).state_name).toBe("Pending");
  });

  test("a run that leaves its Scheduled state after being selected is not marked", async () => {
    const id = await scheduledAt(T0 + 5000 * SECOND);
    const now = T0 + 5100 * SECOND;
    const [candidate] = (await api.context.store.read((q) => q.flowRuns.lateRunCandidates(now, 400))).filter((run) => run.id === id);
    await setFlowRunState(api, id, { type: "PENDING" });
    const late = newState("SCHEDULED", now, { name: "Late", state_details: { scheduled_time: candidate!.nextScheduledStartTime } });
    expect(await api.context.store.write((tx) => tx.flowRuns.setStateIfCurrent(candidate!, late, { force: false, flowPolicy: MarkLateRunsPolicy }, now))).toBeNull();
    expect((await flowRunOf(api, id)).state_name).toBe("Pending");
  });

  test("lateRunsAfterSeconds comes from the settings", async () => {
    const { api: slow } = serviceApi();
    slow.context.config.services.lateRunsAfterSeconds = 60;
    const id = await newFlowRun(slow, { state: { type: "SCHEDULED", state_details: { scheduled_time: iso(T0) } } });
    await new MarkLateRuns(slow.context).tick(T0 + 59 * SECOND);
    expect((await flowRunOf(slow, id)).state_name).toBe("Scheduled");
    await new MarkLateRuns(slow.context).tick(T0 + 60 * SECOND);
    expect((await flowRunOf(slow, id)).state_name).toBe("Late");
    slow.close();
  });

  test("a CANCEL_NEW deployment whose limit is full cancels its overdue runs instead of marking them Late", async () => {
    const flow = (await api.post("/flows/", { name: `cn-${crypto.randomUUID().slice(0, 8)}` })).body;
    const deployment = async (strategy: string) =>
      (await api.post("/deployments/", { name: strategy, flow_id: flow.id, concurrency_limit: 1, concurrency_options: { collision_strategy: strategy } })).body;
    const [cancelNew, enqueue] = [await deployment("CANCEL_NEW"), await deployment("ENQUEUE")];
    const scheduled = { state: { type: "SCHEDULED", state_details: { scheduled_time: iso(T0 + 6000 * SECOND) } } };
    const run = async (d: { id: string }) => (await api.post(`/deployments/${d.id}/create_flow_run`, scheduled)).body.id as string;
    const [holderA, waitingA, holderB, waitingB] = [await run(cancelNew), await run(cancelNew), await run(enqueue), await run(enqueue)];
    await setFlowRunState(api, holderA, { type: "PENDING" });
    await setFlowRunState(api, holderB, { type: "PENDING" });
    await service.tick(T0 + 6020 * SECOND);
    const cancelled = await flowRunOf(api, waitingA);
    expect(cancelled).toMatchObject({ state_type: "CANCELLED", state_name: "Cancelled", state: { message: "Deployment concurrency limit reached." } });
    expect((await flowRunOf(api, waitingB)).state_name).toBe("Late");
    expect((await flowRunOf(api, holderA)).state_name).toBe("Pending");
    // With its slot free again, the CANCEL_NEW deployment's next overdue run is only Late.
    await setFlowRunState(api, holderA, { type: "COMPLETED" });
    const later = await run(cancelNew);
    await service.tick(T0 + 6040 * SECOND);
    expect((await flowRunOf(api, later)).state_name).toBe("Late");
  });

  test("is one of the services the server starts", () => {
    expect(createServices(api.context).some((s) => s instanceof MarkLateRuns)).toBe(true);
  });
});
