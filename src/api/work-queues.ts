/**
 * Legacy `/work_queues` (Prefect's api/work_queues.py): queues addressed by id, created
 * in the `default-agent-pool`. `POST /work_queues/{id}/get_runs` lives with the
 * scheduling code.
 */
import { Elysia } from "elysia";
import type { AppContext } from "../context";
import { MICROS_PER_SECOND, formatNullable, type Micros } from "../lib/time";
import { IdParams, Lenient, LimitOffset, LimitPage, Maybe } from "../schemas/common";
import { WorkQueueFilter } from "../schemas/filters";
import { conflict, INTEGRITY_CONFLICT, notFound, objectNotFound } from "./errors";
import { pagePaging, paginated, paging } from "./paging";
import { WorkPoolService } from "../work-pools/service";
import { queueInput, queuePatch, slotHolderJson, WorkQueueCreate, WorkQueueUpdate, workQueueJson } from "./work-pools";

// Every queue uses Prefect's default WorkQueueHealthPolicy.
const HEALTH_CHECK_POLICY = { maximum_late_runs: 0, maximum_seconds_since_last_polled: 60 };

const queueNotFound = () => notFound("work queue not found");

/** Healthy: no more late runs than allowed and polled recently enough. */
function isHealthy(lateRuns: number, lastPolled: Micros | null, now: Micros): boolean {
  const pollAge = HEALTH_CHECK_POLICY.maximum_seconds_since_last_polled * MICROS_PER_SECOND;
  return lateRuns <= HEALTH_CHECK_POLICY.maximum_late_runs && lastPolled != null && now - lastPolled <= pollAge;
}

export function workQueueRoutes(ctx: AppContext) {
  const { store, clock, config } = ctx;
  const workPools = new WorkPoolService(ctx);

  return new Elysia({ prefix: "/work_queues" })
    .post(
      "/",
      async ({ body, set }) => {
        const view = await workPools.createLegacyQueue(queueInput(body));
        set.status = 201;
        return workQueueJson(view);
      },
      { body: WorkQueueCreate },
    )
    .post(
      "/filter",
      async ({ body }) => {
        const { limit, offset } = paging(body, config.defaultLimit);
        return (await store.read((q) => q.workPools.listAllQueues(body.work_queues, limit, offset))).map(workQueueJson);
      },
      { body: Lenient({ work_queues: Maybe(WorkQueueFilter), ...LimitOffset }) },
    )
    .get("/name/:name", async ({ params }) => {
      const view = await store.read((q) => q.workPools.getLegacyQueueByName(params.name));
      if (!view) throw queueNotFound();
      return workQueueJson(view);
    })
    .get(
      "/:id",
      async ({ params }) => {
        const view = await store.read((q) => q.workPools.getQueueById(params.id, "legacy"));
        if (!view) throw queueNotFound();
        return workQueueJson(view);
      },
      { params: IdParams },
    )
    .patch(
      "/:id",
      async ({ params, body, set }) => {
        await workPools.updateQueue(params.id, queuePatch(body), `Work Queue ${params.id} not found`);
        set.status = 204;
      },
      { params: IdParams, body: WorkQueueUpdate },
    )
    .delete(
      "/:id",
      async ({ params, set }) => {
        const outcome = await workPools.deleteQueue(params.id);
        if (outcome === "not-found") throw queueNotFound();
        // Prefect's foreign key from the pool refuses it; the generic integrity answer follows.
        if (outcome === "default-queue") throw conflict(INTEGRITY_CONFLICT);
        set.status = 204;
      },
      { params: IdParams },
    )
    .post(
      "/:id/concurrency_status",
      async ({ params, body }) => {
        const { limit, offset, page } = pagePaging(body, config.defaultLimit);
        const queue = await store.read((q) => q.workPools.getQueueById(params.id, "legacy"));
        if (!queue) throw notFound("Work queue not found.");
        const { count, holders } = await store.read((q) => q.workPools.queueConcurrency(queue.row, limit, offset));
        const now = clock.now();
        const { results, ...pages } = paginated(holders.map((h) => slotHolderJson(h, now)), count, limit, page);
        return { active_slots: count, concurrency_limit: queue.row.concurrencyLimit, flow_runs: results, ...pages };
      },
      { params: IdParams, body: Lenient(LimitPage) },
    )
    .get(
      "/:id/status",
      async ({ params }) => {
        const queue = await store.read((q) => q.workPools.getQueueById(params.id, "legacy"));
        if (!queue) throw objectNotFound(`Work queue with id ${params.id} not found`);
        const lateRuns = await store.read((q) => q.workPools.lateRunsCount(params.id));
        return {
          healthy: isHealthy(lateRuns, queue.row.lastPolled, clock.now()),
          late_runs_count: lateRuns,
          last_polled: formatNullable(queue.row.lastPolled),
          health_check_policy: HEALTH_CHECK_POLICY,
        };
      },
      { params: IdParams },
    );
}
