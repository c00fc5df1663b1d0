/** `POST /deployments/{id}/create_flow_run`: a run of a deployment with its parameters, tags and queue. */
import type { Static } from "elysia";
import { BadRequest, Conflict, NotFound, Unprocessable } from "../domain/errors";
import type { AppContext } from "../context";
import type { FlowRunWithState } from "../db/repos/flow-runs";
import { flowRunPolicy } from "../domain/run-policies";
import type { JsonObject } from "../lib/json";
import { validateJsonSchema } from "../lib/json-schema";
import { randomRunName } from "../lib/names";
import { newState } from "../orchestration/states";
import type { DeploymentFlowRunCreate } from "../schemas/deployments";
import { stateInit } from "../schemas/states";
import { hydrateParameters, HydrationError } from "../runs/hydration";
import { checkParameterSize } from "../runs/parameters";
import { jobVariablesFailure } from "../work-pools/job-variables";
import { resolveOrCreateQueue } from "../work-pools/service";

type Body = Static<typeof DeploymentFlowRunCreate>;

/**
 * The single route answers 409/400 with Prefect's details; the bulk route reports each item's
 * failure with the shorter texts of bulk_create_flow_runs_from_deployment.
 */
export async function createFlowRunFromDeployment(
  ctx: AppContext,
  deploymentId: string,
  body: Body,
  apiVersion: string | null,
  /** `createdBy`: the provenance Prefect records from the Prefect-Automation-ID/-Name headers (an automation's action). */
  options: { bulk?: boolean; createdBy?: JsonObject | null } = {},
): Promise<{ run: FlowRunWithState; created: boolean }> {
  const { store, clock, config } = ctx;
  checkParameterSize(body.parameters, config.maxParameterSize, body);
  const view = await store.read((q) => q.deployments.get(deploymentId));
  if (!view) throw new NotFound("Deployment not found");
  const { row } = view;
  // the request's parameters are laid over the deployment's, then hydrated
  let parameters: JsonObject;
  try {
    parameters = await hydrateParameters(ctx, { ...row.parameters, ...(body.parameters ?? {}) });
  } catch (error) {
    if (!(error instanceof HydrationError)) throw error;
    throw new BadRequest(options.bulk ? error.message : `Error hydrating flow run parameters: ${error.message}`);
  }
  if (body.enforce_parameter_schema ?? row.enforceParameterSchema) {
    const schema = row.parameterOpenapiSchema;
    if (schema === null || typeof schema !== "object") {
      throw new Conflict(
        options.bulk
          ? "Parameter schema enforcement is enabled but deployment has no valid schema."
          : "Error updating deployment: Cannot update parameters because parameter schema enforcement is enabled and the deployment does not have a valid parameter schema.",
      );
    }
    const failure = validateJsonSchema(parameters, schema);
    if (failure) throw new Conflict(options.bulk ? `Parameter validation failed: ${failure}` : `Error creating flow run: ${failure}`);
  }
  const poolName = view.workPoolName;
  // validate_job_variables_for_deployment_flow_run: a run's variables are complete, so required ones must be there
  const pool = poolName ? await store.read((q) => q.workPools.poolByName(poolName)) : undefined;
  const jobVariablesError = pool && jobVariablesFailure(pool.baseJobTemplate, [row.jobVariables, body.job_variables as JsonObject | undefined], { ignoreRequired: false });
  if (jobVariablesError) throw new Unprocessable(`Error creating flow run: ${jobVariablesError}`);
  const now = clock.now();
  if (body.work_queue_name && !poolName) {
    throw new BadRequest(options.bulk
        ? `Cannot create flow run in work queue ${body.work_queue_name} because deployment is not associated with a work pool.`
        : `Cannot create flow run in work queue ${body.work_queue_name} because deployment ${deploymentId} is not associated with a work pool. Please remove work_pool_name and try again.`,
    );
  }
  // a deployment run waits for its worker: SCHEDULED (now) unless told otherwise
  const initial = newState(body.state?.type ?? "SCHEDULED", now, body.state ? stateInit(body.state) : {});
  const { created, ...run } = await store.write(function* (tx) {
    let queue = { id: row.workQueueId, name: view.workQueueName };
    if (body.work_queue_name && poolName) {
      const resolved = yield* resolveOrCreateQueue(tx, poolName, body.work_queue_name, now);
      if (!resolved.found) throw new NotFound(resolved.detail);
      queue = { id: resolved.queueId, name: resolved.queueName };
    }
    return yield* tx.flowRuns.create(
    {
      flowId: row.flowId,
      name: body.name || randomRunName(),
      flowVersion: null,
      parameters,
      context: (body.context ?? {}) as JsonObject,
      parentTaskRunId: body.parent_task_run_id ?? null,
      infrastructureDocumentId: body.infrastructure_document_id ?? row.infrastructureDocumentId,
      empiricalPolicy: flowRunPolicy((body.empirical_policy ?? {}) as JsonObject) as unknown as JsonObject,
      tags: [...new Set([...row.tags, ...(body.tags ?? [])])],
      labels: body.labels ?? {},
      idempotencyKey: body.idempotency_key ?? null,
      deploymentId: row.id,
      deploymentVersion: row.version,
      workQueueId: queue.id,
      workQueueName: queue.name,
      jobVariables: (body.job_variables ?? {}) as JsonObject,
      createdBy: options.createdBy ?? null,
    },
    initial,
    { force: true, apiVersion },
    now,
  );
  });
  return { run, created };
}
