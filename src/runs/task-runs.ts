/** Task runs (Prefect's api/task_runs.py + models/task_runs.py): creation, rename and delete. */
import type { Static } from "elysia";
import type { AppContext } from "../context";
import type { TaskRunSort, TaskRunWithState } from "../db/repos/task-runs";
import { InvalidInput, NotFound, type ValidationIssue } from "../domain/errors";
import { taskRunPolicy } from "../domain/run-policies";
import type { JsonObject } from "../lib/json";
import { randomRunName } from "../lib/names";
import { parseDateTime } from "../lib/time";
import { newState } from "../orchestration/states";
import type { TaskRunCreate } from "../schemas/runs";
import type { TransitionOptions } from "../db/repos/transitions";
import { backgroundTasks } from "./background-tasks";
import { RunService, type SetStateOutcome, type StateProposal } from "./service";

type CreateBody = Static<typeof TaskRunCreate>;

/** Prefect's list_length_50_or_less on TaskRunPolicy.retry_delay. */
const MAX_RETRY_DELAYS = 50;

export class TaskRunService extends RunService<TaskRunWithState, TaskRunSort> {
  constructor(ctx: AppContext) {
    super(ctx, (q) => q.taskRuns, "Task run");
  }

  /** Creates a task run and forces its initial state; an existing (flow_run_id, task_key, dynamic_key) run is returned untouched. */
  async create(body: CreateBody, apiVersion: string | null, initial: StateProposal | null) {
    const issues = this.createIssues(body);
    if (issues.length > 0) throw new InvalidInput(issues, body);
    const now = this.ctx.clock.now();
    const state = newState(initial?.type ?? "PENDING", now, initial?.init ?? {});
    const created = await this.store.write((tx) =>
      tx.taskRuns.create(
        {
          id: body.id ?? null,
          name: body.name || randomRunName(),
          flowRunId: body.flow_run_id ?? null,
          taskKey: body.task_key,
          dynamicKey: body.dynamic_key,
          cacheKey: body.cache_key ?? null,
          cacheExpiration: body.cache_expiration ? parseDateTime(body.cache_expiration) : null,
          taskVersion: body.task_version ?? null,
          empiricalPolicy: taskRunPolicy(body.empirical_policy as JsonObject | undefined) as unknown as JsonObject,
          tags: body.tags ?? [],
          labels: body.labels ?? {},
          taskInputs: (body.task_inputs ?? {}) as JsonObject,
        },
        state,
        { force: true, apiVersion },
        now,
      ),
    );
    if (created.enqueue) backgroundTasks(this.ctx).queues.enqueue(created.run.taskKey, created.run.id, created.enqueue.retry);
    return created;
  }

  /** set_state, then (once committed) a deferred run that was scheduled again goes to the task workers. */
  override async setState(id: string, proposal: StateProposal, options: TransitionOptions): Promise<SetStateOutcome> {
    const outcome = await super.setState(id, proposal, options);
    const enqueue = outcome.result.enqueue;
    if (enqueue) {
      const found = await this.get(id);
      if (found) backgroundTasks(this.ctx).queues.enqueue(found.run.taskKey, id, enqueue.retry);
    }
    return outcome;
  }

  /** A name sent null or empty is replaced by a new one, as Prefect's TaskRunUpdate does; none sent keeps it. */
  async rename(id: string, name: string | null | undefined): Promise<void> {
    const now = this.ctx.clock.now();
    const newName = name === undefined ? null : name || randomRunName();
    if (!(await this.store.write((tx) => tx.taskRuns.rename(id, newName, now)))) throw new NotFound("Task run not found");
  }

  /** TaskRunCreate's validators beyond the types: retry delays, jitter factor, cache key length. */
  private createIssues(body: CreateBody): ValidationIssue[] {
    const issue = (loc: string[], msg: string, input: unknown): ValidationIssue => ({
      type: "value_error",
      loc: ["body", ...loc],
      msg: `Value error, ${msg}`,
      input,
      ctx: { error: {} },
    });
    const policy = body.empirical_policy;
    const issues: ValidationIssue[] = [];
    if (Array.isArray(policy?.retry_delay) && policy.retry_delay.length > MAX_RETRY_DELAYS) {
      issues.push(issue(["empirical_policy", "retry_delay"], `Can not configure more than ${MAX_RETRY_DELAYS} retry delays per task.`, policy.retry_delay));
    }
    if (policy?.retry_jitter_factor != null && policy.retry_jitter_factor < 0) {
      issues.push(issue(["empirical_policy", "retry_jitter_factor"], "`retry_jitter_factor` must be >= 0.", policy.retry_jitter_factor));
    }
    const maxKey = this.ctx.config.taskCacheKeyMaxLength;
    if (body.cache_key && body.cache_key.length > maxKey) {
      issues.push(issue(["cache_key"], `Cache key exceeded maximum allowed length of ${maxKey} characters.`, body.cache_key));
    }
    return issues;
  }

  async delete(id: string): Promise<void> {
    if (!(await this.store.write((tx) => tx.taskRuns.delete(id)))) throw new NotFound("Task not found");
  }
}
