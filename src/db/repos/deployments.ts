/**
 * Deployments and their schedules. Upserts, schedule replacement and the
 * clean-up of stale auto-scheduled runs happen in one immediate transaction.
 */
import { and, asc, desc, eq, gt, gte, inArray, lt, lte, ne, notExists, sql, type SQL } from "drizzle-orm";
import type { JsonObject } from "../../lib/json";
import type { Micros } from "../../lib/time";
import type { SqliteDb } from "../client";
import { deploymentsWhere, type DeploymentFilterSet } from "../filters";
import { concurrencyLimitV2, deployment, deploymentSchedule, flow, flowRun, workPool, workQueue } from "../schema";
import type { ServerEvents } from "./server-events";

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

  getSync(id: string): DeploymentView | undefined {
    return this.withSchedules(this.viewQuery().where(eq(deployment.id, id)).all())[0];
  }

  async get(id: string): Promise<DeploymentView | undefined> {
    return this.getSync(id);
  }

  async getByName(flowName: string, name: string): Promise<DeploymentView | undefined> {
    const found = this.db
      .select({ id: deployment.id })
      .from(deployment)
      .innerJoin(flow, eq(flow.id, deployment.flowId))
      .where(and(eq(flow.name, flowName), eq(deployment.name, name)))
      .get();
    return found ? this.getSync(found.id) : undefined;
  }

  async list(filters: DeploymentFilterSet, sort: DeploymentSort, limit: number, offset: number): Promise<DeploymentView[]> {
    return this.withSchedules(
      this.viewQuery().where(deploymentsWhere(filters)).orderBy(...ORDER[sort]).limit(limit).offset(offset).all(),
    );
  }

  async count(filters: DeploymentFilterSet): Promise<number> {
    return this.db.$count(deployment, deploymentsWhere(filters));
  }

  /** Runs `fn` in one immediate transaction (writers are serialised; readers never see half of it). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn, { behavior: "immediate" });
  }

  /**
   * Inserts or updates the deployment named (flow_id, name). Only the given
   * values are written on update. Returns its id and whether it was created.
   * Must run inside `transaction`.
   */
  upsertSync(flowId: string, name: string, values: DeploymentValues, now: Micros): { id: string; created: boolean } {
    const existing = this.idByNameSync(flowId, name);
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
  idByNameSync(flowId: string, name: string): string | undefined {
    return this.db
      .select({ id: deployment.id })
      .from(deployment)
      .where(and(eq(deployment.flowId, flowId), eq(deployment.name, name)))
      .get()?.id;
  }

  /** Applies a partial update; false when the deployment does not exist. Must run inside `transaction`. */
  updateSync(id: string, values: DeploymentValues, now: Micros): boolean {
    return this.db.update(deployment).set({ ...values, updated: now }).where(eq(deployment.id, id)).returning({ id: deployment.id }).all().length > 0;
  }

  /** Labels of the deployment's flow (system labels start from them). */
  flowLabelsSync(flowId: string): JsonObject | undefined {
    return this.db.select({ labels: flow.labels }).from(flow).where(eq(flow.id, flowId)).get()?.labels;
  }

  /**
   * Deletes the deployment's SCHEDULED runs that never ran (not those waiting for a
   * concurrency slot) so the scheduler regenerates them from the current config.
   */
  deleteScheduledRunsSync(deploymentId: string, options: { autoScheduledOnly: boolean; futureOnly: boolean }, now: Micros): void {
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

  async deleteScheduledRuns(deploymentId: string, options: { autoScheduledOnly: boolean; futureOnly: boolean }, now: Micros) {
    this.transaction(() => this.deleteScheduledRunsSync(deploymentId, options, now));
  }

  /** Deletes a deployment, its never-run scheduled runs and its `deployment:` concurrency limit. */
  async delete(id: string, now: Micros): Promise<boolean> {
    return this.transaction(() => {
      const row = this.db.select({ limitId: deployment.concurrencyLimitId }).from(deployment).where(eq(deployment.id, id)).get();
      if (!row) return false;
      this.events.deploymentDeleting(id, now);
      this.deleteScheduledRunsSync(id, { autoScheduledOnly: false, futureOnly: false }, now);
      this.db.delete(deployment).where(eq(deployment.id, id)).run();
      this.db.delete(concurrencyLimitV2).where(eq(concurrencyLimitV2.name, `deployment:${id}`)).run();
      return true;
    });
  }

  async bulkDelete(filters: DeploymentFilterSet, limit: number, now: Micros): Promise<string[]> {
    const ids = this.db.select({ id: deployment.id }).from(deployment).where(deploymentsWhere(filters)).limit(limit).all();
    const deleted: string[] = [];
    for (const { id } of ids) if (await this.delete(id, now)) deleted.push(id);
    return deleted;
  }

  /**
   * Sets the deployment's `deployment:<id>` limit: creates it, changes its limit, or
   * (null) deletes it. Must run inside `transaction`.
   */
  setConcurrencyLimitSync(deploymentId: string, limit: number | null, now: Micros): void {
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

  concurrencyLimitExistsSync(id: string): boolean {
    return this.db.select({ id: concurrencyLimitV2.id }).from(concurrencyLimitV2).where(eq(concurrencyLimitV2.id, id)).get() !== undefined;
  }

  // Schedules

  async schedules(deploymentId: string): Promise<DeploymentScheduleRow[]> {
    return this.db
      .select()
      .from(deploymentSchedule)
      .where(eq(deploymentSchedule.deploymentId, deploymentId))
      .orderBy(desc(deploymentSchedule.updated), desc(deploymentSchedule.id))
      .all();
  }

  replaceSchedulesSync(deploymentId: string, schedules: ScheduleInsert[], now: Micros): DeploymentScheduleRow[] {
    this.db.delete(deploymentSchedule).where(eq(deploymentSchedule.deploymentId, deploymentId)).run();
    return this.createSchedulesSync(deploymentId, schedules, now);
  }

  createSchedulesSync(deploymentId: string, schedules: ScheduleInsert[], now: Micros): DeploymentScheduleRow[] {
    if (schedules.length === 0) return [];
    const rows = schedules.map((s) => ({ ...s, id: Bun.randomUUIDv7(), created: now, updated: now, deploymentId }));
    this.db.insert(deploymentSchedule).values(rows).run();
    return rows;
  }

  /** Updates one schedule found by id (or by slug); false when it does not exist. */
  updateScheduleSync(deploymentId: string, key: { id: string } | { slug: string }, patch: SchedulePatch, now: Micros): boolean {
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

  clearScheduleSlugsSync(deploymentId: string, slugs: string[]): void {
    if (slugs.length === 0) return;
    this.db
      .update(deploymentSchedule)
      .set({ slug: null })
      .where(and(eq(deploymentSchedule.deploymentId, deploymentId), inArray(deploymentSchedule.slug, slugs)))
      .run();
  }

  scheduleIdBySlugSync(deploymentId: string, slug: string): string | undefined {
    return this.db
      .select({ id: deploymentSchedule.id })
      .from(deploymentSchedule)
      .where(and(eq(deploymentSchedule.deploymentId, deploymentId), eq(deploymentSchedule.slug, slug)))
      .get()?.id;
  }

  deleteScheduleSync(deploymentId: string, scheduleId: string): boolean {
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
  needingRunsSync(now: Micros, minRuns: number, horizon: Micros, batchSize: number, afterId: string | null): string[] {
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
  updatedSinceSync(since: Micros, batchSize: number, afterId: string | null): string[] {
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
  touchSync(id: string, now: Micros): void {
    this.db.update(deployment).set({ updated: now }).where(eq(deployment.id, id)).run();
  }

  /**
   * A poll is a sign of life: deployments become READY and record `last_polled`,
   * without bumping `updated` (which drives the scheduler's recent-changes loop).
   * Those that were NOT_READY announce it.
   */
  markPolledSync(ids: string[], now: Micros): void {
    if (ids.length === 0) return;
    this.markPolled(inArray(deployment.id, ids), now);
  }

  markPolledByQueuesSync(queueIds: string[], now: Micros): void {
    if (queueIds.length === 0) return;
    this.markPolled(inArray(deployment.workQueueId, queueIds), now);
  }

  private markPolled(which: SQL, now: Micros): void {
    const unready = this.db.select({ id: deployment.id }).from(deployment).where(and(which, eq(deployment.status, "NOT_READY"))).all();
    this.db.update(deployment).set({ status: "READY", lastPolled: now }).where(which).run();
    this.events.deploymentStatusChanged(unready.map((r) => r.id), "READY", now);
  }

  /**
   * For the foreman: READY deployments last polled before `polledBefore` go NOT_READY
   * unless their work queue was polled since (never-polled deployments are left alone).
   * Like a poll, this leaves `updated` alone. Returns their ids.
   */
  async markUnpolledNotReady(polledBefore: Micros, now: Micros): Promise<string[]> {
    const queuePolledSince = this.db
      .select({ id: workQueue.id })
      .from(workQueue)
      .where(and(eq(workQueue.id, deployment.workQueueId), gte(workQueue.lastPolled, polledBefore)));
    return this.transaction(() => {
      const ids = this.db
        .update(deployment)
        .set({ status: "NOT_READY" })
        .where(and(eq(deployment.status, "READY"), lt(deployment.lastPolled, polledBefore), notExists(queuePolledSince)))
        .returning({ id: deployment.id })
        .all()
        .map((r) => r.id);
      this.events.deploymentStatusChanged(ids, "NOT_READY", now);
      return ids;
    });
  }

  /** SCHEDULED runs of these deployments due by `scheduledBefore`, soonest first (for `flow.serve()` runners). */
  scheduledRunIdsSync(deploymentIds: string[], scheduledBefore: Micros | null, limit: number): string[] {
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
