import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import { formatDateTime } from "../../src/lib/time";
import { TaskRunRecorder } from "../../src/services/task-run-recorder";
import { createTestApi, ManualClock } from "../support/api";
import { newFlowRun, SECOND, T0 } from "./fixtures";

const clock = new ManualClock(T0);
const api = createTestApi({ clock });
const recorder = new TaskRunRecorder(api.context);
recorder.start();
afterAll(async () => {
  await recorder.stop();
  api.close();
});

interface Report {
  taskRunId: string;
  flowRunId?: string | null;
  type: string;
  name: string;
  at: number;
  id?: string;
  taskKey?: string;
  dynamicKey?: string;
  runCount?: number;
  orchestration?: string;
  extra?: Record<string, unknown>;
}

/** A `prefect.task-run.<state>` event shaped like the Prefect client's (emit_task_run_state_change_event). */
function clientEvent(r: Report) {
  const related = [
    ...(r.flowRunId ? [{ "prefect.resource.id": `prefect.flow-run.${r.flowRunId}`, "prefect.resource.role": "flow-run", "prefect.resource.name": "crimson-wombat" }] : []),
    { "prefect.resource.id": "prefect.tag.etl", "prefect.resource.role": "tag" },
  ];
  return {
    id: r.id ?? Bun.randomUUIDv7(),
    occurred: formatDateTime(r.at),
    event: `prefect.task-run.${r.name}`,
    resource: {
      "prefect.resource.id": `prefect.task-run.${r.taskRunId}`,
      "prefect.resource.name": "add-2f1",
      "prefect.run-count": String(r.runCount ?? 1),
      "prefect.state-name": r.name,
      "prefect.state-type": r.type,
      "prefect.orchestration": r.orchestration ?? "client",
    },
    related,
    payload: {
      intended: { from: null, to: r.type },
      initial_state: null,
      validated_state: { type: r.type, name: r.name, message: "", state_details: {}, data: null },
      task_run: {
        name: "add-2f1",
        task_key: r.taskKey ?? "add-7c9e",
        dynamic_key: r.dynamicKey ?? "0",
        empirical_policy: { max_retries: 0, retry_delay_seconds: 0, retries: 0, retry_delay: 0 },
        tags: ["etl"],
        labels: {},
        task_inputs: { x: [] },
        run_count: r.runCount ?? 1,
        flow_run_run_count: 1,
        expected_start_time: formatDateTime(T0),
        ...(r.type === "RUNNING" || r.type === "COMPLETED" ? { start_time: formatDateTime(T0 + SECOND) } : {}),
        ...(r.type === "COMPLETED" ? { end_time: formatDateTime(r.at), total_run_time: 2.5 } : { total_run_time: 0 }),
        ...r.extra,
      },
    },
  };
}

async function deliver(...reports: Report[]) {
  const events = reports.map(clientEvent);
  expect((await api.post("/events", events)).status).toBe(204);
  await recorder.flush();
  return events;
}

const taskRun = async (id: string) => (await api.get(`/task_runs/${id}`)).body;
const states = async (id: string) => (await api.get(`/task_run_states/?task_run_id=${id}`)).body as { id: string; name: string; timestamp: string }[];

let flowRunId: string;
beforeEach(async () => {
  flowRunId = await newFlowRun(api);
});

describe("task-run recorder", () => {
  test("records a client-orchestrated task run, linked to its flow run through the related `flow-run` resource", async () => {
    const taskRunId = Bun.randomUUIDv7();
    const [pending, running, completed] = await deliver(
      { taskRunId, flowRunId, type: "PENDING", name: "Pending", at: T0 },
      { taskRunId, flowRunId, type: "RUNNING", name: "Running", at: T0 + SECOND },
      { taskRunId, flowRunId, type: "COMPLETED", name: "Completed", at: T0 + 3 * SECOND },
    );
    const run = await taskRun(taskRunId);
    expect(run).toMatchObject({
      id: taskRunId,
      flow_run_id: flowRunId,
      name: "add-2f1",
      task_key: "add-7c9e",
      dynamic_key: "0",
      state_id: completed!.id,
      state_type: "COMPLETED",
      state_name: "Completed",
      run_count: 1,
      flow_run_run_count: 1,
      tags: ["etl"],
      task_inputs: { x: [] },
      expected_start_time: formatDateTime(T0),
      start_time: formatDateTime(T0 + SECOND),
      end_time: formatDateTime(T0 + 3 * SECOND),
      total_run_time: 2.5,
    });
    expect(run.empirical_policy).toMatchObject({ retries: 0, retry_delay: 0 });
    // the state's id is the event's id and its timestamp when the event occurred
    expect(run.state).toMatchObject({ id: completed!.id, type: "COMPLETED", timestamp: formatDateTime(T0 + 3 * SECOND) });
    expect(run.state.state_details).toMatchObject({ task_run_id: taskRunId, flow_run_id: flowRunId });
    expect((await states(taskRunId)).map((s) => s.id)).toEqual([pending!.id, running!.id, completed!.id]);

    const listed = await api.post("/task_runs/filter", { flow_runs: { id: { any_: [flowRunId] } } });
    expect(listed.body.map((r: { id: string }) => r.id)).toEqual([taskRunId]);
  });

  test("an event that arrives late never rolls the run back, but its state is kept in the history", async () => {
    const taskRunId = Bun.randomUUIDv7();
    const [completed] = await deliver({ taskRunId, flowRunId, type: "COMPLETED", name: "Completed", at: T0 + 3 * SECOND });
    await deliver({ taskRunId, flowRunId, type: "RUNNING", name: "Running", at: T0 + SECOND });
    await deliver({ taskRunId, flowRunId, type: "PENDING", name: "Pending", at: T0 });
    const run = await taskRun(taskRunId);
    expect(run).toMatchObject({ state_type: "COMPLETED", state_id: completed!.id, end_time: formatDateTime(T0 + 3 * SECOND), total_run_time: 2.5 });
    expect((await states(taskRunId)).map((s) => s.name)).toEqual(["Pending", "Running", "Completed"]);
  });

  test("re-delivered events change nothing", async () => {
    const taskRunId = Bun.randomUUIDv7();
    const running = clientEvent({ taskRunId, flowRunId, type: "RUNNING", name: "Running", at: T0 + SECOND });
    const completed = clientEvent({ taskRunId, flowRunId, type: "COMPLETED", name: "Completed", at: T0 + 2 * SECOND });
    await api.post("/events", [running, completed]);
    await recorder.flush();
    // the bus drops what it saw in the last five minutes; later, the recorder itself must be idempotent
    clock.advance(10 * 60 * SECOND);
    await api.post("/events", [running, completed, running]);
    await recorder.flush();
    expect((await states(taskRunId)).map((s) => s.id)).toEqual([running.id, completed.id]);
    expect((await taskRun(taskRunId)).state_id).toBe(completed.id);
  });

  test("the run already recorded for (flow run, task key, dynamic key) keeps its id and gets the state", async () => {
    const first = Bun.randomUUIDv7();
    await deliver({ taskRunId: first, flowRunId, type: "PENDING", name: "Pending", at: T0, taskKey: "k", dynamicKey: "1" });
    const second = Bun.randomUUIDv7();
    const [running] = await deliver({ taskRunId: second, flowRunId, type: "RUNNING", name: "Running", at: T0 + SECOND, taskKey: "k", dynamicKey: "1" });
    expect((await api.get(`/task_runs/${second}`)).status).toBe(404);
    const run = await taskRun(first);
    expect(run.state_id).toBe(running!.id);
    expect(run.state.state_details.task_run_id).toBe(first);
    expect(await states(first)).toHaveLength(2);
  });

  test("a task run outside any flow run is recorded with no flow run; only the keys the client sent are written", async () => {
    const taskRunId = Bun.randomUUIDv7();
    await deliver({ taskRunId, flowRunId: null, type: "RUNNING", name: "Running", at: T0, extra: { cache_key: "ck", task_version: "v1" } });
    // a later report without cache_key leaves it alone
    const later = clientEvent({ taskRunId, flowRunId: null, type: "COMPLETED", name: "Completed", at: T0 + SECOND });
    delete (later.payload.task_run as Record<string, unknown>).tags;
    await api.post("/events", [later]);
    await recorder.flush();
    expect(await taskRun(taskRunId)).toMatchObject({ flow_run_id: null, state_type: "COMPLETED", cache_key: "ck", task_version: "v1", tags: ["etl"] });
  });

  test("ignores server-orchestrated and non-task-run events; drops events it cannot record", async () => {
    const ignored = Bun.randomUUIDv7();
    await deliver({ taskRunId: ignored, flowRunId, type: "RUNNING", name: "Running", at: T0, orchestration: "server" });
    expect((await api.get(`/task_runs/${ignored}`)).status).toBe(404);

    const orphan = Bun.randomUUIDv7();
    await deliver({ taskRunId: orphan, flowRunId: Bun.randomUUIDv7(), type: "RUNNING", name: "Running", at: T0 });
    expect((await api.get(`/task_runs/${orphan}`)).status).toBe(404);

    const invalid = clientEvent({ taskRunId: Bun.randomUUIDv7(), flowRunId, type: "RUNNING", name: "Running", at: T0 });
    delete (invalid.payload.task_run as Record<string, unknown>).task_key;
    const fine = Bun.randomUUIDv7();
    await api.post("/events", [invalid, clientEvent({ taskRunId: fine, flowRunId, type: "RUNNING", name: "Running", at: T0 })]);
    await recorder.flush();
    expect((await taskRun(fine)).state_type).toBe("RUNNING");
  });

  test("batches: with a batch size of 3, three events are written together, the rest on the next flush", async () => {
    const batched = new TaskRunRecorder({ ...api.context, config: { ...api.context.config, services: { ...api.context.config.services, taskRunRecorderBatchSize: 3 } } });
    await recorder.stop(); // only the batched recorder listens in this test
    batched.start();
    try {
      const ids = [Bun.randomUUIDv7(), Bun.randomUUIDv7(), Bun.randomUUIDv7(), Bun.randomUUIDv7()];
      await api.post("/events", ids.map((taskRunId, i) => clientEvent({ taskRunId, flowRunId, type: "RUNNING", name: "Running", at: T0, dynamicKey: String(i) })));
      await Bun.sleep(0); // the full batch is written once the publisher has returned
      await batched.settled();
      const found = await Promise.all(ids.map(async (id) => (await api.get(`/task_runs/${id}`)).status));
      expect(found).toEqual([200, 200, 200, 404]);
      await batched.tick(clock.now());
      expect((await api.get(`/task_runs/${ids[3]}`)).status).toBe(200);
    } finally {
      await batched.stop();
      recorder.start();
    }
  });
});
