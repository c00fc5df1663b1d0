/**
 * set_state in three steps, inside the caller's write transaction: load the run, its
 * current state and everything the rules may ask (deployment slots, parent run,
 * cache entry); run the policy in memory (pure, synchronous); write the validated
 * state, the run's bookkeeping and the effects the rules recorded, and stage the
 * state-change events (published once the transaction commits). Write transactions
 * are serialised, so two proposals for the same run never both win.
 */
import { and, desc, eq, gt, gte, isNull, or, sql } from "drizzle-orm";
import type { Micros } from "../../lib/time";
import {
  OrchestrationContext,
  type FlowRunSnapshot,
  type OrchestrationEffect,
  type OrchestrationResult,
  type TagLimitView,
} from "../../orchestration/context";
import { DeploymentSlotLedger, type DeploymentConcurrencySnapshot } from "../../orchestration/deployment-slots";
import { TagSlotLedger } from "../../orchestration/tag-slots";
import { orchestrate, type Policy } from "../../orchestration/engine";
import { BackgroundTaskPolicy, CoreFlowPolicy, CoreTaskPolicy, MinimalFlowPolicy, MinimalTaskPolicy } from "../../orchestration/policies";
import { GlobalFlowPolicy, GlobalTaskPolicy } from "../../orchestration/transforms";
import type { State } from "../../orchestration/states";
import type { SqliteDb } from "../client";
import { deployment, flowRun, flowRunInput, flowRunState, taskRun, taskRunState, taskRunStateCache } from "../schema";
import type { Op } from "../unit-of-work";
import type { ConcurrencyLimitRepository } from "./concurrency-limits";
import { applyDeploymentSlotEffects, applyTagSlotEffects, deploymentConcurrencySnapshot, tagLimitNames, tagLimitViews } from "./run-slots";
import type { ServerEvents } from "./server-events";
import {
  bookkeepingValues,
  flowRunSnapshot,
  stateFromRow,
  stateRowValues,
  taskRunSnapshot,
} from "./run-mapping";

export interface TransitionOptions {
  force: boolean;
  apiVersion?: string | null;
  /** The policy of an unforced flow-run transition (Prefect's `flow_policy`); CoreFlowPolicy when absent. */
  flowPolicy?: Policy<FlowRunSnapshot>;
  /** The Prefect client version from the User-Agent (deployment concurrency depends on it). */
  clientVersion?: string | null;
}

export class RunTransitions {
  private readonly flowRunById;
  private readonly taskRunById;
  private readonly flowStateById;
  private readonly taskStateById;
  private readonly flowStateTimestamps;
  private readonly taskStateTimestamps;

  constructor(
    private readonly db: SqliteDb,
    private readonly limits: ConcurrencyLimitRepository,
    private readonly events: ServerEvents,
  ) {
    const id = sql.placeholder("id");
    this.flowRunById = db.select().from(flowRun).where(eq(flowRun.id, id)).prepare();
    this.taskRunById = db.select().from(taskRun).where(eq(taskRun.id, id)).prepare();
    this.flowStateById = db.select().from(flowRunState).where(eq(flowRunState.id, id)).prepare();
    this.taskStateById = db.select().from(taskRunState).where(eq(taskRunState.id, id)).prepare();
    const runId = sql.placeholder("runId");
    const from = sql.placeholder("from");
    this.flowStateTimestamps = db
      .select({ ts: flowRunState.timestamp })
      .from(flowRunState)
      .where(and(eq(flowRunState.flowRunId, runId), gte(flowRunState.timestamp, from)))
      .prepare();
    this.taskStateTimestamps = db
      .select({ ts: taskRunState.timestamp })
      .from(taskRunState)
      .where(and(eq(taskRunState.taskRunId, runId), gte(taskRunState.timestamp, from)))
      .prepare();
  }

  /** The run's state timestamps at or after `from` (what the timestamp-uniqueness transform avoids). */
  private timestampsFrom(query: { all(values: { runId: string; from: Micros }): { ts: Micros }[] }, runId: string, from: Micros): Set<Micros> {
    return new Set(query.all({ runId, from }).map((row) => row.ts));
  }

  /** Current state of a flow run, or null. */
  private flowRunState(stateId: string | null): State | null {
    if (!stateId) return null;
    const row = this.flowStateById.get({ id: stateId });
    return row ? stateFromRow(row) : null;
  }

  private taskRunState(stateId: string | null): State | null {
    if (!stateId) return null;
    const row = this.taskStateById.get({ id: stateId });
    return row ? stateFromRow(row) : null;
  }

  /** Sets a flow-run state; null when the run does not exist.  */
  *setFlowRunState(runId: string, proposed: State, options: TransitionOptions, now: Micros): Op<OrchestrationResult | null> {
    const row = this.flowRunById.get({ id: runId });
    if (!row) return null;
    const current = this.flowRunState(row.stateId);
    const slots = row.deploymentId ? new DeploymentSlotLedger(yield* this.deploymentConcurrency(row.deploymentId, current, now), now) : null;
    const ctx = new OrchestrationContext(flowRunSnapshot(row), current, proposed, now, {
      apiVersion: options.apiVersion,
      clientVersion: options.clientVersion,
      deploymentConcurrency: slots,
      takenTimestamps: this.timestampsFrom(this.flowStateTimestamps, runId, Math.min(proposed.timestamp, now)),
    });
    orchestrate(ctx, options.force ? MinimalFlowPolicy : (options.flowPolicy ?? CoreFlowPolicy), GlobalFlowPolicy);
    const validated = ctx.validatedState;
    if (validated) {
      this.db.insert(flowRunState).values({ ...stateRowValues(validated), flowRunId: runId }).run();
    }
    this.db
      .update(flowRun)
      .set({ ...bookkeepingValues(ctx.run), ...(validated ? { stateId: validated.id } : {}), updated: now })
      .where(eq(flowRun.id, runId))
      .run();
    yield* this.applyEffects(runId, ctx.effects, options, now);
    if (slots) yield* applyDeploymentSlotEffects(this.limits, slots.effects, now);
    yield* this.events.flowRunStateChanged(runId, ctx.stateChanges);
    return { state: ctx.resultState, status: ctx.status, details: ctx.details };
  }

  /** Sets a task-run state; null when the task run does not exist.  */
  *setTaskRunState(taskRunId: string, proposed: State, options: TransitionOptions, now: Micros): Op<OrchestrationResult | null> {
    const row = this.taskRunById.get({ id: taskRunId });
    if (!row) return null;
    const parent = row.flowRunId ? this.flowRunById.get({ id: row.flowRunId }) : undefined;
    const cacheKey = proposed.state_details.cache_key;
    const tagSlots = row.tags.length > 0 ? new TagSlotLedger(yield* this.tagLimits(row.tags, now)) : null;
    const ctx = new OrchestrationContext(taskRunSnapshot(row), this.taskRunState(row.stateId), proposed, now, {
      apiVersion: options.apiVersion,
      tagConcurrency: tagSlots,
      takenTimestamps: this.timestampsFrom(this.taskStateTimestamps, taskRunId, Math.min(proposed.timestamp, now)),
      parentFlowRun: parent ? { id: parent.id, runCount: parent.runCount, state: this.flowRunState(parent.stateId) } : null,
      cachedState: !options.force && proposed.type === "RUNNING" && cacheKey ? this.cachedState(cacheKey, now) : null,
    });
    // Prefect's models.task_runs.set_task_run_state: a deferred proposal picks the background policy, even forced.
    const policy = proposed.state_details.deferred ? BackgroundTaskPolicy : options.force ? MinimalTaskPolicy : CoreTaskPolicy;
    orchestrate(ctx, policy, GlobalTaskPolicy);
    const validated = ctx.validatedState;
    if (validated) {
      this.db.insert(taskRunState).values({ ...stateRowValues(validated), taskRunId }).run();
    }
    this.db
      .update(taskRun)
      .set({ ...bookkeepingValues(ctx.run), flowRunRunCount: ctx.run.flowRunRunCount, ...(validated ? { stateId: validated.id } : {}), updated: now })
      .where(eq(taskRun.id, taskRunId))
      .run();
    yield* this.applyEffects(row.flowRunId, ctx.effects, options, now);
    if (tagSlots) yield* applyTagSlotEffects(this.limits, tagSlots.effects, now);
    const enqueue = ctx.effects.find((effect) => effect.kind === "enqueue_task_run");
    return { state: ctx.resultState, status: ctx.status, details: ctx.details, enqueue: enqueue ? { retry: enqueue.retry } : null };
  }

  /** The `tag:<tag>` limits of a task run's tags, read before the policy runs. */
  private *tagLimits(tags: string[], now: Micros): Op<TagLimitView[]> {
    return tagLimitViews(yield* this.limits.readByNames(tagLimitNames(tags)), now);
  }

  /** What the deployment-concurrency rules may ask, read before the policy runs. */
  private *deploymentConcurrency(deploymentId: string, current: State | null, now: Micros): Op<DeploymentConcurrencySnapshot> {
    const row = this.db
      .select({ limitId: deployment.concurrencyLimitId, options: deployment.concurrencyOptions })
      .from(deployment)
      .where(eq(deployment.id, deploymentId))
      .get();
    const leaseId = current?.state_details.deployment_concurrency_lease_id;
    const lease = leaseId ? yield* this.limits.readLease(leaseId) : undefined;
    const limit = row?.limitId ? yield* this.limits.get({ id: row.limitId }) : undefined;
    return deploymentConcurrencySnapshot(row, limit, lease, now);
  }

  /** Newest cache entry for the key that has not expired, as a state. */
  private cachedState(cacheKey: string, now: Micros): State | null {
    const entry = this.db
      .select({ stateId: taskRunStateCache.taskRunStateId })
      .from(taskRunStateCache)
      .where(
        and(
          eq(taskRunStateCache.cacheKey, cacheKey),
          or(isNull(taskRunStateCache.cacheExpiration), gt(taskRunStateCache.cacheExpiration, now)),
        ),
      )
      .orderBy(desc(taskRunStateCache.created))
      .limit(1)
      .get();
    return entry ? this.taskRunState(entry.stateId) : null;
  }

  private *applyEffects(flowRunId: string | null, effects: OrchestrationEffect[], options: TransitionOptions, now: Micros): Op<void> {
    for (const effect of effects) {
      switch (effect.kind) {
        case "set_parent_task_state":
          yield* this.setTaskRunState(effect.taskRunId, effect.state, { ...options, force: true }, now);
          break;
        case "insert_cache":
          this.db
            .insert(taskRunStateCache)
            .values({
              id: Bun.randomUUIDv7(),
              created: now,
              updated: now,
              cacheKey: effect.cacheKey,
              cacheExpiration: effect.cacheExpiration,
              taskRunStateId: effect.stateId,
            })
            .run();
          break;
        case "enqueue_task_run":
          break; // the caller queues the run once the transaction commits
        case "delete_flow_run_inputs":
          if (flowRunId) {
            for (const key of effect.keys) {
              this.db.delete(flowRunInput).where(and(eq(flowRunInput.flowRunId, flowRunId), eq(flowRunInput.key, key))).run();
            }
          }
          break;
      }
    }
  }
}
