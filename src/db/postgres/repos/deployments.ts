import { and, asc, count, desc, eq, gt, gte, inArray, lt, lte, ne, notExists, sql, type SQL } from "drizzle-orm";
import type { JsonObject } from "../../../lib/json";
import type { Micros } from "../../../lib/time";
import type { DeploymentFilterSet } from "../../filters";
import type { DeploymentRepo, ServerEventsRepo } from "../../repositories";
import type {
  ConcurrencyLimitRow,
  DeploymentRow,
  DeploymentScheduleRow,
  DeploymentSort,
  DeploymentValues,
  DeploymentView,
  ScheduleInsert,
  SchedulePatch,
} from "../../repos/deployments";
import type { Op } from "../../unit-of-work";
import { byCodePoint, deploymentsWhere, instantParam, jsonText } from "../filters";
import { query } from "../query";
import { concurrencyLimitV2, deployment, deploymentSchedule, flow, flowRun, workPool, workQueue } from "../schema";

const ORDER: Record<DeploymentSort, SQL[]> = {
  NAME_ASC: [asc(byCodePoint(deployment.name))],
  NAME_DESC: [desc(byCodePoint(deployment.name))],
  CREATED_DESC: [desc(deployment.created), desc(deployment.id)],
  UPDATED_DESC: [desc(deployment.updated), desc(deployment.id)],
};

type ViewRow = { row: DeploymentRow; workPoolName: string | null; workQueueName: string | null; concurrencyLimit: ConcurrencyLimitRow | null };

/** src/db/repos/deployments.ts on PostgreSQL. */
export class PgDeploymentRepository implements DeploymentRepo {
  constructor(private readonly events: ServerEventsRepo) {}

  private *views(where: SQL | undefined, page?: { sort: DeploymentSort; limit: number; offset: number }): Op<DeploymentView[]> {
    const rows: ViewRow[] = yield* query((db) => {
      const select = db
        .select({ row: deployment, workPoolName: workPool.name, workQueueName: workQueue.name, concurrencyLimit: concurrencyLimitV2 })
        .from(deployment)
        .leftJoin(workQueue, eq(workQueue.id, deployment.workQueueId))
        .leftJoin(workPool, eq(workPool.id, workQueue.workPoolId))
        .leftJoin(concurrencyLimitV2, eq(concurrencyLimitV2.id, deployment.concurrencyLimitId))
        .where(where);
      return page ? select.orderBy(...ORDER[page.sort]).limit(page.limit).offset(page.offset) : select;
    });
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.row.id);
    const schedules = yield* query((db) =>
      db
        .select()
        .from(deploymentSchedule)
        .where(inArray(deploymentSchedule.deploymentId, ids))
        .orderBy(desc(deploymentSchedule.updated), desc(deploymentSchedule.id)),
    );
    return rows.map((r) => ({
      row: r.row,
      schedules: schedules.filter((s) => s.deploymentId === r.row.id),
      // the legacy column keeps the name the deployment was given; the queue's own name wins when linked
      workQueueName: r.workQueueName ?? r.row.workQueueName,
      workPoolName: r.workPoolName,
      concurrencyLimit: r.concurrencyLimit,
    }));
  }

  *get(id: string): Op<DeploymentView | undefined> {
    return (yield* this.views(eq(deployment.id, id)))[0];
  }

  /** The deployments with these ids that exist, in the order given (one query, not one per deployment). */
  *getMany(ids: string[]): Op<DeploymentView[]> {
    if (ids.length === 0) return [];
    const found = new Map((yield* this.views(inArray(deployment.id, ids))).map((view) => [view.row.id, view]));
    return ids.flatMap((id) => found.get(id) ?? []);
  }

  *getByName(flowName: string, name: string): Op<DeploymentView | undefined> {
    const [found] = yield* query((db) =>
      db
        .select({ id: deployment.id })
        .from(deployment)
        .innerJoin(flow, eq(flow.id, deployment.flowId))
        .where(and(eq(flow.name, flowName), eq(deployment.name, name))),
    );
    return found ? yield* this.get(found.id) : undefined;
  }

  *list(filters: DeploymentFilterSet, sort: DeploymentSort, limit: number, offset: number): Op<DeploymentView[]> {
    return yield* this.views(deploymentsWhere(filters), { sort, limit, offset });
  }

  *count(filters: DeploymentFilterSet): Op<number> {
    const [row] = yield* query((db) => db.select({ n: count() }).from(deployment).where(deploymentsWhere(filters)));
    return row!.n;
  }

  /**
   * One INSERT ... ON CONFLICT (flow_id, name) DO UPDATE: two replicas upserting the same
   * deployment at once both land on the one row. The row returned is new when its id is ours.
   */
  *upsert(flowId: string, name: string, values: DeploymentValues, createdBy: JsonObject | null, now: Micros): Op<{ id: string; created: boolean }> {
    const id = Bun.randomUUIDv7();
    const row = {
      // the column defaults Prefect's ORM applies to keys a create did not send
      jobVariables: {},
      tags: [],
      labels: {},
      parameters: {},
      parameterOpenapiSchema: {},
      pullSteps: [],
      ...values,
      createdBy,
      id,
      created: now,
      updated: now,
      flowId,
      name,
    };
    const [written] = yield* query((db) =>
      db
        .insert(deployment)
        .values(row)
        .onConflictDoUpdate({ target: [deployment.flowId, deployment.name], set: { ...values, updated: now } })
        .returning({ id: deployment.id }),
    );
    return { id: written!.id, created: written!.id === id };
  }

  *idByName(flowId: string, name: string): Op<string | undefined> {
    const [row] = yield* query((db) =>
      db
        .select({ id: deployment.id })
        .from(deployment)
        .where(and(eq(deployment.flowId, flowId), eq(deployment.name, name))),
    );
    return row?.id;
  }

  *update(id: string, values: DeploymentValues, now: Micros): Op<boolean> {
    const rows = yield* query((db) => db.update(deployment).set({ ...values, updated: now }).where(eq(deployment.id, id)).returning({ id: deployment.id }));
    return rows.length > 0;
  }

  *flowLabels(flowId: string): Op<JsonObject | undefined> {
    return (yield* query((db) => db.select({ labels: flow.labels }).from(flow).where(eq(flow.id, flowId))))[0]?.labels;
  }

  *deleteScheduledRuns(deploymentId: string, options: { autoScheduledOnly: boolean; futureOnly: boolean }, now: Micros): Op<void> {
    yield* query((db) =>
      db
        .delete(flowRun)
        .where(
          and(
            eq(flowRun.deploymentId, deploymentId),
            eq(flowRun.stateType, "SCHEDULED"),
            ne(flowRun.stateName, "AwaitingConcurrencySlot"),
            eq(flowRun.runCount, 0),
            options.autoScheduledOnly ? eq(flowRun.autoScheduled, true) : undefined,
            options.futureOnly ? gt(flowRun.nextScheduledStartTime, now) : undefined,
          ),
        ),
    );
  }

  /**
   * The deployment's row is locked first: of two replicas deleting it at once, the second
   * waits, then finds nothing (and announces nothing).
   */
  *delete(id: string, now: Micros): Op<boolean> {
    const [row] = yield* query((db) => db.select({ id: deployment.id }).from(deployment).where(eq(deployment.id, id)).for("update"));
    if (!row) return false;
    yield* this.events.deploymentDeleting(id, now);
    yield* this.deleteScheduledRuns(id, { autoScheduledOnly: false, futureOnly: false }, now);
    yield* query((db) => db.delete(deployment).where(eq(deployment.id, id)));
    yield* query((db) => db.delete(concurrencyLimitV2).where(eq(concurrencyLimitV2.name, `deployment:${id}`)));
    return true;
  }

  *bulkDelete(filters: DeploymentFilterSet, limit: number, now: Micros): Op<string[]> {
    const ids = yield* query((db) => db.select({ id: deployment.id }).from(deployment).where(deploymentsWhere(filters)).limit(limit));
    const deleted: string[] = [];
    for (const { id } of ids) if (yield* this.delete(id, now)) deleted.push(id);
    return deleted;
  }

  /** The `deployment:<id>` limit is created or changed by one INSERT ... ON CONFLICT (name). */
  *setConcurrencyLimit(deploymentId: string, limit: number | null, now: Micros): Op<void> {
    const name = `deployment:${deploymentId}`;
    if (limit === null) {
      yield* query((db) => db.delete(concurrencyLimitV2).where(eq(concurrencyLimitV2.name, name)));
      yield* query((db) => db.update(deployment).set({ concurrencyLimitId: null }).where(eq(deployment.id, deploymentId)));
      return;
    }
    const [written] = yield* query((db) =>
      db
        .insert(concurrencyLimitV2)
        .values({ id: Bun.randomUUIDv7(), created: now, updated: now, name, limit })
        .onConflictDoUpdate({ target: concurrencyLimitV2.name, set: { limit, updated: now } })
        .returning({ id: concurrencyLimitV2.id }),
    );
    yield* query((db) => db.update(deployment).set({ concurrencyLimitId: written!.id }).where(eq(deployment.id, deploymentId)));
  }

  *concurrencyLimitExists(id: string): Op<boolean> {
    return (yield* query((db) => db.select({ id: concurrencyLimitV2.id }).from(concurrencyLimitV2).where(eq(concurrencyLimitV2.id, id)))).length > 0;
  }

  // Schedules

  *schedules(deploymentId: string): Op<DeploymentScheduleRow[]> {
    return yield* query((db) =>
      db
        .select()
        .from(deploymentSchedule)
        .where(eq(deploymentSchedule.deploymentId, deploymentId))
        .orderBy(desc(deploymentSchedule.updated), desc(deploymentSchedule.id)),
    );
  }

  /**
   * Locks the deployment's row first: otherwise two replicas replacing its schedules at
   * once would each delete the rows they saw and both insert theirs.
   */
  *replaceSchedules(deploymentId: string, schedules: ScheduleInsert[], now: Micros): Op<DeploymentScheduleRow[]> {
    yield* query((db) => db.select({ id: deployment.id }).from(deployment).where(eq(deployment.id, deploymentId)).for("no key update"));
    yield* query((db) => db.delete(deploymentSchedule).where(eq(deploymentSchedule.deploymentId, deploymentId)));
    return yield* this.createSchedules(deploymentId, schedules, now);
  }

  *createSchedules(deploymentId: string, schedules: ScheduleInsert[], now: Micros): Op<DeploymentScheduleRow[]> {
    if (schedules.length === 0) return [];
    const rows = schedules.map((s) => ({ ...s, id: Bun.randomUUIDv7(), created: now, updated: now, deploymentId }));
    yield* query((db) => db.insert(deploymentSchedule).values(rows));
    return rows;
  }

  *updateSchedule(deploymentId: string, key: { id: string } | { slug: string }, patch: SchedulePatch, now: Micros): Op<boolean> {
    const match = "id" in key ? eq(deploymentSchedule.id, key.id) : eq(deploymentSchedule.slug, key.slug);
    const rows = yield* query((db) =>
      db
        .update(deploymentSchedule)
        .set({ ...patch, updated: now })
        .where(and(eq(deploymentSchedule.deploymentId, deploymentId), match))
        .returning({ id: deploymentSchedule.id }),
    );
    return rows.length > 0;
  }

  *clearScheduleSlugs(deploymentId: string, slugs: string[]): Op<void> {
    if (slugs.length === 0) return;
    yield* query((db) =>
      db
        .update(deploymentSchedule)
        .set({ slug: null })
        .where(and(eq(deploymentSchedule.deploymentId, deploymentId), inArray(deploymentSchedule.slug, slugs))),
    );
  }

  *scheduleIdBySlug(deploymentId: string, slug: string): Op<string | undefined> {
    const [row] = yield* query((db) =>
      db
        .select({ id: deploymentSchedule.id })
        .from(deploymentSchedule)
        .where(and(eq(deploymentSchedule.deploymentId, deploymentId), eq(deploymentSchedule.slug, slug))),
    );
    return row?.id;
  }

  *deleteSchedule(deploymentId: string, scheduleId: string): Op<boolean> {
    const rows = yield* query((db) =>
      db
        .delete(deploymentSchedule)
        .where(and(eq(deploymentSchedule.deploymentId, deploymentId), eq(deploymentSchedule.id, scheduleId)))
        .returning({ id: deploymentSchedule.id }),
    );
    return rows.length > 0;
  }

  // Scheduler selection (services/scheduler.py)

  *needingRuns(now: Micros, minRuns: number, horizon: Micros, batchSize: number, afterId: string | null): Op<string[]> {
    const scheduleRuns = sql`FROM ${flowRun} WHERE ${flowRun.deploymentId} = ${deploymentSchedule.deploymentId}
      AND ${flowRun.stateType} = 'SCHEDULED' AND ${flowRun.nextScheduledStartTime} >= ${instantParam(now)}
      AND ${flowRun.autoScheduled} AND ${jsonText(flowRun.createdBy, "id")} = ${deploymentSchedule.id}::text`;
    const needsRuns = sql`EXISTS (SELECT 1 FROM ${deploymentSchedule} WHERE ${deploymentSchedule.deploymentId} = ${deployment.id}
      AND ${deploymentSchedule.active}
      AND ((SELECT count(*) ${scheduleRuns}) < ${minRuns} OR (SELECT max(${flowRun.nextScheduledStartTime}) ${scheduleRuns}) < ${instantParam(horizon)}))`;
    const rows = yield* query((db) =>
      db
        .select({ id: deployment.id })
        .from(deployment)
        .where(and(eq(deployment.paused, false), needsRuns, afterId ? gt(deployment.id, afterId) : undefined))
        .orderBy(asc(deployment.id))
        .limit(batchSize),
    );
    return rows.map((r) => r.id);
  }

  *updatedSince(since: Micros, batchSize: number, afterId: string | null): Op<string[]> {
    const hasActiveSchedule = sql`EXISTS (SELECT 1 FROM ${deploymentSchedule} WHERE ${deploymentSchedule.deploymentId} = ${deployment.id} AND ${deploymentSchedule.active})`;
    const rows = yield* query((db) =>
      db
        .select({ id: deployment.id })
        .from(deployment)
        .where(and(eq(deployment.paused, false), gte(deployment.updated, since), hasActiveSchedule, afterId ? gt(deployment.id, afterId) : undefined))
        .orderBy(asc(deployment.id))
        .limit(batchSize),
    );
    return rows.map((r) => r.id);
  }

  *touch(id: string, now: Micros): Op<void> {
    yield* query((db) => db.update(deployment).set({ updated: now }).where(eq(deployment.id, id)));
  }

  *markPolled(ids: string[], now: Micros): Op<void> {
    if (ids.length === 0) return;
    yield* this.markPolledWhere(inArray(deployment.id, ids), now);
  }

  *markPolledByQueues(queueIds: string[], now: Micros): Op<void> {
    if (queueIds.length === 0) return;
    yield* this.markPolledWhere(inArray(deployment.workQueueId, queueIds), now);
  }

  /** Reads the statuses under FOR UPDATE: of two polls at once, only the first sees NOT_READY and announces READY. */
  private *markPolledWhere(which: SQL, now: Micros): Op<void> {
    const polled = yield* query((db) => db.select({ id: deployment.id, status: deployment.status }).from(deployment).where(which).orderBy(asc(deployment.id)).for("no key update"));
    if (polled.length === 0) return;
    yield* query((db) => db.update(deployment).set({ status: "READY", lastPolled: now }).where(inArray(deployment.id, polled.map((r) => r.id))));
    yield* this.events.deploymentStatusChanged(polled.filter((r) => r.status === "NOT_READY").map((r) => r.id), "READY", now);
  }

  /** One UPDATE ... RETURNING: a concurrent foreman waits on the rows and then finds them NOT_READY already. */
  *markUnpolledNotReady(polledBefore: Micros, now: Micros): Op<string[]> {
    const ids = yield* query((db) => {
      const queuePolledSince = db
        .select({ id: workQueue.id })
        .from(workQueue)
        .where(and(eq(workQueue.id, deployment.workQueueId), gte(workQueue.lastPolled, polledBefore)));
      return db
        .update(deployment)
        .set({ status: "NOT_READY" })
        .where(and(eq(deployment.status, "READY"), lt(deployment.lastPolled, polledBefore), notExists(queuePolledSince)))
        .returning({ id: deployment.id });
    });
    const notReady = ids.map((r) => r.id);
    yield* this.events.deploymentStatusChanged(notReady, "NOT_READY", now);
    return notReady;
  }

  *scheduledRunIds(deploymentIds: string[], scheduledBefore: Micros | null, limit: number): Op<string[]> {
    const rows = yield* query((db) =>
      db
        .select({ id: flowRun.id })
        .from(flowRun)
        .where(
          and(
            inArray(flowRun.deploymentId, deploymentIds),
            eq(flowRun.stateType, "SCHEDULED"),
            scheduledBefore === null ? undefined : lte(flowRun.nextScheduledStartTime, scheduledBefore),
          ),
        )
        // NULLS FIRST, as SQLite orders them
        .orderBy(sql`${flowRun.nextScheduledStartTime} ASC NULLS FIRST`)
        .limit(limit),
    );
    return rows.map((r) => r.id);
  }
}
