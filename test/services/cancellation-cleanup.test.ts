import { afterAll, describe, expect, test } from "bun:test";
import { createServices } from "../../src/services";
import { CANCELLING_TIMEOUT_MESSAGE, CancellationCleanup, PARENT_CANCELLED_MESSAGE } from "../../src/services/cancellation-cleanup";
import { flowRunOf, newFlowRun, newTaskRun, SECOND, serviceApi, setFlowRunState, T0, taskRunOf, type Api } from "./fixtures";

const DAY = 86_400 * SECOND;

const running = (api: Api, body: Record<string, unknown> = {}) => newFlowRun(api, { state: { type: "RUNNING" }, ...body });
const cancel = (api: Api, id: string) => setFlowRunState(api, id, { type: "CANCELLED" });
/** The type and message of a run's current state. */
const stateOf = async (read: Promise<{ state: { type: string; message: string | null } }>) => {
  const { type, message } = (await read).state;
  return { type, message };
};

describe("CancellationCleanup: what a cancelled flow run leaves behind", () => {
  const { api } = serviceApi();
  const service = new CancellationCleanup(api.context);
  afterAll(() => api.close());

  test("its unfinished task runs are forced to Cancelled; finished ones and other runs' task runs are untouched", async () => {
    const parent = await running(api);
    const [runningTask, pendingTask, completedTask] = [
      await newTaskRun(api, parent, "RUNNING"),
      await newTaskRun(api, parent, "PENDING"),
      await newTaskRun(api, parent, "COMPLETED"),
    ];
    const bystander = await newTaskRun(api, await running(api), "RUNNING");
    await cancel(api, parent);

    await service.tick(T0 + 20 * SECOND);
    const cancelled = { type: "CANCELLED", message: PARENT_CANCELLED_MESSAGE };
    expect(await stateOf(taskRunOf(api, runningTask))).toEqual(cancelled);
    expect(await stateOf(taskRunOf(api, pendingTask))).toEqual(cancelled);
    expect((await taskRunOf(api, completedTask)).state_type).toBe("COMPLETED");
    expect((await taskRunOf(api, bystander)).state_type).toBe("RUNNING");
  });

  test("only runs cancelled within the last day are revisited", async () => {
    const parent = await running(api);
    const task = await newTaskRun(api, parent, "RUNNING");
    await cancel(api, parent); // ends at T0

    await service.tick(T0 + DAY + SECOND);
    expect((await taskRunOf(api, task)).state_type).toBe("RUNNING");
    await service.tick(T0 + DAY);
    expect((await taskRunOf(api, task)).state_type).toBe("CANCELLED");
  });

  test("subflows: an in-process one is Cancelled (its task runs too, in the same pass), a deployment one gets Cancelling", async () => {
    const flow = await api.post("/flows/", { name: "child" });
    const deployment = await api.post("/deployments/", { name: "child-deployment", flow_id: flow.body.id });
    expect(deployment.status).toBe(201);
    const parent = await running(api);
    const inProcessTracker = await newTaskRun(api, parent, "RUNNING");
    const inProcess = await running(api, { parent_task_run_id: inProcessTracker });
    const inProcessTask = await newTaskRun(api, inProcess, "RUNNING");
    const deployed = await running(api, { parent_task_run_id: await newTaskRun(api, parent, "RUNNING"), deployment_id: deployment.body.id });
    const otherParent = await running(api);
    const unrelated = await running(api, { parent_task_run_id: await newTaskRun(api, otherParent, "RUNNING") });
    await cancel(api, parent);

    await service.tick(T0 + 20 * SECOND);
    expect(await stateOf(flowRunOf(api, inProcess))).toEqual({ type: "CANCELLED", message: PARENT_CANCELLED_MESSAGE });
    expect((await taskRunOf(api, inProcessTask)).state_type).toBe("CANCELLED");
    expect((await taskRunOf(api, inProcessTracker)).state.state_details.child_flow_run_id).toBe(inProcess);
    expect(await stateOf(flowRunOf(api, deployed))).toEqual({ type: "CANCELLING", message: PARENT_CANCELLED_MESSAGE });
    expect((await flowRunOf(api, unrelated)).state_type).toBe("RUNNING");

    // A deployment subflow already CANCELLING is left to its worker (or the timeout).
    const cancelling = (await flowRunOf(api, deployed)).state.id;
    await service.tick(T0 + 40 * SECOND);
    expect((await flowRunOf(api, deployed)).state.id).toBe(cancelling);
  });

  test("is one of the services the server starts", () => {
    expect(createServices(api.context).some((s) => s instanceof CancellationCleanup)).toBe(true);
  });
});

describe("CancellationCleanup: CANCELLING timeout", () => {
  const { api, clock } = serviceApi();
  const service = new CancellationCleanup(api.context);
  afterAll(() => api.close());

  test("a run still CANCELLING cancellingTimeoutSeconds (300 s) after it began is marked Cancelled", async () => {
    const id = await running(api);
    clock.set(T0 + 10 * SECOND);
    await setFlowRunState(api, id, { type: "CANCELLING" });

    await service.tick(T0 + 309 * SECOND);
    expect((await flowRunOf(api, id)).state_type).toBe("CANCELLING");

    await service.tick(T0 + 310 * SECOND);
    expect(await stateOf(flowRunOf(api, id))).toEqual({ type: "CANCELLED", message: CANCELLING_TIMEOUT_MESSAGE });
    expect((await flowRunOf(api, id)).end_time).not.toBeNull();
  });

  test("the timeout counts from the current CANCELLING state and comes from the settings", async () => {
    api.context.config.services.cancellingTimeoutSeconds = 60;
    const id = await running(api);
    clock.set(T0 + 1000 * SECOND);
    await setFlowRunState(api, id, { type: "CANCELLING" });

    await service.tick(T0 + 1059 * SECOND);
    expect((await flowRunOf(api, id)).state_type).toBe("CANCELLING");
    await service.tick(T0 + 1060 * SECOND);
    expect((await flowRunOf(api, id)).state_type).toBe("CANCELLED");
  });
});
