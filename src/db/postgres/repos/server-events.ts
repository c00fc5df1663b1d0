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
} from "../../../events/server-events";
import type { JsonValue } from "../../../lib/json";
import type { Micros } from "../../../lib/time";
import type { StateChangeNotice } from "../../../orchestration/context";
import type { ServerEventsRepo } from "../../repositories";
import { DEPLOYMENT_EVENT_FIELDS, eventFields, WORK_POOL_EVENT_FIELDS, WORK_QUEUE_EVENT_FIELDS, type DeploymentSnapshot } from "../../repos/server-events";
import type { EventStaging, Op } from "../../unit-of-work";
import { query } from "../query";
import { deployment, flow, flowRun, taskRun, workPool, workQueue } from "../schema";

type DeploymentRow = typeof deployment.$inferSelect;
type WorkPoolRow = typeof workPool.$inferSelect;
type WorkQueueRow = typeof workQueue.$inferSelect;

/** src/db/repos/server-events.ts on PostgreSQL: the same look-ups, inside the transaction that made the change. */
export class PgServerEvents implements ServerEventsRepo {
  constructor(private readonly outbox: EventStaging) {}

  private *pool(id: string | null): Op<WorkPoolObject | null> {
    if (!id) return null;
    const [row] = yield* query((db) => db.select({ id: workPool.id, name: workPool.name, type: workPool.type }).from(workPool).where(eq(workPool.id, id)));
    return row ?? null;
  }

  private *queue(id: string | null): Op<(NamedObject & { workPoolId: string }) | null> {
    if (!id) return null;
    const [row] = yield* query((db) =>
      db.select({ id: workQueue.id, name: workQueue.name, workPoolId: workQueue.workPoolId }).from(workQueue).where(eq(workQueue.id, id)),
    );
    return row ?? null;
  }

  *flowRunStateChanged(runId: string, changes: StateChangeNotice[]): Op<void> {
    if (changes.length === 0) return;
    const [run] = yield* query((db) => db.select().from(flowRun).where(eq(flowRun.id, runId)));
    if (!run) return;
    const pick = <T extends { id: string; name: string; tags: string[] }>(row: T | undefined) => (row ? { id: row.id, name: row.name, tags: row.tags } : null);
    const [flowRow] = yield* query((db) => db.select().from(flow).where(eq(flow.id, run.flowId)));
    const deploymentRow = run.deploymentId ? yield* this.deploymentRow(run.deploymentId) : undefined;
    const parentTaskRunId = run.parentTaskRunId;
    const [parent] = parentTaskRunId ? yield* query((db) => db.select().from(taskRun).where(eq(taskRun.id, parentTaskRunId))) : [];
    const queue = yield* this.queue(run.workQueueId);
    const relations = {
      flow: pick(flowRow),
      deployment: pick(deploymentRow),
      workQueue: queue && { id: queue.id, name: queue.name },
      workPool: yield* this.pool(queue?.workPoolId ?? null),
      parentTaskRun: pick(parent),
    };
    const subject = { id: run.id, name: run.name, tags: run.tags, runCount: run.runCount, createdBy: run.createdBy };
    this.outbox.stage(...changes.map((c) => flowRunStateChangeEvent(subject, relations, c.initialState, c.validatedState)));
  }

  private *deploymentRow(id: string): Op<DeploymentRow | undefined> {
    return (yield* query((db) => db.select().from(deployment).where(eq(deployment.id, id))))[0];
  }

  private *deploymentRelations(row: DeploymentRow): Op<DeploymentRelations> {
    const [flowRow] = yield* query((db) => db.select({ id: flow.id, name: flow.name }).from(flow).where(eq(flow.id, row.flowId)));
    const queue = yield* this.queue(row.workQueueId);
    return {
      flow: flowRow ?? null,
      workQueue: queue && { id: queue.id, name: queue.name },
      workPool: yield* this.pool(queue?.workPoolId ?? null),
      storageDocumentId: row.storageDocumentId,
      infrastructureDocumentId: row.infrastructureDocumentId,
      concurrencyLimitId: row.concurrencyLimitId,
    };
  }

  *deploymentSnapshot(id: string): Op<DeploymentSnapshot | null> {
    const row = yield* this.deploymentRow(id);
    return row ? snapshotOf(row) : null;
  }

  *deploymentWritten(id: string, before: DeploymentSnapshot | null, now: Micros): Op<void> {
    const row = yield* this.deploymentRow(id);
    if (!row) return;
    if (before === null) {
      this.outbox.stage(deploymentEvent("created", row, yield* this.deploymentRelations(row), now));
      return;
    }
    const after = snapshotOf(row);
    const updates: Record<string, { from: JsonValue; to: JsonValue }> = {};
    for (const field of Object.keys(DEPLOYMENT_EVENT_FIELDS) as (keyof DeploymentSnapshot)[]) {
      if (JSON.stringify(before[field]) !== JSON.stringify(after[field])) updates[field] = { from: before[field], to: after[field] };
    }
    if (Object.keys(updates).length > 0) this.outbox.stage(deploymentEvent("updated", row, yield* this.deploymentRelations(row), now, updates));
  }

  *deploymentDeleting(id: string, now: Micros): Op<void> {
    const row = yield* this.deploymentRow(id);
    if (row) this.outbox.stage(deploymentEvent("deleted", row, yield* this.deploymentRelations(row), now));
  }

  *deploymentStatusChanged(ids: string[], status: "READY" | "NOT_READY", now: Micros): Op<void> {
    for (const id of ids) {
      const row = yield* this.deploymentRow(id);
      if (row) this.outbox.stage(deploymentEvent(status === "READY" ? "ready" : "not-ready", row, yield* this.deploymentRelations(row), now));
    }
  }

  *workPoolCreated(poolId: string, now: Micros): Op<void> {
    const [row] = yield* query((db) => db.select().from(workPool).where(eq(workPool.id, poolId)));
    if (row) this.outbox.stage(workPoolEvent("created", row, row.defaultQueueId, now));
  }

  *workPoolDeleting(poolId: string, now: Micros): Op<void> {
    const [row] = yield* query((db) => db.select().from(workPool).where(eq(workPool.id, poolId)));
    if (!row) return;
    const queues = yield* query((db) => db.select({ id: workQueue.id, name: workQueue.name }).from(workQueue).where(eq(workQueue.workPoolId, poolId)));
    this.outbox.stage(...queues.map((q) => workQueueEvent("deleted", q, row, now)), workPoolEvent("deleted", row, row.defaultQueueId, now));
  }

  *workQueueCreated(queueId: string, now: Micros): Op<void> {
    const queue = yield* this.queue(queueId);
    if (queue) this.outbox.stage(workQueueEvent("created", queue, yield* this.pool(queue.workPoolId), now));
  }

  *workQueueDeleting(queueId: string, now: Micros): Op<void> {
    const queue = yield* this.queue(queueId);
    if (queue) this.outbox.stage(workQueueEvent("deleted", queue, yield* this.pool(queue.workPoolId), now));
  }

  *workPoolStatusChanged(poolId: string, eventId: string, occurred: Micros, follows: string | null): Op<void> {
    const [row] = yield* query((db) => db.select().from(workPool).where(eq(workPool.id, poolId)));
    if (row?.status) this.outbox.stage(workPoolStatusEvent({ ...row, status: row.status }, eventId, occurred, follows));
  }

  *workPoolWritten(before: WorkPoolRow, now: Micros): Op<void> {
    const [row] = yield* query((db) => db.select().from(workPool).where(eq(workPool.id, before.id)));
    if (!row) return;
    const updates = changedFields(Object.keys(WORK_POOL_EVENT_FIELDS), eventFields(WORK_POOL_EVENT_FIELDS, before), eventFields(WORK_POOL_EVENT_FIELDS, row));
    if (Object.keys(updates).length > 0) this.outbox.stage(workPoolUpdatedEvent(row, updates, now));
  }

  *workQueueWritten(before: WorkQueueRow, statusMoved: boolean, now: Micros): Op<void> {
    const [row] = yield* query((db) => db.select().from(workQueue).where(eq(workQueue.id, before.id)));
    if (!row) return;
    const pool = yield* this.pool(row.workPoolId);
    const updates = changedFields(Object.keys(WORK_QUEUE_EVENT_FIELDS), eventFields(WORK_QUEUE_EVENT_FIELDS, before), eventFields(WORK_QUEUE_EVENT_FIELDS, row));
    if (Object.keys(updates).length > 0) this.outbox.stage(workQueueUpdatedEvent(row, pool, updates, now));
    if (statusMoved) this.outbox.stage(workQueueStatusEvent(row, pool, now));
  }

  *workQueueStatusChanged(queueIds: string[], now: Micros): Op<void> {
    if (queueIds.length === 0) return;
    const rows = yield* query((db) => db.select().from(workQueue).where(inArray(workQueue.id, queueIds)).orderBy(workQueue.id));
    for (const row of rows) this.outbox.stage(workQueueStatusEvent(row, yield* this.pool(row.workPoolId), now));
  }
}

/** A deployment's event fields, to report what a write changed. */
function snapshotOf(row: DeploymentRow): DeploymentSnapshot {
  const entries = Object.entries(DEPLOYMENT_EVENT_FIELDS).map(([field, column]) => [field, row[column] ?? null]);
  return Object.fromEntries(entries) as DeploymentSnapshot;
}
