/**
 * Flow runs (Prefect's api/flow_runs.py + models/flow_runs.py): creation with its
 * parameter-size and work-queue rules, updates, bulk changes, resume, run inputs and the
 * reads behind the run graph. Each write is one transaction.
 */
import type { Static } from "elysia";
import type { AppContext } from "../context";
import type { FlowRunPatch, FlowRunSort, FlowRunWithState } from "../db/repos/flow-runs";
import type { TaskRunWithState } from "../db/repos/task-runs";
import type { TransitionOptions } from "../db/repos/transitions";
import { BadRequest, Conflict, InvalidInput, NotFound, Unprocessable } from "../domain/errors";
import { flowRunPolicy } from "../domain/run-policies";
import type { JsonObject } from "../lib/json";
import { validateJsonSchema } from "../lib/json-schema";
import { randomRunName } from "../lib/names";
import { parseDateTime } from "../lib/time";
import { newState } from "../orchestration/states";
import type { RunFilterSet } from "../schemas/filters";
import type { FlowRunCreate, FlowRunUpdate } from "../schemas/runs";
import { jobVariablesFailure } from "../work-pools/job-variables";
import { resolveQueue } from "../work-pools/service";
import { hydrateParameters, HydrationError } from "./hydration";
import { checkParameterSize } from "./parameters";
import { RunService, type SetStateOutcome, type StateProposal } from "./service";

type CreateBody = Static<typeof FlowRunCreate>;
type UpdateBody = Static<typeof FlowRunUpdate>;

/** Prefect caps bulk deletes and bulk state changes at 50 runs a request. */
const MAX_BULK = 50;
/** Task runs read per query while collecting a run graph. */
const GRAPH_PAGE_SIZE = 1_000;

export interface BulkSetStateResult {
  flowRunId: string;
  /** Null when the run was deleted between the selection and its transition. */
  outcome: SetStateOutcome | null;
}

export class FlowRunService extends RunService<FlowRunWithState, FlowRunSort> {
  constructor(ctx: AppContext) {
    super(ctx, (q) => q.flowRuns, "Flow run");
  }

  /** Creates a run and forces its initial state; an existing (flow_id, idempotency_key) run is returned untouched. */
  async create(
    body: CreateBody,
    versions: Pick<TransitionOptions, "apiVersion" | "clientVersion">,
    initial: StateProposal | null,
    createdBy: JsonObject | null,
  ) {
    const params = body.parameters ?? {};
    checkParameterSize(params, this.ctx.config.maxParameterSize, body);
    const now = this.ctx.clock.now();
    const init = initial?.init ?? {};
    const nextScheduled = body.next_scheduled_start_time ? parseDateTime(body.next_scheduled_start_time) : null;
    if (initial?.type === "SCHEDULED" && nextScheduled != null && init.state_details?.scheduled_time == null) {
      init.state_details = { ...init.state_details, scheduled_time: nextScheduled };
    }
    const state = newState(initial?.type ?? "PENDING", now, init);
    return this.store.write(function* (tx) {
      const queue = body.work_pool_name ? yield* resolveQueue(tx, body.work_pool_name, body.work_queue_name ?? null) : null;
      if (queue && !queue.found) throw new NotFound(queue.detail);
      return yield* tx.flowRuns.create(
        {
          flowId: body.flow_id,
          name: body.name || randomRunName(),
          flowVersion: body.flow_version ?? null,
          parameters: params,
          context: body.context ?? {},
          parentTaskRunId: body.parent_task_run_id ?? null,
          infrastructureDocumentId: body.infrastructure_document_id ?? null,
          empiricalPolicy: flowRunPolicy(body.empirical_policy as JsonObject | undefined) as unknown as JsonObject,
          tags: body.tags ?? [],
          labels: body.labels ?? {},
          idempotencyKey: body.idempotency_key ?? null,
          deploymentId: body.deployment_id ?? null,
          workQueueId: queue?.found ? queue.queueId : null,
          workQueueName: queue?.found ? queue.queueName : (body.work_queue_name ?? null),
          deploymentVersion: null,
          jobVariables: body.job_variables ?? {},
          createdBy,
        },
        state,
        { force: true, ...versions },
        now,
      );
    });
  }

  async update(id: string, body: UpdateBody): Promise<void> {
    checkParameterSize(body.parameters, this.ctx.config.maxParameterSize, body);
    const patch: FlowRunPatch = {
      // Prefect's FlowRunUpdate names a run sent with a null or empty name afresh.
      ...("name" in body && { name: body.name || randomRunName() }),
      ...(body.flow_version !== undefined && { flowVersion: body.flow_version }),
      ...(body.parameters !== undefined && { parameters: body.parameters }),
      ...(body.empirical_policy !== undefined && {
        empiricalPolicy: flowRunPolicy(body.empirical_policy as JsonObject) as unknown as JsonObject,
      }),
      ...(body.tags !== undefined && { tags: body.tags }),
      ...(body.infrastructure_pid !== undefined && { infrastructurePid: body.infrastructure_pid }),
      ...(body.job_variables != null && { jobVariables: body.job_variables }),
    };
    const now = this.ctx.clock.now();
    const updated = await this.store.write(function* (tx) {
      if (body.job_variables != null) {
        // Job variables only change while a deployment run waits to be picked up.
        const run = yield* tx.flowRuns.get(id);
        if (!run) throw new NotFound("Flow run not found");
        if (!run.state) throw new BadRequest("Flow run state is required to update job variables but none exists");
        if (run.state.type !== "SCHEDULED") throw new BadRequest(`Job variables for a flow run in state ${run.state.type} cannot be updated`);
        const deployment = run.run.deploymentId ? yield* tx.deployments.get(run.run.deploymentId) : undefined;
        if (!deployment) throw new BadRequest("A deployment for the flow run could not be found");
        // validate_job_variables_for_deployment_flow_run: the deployment's variables, then these, complete
        const pool = deployment.workPoolName ? yield* tx.workPools.poolByName(deployment.workPoolName) : undefined;
        const failure = pool && jobVariablesFailure(pool.baseJobTemplate, [deployment.row.jobVariables, body.job_variables], { ignoreRequired: false });
        if (failure) throw new Unprocessable(`Error updating flow run: ${failure}`);
      }
      return yield* tx.flowRuns.update(id, patch, now);
    });
    if (!updated) throw new NotFound("Flow run not found");
  }

  async delete(id: string): Promise<void> {
    if (!(await this.store.write((tx) => tx.flowRuns.delete(id)))) throw new NotFound("Flow run not found");
  }

  async mergeLabels(id: string, labels: JsonObject): Promise<void> {
    const now = this.ctx.clock.now();
    if (!(await this.store.write((tx) => tx.flowRuns.mergeLabels(id, labels, now)))) throw new NotFound("Flow run not found");
  }

  bulkDelete(filters: RunFilterSet, limit: number | null | undefined, body: unknown): Promise<string[]> {
    const max = bulkLimit(limit, body);
    return this.store.write((tx) => tx.flowRuns.bulkDelete(filters, max));
  }

  /** Orchestrates the proposal for each matching run, each in its own transaction, as Prefect does. */
  async bulkSetState(filters: RunFilterSet, proposal: StateProposal, options: TransitionOptions, limit: number | null | undefined, body: unknown) {
    const ids = await this.store.read((q) => q.flowRuns.ids(filters, bulkLimit(limit, body)));
    const results: BulkSetStateResult[] = [];
    for (const flowRunId of ids) {
      const now = this.ctx.clock.now();
      const proposed = newState(proposal.type, now, proposal.init);
      const result = await this.store.write((tx) => tx.flowRuns.setState(flowRunId, proposed, options, now));
      results.push({ flowRunId, outcome: result && this.outcome(result, now) });
    }
    return results;
  }

  /** Resumes a paused run, validating its input against the schema the pause stored. */
  async resume(id: string, runInput: JsonObject | null, options: TransitionOptions): Promise<SetStateOutcome> {
    const current = await this.get(id);
    const state = current?.state;
    // Input for a pause that asked for some is hydrated first; a placeholder that fails rejects the resume.
    if (state?.type === "PAUSED" && state.state_details.run_input_keyset) {
      try {
        runInput = await hydrateParameters(this.ctx, runInput ?? {});
      } catch (error) {
        if (!(error instanceof HydrationError)) throw error;
        const reason = `Error hydrating run input: ${error.message}`;
        return { result: { state, status: "REJECT", details: { type: "abort_details", reason } }, created: false };
      }
    }
    const now = this.ctx.clock.now();
    const result = await this.store.write((tx) => tx.flowRuns.resume(id, runInput, validateJsonSchema, options, now));
    if (!result) throw new NotFound(`Flow run with id ${id} not found`, "exception_message");
    return this.outcome(result, now);
  }

  lateness(filters: RunFilterSet): Promise<number | null> {
    const now = this.ctx.clock.now();
    return this.store.read((q) => q.flowRuns.averageLateness(filters, now));
  }

  // Run inputs (pause/suspend with input, send_input/receive_input).

  async createInput(id: string, key: string, value: string, sender: string | null, body: unknown): Promise<void> {
    if (!/^[a-z0-9-]*$/.test(key)) {
      const msg = "Value error, Key must only contain lowercase letters, numbers, and dashes.";
      throw new InvalidInput([{ type: "value_error", loc: ["body", "key"], msg, input: key }], body);
    }
    const now = this.ctx.clock.now();
    const outcome = await this.store.write((tx) => tx.flowRuns.createInput(id, key, value, sender, now));
    if (outcome === "missing_run") throw new NotFound("Flow run not found");
    if (outcome === "duplicate") throw new Conflict("A flow run input with this key already exists.");
  }

  filterInputs(id: string, prefix: string, limit: number, excludeKeys: string[]) {
    return this.store.read((q) => q.flowRuns.filterInputs(id, prefix, limit, excludeKeys));
  }

  async readInput(id: string, key: string) {
    const row = await this.store.read((q) => q.flowRuns.readInput(id, key));
    if (!row) throw new NotFound("Flow run input not found");
    return row;
  }

  async deleteInput(id: string, key: string): Promise<void> {
    if (!(await this.store.write((tx) => tx.flowRuns.deleteInput(id, key)))) throw new NotFound("Flow run input not found");
  }

  // What the run graphs and the log download read.

  /** Every task run of the flow run, read page by page so no single read holds the database long. */
  async taskRunsOf(id: string): Promise<TaskRunWithState[]> {
    if (!(await this.store.read((q) => q.flowRuns.exists(id)))) throw new NotFound(`Flow run with id ${id} not found`, "exception_message");
    const taskRuns: TaskRunWithState[] = [];
    for (let beforeId: string | null = null; ; ) {
      const page = await this.store.read((q) => q.taskRuns.pageOfFlowRun(id, beforeId, GRAPH_PAGE_SIZE));
      taskRuns.push(...page);
      if (page.length < GRAPH_PAGE_SIZE) return taskRuns;
      beforeId = page[page.length - 1]!.run.id;
    }
  }

  /** What graph-v2 draws: the run, up to `maxNodes + 1` task runs (so the caller can tell "too many"), subflows and states. */
  async graphRows(id: string, maxNodes: number) {
    const run = await this.get(id);
    if (!run) throw new NotFound("Flow run not found");
    return this.store.read(function* (q) {
      return {
        run,
        taskRuns: yield* q.taskRuns.list({ flow_runs: { id: { any_: [id] } } }, "ID_DESC", maxNodes + 1, 0),
        subflows: yield* q.flowRuns.subflowsByParentTask(id),
        states: yield* q.flowRuns.states(id),
      };
    });
  }

  async logs(id: string) {
    if (!(await this.store.read((q) => q.flowRuns.exists(id)))) throw new NotFound("Flow run not found");
    return this.store.read((q) => q.logs.forFlowRun(id));
  }
}

function bulkLimit(limit: number | null | undefined, body: unknown): number {
  const value = limit ?? MAX_BULK;
  if (value < 1 || value > MAX_BULK) {
    throw new InvalidInput([{ type: "value_error", loc: ["body", "limit"], msg: "Input should be between 1 and 50", input: value }], body);
  }
  return value;
}
