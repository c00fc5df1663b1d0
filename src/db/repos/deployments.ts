/**
 * Deployments and their schedules. Upserts, schedule replacement and the
 * clean-up of stale auto-scheduled runs happen in one immediate transaction.
 */
import { and, asc, desc, eq, gt, gte, inArray, lt, lte, ne, notExists, sql, type SQL } from "drizzle-orm";
import type { JsonObject } from "../../lib/json";
import type { Micros } from "../../lib/time";
import { countWhere, type SqliteDb } from "../client";
import { deploymentsWhere, type DeploymentFilterSet } from "../filters";
import { concurrencyLimitV2, deployment, deploymentSchedule, flow, flowRun, workPool, workQueue } from "../schema";
import type { ServerEvents } from "./server-events";
import type { Op } from "../unit-of-work";

export type DeploymentRow = typeof deployment.$inferSelect;
export type DeploymentScheduleRow = typeof deploymentSchedule.$inferSelect;
export type ConcurrencyLimitRow = typeof concurrencyLimitV2.$inferSelect;
export type DeploymentSort = "NAME_ASC" | "NAME_DESC" | "CREATED_DESC" | "UPDATED_DESC";

/** A deployment with what its response embeds. */
export interface DeploymentView {
  row: DeploymentRow;
  schedules: DeploymentScheduleRow[];
  workPoolName: string | null;
  workQueueName: string | null;
  concurrencyLimit: ConcurrencyLimitRow | null;
}

/** Columns a create/update may set; absent keys keep their stored value on upsert. */
export type DeploymentValues = Partial<Omit<DeploymentRow, "id" | "created" | "updated" | "flowId" | "name">>;

export interface ScheduleInsert {
  schedule: JsonObject;
  active: boolean;
  maxScheduledRuns: number | null;
  parameters: JsonObject;
  slug: string | null;
}

export type SchedulePatch = Partial<ScheduleInsert>;

const ORDER: Record<DeploymentSort, SQL[]> = {
  NAME_ASC: [asc(deployment.name)],
  NAME_DESC: [desc(deployment.name)],
  CREATED_DESC: [desc(deployment.created), desc(deployment.id)],
  UPDATED_DESC: [desc(deployment.updated), desc(deployment.id)],
};

/** Ids per `IN (...)` list, well under SQLite's bind-parameter limit. */
const VIEW_CHUNK = 1000;

export class DeploymentRepository {
  constructor(
    private readonly db: SqliteDb,
    private readonly events: ServerEvents,
  ) {}

  private viewQuery() {
    return this.db
      .select({ row: deployment, workPoolName: workPool.name, workQueueName: workQueue.name, concurrencyLimit: concurrencyLimitV2 })
      .from(deployment)
      .leftJoin(workQueue, eq(workQueue.id, deployment.workQueueId))
      .leftJoin(workPool, eq(workPool.id, workQueue.workPoolId))
      .leftJoin(concurrencyLimitV2, eq(concurrencyLimitV2.id, deployment.concurrencyLimitId));
  }

  private withSchedules(
    rows: { row: DeploymentRow; workPoolName: string | null; workQueueName: string | null; concurrencyLimit: ConcurrencyLimitRow | null }[],
  ): DeploymentView[] {
    if (rows.length === 0) return [];
    const schedules = this.db
      .select()
      .from(deploymentSchedule)
      .where(inArray(deploymentSchedule.deploymentId, rows.map((r) => r.row.id)))
      .orderBy(desc(deploymentSchedule.updated), desc(deploymentSchedule.id))
      .all();
    return rows.map((r) => ({
      row: r.row,
      schedules: schedules.filter((s) => s.deploymentId === r.row.id),
      // the legacy column keeps the name the deployment was given; the queue's own name wins when linked
      workQueueName: r.workQueueName ?? r.row.workQueueName,
      workPoolName: r.workPoolName,
      concurrencyLimit: r.concurrencyLimit,
    }));
  }

  private readView(id: string): DeploymentView | undefined {
    return this.withSchedules(this.viewQuery().where(eq(deployment.id, id)).all())[0];
  }

  *get(id: string): Op<DeploymentView | undefined> {
    return this.readView(id);
  }

  /** The deployments with these ids that exist, in the order given (one query per chunk, not one per deployment). */
  *getMany(ids: string[]): Op<DeploymentView[]> {
    const found = new Map<string, DeploymentView>();
    for (let i = 0; i < ids.length; i += VIEW_CHUNK) {
      const rows = this.viewQuery().where(inArray(deployment.id, ids.slice(i, i + VIEW_CHUNK))).all();
      for (const view of this.withSchedules(rows)) found.set(view.row.id, view);
    }
    return ids.flatMap((id) => found.get(id) ?? []);
  }

  *getByName(flowName: string, name: string): Op<DeploymentView | undefined> {
    const found = this.db
      .select({ id: deployment.id })
      .from(deployment)
      .innerJoin(flow, eq(flow.id, deployment.flowId))
      .where(and(eq(flow.name, flowName), eq(deployment.name, name)))
      .get();
    return found ? this.readView(found.id) : undefined;
  }

  *list(filters: DeploymentFilterSet, sort: DeploymentSort, limit: number, offset: number): Op<DeploymentView[]> {
    return this.withSchedules(
      this.viewQuery().where(deploymentsWhere(filters)).orderBy(...ORDER[sort]).limit(limit).offset(offset).all(),
    );
  }

  *count(filters: DeploymentFilterSet): Op<number> {
    return countWhere(this.db, deployment, deploymentsWhere(filters));
  }

  /**
   * Inserts or updates the deployment named (flow_id, name). Only the given
   * values are written on update; `createdBy` only on insert. Returns its id and whether it was created.
   */
  *upsert(flowId: string, name: string, values: DeploymentValues, createdBy: JsonObject | null, now: Micros): Op<{ id: string; created: boolean }> {
    const existing = (yield* this.idByName(flowId, name));
    if (existing) {
      this.db.update(deployment).set({ ...values, updated: now }).where(eq(deployment.id, existing)).run();
      return { id: existing, created: false };
    }
    const id = Bun.randomUUIDv7();
    this.db
      .insert(deployment)
      .values({
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
      })
      .run();
    return { id, created: true };
  }

  /** The id of the deployment named (flow_id, name), if any. */
  *idByName(flowId: string, name: string): Op<string | undefined> {
    return this.db
      .select({ id: deployment.id })
      .from(deployment)
      .where(and(eq(deployment.flowId, flowId), eq(deployment.name, name)))
      .get()?.id;
  }

  /** Applies a partial update; false when the deployment does not exist. */
  *update(id: string, values: DeploymentValues, now: Micros): Op<boolean> {
    return this.db.update(deployment).set({ ...values, updated: now }).where(eq(deployment.id, id)).returning({ id: deployment.id }).all().length > 0;
  }

  /** Labels of the deployment's flow (system labels start from them). */
  *flowLabels(flowId: string): Op<JsonObject | undefined> {
    return this.db.select({ labels: flow.labels }).from(flow).where(eq(flow.id, flowId)).get()?.labels;
  }

  /**
   * Deletes the deployment's SCHEDULED runs that never ran (not those waiting for a
   * concurrency slot) so the scheduler regenerates them from the current config.
   */
  *deleteScheduledRuns(deploymentId: string, options: { autoScheduledOnly: boolean; futureOnly: boolean }, now: Micros): Op<void> {
    this.db
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
      )
      .run();
  }

  /** Deletes a deployment, its never-run scheduled runs and its `deployment:` concurrency limit. */
  *delete(id: string, now: Micros): Op<boolean> {
    const row = this.db.select({ limitId: deployment.concurrencyLimitId }).from(deployment).where(eq(deployment.id, id)).get();
    if (!row) return false;
    yield* this.events.deploymentDeleting(id, now);
    yield* this.deleteScheduledRuns(id, { autoScheduledOnly: false, futureOnly: false }, now);
    this.db.delete(deployment).where(eq(deployment.id, id)).run();
    this.db.delete(concurrencyLimitV2).where(eq(concurrencyLimitV2.name, `deployment:${id}`)).run();
    return true;
  }

  *bulkDelete(filters: DeploymentFilterSet, limit: number, now: Micros): Op<string[]> {
    const ids = this.db.select({ id: deployment.id }).from(deployment).where(deploymentsWhere(filters)).limit(limit).all();
    const deleted: string[] = [];
    for (const { id } of ids) if (yield* this.delete(id, now)) deleted.push(id);
    return deleted;
  }

  /**
   * Sets the deployment's `deployment:<id>` limit: creates it, changes its limit, or
   * (null) deletes it.
   */
  *setConcurrencyLimit(deploymentId: string, limit: number | null, now: Micros): Op<void> {
    const name = `deployment:${deploymentId}`;
    if (limit === null) {
      this.db.delete(concurrencyLimitV2).where(eq(concurrencyLimitV2.name, name)).run();
      this.db.update(deployment).set({ concurrencyLimitId: null }).where(eq(deployment.id, deploymentId)).run();
      return;
    }
    const existing = this.db.select({ id: concurrencyLimitV2.id }).from(concurrencyLimitV2).where(eq(concurrencyLimitV2.name, name)).get();
    const limitId = existing?.id ?? Bun.randomUUIDv7();
    if (existing) {
      this.db.update(concurrencyLimitV2).set({ limit, updated: now }).where(eq(concurrencyLimitV2.id, limitId)).run();
    } else {
      this.db.insert(concurrencyLimitV2).values({ id: limitId, created: now, updated: now, name, limit }).run();
    }
    this.db.update(deployment).set({ concurrencyLimitId: limitId }).where(eq(deployment.id, deploymentId)).run();
  }

  *concurrencyLimitExists(id: string): Op<boolean> {
    return this.db.select({ id: concurrencyLimitV2.id }).from(concurrencyLimitV2).where(eq(concurrencyLimitV2.id, id)).get() !== undefined;
  }

  // Schedules

  *schedules(deploymentId: string): Op<DeploymentScheduleRow[]> {
    return this.db
      .select()
      .from(deploymentSchedule)
      .where(eq(deploymentSchedule.deploymentId, deploymentId))
      .orderBy(desc(deploymentSchedule.updated), desc(deploymentSchedule.id))
      .all();
  }

  *replaceSchedules(deploymentId: string, schedules: ScheduleInsert[], now: Micros): Op<DeploymentScheduleRow[]> {
    this.db.delete(deploymentSchedule).where(eq(deploymentSchedule.deploymentId, deploymentId)).run();
    return yield* this.createSchedules(deploymentId, schedules, now);
  }

  *createSchedules(deploymentId: string, schedules: ScheduleInsert[], now: Micros): Op<DeploymentScheduleRow[]> {
    if (schedules.length === 0) return [];
    const rows = schedules.map((s) => ({ ...s, id: Bun.randomUUIDv7(), created: now, updated: now, deploymentId }));
    this.db.insert(deploymentSchedule).values(rows).run();
    return rows;
  }

  /** Updates one schedule found by id (or by slug); false when it does not exist. */
  *updateSchedule(deploymentId: string, key: { id: string } | { slug: string }, patch: SchedulePatch, now: Micros): Op<boolean> {
    const match = "id" in key ? eq(deploymentSchedule.id, key.id) : eq(deploymentSchedule.slug, key.slug);
    return (
      this.db
        .update(deploymentSchedule)
        .set({ ...patch, updated: now })
        .where(and(eq(deploymentSchedule.deploymentId, deploymentId), match))
        .returning({ id: deploymentSchedule.id })
        .all().length > 0
    );
  }

  *clearScheduleSlugs(deploymentId: string, slugs: string[]): Op<void> {
    if (slugs.length === 0) return;
    this.db
      .update(deploymentSchedule)
      .set({ slug: null })
      .where(and(eq(deploymentSchedule.deploymentId, deploymentId), inArray(deploymentSchedule.slug, slugs)))
      .run();
  }

  *scheduleIdBySlug(deploymentId: string, slug: string): Op<string | undefined> {
    return this.db
      .select({ id: deploymentSchedule.id })
      .from(deploymentSchedule)
      .where(and(eq(deploymentSchedule.deploymentId, deploymentId), eq(deploymentSchedule.slug, slug)))
      .get()?.id;
  }

  *deleteSchedule(deploymentId: string, scheduleId: string): Op<boolean> {
    return (
      this.db
        .delete(deploymentSchedule)
        .where(and(eq(deploymentSchedule.deploymentId, deploymentId), eq(deploymentSchedule.id, scheduleId)))
        .returning({ id: deploymentSchedule.id })
        .all().length > 0
    );
  }

  // Scheduler selection (services/scheduler.py)

  /**
   * Unpaused deployments, after `afterId` in id order, having an active schedule with
   * fewer than `minRuns` future auto-scheduled runs or whose last such run is earlier
   * than `horizon`. Runs belong to a schedule through `created_by.id`.
   */
  *needingRuns(now: Micros, minRuns: number, horizon: Micros, batchSize: number, afterId: string | null): Op<string[]> {
    const scheduleRuns = sql`FROM ${flowRun} WHERE ${flowRun.deploymentId} = ${deploymentSchedule.deploymentId}
      AND ${flowRun.stateType} = 'SCHEDULED' AND ${flowRun.nextScheduledStartTime} >= ${now}
      AND ${flowRun.autoScheduled} = 1 AND json_extract(${flowRun.createdBy}, '$.id') = ${deploymentSchedule.id}`;
    const needsRuns = sql`EXISTS (SELECT 1 FROM ${deploymentSchedule} WHERE ${deploymentSchedule.deploymentId} = ${deployment.id}
      AND ${deploymentSchedule.active} = 1
      AND ((SELECT count(*) ${scheduleRuns}) < ${minRuns} OR (SELECT max(${flowRun.nextScheduledStartTime}) ${scheduleRuns}) < ${horizon}))`;
    return this.db
      .select({ id: deployment.id })
      .from(deployment)
      .where(and(eq(deployment.paused, false), needsRuns, afterId ? gt(deployment.id, afterId) : undefined))
      .orderBy(asc(deployment.id))
      .limit(batchSize)
      .all()
      .map((r) => r.id);
  }

  /** Unpaused deployments with an active schedule, updated since `since` (the recent-changes loop). */
  *updatedSince(since: Micros, batchSize: number, afterId: string | null): Op<string[]> {
    const hasActiveSchedule = sql`EXISTS (SELECT 1 FROM ${deploymentSchedule} WHERE ${deploymentSchedule.deploymentId} = ${deployment.id} AND ${deploymentSchedule.active} = 1)`;
    return this.db
      .select({ id: deployment.id })
      .from(deployment)
      .where(and(eq(deployment.paused, false), gte(deployment.updated, since), hasActiveSchedule, afterId ? gt(deployment.id, afterId) : undefined))
      .orderBy(asc(deployment.id))
      .limit(batchSize)
      .all()
      .map((r) => r.id);
  }

  /** Bumps `updated`, which the scheduler's recent-changes loop watches. */
  *touch(id: string, now: Micros): Op<void> {
    this.db.update(deployment).set({ updated: now }).where(eq(deployment.id, id)).run();
  }

  /**
   * A poll is a sign of life: deployments become READY and record `last_polled`,
   * without bumping `updated` (which drives the scheduler's recent-changes loop).
   * Those that were NOT_READY announce it.
   */
  *markPolled(ids: string[], now: Micros): Op<void> {
    if (ids.length === 0) return;
    yield* this.markPolledWhere(inArray(deployment.id, ids), now);
  }

  *markPolledByQueues(queueIds: string[], now: Micros): Op<void> {
    if (queueIds.length === 0) return;
    yield* this.markPolledWhere(inArray(deployment.workQueueId, queueIds), now);
  }

  private *markPolledWhere(which: SQL, now: Micros): Op<void> {
    const unready = this.db.select({ id: deployment.id }).from(deployment).where(and(which, eq(deployment.status, "NOT_READY"))).all();
    this.db.update(deployment).set({ status: "READY", lastPolled: now }).where(which).run();
    yield* this.events.deploymentStatusChanged(unready.map((r) => r.id), "READY", now);
  }

  /**
   * For the foreman: READY deployments last polled before `polledBefore` go NOT_READY
   * unless their work queue was polled since (never-polled deployments are left alone).
   * Like a poll, this leaves `updated` alone. Returns their ids.
   */
  *markUnpolledNotReady(polledBefore: Micros, now: Micros): Op<string[]> {
    const queuePolledSince = this.db
      .select({ id: workQueue.id })
      .from(workQueue)
      .where(and(eq(workQueue.id, deployment.workQueueId), gte(workQueue.lastPolled, polledBefore)));
    const ids = this.db
      .update(deployment)
      .set({ status: "NOT_READY" })
      .where(and(eq(deployment.status, "READY"), lt(deployment.lastPolled, polledBefore), notExists(queuePolledSince)))
      .returning({ id: deployment.id })
      .all()
      .map((r) => r.id);
    yield* this.events.deploymentStatusChanged(ids, "NOT_READY", now);
    return ids;
  }

  /** SCHEDULED runs of these deployments due by `scheduledBefore`, soonest first (for `flow.serve()` runners). */
  *scheduledRunIds(deploymentIds: string[], scheduledBefore: Micros | null, limit: number): Op<string[]> {
    return this.db
      .select({ id: flowRun.id })
      .from(flowRun)
      .where(
        and(
          inArray(flowRun.deploymentId, deploymentIds),
          eq(flowRun.stateType, "SCHEDULED"),
          scheduledBefore === null ? undefined : lte(flowRun.nextScheduledStartTime, scheduledBefore),
        ),
      )
      .orderBy(asc(flowRun.nextScheduledStartTime))
      .limit(limit)
      .all()
      .map((r) => r.id);
  }
}
