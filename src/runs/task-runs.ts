/** Task runs (Prefect's api/task_runs.py + models/task_runs.py): creation, rename and delete. */
import type { Static } from "elysia";
import type { AppContext } from "../context";
import type { TaskRunSort, TaskRunWithState } from "../db/repos/task-runs";
import { NotFound } from "../domain/errors";
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

export class TaskRunService extends RunService<TaskRunWithState, TaskRunSort> {
  constructor(ctx: AppContext) {
    super(ctx, (q) => q.taskRuns, "Task run");
  }

  /** Creates a task run and forces its initial state; an existing (flow_run_id, task_key, dynamic_key) run is returned untouched. */
  async create(body: CreateBody, apiVersion: string | null, initial: StateProposal | null) {
    const now = this.ctx.clock.now();
    const state = newState(initial?.type ?? "PENDING", now, initial?.init ?? {});
    const created = await this.store.write((tx) =>
      tx.taskRuns.create(
        {
          id: body.id ?? null,
          name: body.name ?? randomRunName(),
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

  async rename(id: string, name: string | null): Promise<void> {
    const now = this.ctx.clock.now();
    if (!(await this.store.write((tx) => tx.taskRuns.rename(id, name, now)))) throw new NotFound("Task run not found");
  }

  async delete(id: string): Promise<void> {
    if (!(await this.store.write((tx) => tx.taskRuns.delete(id)))) throw new NotFound("Task not found");
  }
}
