/**
 * Deployment writes (api/deployments.py + models/deployments.py): validation,
 * work-queue resolution, schedules, the deployment concurrency limit and the
 * clean-up of stale auto-scheduled runs, each write in one transaction.
 */
import type { Static } from "elysia";
import { BadRequest, Conflict, InvalidInput, NotFound, Unprocessable, type ValidationIssue } from "../domain/errors";
import type { AppContext } from "../context";
import type { DeploymentScheduleRow, DeploymentValues, ScheduleInsert, SchedulePatch } from "../db/repos/deployments";
import type { FlowRunWithState } from "../db/repos/flow-runs";
import type { WriteTx } from "../db/store";
import type { Op } from "../db/unit-of-work";
import { NO_PROVENANCE, type Provenance } from "../domain/provenance";
import { DEFAULT_AGENT_POOL } from "../domain/work-pool-status";
import type { JsonObject, JsonValue } from "../lib/json";
import { validateJsonSchema } from "../lib/json-schema";
import type { Micros } from "../lib/time";
import { normalizeSchedule, validateSchedule, type ScheduleModel } from "../schedules/schemas";
import type { DeploymentCreate, DeploymentScheduleCreate, DeploymentScheduleUpdate, DeploymentUpdate } from "../schemas/deployments";
import type { WorkQueueRow } from "../db/repos/work-pools";
import { hydrateParameters, HydrationError } from "../runs/hydration";
import { checkParameterSize } from "../runs/parameters";
import { jobVariablesFailure } from "../work-pools/job-variables";
import { ensureLegacyQueue, resolveOrCreateQueue } from "../work-pools/service";

type CreateBody = Static<typeof DeploymentCreate>;
type UpdateBody = Static<typeof DeploymentUpdate>;
type ScheduleCreateBody = Static<typeof DeploymentScheduleCreate>;
type ScheduleUpdateBody = Static<typeof DeploymentScheduleUpdate>;


/** Validates and normalises a schedule object, or returns pydantic-style issues under `loc`. */
export function parseSchedule(input: unknown, loc: (string | number)[], now: Micros): ScheduleModel | ValidationIssue[] {
  const result = validateSchedule(input, now);
  if (!result.ok) return result.issues.map((issue) => ({ ...issue, loc: [...loc, ...issue.loc] }));
  return normalizeSchedule(result.schedule, now);
}

/** PREFECT_SERVER_DEPLOYMENT_SCHEDULE_MAX_SCHEDULED_RUNS */
export const MAX_SCHEDULED_RUNS_PER_SCHEDULE = 50;

/** validate_schedule_max_scheduled_runs (DeploymentScheduleCreate/Update), as a pydantic issue at `loc`. */
export function maxScheduledRunsIssue(value: number | null | undefined, loc: (string | number)[]): ValidationIssue | null {
  if (value == null || value <= MAX_SCHEDULED_RUNS_PER_SCHEDULE) return null;
  return {
    type: "value_error",
    loc,
    msg: `Value error, \`max_scheduled_runs\` must be less than or equal to ${MAX_SCHEDULED_RUNS_PER_SCHEDULE}.`,
    input: value,
  };
}

/**
 * Schedules of a request, validated; throws Prefect's 422 listing every bad one. `locOf(i)` is
 * where the i-th schedule sits in the body (`["body", "schedules", i]` in a deployment).
 */
export function scheduleInserts(
  schedules: (ScheduleCreateBody | ScheduleUpdateBody)[],
  now: Micros,
  requestBody: unknown,
  locOf: (index: number) => (string | number)[] = (i) => ["body", "schedules", i],
): ScheduleInsert[] {
  const issues: ValidationIssue[] = [];
  const inserts: ScheduleInsert[] = [];
  schedules.forEach((s, i) => {
    if (s.schedule == null) return;
    const parsed = parseSchedule(s.schedule, [...locOf(i), "schedule"], now);
    if (Array.isArray(parsed)) return void issues.push(...parsed);
    const tooMany = maxScheduledRunsIssue(s.max_scheduled_runs, [...locOf(i), "max_scheduled_runs"]);
    if (tooMany) return void issues.push(tooMany);
    inserts.push({
      schedule: parsed as unknown as JsonObject,
      active: s.active ?? true,
      maxScheduledRuns: s.max_scheduled_runs ?? null,
      parameters: (s.parameters ?? {}) as JsonObject,
      slug: s.slug ?? null,
    });
  });
  if (issues.length > 0) throw new InvalidInput(issues, requestBody);
  return inserts;
}

export class DeploymentService {
  constructor(private readonly ctx: AppContext) {}

  private get store() {
    return this.ctx.store;
  }

  /** Creates or updates the deployment named (flow_id, name); answers whether it was created. */
  /** `provenance`: who creates it (the creator is kept on a later upsert, the updater replaced). */
  async upsert(body: CreateBody, provenance: Provenance = NO_PROVENANCE): Promise<{ id: string; created: boolean }> {
    const now = this.ctx.clock.now();
    checkParameterSize(body.parameters, this.ctx.config.maxParameterSize, body);
    if (body.concurrency_limit && body.global_concurrency_limit_id) {
      throw new InvalidInput(
        [{ type: "value_error", loc: ["body"], msg: "Value error, A deployment cannot have both a concurrency limit and a global concurrency limit.", input: body }],
        body,
      );
    }
    const schedules = scheduleInserts(body.schedules ?? [], now, body);
    // DeploymentCreate's `mode="before"` validator reads the raw body: only an explicit true enforces here
    const enforce = body.enforce_parameter_schema === true;
    if (enforce && body.parameter_openapi_schema && body.parameters) {
      const failure = validateJsonSchema(body.parameters, body.parameter_openapi_schema, { ignoreRequired: true });
      if (failure) throw new InvalidInput([{ type: "value_error", loc: ["body"], msg: `Value error, ${failure}`, input: body }], body);
    }
    return this.store.write((tx) => this.upsertIn(tx, body, schedules, provenance, now));
  }

  private *upsertIn(
    tx: WriteTx,
    body: CreateBody,
    schedules: ScheduleInsert[],
    provenance: Provenance,
    now: Micros,
  ): Op<{ id: string; created: boolean }> {
    if (body.work_pool_name && body.work_pool_name !== DEFAULT_AGENT_POOL) {
      yield* this.requirePoolAndValidJobVariables(tx, body.work_pool_name, body.job_variables, "creating");
    }
    if (body.global_concurrency_limit_id && !(yield* tx.deployments.concurrencyLimitExists(body.global_concurrency_limit_id))) {
      throw new NotFound("Concurrency limit not found");
    }
    yield* this.requireBlockDocument(tx, body.infrastructure_document_id, "infrastructure block");
    yield* this.requireBlockDocument(tx, body.storage_document_id, "storage block");
    const queue = yield* this.queueFor(tx, body.work_pool_name, body.work_queue_name, now);
    const flowLabels = yield* tx.deployments.flowLabels(body.flow_id);
    const values: DeploymentValues = {
      ...this.commonValues(body),
      ...(queue && { workQueueId: queue.id }),
      ...(queue?.name != null && body.work_queue_name == null && body.work_pool_name != null && { workQueueName: queue.name }),
      labels: { ...(flowLabels ?? {}), "prefect.flow.id": body.flow_id, ...(body.labels ?? {}) },
    };
    const existing = yield* tx.deployments.idByName(body.flow_id, body.name);
    const before = existing ? yield* tx.serverEvents.deploymentSnapshot(existing) : null;
    const result = yield* tx.deployments.upsert(body.flow_id, body.name, { ...values, updatedBy: provenance.updatedBy }, provenance.createdBy, now);
    yield* tx.deployments.deleteScheduledRuns(result.id, { autoScheduledOnly: true, futureOnly: true }, now);
    yield* tx.deployments.replaceSchedules(result.id, schedules, now);
    if (body.concurrency_limit !== undefined) yield* tx.deployments.setConcurrencyLimit(result.id, body.concurrency_limit, now);
    yield* tx.serverEvents.deploymentWritten(result.id, before, now);
    return result;
  }

  /** update_deployment hydrates the parameters it stores (workspace variables, JSON, templates). */
  private async hydrated(parameters: JsonObject): Promise<JsonObject> {
    try {
      return await hydrateParameters(this.ctx, parameters);
    } catch (error) {
      if (error instanceof HydrationError) throw new BadRequest(`Error hydrating deployment parameters: ${error.message}`);
      throw error;
    }
  }

  /** PATCH: only the keys present are applied; schedules with slugs are patched in place. */
  async update(id: string, body: UpdateBody): Promise<void> {
    const now = this.ctx.clock.now();
    const existing = await this.store.read((q) => q.deployments.get(id));
    checkParameterSize(body.parameters, this.ctx.config.maxParameterSize, body);
    if (!existing) throw new NotFound("Deployment not found.");
    const plan = this.schedulePlan(existing.schedules.map((s) => s.slug), body.schedules, now, body);
    if (body.concurrency_limit && body.global_concurrency_limit_id) {
      throw new InvalidInput(
        [{ type: "value_error", loc: ["body"], msg: "Value error, A deployment cannot have both a concurrency limit and a global concurrency limit.", input: body }],
        body,
      );
    }
    // api/deployments.py update_deployment checks the resulting parameters on every PATCH while enforcing,
    // against the new schema when one (non-empty) is sent, else the stored one
    const enforce = body.enforce_parameter_schema ?? existing.row.enforceParameterSchema;
    if (body.parameters != null) body = { ...body, parameters: await this.hydrated(body.parameters as JsonObject) };
    const parameters = body.parameters ?? existing.row.parameters;
    if (enforce) {
      const sent = body.parameter_openapi_schema;
      const schema = sent && Object.keys(sent).length > 0 ? sent : existing.row.parameterOpenapiSchema;
      if (schema === null || typeof schema !== "object") {
        throw new Conflict(
          "Error updating deployment: Cannot update parameters because parameter schema enforcement is enabled and the deployment does not have a valid parameter schema.",
        );
      }
      const failure = validateJsonSchema(parameters, schema, { ignoreRequired: true });
      if (failure) throw new Conflict(`Error updating deployment: ${failure}`);
    }
    await this.store.write((tx) => this.updateIn(tx, id, body, plan, now));
  }

  private *updateIn(tx: WriteTx, id: string, body: UpdateBody, plan: SchedulePlan, now: Micros): Op<void> {
    if (body.work_pool_name) yield* this.requirePoolAndValidJobVariables(tx, body.work_pool_name, body.job_variables, "updating");
    if (body.global_concurrency_limit_id && !(yield* tx.deployments.concurrencyLimitExists(body.global_concurrency_limit_id))) {
      throw new NotFound("Concurrency limit not found");
    }
    const values: DeploymentValues = this.commonValues(body);
    if (body.work_pool_name) {
      values.workQueueId = (yield* this.queueFor(tx, body.work_pool_name, body.work_queue_name, now))!.id;
    } else if (body.work_pool_name === null) {
      values.workQueueId = null;
    } else if (body.work_queue_name) {
      values.workQueueId = (yield* ensureLegacyQueue(tx, body.work_queue_name, now)).id;
    }
    const before = yield* tx.serverEvents.deploymentSnapshot(id);
    yield* tx.deployments.update(id, values, now);
    yield* tx.deployments.deleteScheduledRuns(id, { autoScheduledOnly: true, futureOnly: true }, now);
    if (plan.kind === "replace") yield* tx.deployments.replaceSchedules(id, plan.schedules, now);
    if (plan.kind === "targeted") yield* this.applyTargetedSchedules(tx, id, plan, now);
    if (body.concurrency_limit !== undefined) yield* tx.deployments.setConcurrencyLimit(id, body.concurrency_limit, now);
    // a deployment deleted since it was read above has nothing to announce
    if (before) yield* tx.serverEvents.deploymentWritten(id, before, now);
  }

  /** The columns shared by create and update, for the keys present in the body. */
  private commonValues(body: CreateBody | UpdateBody): DeploymentValues {
    const v: DeploymentValues = {};
    const set = <K extends keyof DeploymentValues>(key: K, value: DeploymentValues[K] | undefined) => {
      if (value !== undefined) v[key] = value;
    };
    set("version", body.version);
    set("description", body.description);
    set("paused", body.paused ?? undefined);
    set("concurrencyOptions", body.concurrency_options as JsonObject | null | undefined);
    set("concurrencyLimitId", body.global_concurrency_limit_id);
    set("enforceParameterSchema", body.enforce_parameter_schema ?? undefined);
    set("parameterOpenapiSchema", body.parameter_openapi_schema as JsonObject | null | undefined);
    set("parameters", (body.parameters ?? undefined) as JsonObject | undefined);
    set("tags", body.tags);
    set("pullSteps", body.pull_steps as JsonValue[] | null | undefined);
    set("workQueueName", body.work_queue_name);
    set("storageDocumentId", body.storage_document_id);
    set("infrastructureDocumentId", body.infrastructure_document_id);
    set("path", body.path);
    set("entrypoint", body.entrypoint);
    set("jobVariables", (body.job_variables ?? undefined) as JsonObject | undefined);
    set("versionInfo", body.version_info as JsonObject | null | undefined);
    if ("labels" in body && body.labels != null) v.labels = body.labels;
    return v;
  }

  private *requirePoolAndValidJobVariables(tx: WriteTx, poolName: string, jobVariables: JsonObject | null | undefined, verb: "creating" | "updating"): Op<void> {
    const pool = yield* tx.workPools.poolByName(poolName);
    if (!pool) throw new NotFound(`Work pool "${poolName}" not found.`);
    if (!jobVariables || Object.keys(jobVariables).length === 0) return;
    const failure = jobVariablesFailure(pool.baseJobTemplate, [jobVariables], { ignoreRequired: true });
    if (!failure) return;
    // create: validate_job_variables_for_deployment (422); update: check_valid_configuration (409, "creating" as Prefect words it)
    if (verb === "creating") throw new Unprocessable(`Error creating deployment: ${failure}`);
    throw new Conflict(`Error creating deployment: ${failure}`);
  }

  private *requireBlockDocument(tx: WriteTx, id: string | null | undefined, what: string): Op<void> {
    if (id == null || (yield* tx.blocks.documentExists(id))) return;
    throw new Conflict(
      `Error creating deployment. Could not find ${what} with id: ${id}. This usually occurs when applying a deployment specification that was built against a different Prefect database / workspace.`,
    );
  }

  /** The queue a deployment's pool/queue names lead to (created when missing), or null for neither. */
  private *queueFor(tx: WriteTx, poolName: string | null | undefined, queueName: string | null | undefined, now: Micros): Op<{ id: string; name: string } | null> {
    if (poolName) {
      const resolved = yield* resolveOrCreateQueue(tx, poolName, queueName ?? null, now);
      if (!resolved.found) throw new NotFound(resolved.detail);
      return { id: resolved.queueId, name: resolved.queueName };
    }
    if (queueName) {
      const queue = yield* ensureLegacyQueue(tx, queueName, now);
      return { id: queue.id, name: queue.name };
    }
    return null;
  }

  /**
   * Prefect's PATCH schedule rules: when every existing and provided schedule has a
   * slug, schedules are patched by slug (`replaces` renames); when existing ones have
   * slugs but provided ones don't, 422; otherwise the given list replaces them all.
   */
  private schedulePlan(existingSlugs: (string | null)[], provided: ScheduleUpdateBody[] | undefined, now: Micros, body: unknown): SchedulePlan {
    if (provided === undefined) return { kind: "none" };
    const allProvidedHaveSlugs = provided.every((s) => s.slug != null);
    const allExistingHaveSlugs = existingSlugs.length > 0 && existingSlugs.every((s) => s !== null);
    if (!(allProvidedHaveSlugs && allExistingHaveSlugs)) {
      if (allExistingHaveSlugs) {
        throw new Unprocessable("Please provide a slug for each schedule in your request to ensure schedules are updated correctly.");
      }
      return { kind: "replace", schedules: scheduleInserts(provided, now, body) };
    }
    const current = new Set(existingSlugs as string[]);
    const replaced = new Map<string, string>();
    for (const s of provided) {
      if (!s.replaces) continue;
      if (replaced.has(s.replaces)) throw new Unprocessable(`Multiple schedules have 'replaces' targeting the same slug: ${s.replaces}`);
      replaced.set(s.replaces, s.slug ?? "");
    }
    for (const s of provided) {
      if (s.slug && current.has(s.slug) && !replaced.has(s.slug) && s.replaces) {
        throw new Unprocessable(`Cannot rename schedule from '${s.replaces}' to '${s.slug}': a schedule with slug '${s.slug}' already exists.`);
      }
    }
    const patches: { target: string; renames: boolean; patch: SchedulePatch }[] = [];
    const creates: ScheduleUpdateBody[] = [];
    provided.forEach((s, i) => {
      const target = s.replaces ?? s.slug!;
      if (current.has(target)) {
        const patch: SchedulePatch = {};
        if (s.schedule != null) {
          const parsed = parseSchedule(s.schedule, ["body", "schedules", i, "schedule"], now);
          if (Array.isArray(parsed)) throw new InvalidInput(parsed, body);
          patch.schedule = parsed as unknown as JsonObject;
        }
        if (s.active != null) patch.active = s.active;
        const tooMany = maxScheduledRunsIssue(s.max_scheduled_runs, ["body", "schedules", i, "max_scheduled_runs"]);
        if (tooMany) throw new InvalidInput([tooMany], body);
        if (s.max_scheduled_runs !== undefined) patch.maxScheduledRuns = s.max_scheduled_runs;
        if (s.parameters !== undefined) patch.parameters = s.parameters as JsonObject;
        if (s.slug != null) patch.slug = s.slug;
        patches.push({ target, renames: s.replaces != null, patch });
      } else if (s.schedule) {
        creates.push(s);
      } else {
        throw new Unprocessable("Unable to create new deployment schedules without a schedule configuration.");
      }
    });
    return { kind: "targeted", patches, creates: scheduleInserts(creates, now, body) };
  }

  private *applyTargetedSchedules(tx: WriteTx, id: string, plan: Extract<SchedulePlan, { kind: "targeted" }>, now: Micros): Op<void> {
    // Renames first free their old slugs so the (deployment_id, slug) index never sees two at once.
    const renamed = new Map<string, string>();
    for (const p of plan.patches.filter((p) => p.renames)) {
      const scheduleId = yield* tx.deployments.scheduleIdBySlug(id, p.target);
      if (!scheduleId) throw new NotFound(`Schedule with slug '${p.target}' no longer exists.`);
      renamed.set(p.target, scheduleId);
    }
    yield* tx.deployments.clearScheduleSlugs(id, [...renamed.keys()]);
    for (const p of plan.patches) {
      const key = p.renames ? { id: renamed.get(p.target)! } : { slug: p.target };
      yield* tx.deployments.updateSchedule(id, key, p.patch, now);
    }
    yield* tx.deployments.createSchedules(id, plan.creates, now);
  }

  // ------------------------------------------------------------ schedules and runners

  /** `flow.serve()` runners: due runs of their deployments, and a poll that marks those deployments READY. */
  scheduledRunsForRunners(deploymentIds: string[], scheduledBefore: Micros | null, limit: number, now: Micros): Promise<FlowRunWithState[]> {
    return this.store.write(function* (tx) {
      const ids = yield* tx.deployments.scheduledRunIds(deploymentIds, scheduledBefore, limit);
      yield* tx.deployments.markPolled(deploymentIds, now);
      const runs: FlowRunWithState[] = [];
      for (const id of ids) runs.push((yield* tx.flowRuns.get(id))!);
      return runs;
    });
  }

  /** api/deployments.py pause_deployment: paused = True (no PATCH validation), then every auto-scheduled run that never ran goes. */
  pause(id: string, now: Micros): Promise<void> {
    return this.store.write(function* (tx) {
      yield* tx.deployments.update(id, { paused: true }, now);
      yield* tx.deployments.deleteScheduledRuns(id, { autoScheduledOnly: true, futureOnly: false }, now);
    });
  }

  /** api/deployments.py resume_deployment only sets paused = False (its runs are left alone). */
  async resume(id: string, now: Micros): Promise<void> {
    await this.store.write((tx) => tx.deployments.update(id, { paused: false }, now));
  }

  /**
   * The work queues whose legacy tag filter would pick up the deployment's runs (Prefect's
   * deprecated work_queue_check): all of the queue's filter tags are the deployment's, and
   * its deployment ids, if any, name the deployment. A queue without a filter picks up anything.
   */
  workQueuesFor(id: string): Promise<WorkQueueRow[]> {
    return this.store.read(function* (q) {
      const view = yield* q.deployments.get(id);
      if (!view) throw new NotFound("Deployment not found");
      const tags = new Set(view.row.tags);
      return (yield* q.workPools.allQueues()).filter((queue) => {
        const filter = (queue.filter ?? {}) as { tags?: string[] | null; deployment_ids?: string[] | null };
        const deploymentIds = filter.deployment_ids ?? [];
        return (filter.tags ?? []).every((tag) => tags.has(tag)) && (deploymentIds.length === 0 || deploymentIds.includes(id));
      });
    });
  }

  createSchedules(id: string, inserts: ScheduleInsert[], now: Micros): Promise<DeploymentScheduleRow[]> {
    return this.store.write(function* (tx) {
      const created = yield* tx.deployments.createSchedules(id, inserts, now);
      yield* tx.deployments.touch(id, now);
      return created;
    });
  }

  /** False when the schedule does not exist. Future auto-scheduled runs are regenerated from the changed schedule. */
  updateSchedule(id: string, scheduleId: string, patch: SchedulePatch, now: Micros): Promise<boolean> {
    return this.store.write(function* (tx) {
      if (!(yield* tx.deployments.updateSchedule(id, { id: scheduleId }, patch, now))) return false;
      yield* tx.deployments.deleteScheduledRuns(id, { autoScheduledOnly: true, futureOnly: true }, now);
      yield* tx.deployments.touch(id, now);
      return true;
    });
  }

  /** False when the schedule does not exist (api/deployments.py delete_deployment_schedule: auto_scheduled_only, not future_only). */
  deleteSchedule(id: string, scheduleId: string, now: Micros): Promise<boolean> {
    return this.store.write(function* (tx) {
      if (!(yield* tx.deployments.deleteSchedule(id, scheduleId))) return false;
      yield* tx.deployments.deleteScheduledRuns(id, { autoScheduledOnly: true, futureOnly: false }, now);
      return true;
    });
  }
}

type SchedulePlan =
  | { kind: "none" }
  | { kind: "replace"; schedules: ScheduleInsert[] }
  | { kind: "targeted"; patches: { target: string; renames: boolean; patch: SchedulePatch }[]; creates: ScheduleInsert[] };

