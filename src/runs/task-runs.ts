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
import { RunService, type StateProposal } from "./service";

type CreateBody = Static<typeof TaskRunCreate>;

export class TaskRunService extends RunService<TaskRunWithState, TaskRunSort> {
  constructor(ctx: AppContext) {
    super(ctx, (q) => q.taskRuns, "Task run");
  }

  /** Creates a task run and forces its initial state; an existing (flow_run_id, task_key, dynamic_key) run is returned untouched. */
  create(body: CreateBody, apiVersion: string | null, initial: StateProposal | null) {
    const now = this.ctx.clock.now();
    const state = newState(initial?.type ?? "PENDING", now, initial?.init ?? {});
    return this.store.write((tx) =>
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
  }

  async rename(id: string, name: string | null): Promise<void> {
    const now = this.ctx.clock.now();
    if (!(await this.store.write((tx) => tx.taskRuns.rename(id, name, now)))) throw new NotFound("Task run not found");
  }

  async delete(id: string): Promise<void> {
    if (!(await this.store.write((tx) => tx.taskRuns.delete(id)))) throw new NotFound("Task not found");
  }
}
