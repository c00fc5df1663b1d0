/**
 * The work-pool and work-queue status and update events (Prefect's work_pool_status_event,
 * work_pool_updated_event, work_queue_status_event, work_queue_updated_event), on whichever
 * backend the run selects: each is published after the write that made it commits.
 */
import { afterAll, describe, expect, test } from "bun:test";
import type { ReceivedEvent } from "../../src/events/model";
import { Foreman } from "../../src/services/foreman";
import { WorkPoolService } from "../../src/work-pools/service";
import type { WorkerHello } from "../../src/work-pools/worker-channel";
import { createTestApi, ManualClock } from "../support/api";

const T0 = Date.UTC(2025, 0, 1) * 1000;
const SECOND = 1_000_000;
const MINUTE = 60 * SECOND;

function eventedApi() {
  const clock = new ManualClock(T0);
  const api = createTestApi({ clock });
  const received: ReceivedEvent[] = [];
  api.context.events.subscribe((e) => void received.push(e));
  let seen = 0;
  /** The pool and queue status and update events published since the last call. */
  const fresh = () => {
    const events = received.slice(seen).filter((e) => /^prefect\.work-(pool|queue)\./.test(e.event));
    seen = received.length;
    return events;
  };
  return { api, clock, fresh };
}

const poolResource = (pool: { id: string; name: string }) => ({
  "prefect.resource.id": `prefect.work-pool.${pool.id}`,
  "prefect.resource.name": pool.name,
  "prefect.work-pool.type": "process",
});
const poolRelated = (pool: { id: string; name: string }) => ({ ...poolResource(pool), "prefect.resource.role": "work-pool" });
const queueResource = (queue: { id: string; name: string }) => ({
  "prefect.resource.id": `prefect.work-queue.${queue.id}`,
  "prefect.resource.name": queue.name,
  "prefect.resource.role": "work-queue",
});

describe("work-pool status events", () => {
  const { api, clock, fresh } = eventedApi();
  afterAll(() => api.close());

  test("a created pool announces its first status, which nothing follows; every pause or unpause announces the status it sets", async () => {
    const pool = (await api.post("/work_pools/", { name: "evt-pool", type: "process" })).body;
    const created = fresh();
    expect(created.map((e) => e.event)).toEqual(["prefect.work-queue.created", "prefect.work-pool.created", "prefect.work-pool.not-ready"]);
    expect(created[2]).toMatchObject({ occurred: T0, resource: poolResource(pool), related: [], payload: {}, follows: null });

    clock.advance(SECOND);
    expect((await api.patch("/work_pools/evt-pool", { is_paused: true })).status).toBe(204);
    const [paused] = fresh();
    // the creation's status event is not kept for a later one to follow
    expect(paused).toMatchObject({ event: "prefect.work-pool.paused", occurred: T0 + SECOND, resource: poolResource(pool), related: [], payload: {}, follows: null });

    // pausing a paused pool announces PAUSED again, following the last one (Prefect sets the status on every pause)
    await api.patch("/work_pools/evt-pool", { is_paused: true });
    const [again] = fresh();
    expect(again).toMatchObject({ event: "prefect.work-pool.paused", follows: paused!.id });

    await api.patch("/work_pools/evt-pool", { is_paused: false });
    const [unpaused] = fresh();
    expect(unpaused).toMatchObject({ event: "prefect.work-pool.not-ready", follows: again!.id });

    await api.post("/work_pools/evt-pool/workers/heartbeat", { name: "w1" });
    const [ready] = fresh();
    expect(ready).toMatchObject({ event: "prefect.work-pool.ready", resource: poolResource(pool), follows: unpaused!.id });
    await api.post("/work_pools/evt-pool/workers/heartbeat", { name: "w1" });
    expect(fresh()).toEqual([]);

    // unpausing with an ONLINE worker announces READY
    await api.patch("/work_pools/evt-pool", { is_paused: false });
    expect(fresh()).toMatchObject([{ event: "prefect.work-pool.ready", follows: ready!.id }]);
  });

  test("a status event follows the previous one only while that is under 10 minutes old", async () => {
    await api.patch("/work_pools/evt-pool", { is_paused: true });
    const [paused] = fresh();
    clock.advance(10 * MINUTE);
    await api.patch("/work_pools/evt-pool", { is_paused: false });
    const [later] = fresh();
    expect(later).toMatchObject({ event: "prefect.work-pool.ready", follows: null });
    clock.advance(10 * MINUTE - 1);
    await api.patch("/work_pools/evt-pool", { is_paused: true });
    expect(fresh()).toMatchObject([{ event: "prefect.work-pool.paused", follows: later!.id }]);
    expect(paused!.id).not.toBe(later!.id);
  });

  test("the foreman's NOT_READY follows the READY a heartbeat announced", async () => {
    await api.post("/work_pools/", { name: "lapsing", type: "process" });
    clock.advance(SECOND);
    await api.post("/work_pools/lapsing/workers/heartbeat", { name: "w" });
    const [ready] = fresh().filter((e) => e.event === "prefect.work-pool.ready");
    clock.advance(91 * SECOND);
    await new Foreman(api.context).tick(clock.now());
    const lapsed = fresh().filter((e) => e.resource["prefect.resource.name"] === "lapsing");
    expect(lapsed).toMatchObject([{ event: "prefect.work-pool.not-ready", occurred: clock.now(), related: [], payload: {}, follows: ready!.id }]);
  });

  test("an agent pool has no status, so it announces none", async () => {
    await api.post("/work_queues/", { name: "legacy-q" });
    expect(fresh().map((e) => e.event)).toEqual(["prefect.work-queue.created", "prefect.work-pool.created", "prefect.work-queue.created"]);
  });
});

describe("prefect.work-pool.updated", () => {
  const { api, fresh } = eventedApi();
  afterAll(() => api.close());

  test("reports the event fields that changed, from and to, in Prefect's field order; an unchanged write reports nothing", async () => {
    const pool = (await api.post("/work_pools/", { name: "upd-pool", type: "process" })).body;
    fresh();
    await api.patch("/work_pools/upd-pool", { concurrency_limit: 3, description: "hello" });
    const [updated] = fresh();
    expect(updated).toMatchObject({
      event: "prefect.work-pool.updated",
      resource: poolRelated(pool),
      related: [],
      follows: null,
      payload: { updated_fields: ["description", "concurrency_limit"], updates: { description: { from: null, to: "hello" }, concurrency_limit: { from: null, to: 3 } } },
    });
    await api.patch("/work_pools/upd-pool", { concurrency_limit: 3, description: "hello" });
    expect(fresh()).toEqual([]);

    const template = { job_configuration: { command: "{{ command }}" }, variables: { type: "object", properties: { command: { type: "string" } } } };
    const storage = { bundle_upload_step: { a: 1 }, bundle_execution_step: null, default_result_storage_block_id: null };
    await api.patch("/work_pools/upd-pool", { base_job_template: template, storage_configuration: storage });
    const [second] = fresh();
    expect(second!.payload).toEqual({
      updated_fields: ["base_job_template", "storage_configuration"],
      updates: {
        base_job_template: { from: {}, to: template },
        storage_configuration: { from: pool.storage_configuration, to: storage },
      },
    });
  });

  test("a pause with field changes announces the update, then the status", async () => {
    await api.patch("/work_pools/upd-pool", { description: "paused now", is_paused: true });
    expect(fresh().map((e) => e.event)).toEqual(["prefect.work-pool.updated", "prefect.work-pool.paused"]);
  });
});

describe("work-queue status and update events", () => {
  const { api, clock, fresh } = eventedApi();
  afterAll(() => api.close());

  test("pausing and unpausing a queue announce its status only when it changes, related to its pool", async () => {
    const pool = (await api.post("/work_pools/", { name: "q-pool", type: "process" })).body;
    const queue = (await api.post("/work_pools/q-pool/queues", { name: "q2", description: "d" })).body;
    fresh();
    await api.patch("/work_pools/q-pool/queues/q2", { is_paused: true });
    expect(fresh()).toMatchObject([{ event: "prefect.work-queue.paused", occurred: T0, resource: queueResource(queue), related: [poolRelated(pool)], payload: {}, follows: null }]);
    await api.patch("/work_pools/q-pool/queues/q2", { is_paused: true });
    expect(fresh()).toEqual([]);
    await api.patch("/work_pools/q-pool/queues/q2", { is_paused: false });
    expect(fresh()).toMatchObject([{ event: "prefect.work-queue.not-ready", resource: queueResource(queue), related: [poolRelated(pool)] }]);
    await api.patch("/work_pools/q-pool/queues/q2", { is_paused: false });
    expect(fresh()).toEqual([]);
  });

  test("prefect.work-queue.updated reports name, description, concurrency limit and priority changes; its resource is the renamed queue", async () => {
    const pool = (await api.get("/work_pools/q-pool")).body;
    const queue = (await api.get("/work_pools/q-pool/queues/q2")).body;
    await api.patch("/work_pools/q-pool/queues/q2", { priority: 1, concurrency_limit: 5, description: "d2", name: "q3" });
    expect(fresh()).toMatchObject([
      {
        event: "prefect.work-queue.updated",
        resource: queueResource({ id: queue.id, name: "q3" }),
        related: [poolRelated(pool)],
        follows: null,
        payload: {
          updated_fields: ["name", "description", "concurrency_limit", "priority"],
          updates: { name: { from: "q2", to: "q3" }, description: { from: "d", to: "d2" }, concurrency_limit: { from: null, to: 5 }, priority: { from: 2, to: 1 } },
        },
      },
    ]);
  });

  test("a poll announces the queues it makes READY; the foreman the ones it makes NOT_READY", async () => {
    const pool = (await api.get("/work_pools/q-pool")).body;
    const queue = (await api.get("/work_pools/q-pool/queues/default")).body;
    await api.post("/work_pools/q-pool/get_scheduled_flow_runs", { work_queue_names: ["default"] });
    // the poll also brings the pool READY (decision #8)
    expect(fresh()).toMatchObject([
      { event: "prefect.work-queue.ready", resource: queueResource(queue), related: [poolRelated(pool)], payload: {}, follows: null },
      { event: "prefect.work-pool.ready", resource: poolResource(pool) },
    ]);
    await api.post("/work_pools/q-pool/get_scheduled_flow_runs", { work_queue_names: ["default"] });
    expect(fresh()).toEqual([]);

    clock.advance(61 * SECOND);
    await new Foreman(api.context).tick(clock.now());
    expect(fresh().filter((e) => e.event.startsWith("prefect.work-queue."))).toMatchObject([
      { event: "prefect.work-queue.not-ready", occurred: clock.now(), resource: queueResource(queue), related: [poolRelated(pool)] },
    ]);
  });
});

describe("worker channel", () => {
  const { api, fresh } = eventedApi();
  afterAll(() => api.close());
  const template = { job_configuration: { command: "{{ command }}" }, variables: { type: "object", properties: { command: { type: "string" } } } };
  const hello = (createPoolIfNotFound: boolean): WorkerHello => ({
    consumerId: "c",
    workerName: "w",
    workerType: "process",
    heartbeatIntervalSeconds: 30,
    supportedChannelVersions: ["1"],
    requestedCapabilities: [],
    workQueueNames: [],
    handledCleanupKinds: [],
    maxCleanupConcurrency: 1,
    createPoolIfNotFound,
    defaultBaseJobTemplate: template,
  });

  test("a pool the hello creates announces no first status; its first heartbeat announces READY", async () => {
    await new WorkPoolService(api.context).connectWorker("channel-made", hello(true));
    expect(fresh().map((e) => e.event)).toEqual(["prefect.work-queue.created", "prefect.work-pool.created", "prefect.work-pool.ready"]);
  });

  test("a hello filling in a pool's empty base job template announces the update, then the heartbeat's READY", async () => {
    const pool = (await api.post("/work_pools/", { name: "templateless", type: "process" })).body;
    fresh();
    await new WorkPoolService(api.context).connectWorker("templateless", hello(false));
    expect(fresh()).toMatchObject([
      { event: "prefect.work-pool.updated", resource: poolRelated(pool), payload: { updated_fields: ["base_job_template"], updates: { base_job_template: { from: {}, to: template } } } },
      { event: "prefect.work-pool.ready", resource: poolResource(pool), follows: null },
    ]);
  });
});
