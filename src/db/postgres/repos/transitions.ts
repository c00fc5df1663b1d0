/**
 * src/db/repos/transitions.ts on PostgreSQL: the same three steps (load, run the policy in
 * memory, write), inside the caller's write transaction. Writes are not serialised here, so
 * the run's row is read `FOR UPDATE`: two proposals for one run (from two requests or two
 * replicas) take turns, and the second is orchestrated against the state the first wrote.
 */
import { and, asc, desc, eq, gt, gte, inArray, isNull, or } from "drizzle-orm";
import { activeSlotsAt } from "../../../domain/concurrency-slots";
import { MICROS_PER_SECOND, type Micros } from "../../../lib/time";
import {
  OrchestrationContext,
  type OrchestrationEffect,
  type OrchestrationResult,
  type TagLimitView,
} from "../../../orchestration/context";
import { DeploymentSlotLedger, type DeploymentConcurrencySnapshot, type DeploymentSlotEffect } from "../../../orchestration/deployment-slots";
import { orchestrate } from "../../../orchestration/engine";
import { BackgroundTaskPolicy, CoreFlowPolicy, CoreTaskPolicy, MinimalFlowPolicy, MinimalTaskPolicy } from "../../../orchestration/policies";
import type { State } from "../../../orchestration/states";
import { TagSlotLedger, type TagSlotEffect } from "../../../orchestration/tag-slots";
import { GlobalFlowPolicy, GlobalTaskPolicy } from "../../../orchestration/transforms";
import type { ConcurrencyLimitRepo, ServerEventsRepo } from "../../repositories";
import { bookkeepingValues, flowRunSnapshot, stateFromRow, stateRowValues, taskRunSnapshot } from "../../repos/run-mapping";
import { INITIAL_DEPLOYMENT_LEASE_SECONDS, TAG_PREFIX, V1_LEASE_TTL, type TransitionOptions } from "../../repos/transitions";
import type { Op } from "../../unit-of-work";
import { query } from "../query";
import { concurrencyLimitV2, deployment, flowRun, flowRunInput, flowRunState, taskRun, taskRunState, taskRunStateCache } from "../schema";

type RunTable = typeof flowRun | typeof taskRun;
type StateTable = typeof flowRunState | typeof taskRunState;

/** The run's row, locked until the transaction ends: the read of set_state. */
function* lockedRun<T extends RunTable>(table: T, id: string): Op<T["$inferSelect"] | undefined> {
  const rows = yield* query((db) => db.select().from(table as RunTable).where(eq(table.id, id)).for("update"));
  return rows[0] as T["$inferSelect"] | undefined;
}

export class PgRunTransitions {
  constructor(
    private readonly limits: ConcurrencyLimitRepo,
    private readonly events: ServerEventsRepo,
  ) {}

  /** The run's state timestamps at or after `from` (what the timestamp-uniqueness transform avoids). */
  private *timestampsFrom(state: StateTable, runIdColumn: typeof flowRunState.flowRunId | typeof taskRunState.taskRunId, runId: string, from: Micros): Op<Set<Micros>> {
    const rows = yield* query((db) => db.select({ ts: state.timestamp }).from(state).where(and(eq(runIdColumn, runId), gte(state.timestamp, from))));
    return new Set(rows.map((row) => row.ts));
  }

  private *stateOf(table: StateTable, stateId: string | null): Op<State | null> {
    if (!stateId) return null;
    const [row] = yield* query((db) => db.select().from(table).where(eq(table.id, stateId)));
    return row ? stateFromRow(row) : null;
  }

  /** Sets a flow-run state; null when the run does not exist. */
  *setFlowRunState(runId: string, proposed: State, options: TransitionOptions, now: Micros): Op<OrchestrationResult | null> {
    const row = yield* lockedRun(flowRun, runId);
    if (!row) return null;
    const current = yield* this.stateOf(flowRunState, row.stateId);
    const slots = row.deploymentId ? new DeploymentSlotLedger(yield* this.deploymentConcurrency(row.deploymentId, current, now), now) : null;
    const ctx = new OrchestrationContext(flowRunSnapshot(row), current, proposed, now, {
      apiVersion: options.apiVersion,
      clientVersion: options.clientVersion,
      deploymentConcurrency: slots,
      takenTimestamps: yield* this.timestampsFrom(flowRunState, flowRunState.flowRunId, runId, Math.min(proposed.timestamp, now)),
    });
    orchestrate(ctx, options.force ? MinimalFlowPolicy : (options.flowPolicy ?? CoreFlowPolicy), GlobalFlowPolicy);
    const validated = ctx.validatedState;
    if (validated) {
      yield* query((db) => db.insert(flowRunState).values({ ...stateRowValues(validated), flowRunId: runId }));
    }
    yield* query((db) =>
      db
        .update(flowRun)
        .set({ ...bookkeepingValues(ctx.run), ...(validated ? { stateId: validated.id } : {}), updated: now })
        .where(eq(flowRun.id, runId)),
    );
    yield* this.applyEffects(runId, ctx.effects, options, now);
    if (slots) yield* this.applySlotEffects(slots.effects, now);
    yield* this.events.flowRunStateChanged(runId, ctx.stateChanges);
    return { state: ctx.resultState, status: ctx.status, details: ctx.details };
  }

  /** Sets a task-run state; null when the task run does not exist. */
  *setTaskRunState(taskRunId: string, proposed: State, options: TransitionOptions, now: Micros): Op<OrchestrationResult | null> {
    const row = yield* lockedRun(taskRun, taskRunId);
    if (!row) return null;
    const flowRunId = row.flowRunId;
    const parent = flowRunId ? (yield* query((db) => db.select().from(flowRun).where(eq(flowRun.id, flowRunId))))[0] : undefined;
    const cacheKey = proposed.state_details.cache_key;
    const tagSlots = row.tags.length > 0 ? new TagSlotLedger(yield* this.tagLimits(row.tags, proposed, now)) : null;
    const ctx = new OrchestrationContext(taskRunSnapshot(row), yield* this.stateOf(taskRunState, row.stateId), proposed, now, {
      apiVersion: options.apiVersion,
      tagConcurrency: tagSlots,
      takenTimestamps: yield* this.timestampsFrom(taskRunState, taskRunState.taskRunId, taskRunId, Math.min(proposed.timestamp, now)),
      parentFlowRun: parent ? { id: parent.id, runCount: parent.runCount, state: yield* this.stateOf(flowRunState, parent.stateId) } : null,
      cachedState: !options.force && proposed.type === "RUNNING" && cacheKey ? yield* this.cachedState(cacheKey, now) : null,
    });
    // Prefect's models.task_runs.set_task_run_state: a deferred proposal picks the background policy, even forced.
    const policy = proposed.state_details.deferred ? BackgroundTaskPolicy : options.force ? MinimalTaskPolicy : CoreTaskPolicy;
    orchestrate(ctx, policy, GlobalTaskPolicy);
    const validated = ctx.validatedState;
    if (validated) {
      yield* query((db) => db.insert(taskRunState).values({ ...stateRowValues(validated), taskRunId }));
    }
    yield* query((db) =>
      db
        .update(taskRun)
        .set({ ...bookkeepingValues(ctx.run), flowRunRunCount: ctx.run.flowRunRunCount, ...(validated ? { stateId: validated.id } : {}), updated: now })
        .where(eq(taskRun.id, taskRunId)),
    );
    yield* this.applyEffects(row.flowRunId, ctx.effects, options, now);
    if (tagSlots) yield* this.applyTagSlotEffects(tagSlots.effects, now);
    const enqueue = ctx.effects.find((effect) => effect.kind === "enqueue_task_run");
    return { state: ctx.resultState, status: ctx.status, details: ctx.details, enqueue: enqueue ? { retry: enqueue.retry } : null };
  }

  /**
   * The `tag:<tag>` limits of a task run's tags, read before the policy runs. A proposal of
   * RUNNING may take their slots on what it reads here, so it locks them (in id order, as
   * the limits repository does) until the transaction ends: two task runs racing for a
   * limit's last slot take turns, and the second sees it taken.
   */
  private *tagLimits(tags: string[], proposed: State, now: Micros): Op<TagLimitView[]> {
    const names = [...new Set(tags)].map((tag) => TAG_PREFIX + tag);
    if (proposed.type === "RUNNING") {
      yield* query((db) =>
        db.select({ id: concurrencyLimitV2.id }).from(concurrencyLimitV2).where(inArray(concurrencyLimitV2.name, names)).orderBy(asc(concurrencyLimitV2.id)).for("update"),
      );
    }
    const rows = yield* this.limits.readByNames(names);
    return rows.map((row) => ({
      id: row.id,
      tag: row.name.slice(TAG_PREFIX.length),
      limit: row.limit,
      active: row.active,
      activeSlots: activeSlotsAt(row, now),
      avgSlotOccupancySeconds: row.avgSlotOccupancySeconds,
    }));
  }

  /** Applies the slot operations the tag-concurrency rules decided on. */
  private *applyTagSlotEffects(effects: TagSlotEffect[], now: Micros): Op<void> {
    for (const effect of effects) {
      switch (effect.kind) {
        case "acquire": {
          const lease = { id: effect.leaseId, resourceIds: effect.limitIds, slots: 1, ttl: V1_LEASE_TTL, holder: { type: "task_run" as const, id: effect.holderRunId } };
          yield* this.limits.incrementWithLease(effect.limitIds, lease, now);
          break;
        }
        case "release_lease":
          yield* this.limits.releaseLease(effect.leaseId, now, { recordOccupancy: false });
          break;
        case "release_held":
          yield* this.limits.releaseHolderLeases(effect.limitIds, effect.holderRunId, now);
          break;
      }
    }
  }

  /** What the deployment-concurrency rules may ask, read before the policy runs. */
  private *deploymentConcurrency(deploymentId: string, current: State | null, now: Micros): Op<DeploymentConcurrencySnapshot> {
    const [row] = yield* query((db) =>
      db.select({ limitId: deployment.concurrencyLimitId, options: deployment.concurrencyOptions }).from(deployment).where(eq(deployment.id, deploymentId)),
    );
    const leaseId = current?.state_details.deployment_concurrency_lease_id;
    const lease = leaseId ? yield* this.limits.readLease(leaseId) : undefined;
    const leaseView = lease ? { id: lease.id, expiration: lease.expiration } : null;
    if (!row) return { settings: null, freeSlots: 0, lease: leaseView };
    // The rules may take the limit's slot on what is read here: locked until the transaction
    // ends, so two runs of the deployment racing for its last slot take turns.
    const limitId = row.limitId;
    const [limit] = limitId ? yield* query((db) => db.select().from(concurrencyLimitV2).where(eq(concurrencyLimitV2.id, limitId)).for("update")) : [];
    const options = (row.options ?? {}) as { collision_strategy?: string; grace_period_seconds?: number | null };
    return {
      settings: {
        limitId: limit ? limit.id : null,
        limit: limit ? limit.limit : null,
        activeSlots: limit ? activeSlotsAt(limit, now) : 0,
        collisionStrategy: options.collision_strategy === "CANCEL_NEW" ? "CANCEL_NEW" : "ENQUEUE",
        leaseSeconds: options.grace_period_seconds ?? INITIAL_DEPLOYMENT_LEASE_SECONDS,
      },
      freeSlots: limit?.active ? Math.max(0, limit.limit - activeSlotsAt(limit, now)) : 0,
      lease: leaseView,
    };
  }

  /** Applies the slot operations the deployment-concurrency rules decided on. */
  private *applySlotEffects(effects: DeploymentSlotEffect[], now: Micros): Op<void> {
    const seconds = (s: number) => s * MICROS_PER_SECOND;
    for (const effect of effects) {
      switch (effect.kind) {
        case "take_slot":
          yield* this.limits.tryAcquire([effect.limitId], 1, now);
          break;
        case "create_lease": {
          const holder = effect.holderRunId ? { type: "flow_run" as const, id: effect.holderRunId } : null;
          yield* this.limits.createLease({ id: effect.leaseId, resourceIds: [effect.limitId], slots: 1, ttl: seconds(effect.ttlSeconds), holder }, now);
          break;
        }
        case "renew_lease":
          yield* this.limits.renewLease(effect.leaseId, seconds(effect.ttlSeconds), now);
          break;
        case "release_lease":
          if (!(yield* this.limits.releaseLease(effect.leaseId, now, { recordOccupancy: false })) && effect.fallbackLimitId) {
            yield* this.limits.releaseSlots([effect.fallbackLimitId], 1, now);
          }
          break;
        case "release_slot":
          yield* this.limits.releaseSlots([effect.limitId], 1, now);
          break;
        case "revoke_lease":
          yield* this.limits.revokeLease(effect.leaseId);
          break;
      }
    }
  }

  /** Newest cache entry for the key that has not expired, as a state. */
  private *cachedState(cacheKey: string, now: Micros): Op<State | null> {
    const [entry] = yield* query((db) =>
      db
        .select({ stateId: taskRunStateCache.taskRunStateId })
        .from(taskRunStateCache)
        .where(
          and(
            eq(taskRunStateCache.cacheKey, cacheKey),
            or(isNull(taskRunStateCache.cacheExpiration), gt(taskRunStateCache.cacheExpiration, now)),
          ),
        )
        .orderBy(desc(taskRunStateCache.created))
        .limit(1),
    );
    return entry ? yield* this.stateOf(taskRunState, entry.stateId) : null;
  }

  private *applyEffects(flowRunId: string | null, effects: OrchestrationEffect[], options: TransitionOptions, now: Micros): Op<void> {
    for (const effect of effects) {
      switch (effect.kind) {
        case "set_parent_task_state":
          yield* this.setTaskRunState(effect.taskRunId, effect.state, { ...options, force: true }, now);
          break;
        case "insert_cache":
          yield* query((db) =>
            db.insert(taskRunStateCache).values({
              id: Bun.randomUUIDv7(),
              created: now,
              updated: now,
              cacheKey: effect.cacheKey,
              cacheExpiration: effect.cacheExpiration,
              taskRunStateId: effect.stateId,
            }),
          );
          break;
        case "enqueue_task_run":
          break; // the caller queues the run once the transaction commits
        case "delete_flow_run_inputs":
          if (flowRunId && effect.keys.length > 0) {
            yield* query((db) => db.delete(flowRunInput).where(and(eq(flowRunInput.flowRunId, flowRunId), inArray(flowRunInput.key, effect.keys))));
          }
          break;
      }
    }
  }
}
