/**
 * src/db/repos/transitions.ts on PostgreSQL: the same three steps (load, run the policy in
 * memory, write), inside the caller's write transaction. Writes are not serialised here, so
 * the run's row is read `FOR UPDATE`: two proposals for one run (from two requests or two
 * replicas) take turns, and the second is orchestrated against the state the first wrote.
 */
import { and, asc, desc, eq, gt, gte, inArray, isNull, or } from "drizzle-orm";
import type { Micros } from "../../../lib/time";
import {
  OrchestrationContext,
  type OrchestrationEffect,
  type OrchestrationResult,
  type TagLimitView,
} from "../../../orchestration/context";
import { DeploymentSlotLedger, type DeploymentConcurrencySnapshot } from "../../../orchestration/deployment-slots";
import { orchestrate } from "../../../orchestration/engine";
import { BackgroundTaskPolicy, CoreFlowPolicy, CoreTaskPolicy, MinimalFlowPolicy, MinimalTaskPolicy } from "../../../orchestration/policies";
import type { State } from "../../../orchestration/states";
import { TagSlotLedger } from "../../../orchestration/tag-slots";
import { GlobalFlowPolicy, GlobalTaskPolicy } from "../../../orchestration/transforms";
import type { ConcurrencyLimitRepo, ServerEventsRepo } from "../../repositories";
import { bookkeepingValues, flowRunSnapshot, stateFromRow, stateRowValues, taskRunSnapshot } from "../../repos/run-mapping";
import { applyDeploymentSlotEffects, applyTagSlotEffects, deploymentConcurrencySnapshot, tagLimitNames, tagLimitViews } from "../../repos/run-slots";
import type { TransitionOptions } from "../../repos/transitions";
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
    if (slots) yield* applyDeploymentSlotEffects(this.limits, slots.effects, now);
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
    if (tagSlots) yield* applyTagSlotEffects(this.limits, tagSlots.effects, now);
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
    const names = tagLimitNames(tags);
    if (proposed.type === "RUNNING") {
      yield* query((db) =>
        db.select({ id: concurrencyLimitV2.id }).from(concurrencyLimitV2).where(inArray(concurrencyLimitV2.name, names)).orderBy(asc(concurrencyLimitV2.id)).for("update"),
      );
    }
    return tagLimitViews(yield* this.limits.readByNames(names), now);
  }

  /** What the deployment-concurrency rules may ask, read before the policy runs. */
  private *deploymentConcurrency(deploymentId: string, current: State | null, now: Micros): Op<DeploymentConcurrencySnapshot> {
    const [row] = yield* query((db) =>
      db.select({ limitId: deployment.concurrencyLimitId, options: deployment.concurrencyOptions }).from(deployment).where(eq(deployment.id, deploymentId)),
    );
    const leaseId = current?.state_details.deployment_concurrency_lease_id;
    const lease = leaseId ? yield* this.limits.readLease(leaseId) : undefined;
    // The rules may take the limit's slot on what is read here: locked until the transaction
    // ends, so two runs of the deployment racing for its last slot take turns.
    const limitId = row?.limitId;
    const [limit] = limitId ? yield* query((db) => db.select().from(concurrencyLimitV2).where(eq(concurrencyLimitV2.id, limitId)).for("update")) : [];
    return deploymentConcurrencySnapshot(row, limit, lease, now);
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
