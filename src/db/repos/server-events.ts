/**
 * Server-emitted events, from the data layer's side: looks up what an event names
 * (inside the transaction that changed it, so it sees the change) and stages the
 * event on that transaction, which publishes it only after it commits.
 */
import { eq, inArray } from "drizzle-orm";
import {
  changedFields,
  deploymentEvent,
  flowRunStateChangeEvent,
  workPoolEvent,
  workPoolStatusEvent,
  workPoolUpdatedEvent,
  workQueueEvent,
  workQueueStatusEvent,
  workQueueUpdatedEvent,
  type DeploymentRelations,
  type NamedObject,
  type WorkPoolObject,
} from "../../events/server-events";
import type { JsonValue } from "../../lib/json";
import type { Micros } from "../../lib/time";
import type { StateChangeNotice } from "../../orchestration/context";
import type { SqliteDb } from "../client";
import type { EventStaging, Op } from "../unit-of-work";
import { deployment, flow, flowRun, taskRun, workPool, workQueue } from "../schema";

type DeploymentRow = typeof deployment.$inferSelect;
type WorkPoolRow = typeof workPool.$inferSelect;
type WorkQueueRow = typeof workQueue.$inferSelect;

/** The pool fields whose changes a `prefect.work-pool.updated` event reports (WORK_POOL_EVENT_FIELDS; `is_paused` shows in the status). */
export const WORK_POOL_EVENT_FIELDS = {
  description: "description",
  base_job_template: "baseJobTemplate",
  concurrency_limit: "concurrencyLimit",
  storage_configuration: "storageConfiguration",
} as const satisfies Record<string, keyof WorkPoolRow>;

/** The queue fields whose changes a `prefect.work-queue.updated` event reports (WORK_QUEUE_EVENT_FIELDS). */
export const WORK_QUEUE_EVENT_FIELDS = {
  name: "name",
  description: "description",
  concurrency_limit: "concurrencyLimit",
  priority: "priority",
} as const satisfies Record<string, keyof WorkQueueRow>;

/** A row's event fields under their Prefect names, to compare before and after a write. */
export function eventFields<Row>(fields: Record<string, keyof Row>, row: Row): Record<string, JsonValue> {
  return Object.fromEntries(Object.entries(fields).map(([field, column]) => [field, (row[column] ?? null) as JsonValue]));
}

/** The deployment fields whose changes a `prefect.deployment.updated` event reports (DEPLOYMENT_EVENT_FIELDS). */
export const DEPLOYMENT_EVENT_FIELDS = {
  description: "description",
  tags: "tags",
  parameters: "parameters",
  parameter_openapi_schema: "parameterOpenapiSchema",
  enforce_parameter_schema: "enforceParameterSchema",
  entrypoint: "entrypoint",
  path: "path",
  pull_steps: "pullSteps",
  work_queue_id: "workQueueId",
  infra_overrides: "jobVariables",
  paused: "paused",
  labels: "labels",
  version: "version",
  concurrency_limit_id: "concurrencyLimitId",
  concurrency_options: "concurrencyOptions",
} as const satisfies Record<string, keyof DeploymentRow>;

/** A deployment's event fields before a write, to report what the write changed. */
export type DeploymentSnapshot = Record<keyof typeof DEPLOYMENT_EVENT_FIELDS, JsonValue>;

export class ServerEvents {
  constructor(
    private readonly db: SqliteDb,
    private readonly outbox: EventStaging,
  ) {}

  private pool(id: string | null): WorkPoolObject | null {
    if (!id) return null;
    return this.db.select({ id: workPool.id, name: workPool.name, type: workPool.type }).from(workPool).where(eq(workPool.id, id)).get() ?? null;
  }

  private queue(id: string | null): (NamedObject & { workPoolId: string }) | null {
    if (!id) return null;
    return this.db.select({ id: workQueue.id, name: workQueue.name, workPoolId: workQueue.workPoolId }).from(workQueue).where(eq(workQueue.id, id)).get() ?? null;
  }

  /** `prefect.flow-run.<state>` for each state the transition wrote. */
  *flowRunStateChanged(runId: string, changes: StateChangeNotice[]): Op<void> {
    if (changes.length === 0) return;
    const run = this.db.select().from(flowRun).where(eq(flowRun.id, runId)).get();
    if (!run) return;
    const pick = <T extends { id: string; name: string; tags: string[] }>(row: T | undefined) => (row ? { id: row.id, name: row.name, tags: row.tags } : null);
    const flowRow = this.db.select().from(flow).where(eq(flow.id, run.flowId)).get();
    const deploymentRow = run.deploymentId ? this.db.select().from(deployment).where(eq(deployment.id, run.deploymentId)).get() : undefined;
    const parent = run.parentTaskRunId ? this.db.select().from(taskRun).where(eq(taskRun.id, run.parentTaskRunId)).get() : undefined;
    const queue = this.queue(run.workQueueId);
    const relations = {
      flow: pick(flowRow),
      deployment: pick(deploymentRow),
      workQueue: queue && { id: queue.id, name: queue.name },
      workPool: this.pool(queue?.workPoolId ?? null),
      parentTaskRun: pick(parent),
    };
    const subject = { id: run.id, name: run.name, tags: run.tags, runCount: run.runCount, createdBy: run.createdBy };
    this.outbox.stage(...changes.map((c) => flowRunStateChangeEvent(subject, relations, c.initialState, c.validatedState)));
  }

  private deploymentRow(id: string): DeploymentRow | undefined {
    return this.db.select().from(deployment).where(eq(deployment.id, id)).get();
  }

  private deploymentRelations(row: DeploymentRow): DeploymentRelations {
    const flowRow = this.db.select({ id: flow.id, name: flow.name }).from(flow).where(eq(flow.id, row.flowId)).get();
    const queue = this.queue(row.workQueueId);
    return {
      flow: flowRow ?? null,
      workQueue: queue && { id: queue.id, name: queue.name },
      workPool: this.pool(queue?.workPoolId ?? null),
      storageDocumentId: row.storageDocumentId,
      infrastructureDocumentId: row.infrastructureDocumentId,
      concurrencyLimitId: row.concurrencyLimitId,
    };
  }

  *deploymentSnapshot(id: string): Op<DeploymentSnapshot | null> {
    return this.snapshotOf(id);
  }

  private snapshotOf(id: string): DeploymentSnapshot | null {
    const row = this.deploymentRow(id);
    if (!row) return null;
    const entries = Object.entries(DEPLOYMENT_EVENT_FIELDS).map(([field, column]) => [field, row[column] ?? null]);
    return Object.fromEntries(entries) as DeploymentSnapshot;
  }

  /**
   * After an upsert: `created` for a new deployment, else `updated` with the fields that
   * changed since `before` (nothing when none did).
   */
  *deploymentWritten(id: string, before: DeploymentSnapshot | null, now: Micros): Op<void> {
    const row = this.deploymentRow(id);
    if (!row) return;
    if (before === null) {
      this.outbox.stage(deploymentEvent("created", row, this.deploymentRelations(row), now));
      return;
    }
    const after = this.snapshotOf(id)!;
    const updates: Record<string, { from: JsonValue; to: JsonValue }> = {};
    for (const field of Object.keys(DEPLOYMENT_EVENT_FIELDS) as (keyof DeploymentSnapshot)[]) {
      if (JSON.stringify(before[field]) !== JSON.stringify(after[field])) updates[field] = { from: before[field], to: after[field] };
    }
    if (Object.keys(updates).length > 0) this.outbox.stage(deploymentEvent("updated", row, this.deploymentRelations(row), now, updates));
  }

  /** Call before deleting: the event names the deployment's relations as they were. */
  *deploymentDeleting(id: string, now: Micros): Op<void> {
    const row = this.deploymentRow(id);
    if (row) this.outbox.stage(deploymentEvent("deleted", row, this.deploymentRelations(row), now));
  }

  /** `prefect.deployment.ready|not-ready` for deployments whose status just changed. */
  *deploymentStatusChanged(ids: string[], status: "READY" | "NOT_READY", now: Micros): Op<void> {
    for (const id of ids) {
      const row = this.deploymentRow(id);
      if (row) this.outbox.stage(deploymentEvent(status === "READY" ? "ready" : "not-ready", row, this.deploymentRelations(row), now));
    }
  }

  *workPoolCreated(poolId: string, now: Micros): Op<void> {
    const row = this.db.select().from(workPool).where(eq(workPool.id, poolId)).get();
    if (row) this.outbox.stage(workPoolEvent("created", row, row.defaultQueueId, now));
  }

  /** Call before deleting: the pool's queues go with it, each announced too. */
  *workPoolDeleting(poolId: string, now: Micros): Op<void> {
    const row = this.db.select().from(workPool).where(eq(workPool.id, poolId)).get();
    if (!row) return;
    const queues = this.db.select({ id: workQueue.id, name: workQueue.name }).from(workQueue).where(eq(workQueue.workPoolId, poolId)).all();
    this.outbox.stage(...queues.map((q) => workQueueEvent("deleted", q, row, now)), workPoolEvent("deleted", row, row.defaultQueueId, now));
  }

  *workQueueCreated(queueId: string, now: Micros): Op<void> {
    const queue = this.queue(queueId);
    if (queue) this.outbox.stage(workQueueEvent("created", queue, this.pool(queue.workPoolId), now));
  }

  /** Call before deleting. */
  *workQueueDeleting(queueId: string, now: Micros): Op<void> {
    const queue = this.queue(queueId);
    if (queue) this.outbox.stage(workQueueEvent("deleted", queue, this.pool(queue.workPoolId), now));
  }

  /**
   * `prefect.work-pool.<status>` for the pool's current status (none for agent pools,
   * which have no status), with the id the pool row keeps for the next one to follow.
   */
  *workPoolStatusChanged(poolId: string, eventId: string, occurred: Micros, follows: string | null): Op<void> {
    const row = this.db.select().from(workPool).where(eq(workPool.id, poolId)).get();
    if (row?.status) this.outbox.stage(workPoolStatusEvent({ ...row, status: row.status }, eventId, occurred, follows));
  }

  /** After a pool write: `prefect.work-pool.updated` with the event fields that changed since `before` (nothing when none did). */
  *workPoolWritten(before: WorkPoolRow, now: Micros): Op<void> {
    const row = this.db.select().from(workPool).where(eq(workPool.id, before.id)).get();
    if (!row) return;
    const updates = changedFields(Object.keys(WORK_POOL_EVENT_FIELDS), eventFields(WORK_POOL_EVENT_FIELDS, before), eventFields(WORK_POOL_EVENT_FIELDS, row));
    if (Object.keys(updates).length > 0) this.outbox.stage(workPoolUpdatedEvent(row, updates, now));
  }

  /** After a queue write: `prefect.work-queue.updated` with the event fields that changed since `before`, then its status when that moved. */
  *workQueueWritten(before: WorkQueueRow, statusMoved: boolean, now: Micros): Op<void> {
    const row = this.db.select().from(workQueue).where(eq(workQueue.id, before.id)).get();
    if (!row) return;
    const pool = this.pool(row.workPoolId);
    const updates = changedFields(Object.keys(WORK_QUEUE_EVENT_FIELDS), eventFields(WORK_QUEUE_EVENT_FIELDS, before), eventFields(WORK_QUEUE_EVENT_FIELDS, row));
    if (Object.keys(updates).length > 0) this.outbox.stage(workQueueUpdatedEvent(row, pool, updates, now));
    if (statusMoved) this.outbox.stage(workQueueStatusEvent(row, pool, now));
  }

  /** `prefect.work-queue.<status>` for queues whose status just moved. */
  *workQueueStatusChanged(queueIds: string[], now: Micros): Op<void> {
    if (queueIds.length === 0) return;
    for (const row of this.db.select().from(workQueue).where(inArray(workQueue.id, queueIds)).orderBy(workQueue.id).all()) {
      this.outbox.stage(workQueueStatusEvent(row, this.pool(row.workPoolId), now));
    }
  }
}
