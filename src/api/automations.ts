/**
 * Automations (`/automations`): create, read, replace, enable/disable, delete, list and
 * count, and the automations related to or owned by a resource, as
 * prefect/server/api/automations.py. The automation services (src/automations/service.ts)
 * evaluate their triggers and run their actions.
 */
import { Elysia, t } from "elysia";
import type { AppContext } from "../context";
import type { AutomationRow } from "../db/repos/automations";
import type { JsonObject } from "../lib/json";
import { validateJsonSchema } from "../lib/json-schema";
import { formatDateTime } from "../lib/time";
import { Enum, IdParams, Lenient, LimitOffset, Maybe } from "../schemas/common";
import {
  AutomationCreate,
  AutomationPartialUpdate,
  AutomationUpdate,
  checkAutomation,
  runDeploymentLoop,
  type NormalizedAutomation,
} from "../schemas/automations";
import { AutomationFilter } from "../schemas/filters";
import { detail, notFound, objectNotFound, validationError } from "./errors";
import { paging } from "./paging";

const AutomationSortSchema = Maybe(Enum(["CREATED_DESC", "UPDATED_DESC", "NAME_ASC", "NAME_DESC"]));

export function automationJson(row: AutomationRow) {
  return {
    id: row.id,
    created: formatDateTime(row.created),
    updated: formatDateTime(row.updated),
    name: row.name,
    description: row.description,
    enabled: row.enabled,
    tags: row.tags,
    trigger: row.trigger,
    actions: row.actions,
    actions_on_trigger: row.actionsOnTrigger,
    actions_on_resolve: row.actionsOnResolve,
  };
}

const automationNotFound = () => objectNotFound("Automation not found");

export function automationRoutes({ store, clock, config }: AppContext) {

  /** The body's trigger and actions checked and completed with Prefect's defaults (422 otherwise). */
  function checked(body: typeof AutomationUpdate.static): NormalizedAutomation {
    const { automation, issues } = checkAutomation(body);
    if (issues.length > 0) throw validationError(issues, body);
    return automation;
  }

  /**
   * Running a selected deployment with job variables is creating a flow run of it, so the
   * variables (over the pool's defaults and the deployment's own) must satisfy the pool's
   * schema, required variables included (validate_job_variables_for_run_deployment_action).
   */
  async function checkRunDeploymentJobVariables(actions: JsonObject[], options: { emptyCounts: boolean }): Promise<void> {
    const errors: string[] = [];
    for (const action of actions) {
      const jobVariables = action.job_variables as JsonObject | null;
      if (action.type !== "run-deployment" || action.deployment_id == null || jobVariables == null) continue;
      if (!options.emptyCounts && Object.keys(jobVariables).length === 0) continue;
      const deployment = await store.read((q) => q.deployments.get(action.deployment_id as string));
      if (!deployment) throw notFound("Deployment not found.");
      const pool = deployment.workPoolName ? await store.read((q) => q.workPools.poolByName(deployment.workPoolName!)) : undefined;
      const schema = (pool?.baseJobTemplate as { variables?: unknown } | undefined)?.variables;
      if (!schema || typeof schema !== "object") continue;
      const deploymentVariables = deployment.row.jobVariables ?? {};
      if (Object.keys(deploymentVariables).length === 0 && Object.keys(jobVariables).length === 0) continue;
      const failure = validateJsonSchema({ ...schemaDefaults(schema), ...deploymentVariables, ...jobVariables }, schema);
      if (failure) errors.push(failure);
    }
    if (errors.length > 0) throw detail(422, `Error creating automation: ${errors.join(" ")}`);
  }

  return new Elysia({ prefix: "/automations" })
    .post(
      "/",
      async ({ body, set }) => {
        const automation = checked(body);
        // Prefect skips an empty `job_variables` on create (but not on replace).
        await checkRunDeploymentJobVariables(automation.actions, { emptyCounts: false });
        const row = await store.write((tx) => tx.automations.create({ ...automation, ownerResource: body.owner_resource ?? null }, clock.now()));
        set.status = 201;
        return automationJson(row);
      },
      { body: AutomationCreate },
    )
    .post(
      "/filter",
      async ({ body }) => {
        const { limit, offset } = paging(body, config.defaultLimit);
        return (await store.read((q) => q.automations.list(body.automations, body.sort ?? "NAME_ASC", limit, offset))).map(automationJson);
      },
      { body: Lenient({ automations: Maybe(AutomationFilter), ...LimitOffset, sort: AutomationSortSchema }) },
    )
    .post("/count", ({ body }) => store.read((q) => q.automations.count(body?.automations)), {
      // The body may be left out altogether: everything is counted.
      body: t.Optional(Lenient({ automations: Maybe(AutomationFilter) })),
    })
    .get("/related-to/:resource_id", async ({ params }) => (await store.read((q) => q.automations.relatedTo(params.resource_id))).map(automationJson))
    .delete("/owned-by/:resource_id", async ({ params, set }) => {
      await store.write((tx) => tx.automations.deleteOwnedBy(params.resource_id, clock.now()));
      set.status = 202;
      return null;
    })
    .get(
      "/:id",
      async ({ params }) => {
        const row = await store.read((q) => q.automations.get(params.id));
        if (!row) throw automationNotFound();
        return automationJson(row);
      },
      { params: IdParams },
    )
    .put(
      "/:id",
      async ({ params, body, set }) => {
        const automation = checked(body);
        await checkRunDeploymentJobVariables(automation.actions, { emptyCounts: true });
        // Only the fields sent are written (exclude_unset); the trigger and actions always are.
        const patch: Partial<NormalizedAutomation> = {
          name: automation.name,
          trigger: automation.trigger,
          actions: automation.actions,
          ...(body.description !== undefined && { description: automation.description }),
          ...(body.enabled !== undefined && { enabled: automation.enabled }),
          ...(body.tags !== undefined && { tags: automation.tags }),
          ...(body.actions_on_trigger !== undefined && { actionsOnTrigger: automation.actionsOnTrigger }),
          ...(body.actions_on_resolve !== undefined && { actionsOnResolve: automation.actionsOnResolve }),
        };
        if (!(await store.write((tx) => tx.automations.update(params.id, patch, clock.now())))) throw automationNotFound();
        set.status = 204;
      },
      { params: IdParams, body: AutomationUpdate },
    )
    .patch(
      "/:id",
      async ({ params, body, set }) => {
        const row = await store.read((q) => q.automations.get(params.id));
        if (!row) throw automationNotFound();
        // Enabling is re-checked against the loop rule, which spares disabled automations.
        const enabled = body.enabled ?? true;
        const loop = runDeploymentLoop({ enabled, trigger: row.trigger, actions: row.actions });
        if (loop) throw validationError([{ type: "value_error", loc: ["body"], msg: `Value error, ${loop}`, input: body }], body);
        if (!(await store.write((tx) => tx.automations.update(params.id, body.enabled === undefined ? {} : { enabled }, clock.now())))) throw automationNotFound();
        set.status = 204;
      },
      { params: IdParams, body: AutomationPartialUpdate },
    )
    .delete(
      "/:id",
      async ({ params, set }) => {
        if (!(await store.write((tx) => tx.automations.delete(params.id)))) throw automationNotFound();
        set.status = 204;
      },
      { params: IdParams },
    );
}

/** The `default` of each top-level variable of a job-variables schema. */
function schemaDefaults(schema: object): JsonObject {
  const properties = (schema as { properties?: Record<string, { default?: unknown }> }).properties ?? {};
  return Object.fromEntries(
    Object.entries(properties)
      .filter(([, property]) => property && typeof property === "object" && "default" in property)
      .map(([name, property]) => [name, property.default as JsonObject[string]]),
  );
}
