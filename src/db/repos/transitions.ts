/**
 * Applies an orchestration decision to the database: loads the run and its
 * current state, runs the policy, then writes the run, the validated state and
 * the effects. Callers run these inside one immediate transaction, so two
 * proposals for the same run are serialised and never both win.
 */
import { and, desc, eq, gt, isNull, or, sql } from "drizzle-orm";
import type { Micros } from "../../lib/time";
import { OrchestrationContext, type OrchestrationEffect, type OrchestrationResult } from "../../orchestration/context";
import { orchestrate } from "../../orchestration/engine";
import { CoreFlowPolicy, CoreTaskPolicy, MinimalFlowPolicy, MinimalTaskPolicy } from "../../orchestration/policies";
import { GlobalFlowPolicy, GlobalTaskPolicy } from "../../orchestration/transforms";
import type { State } from "../../orchestration/states";
import type { SqliteDb } from "../client";
import { flowRun, flowRunInput, flowRunState, taskRun, taskRunState, taskRunStateCache } from "../schema";
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
}

export class RunTransitions {
  private readonly flowRunById;
  private readonly taskRunById;
  private readonly flowStateById;
  private readonly taskStateById;
  private readonly flowStateAt;
  private readonly taskStateAt;

  constructor(private readonly db: SqliteDb) {
    const id = sql.placeholder("id");
    this.flowRunById = db.select().from(flowRun).where(eq(flowRun.id, id)).prepare();
    this.taskRunById = db.select().from(taskRun).where(eq(taskRun.id, id)).prepare();
    this.flowStateById = db.select().from(flowRunState).where(eq(flowRunState.id, id)).prepare();
    this.taskStateById = db.select().from(taskRunState).where(eq(taskRunState.id, id)).prepare();
    const runId = sql.placeholder("runId");
    const ts = sql.placeholder("ts");
    this.flowStateAt = db
      .select({ id: flowRunState.id })
      .from(flowRunState)
      .where(and(eq(flowRunState.flowRunId, runId), eq(flowRunState.timestamp, ts)))
      .prepare();
    this.taskStateAt = db
      .select({ id: taskRunState.id })
      .from(taskRunState)
      .where(and(eq(taskRunState.taskRunId, runId), eq(taskRunState.timestamp, ts)))
      .prepare();
  }

  /** Current state of a flow run, or null. */
  flowRunState(stateId: string | null): State | null {
    if (!stateId) return null;
    const row = this.flowStateById.get({ id: stateId });
    return row ? stateFromRow(row) : null;
  }

  taskRunState(stateId: string | null): State | null {
    if (!stateId) return null;
    const row = this.taskStateById.get({ id: stateId });
    return row ? stateFromRow(row) : null;
  }

  /** Sets a flow-run state; null when the run does not exist. Must run inside a transaction. */
  setFlowRunState(runId: string, proposed: State, options: TransitionOptions, now: Micros): OrchestrationResult | null {
    const row = this.flowRunById.get({ id: runId });
    if (!row) return null;
    // Prefect's EnsureFlowRunStateTimestampIsUnique: (flow_run_id, timestamp) is unique.
    while (this.flowStateAt.get({ runId, ts: proposed.timestamp })) proposed.timestamp += 1;
    const ctx = new OrchestrationContext(flowRunSnapshot(row), this.flowRunState(row.stateId), proposed, now, {
      apiVersion: options.apiVersion,
    });
    orchestrate(ctx, options.force ? MinimalFlowPolicy : CoreFlowPolicy, GlobalFlowPolicy);
    const validated = ctx.validatedState;
    if (validated) {
      this.db.insert(flowRunState).values({ ...stateRowValues(validated), flowRunId: runId }).run();
    }
    this.db
      .update(flowRun)
      .set({ ...bookkeepingValues(ctx.run), ...(validated ? { stateId: validated.id } : {}), updated: now })
      .where(eq(flowRun.id, runId))
      .run();
    this.applyEffects(runId, ctx.effects, options, now);
    return { state: ctx.resultState, status: ctx.status, details: ctx.details };
  }

  /** Sets a task-run state; null when the task run does not exist. Must run inside a transaction. */
  setTaskRunState(taskRunId: string, proposed: State, options: TransitionOptions, now: Micros): OrchestrationResult | null {
    const row = this.taskRunById.get({ id: taskRunId });
    if (!row) return null;
    while (this.taskStateAt.get({ runId: taskRunId, ts: proposed.timestamp })) proposed.timestamp += 1;
    const parent = row.flowRunId ? this.flowRunById.get({ id: row.flowRunId }) : undefined;
    const cacheKey = proposed.state_details.cache_key;
    const ctx = new OrchestrationContext(taskRunSnapshot(row), this.taskRunState(row.stateId), proposed, now, {
      apiVersion: options.apiVersion,
      parentFlowRun: parent ? { id: parent.id, runCount: parent.runCount, state: this.flowRunState(parent.stateId) } : null,
      cachedState: !options.force && proposed.type === "RUNNING" && cacheKey ? this.cachedState(cacheKey, now) : null,
    });
    orchestrate(ctx, options.force ? MinimalTaskPolicy : CoreTaskPolicy, GlobalTaskPolicy);
    const validated = ctx.validatedState;
    if (validated) {
      this.db.insert(taskRunState).values({ ...stateRowValues(validated), taskRunId }).run();
    }
    this.db
      .update(taskRun)
      .set({ ...bookkeepingValues(ctx.run), flowRunRunCount: ctx.run.flowRunRunCount, ...(validated ? { stateId: validated.id } : {}), updated: now })
      .where(eq(taskRun.id, taskRunId))
      .run();
    this.applyEffects(row.flowRunId, ctx.effects, options, now);
    return { state: ctx.resultState, status: ctx.status, details: ctx.details };
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

  private applyEffects(flowRunId: string | null, effects: OrchestrationEffect[], options: TransitionOptions, now: Micros): void {
    for (const effect of effects) {
      switch (effect.kind) {
        case "set_parent_task_state":
          this.setTaskRunState(effect.taskRunId, effect.state, { ...options, force: true }, now);
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
