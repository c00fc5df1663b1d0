/**
 * The actions of automations (prefect/server/events/actions.py), carried out with the
 * server's own domain functions instead of Prefect's loop-back HTTP client. An action
 * either succeeds, or fails with a reason (`ActionFailed`, reported in a
 * `prefect.automation.action.failed` event); any other error is a fault the actions service
 * retries.
 */
import type { AppContext } from "../context";
import { createFlowRunFromDeployment } from "../deployments/flow-runs";
import { DeploymentService } from "../deployments/service";
import { BadRequest, Conflict, DomainError, InvalidInput, NotFound, Unprocessable } from "../domain/errors";
import { eventJson, RESOURCE_ID, RESOURCE_ROLE, type ReceivedEvent, type Resource } from "../events/model";
import type { JsonObject, JsonValue } from "../lib/json";
import { isJsonObject } from "../lib/json";
import { validateJsonSchema } from "../lib/json-schema";
import { formatDateTime, type Micros } from "../lib/time";
import { newState, type State, type StateType } from "../orchestration/states";
import { allEvents, allFirings, firstResourceOfKind, idOfFirstResourceOfKind, resourceKindAndId, type TriggeredAction } from "./model";
import { hydrate, HydrationError } from "../lib/hydration";
import { maybeTemplate, namesInTemplates, tagKind, TemplateRenderError, type TemplateRenderer } from "../lib/user-templates";
import { notify, callWebhook } from "./notifications";
import { WorkPoolService } from "../work-pools/service";

export class ActionFailed extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

/** What an action leaves for its executed/failed event. */
export interface ActionOutcome {
  resultDetails: JsonObject;
  relatedResources: Resource[];
}

const SECOND = 1_000_000;

/** The HTTP status Prefect's API answers a domain error with (src/app.ts maps them the same way). */
function statusOf(error: DomainError): number {
  if (error instanceof NotFound) return 404;
  if (error instanceof Conflict) return 409;
  if (error instanceof BadRequest) return 400;
  if (error instanceof Unprocessable || error instanceof InvalidInput) return 422;
  return 500;
}

/** ExternalDataAction.reason_from_response, from the error the domain function threw. */
function reasonFromError(type: string, error: DomainError, details: JsonObject): string {
  const status = statusOf(error);
  details.status_code = status;
  if (status === 409 || status === 422) {
    const detail = error.message || null;
    if (status === 422 || detail) return `Validation error occurred for '${type}'` + (detail ? ` - ${detail}` : "");
  }
  return `Unexpected status from '${type}' action: ${status}`;
}

export class ActionExecutor {
  constructor(
    private readonly ctx: AppContext,
    private readonly templates: TemplateRenderer,
    private readonly fetcher: typeof fetch = fetch,
  ) {}

  /** Carries out the action; throws ActionFailed with Prefect's reason when it cannot. */
  async execute(triggered: TriggeredAction, outcome: ActionOutcome): Promise<void> {
    const action = triggered.action;
    const type = action.type as string;
    const details = outcome.resultDetails;
    const related = outcome.relatedResources;
    try {
      switch (type) {
        case "do-nothing":
          return;
        case "run-deployment":
          return await this.runDeployment(triggered, outcome);
        case "pause-deployment":
        case "resume-deployment": {
          const id = this.targetId(triggered, "prefect.deployment", "deployment_id", "deployment");
          related.push({ [RESOURCE_ID]: `prefect.deployment.${id}`, [RESOURCE_ROLE]: "target" });
          const service = new DeploymentService(this.ctx);
          const exists = await this.ctx.store.read((q) => q.deployments.get(id));
          if (!exists) throw new NotFound("Deployment not found");
          if (type === "pause-deployment") await service.pause(id, this.ctx.clock.now());
          else await service.resume(id, this.ctx.clock.now());
          details.status_code = 204;
          return;
        }
        case "change-flow-run-state":
        case "cancel-flow-run":
        case "suspend-flow-run":
          return await this.changeFlowRunState(triggered, outcome);
        case "resume-flow-run":
          return await this.resumeFlowRun(triggered, outcome);
        case "delete-flow-run": {
          const id = this.flowRunId(triggered);
          related.push({ [RESOURCE_ID]: `prefect.flow-run.${id}`, [RESOURCE_ROLE]: "target" });
          if (!(await this.ctx.store.write((tx) => tx.flowRuns.delete(id)))) throw new NotFound("Flow run not found");
          details.status_code = 204;
          return;
        }
        case "pause-work-pool":
        case "resume-work-pool": {
          const id = this.targetId(triggered, "prefect.work-pool", "work_pool_id", "work pool");
          const pool = await this.ctx.store.read((q) => q.workPools.poolById(id));
          if (!pool) throw new ActionFailed(`Work pool ${id} not found`);
          related.push({ [RESOURCE_ID]: `prefect.work-pool.${pool.id}`, "prefect.resource.name": pool.name, [RESOURCE_ROLE]: "target" });
          const isPaused = type === "pause-work-pool";
          await new WorkPoolService(this.ctx).updatePool(pool.id, { isPaused });
          details.status_code = 204;
          return;
        }
        case "pause-work-queue":
        case "resume-work-queue": {
          const id = this.targetId(triggered, "prefect.work-queue", "work_queue_id", "work queue");
          related.push({ [RESOURCE_ID]: `prefect.work-queue.${id}`, [RESOURCE_ROLE]: "target" });
          const isPaused = type === "pause-work-queue";
          await new WorkPoolService(this.ctx).updateQueue(id, { isPaused }, `Work Queue ${id} not found`);
          details.status_code = 204;
          return;
        }
        case "pause-automation":
        case "resume-automation": {
          const id = this.targetId(triggered, "prefect.automation", "automation_id", "automation");
          related.push({ [RESOURCE_ID]: `prefect.automation.${id}`, [RESOURCE_ROLE]: "target" });
          const enabled = type === "resume-automation";
          if (!(await this.ctx.store.write((tx) => tx.automations.update(id, { enabled }, this.ctx.clock.now())))) throw new NotFound("Automation not found");
          details.status_code = 204;
          return;
        }
        case "call-webhook":
          return await this.callWebhook(triggered, outcome);
        case "send-notification":
          return await this.sendNotification(triggered, outcome);
        default:
          throw new ActionFailed(`Unknown action type '${type}'`);
      }
    } catch (error) {
      if (error instanceof DomainError) throw new ActionFailed(reasonFromError(type, error, details));
      throw error;
    }
  }

  /** `<kind>_id_to_use`: the selected id, or the first resource of that kind in the triggering event. */
  private targetId(triggered: TriggeredAction, kind: string, field: string, noun: string): string {
    const action = triggered.action;
    if (action.source !== "inferred") return action[field] as string;
    const event = triggered.triggering_event;
    if (!event) throw new ActionFailed(`No event to infer the ${noun}`);
    const id = idOfFirstResourceOfKind(event, kind);
    if (!id) throw new ActionFailed(`No ${noun} could be inferred`);
    return id;
  }

  /** FlowRunAction.flow_run: the triggering labels' resource, else the event's first flow run. */
  private flowRunId(triggered: TriggeredAction): string {
    const labelled = triggered.triggering_labels[RESOURCE_ID];
    if (labelled) {
      const parsed = resourceKindAndId(labelled);
      if (parsed?.kind === "prefect.flow-run") return parsed.id;
    }
    const event = triggered.triggering_event;
    const id = event ? idOfFirstResourceOfKind(event, "prefect.flow-run") : null;
    if (!id) throw new ActionFailed("No flow run could be inferred");
    return id;
  }

  private async changeFlowRunState(triggered: TriggeredAction, outcome: ActionOutcome): Promise<void> {
    const action = triggered.action;
    const id = this.flowRunId(triggered);
    outcome.relatedResources.push({ [RESOURCE_ID]: `prefect.flow-run.${id}`, [RESOURCE_ROLE]: "target" });
    const now = this.ctx.clock.now();
    const automationId = triggered.automation.id;
    let proposed: State;
    if (action.type === "cancel-flow-run") proposed = newState("CANCELLING", now, { message: `Cancelled by Automation ${automationId}` });
    else if (action.type === "suspend-flow-run") {
      proposed = newState("PAUSED", now, {
        name: "Suspended",
        message: `Suspended by Automation ${automationId}`,
        state_details: { pause_timeout: now + 3600 * SECOND, pause_reschedule: true },
      });
    } else {
      proposed = newState(action.state as StateType, now, {
        name: (action.name as string | null) ?? undefined,
        message: (action.message as string | null) || `State changed by Automation ${automationId}`,
      });
    }
    const force = action.type === "change-flow-run-state" && action.force === true;
    const result = await this.ctx.store.write((tx) => tx.flowRuns.setState(id, proposed, { force }, now));
    if (!result) throw new NotFound(`Flow run with id ${id} not found`);
    outcome.resultDetails.status_code = result.state && result.state.timestamp >= now ? 201 : 200;
    if (result.details.type !== "accept_details") throw new ActionFailed(`Failed to set state: ${result.details.reason}`);
  }

  private async resumeFlowRun(triggered: TriggeredAction, outcome: ActionOutcome): Promise<void> {
    const id = this.flowRunId(triggered);
    outcome.relatedResources.push({ [RESOURCE_ID]: `prefect.flow-run.${id}`, [RESOURCE_ROLE]: "target" });
    const now = this.ctx.clock.now();
    const result = await this.ctx.store.write((tx) => tx.flowRuns.resume(id, null, validateJsonSchema, { force: false }, now));
    if (!result) throw new NotFound(`Flow run with id ${id} not found`);
    if (result.details.type !== "accept_details") throw new ActionFailed(`Failed to resume flow run: ${result.details.reason}`);
  }

  private async runDeployment(triggered: TriggeredAction, outcome: ActionOutcome): Promise<void> {
    const action = triggered.action;
    const id = this.targetId(triggered, "prefect.deployment", "deployment_id", "deployment");
    outcome.relatedResources.push({ [RESOURCE_ID]: `prefect.deployment.${id}`, [RESOURCE_ROLE]: "target" });
    const now = this.ctx.clock.now();
    const scheduled = now + Math.round(Number(action.schedule_after ?? 0) * SECOND);
    const parameters = await this.renderParameters(triggered, (action.parameters as JsonObject | null) ?? {});
    const { run } = await createFlowRunFromDeployment(
      this.ctx,
      id,
      {
        state: { type: "SCHEDULED", name: "Scheduled", state_details: { scheduled_time: formatDateTime(scheduled) } },
        parameters,
        // one flow run per invocation, however often the action is retried
        idempotency_key: `automation ${triggered.automation.id}, action ${triggered.action_index}, invocation ${triggered.id}`,
        job_variables: (action.job_variables as JsonObject | null) ?? undefined,
      },
      null,
      { createdBy: { id: triggered.automation.id, type: "AUTOMATION", display_value: triggered.automation.name } },
    );
    outcome.resultDetails.status_code = 201;
    outcome.relatedResources.push({ [RESOURCE_ID]: `prefect.flow-run.${run.run.id}`, [RESOURCE_ROLE]: "flow-run", "prefect.resource.name": run.run.name });
  }

  /** RunDeployment.render_parameters: v1 templates upgraded, then Prefect's hydration of `__prefect_kind` values. */
  private async renderParameters(triggered: TriggeredAction, parameters: JsonObject): Promise<JsonObject> {
    const upgraded = upgradeV1Templates(parameters);
    const templates: string[] = [];
    const variableNames = new Set<string>();
    collectPlaceholders(upgraded, templates, variableNames);
    const context = await this.templateContext(templates, triggered);
    const variables = variableNames.size > 0 ? await this.variables() : new Map<string, JsonValue>();
    try {
      return hydrate(upgraded, { variables, renderJinja: (template) => this.templates.render(template, context) }) as JsonObject;
    } catch (error) {
      // Prefect reports the exception's repr, which carries no detail: `InvalidJSON()`
      if (error instanceof HydrationError) throw new ActionFailed(`Unable to create flow run from deployment: ${error.pythonRepr}`);
      throw error;
    }
  }

  private async variables(): Promise<Map<string, JsonValue>> {
    const rows = await this.ctx.store.read((q) => q.variables.list(null, "NAME_ASC", 10_000, 0));
    return new Map(rows.map((row) => [row.name, row.value ?? null]));
  }

  private renderOne(template: string, context: Record<string, unknown>): string {
    try {
      return this.templates.render(template, context);
    } catch (error) {
      if (error instanceof TemplateRenderError) {
        this.lastTemplateError = { template_error: error.message, template_source: error.template };
        throw new ActionFailed(`Template rendering failed: ${error.error.name}(${JSON.stringify(error.message)})`);
      }
      throw error;
    }
  }

  private lastTemplateError: JsonObject | null = null;

  /** The result details a failed template adds (read once by the service after a failure). */
  takeTemplateError(): JsonObject | null {
    const error = this.lastTemplateError;
    this.lastTemplateError = null;
    return error;
  }

  private async callWebhook(triggered: TriggeredAction, outcome: ActionOutcome): Promise<void> {
    const block = await this.block(triggered, outcome, "webhook");
    if (block.slug !== "webhook") throw new ActionFailed("The referenced block was not a webhook block");
    const payload = this.renderOne(String(triggered.action.payload ?? ""), await this.templateContext([String(triggered.action.payload ?? "")], triggered));
    try {
      const response = await callWebhook(this.fetcher, block.data, payload);
      Object.assign(outcome.resultDetails, response);
    } catch (error) {
      throw new ActionFailed(`Webhook call failed: ${(error as Error).name}(${JSON.stringify((error as Error).message)})`);
    }
  }

  private async sendNotification(triggered: TriggeredAction, outcome: ActionOutcome): Promise<void> {
    const block = await this.block(triggered, outcome, "notification");
    const subject = String(triggered.action.subject ?? "Prefect automated notification");
    const body = String(triggered.action.body ?? "");
    const context = await this.templateContext([subject, body], triggered);
    const renderedSubject = this.renderOne(subject, context);
    const renderedBody = this.renderOne(body, context);
    const log = await notify(this.fetcher, block.slug, block.data, renderedSubject, renderedBody, block.name);
    if (log !== null) {
      outcome.resultDetails.notification_log = log;
      throw new ActionFailed(log.startsWith("The referenced block") ? log : "Notification failed");
    }
  }

  /** The block document the action names, with its secrets, and the block/block-type related resources. */
  private async block(triggered: TriggeredAction, outcome: ActionOutcome, noun: string): Promise<{ slug: string; name: string | null; data: JsonObject }> {
    const id = triggered.action.block_document_id as string;
    const record = await this.ctx.store.read((q) => q.blocks.getDocument(id));
    if (!record) {
      outcome.resultDetails.status_code = 404;
      throw new ActionFailed(`Unexpected status from '${triggered.action.type}' action: 404`);
    }
    if (noun === "notification" && !record.schema.capabilities.includes("notify")) {
      throw new ActionFailed("The referenced block was not a notification block");
    }
    outcome.relatedResources.push(
      { [RESOURCE_ID]: `prefect.block-document.${id}`, [RESOURCE_ROLE]: "block", "prefect.resource.name": record.document.name ?? "" },
      { [RESOURCE_ID]: `prefect.block-type.${record.type.slug}`, [RESOURCE_ROLE]: "block-type" },
    );
    return { slug: record.type.slug, name: record.document.name ?? null, data: record.document.data as JsonObject };
  }

  /** JinjaTemplateAction._template_context: the firing, and the objects the templates name, read from the database. */
  async templateContext(templates: string[], triggered: TriggeredAction): Promise<Record<string, unknown>> {
    const context: Record<string, unknown> = {
      automation: tagKind({ ...triggered.automation }, "prefect.automation"),
      event: triggered.triggering_event ? templateEvent(triggered.triggering_event) : null,
      labels: triggered.triggering_labels,
      firing: triggered.firing,
      firings: allFirings(triggered.firing),
      events: allEvents(triggered.firing).map(templateEvent),
    };
    const event = triggered.triggering_event;
    if (!event) return context;
    const wanted = namesInTemplates(templates, ["deployment", "flow", "flow_run", "task_run", "work_pool", "work_queue", "variables"]);
    for (const name of wanted) {
      if (name === "variables") {
        context.variables = await this.variables();
        continue;
      }
      const kind = `prefect.${name.replace("_", "-")}`;
      const resource = firstResourceOfKind(event, kind);
      const parsed = resource ? resourceKindAndId(resource[RESOURCE_ID]!) : null;
      context[name] = parsed ? await this.object(kind, parsed.id, resource!) : null;
    }
    return context;
  }

  /** The object a resource names, in the API's field names, or null when it is gone. */
  private async object(kind: string, id: string, resource: Resource): Promise<Record<string, unknown> | null> {
    const { store } = this.ctx;
    switch (kind) {
      case "prefect.flow": {
        const flow = await store.read((q) => q.flows.get(id));
        return flow ? tagKind({ id: flow.id, name: flow.name, tags: flow.tags, labels: flow.labels, created: formatDateTime(flow.created) }, kind) : null;
      }
      case "prefect.deployment": {
        const view = await store.read((q) => q.deployments.get(id));
        if (!view) return null;
        const d = view.row;
        return tagKind(
          {
            id: d.id,
            name: d.name,
            flow_id: d.flowId,
            description: d.description,
            version: d.version,
            tags: d.tags,
            parameters: d.parameters,
            paused: d.paused,
            work_pool_name: view.workPoolName,
            work_queue_name: view.workQueueName,
            job_variables: d.jobVariables,
          },
          kind,
        );
      }
      case "prefect.flow-run":
      case "prefect.task-run": {
        const found = kind === "prefect.flow-run" ? await store.read((q) => q.flowRuns.get(id)) : await store.read((q) => q.taskRuns.get(id));
        if (!found) return null;
        const run = found.run as unknown as Record<string, unknown>;
        let state = found.state ? stateView(found.state) : null;
        // The state the event reports, rather than a later one (instantiate_object).
        if (resource["prefect.state-type"] && resource["prefect.state-name"] && resource["prefect.state-timestamp"] !== undefined) {
          state = {
            type: resource["prefect.state-type"],
            name: resource["prefect.state-name"],
            message: resource["prefect.state-message"] ?? "",
            timestamp: resource["prefect.state-timestamp"],
          };
        }
        return tagKind(
          {
            id: run.id,
            name: run.name,
            flow_id: run.flowId,
            deployment_id: run.deploymentId ?? null,
            parameters: run.parameters ?? {},
            tags: run.tags,
            state_type: state?.type ?? null,
            state_name: state?.name ?? null,
            state,
            run_count: run.runCount,
            start_time: typeof run.startTime === "number" ? formatDateTime(run.startTime as Micros) : null,
            end_time: typeof run.endTime === "number" ? formatDateTime(run.endTime as Micros) : null,
            work_queue_name: run.workQueueName ?? null,
          },
          kind,
        );
      }
      case "prefect.work-pool": {
        const pool = await store.read((q) => q.workPools.poolById(id));
        return pool ? tagKind({ id: pool.id, name: pool.name, type: pool.type, description: pool.description, is_paused: pool.isPaused, status: pool.status }, kind) : null;
      }
      case "prefect.work-queue": {
        const queue = await store.read((q) => q.workPools.queueById(id));
        return queue ? tagKind({ id: queue.id, name: queue.name, description: queue.description, is_paused: queue.isPaused, priority: queue.priority, work_pool_id: queue.workPoolId }, kind) : null;
      }
      default:
        return null;
    }
  }
}

function stateView(state: State): Record<string, unknown> {
  return { id: state.id, type: state.type, name: state.name, message: state.message, timestamp: formatDateTime(state.timestamp) };
}

/** A resource as templates see it: its labels, and `id`, `name` and `role` as Prefect's Resource offers them. */
function templateResource(resource: Resource): Record<string, unknown> {
  return tagKind(
    { ...resource, id: resource[RESOURCE_ID], name: resource["prefect.resource.name"] ?? null, role: resource[RESOURCE_ROLE] ?? null },
    "resource",
  );
}

/** The event as a template sees it (Prefect's ReceivedEvent model). */
export function templateEvent(event: ReceivedEvent): Record<string, unknown> {
  const json = eventJson(event);
  return { ...json, resource: templateResource(event.resource), related: event.related.map(templateResource) };
}

/** RunDeployment._upgrade_v1_templates: plain template strings become Prefect's jinja (or json + jinja) values. */
function upgradeV1Templates(parameters: JsonObject): JsonObject {
  const wrap = (template: string): JsonObject => {
    const stripped = template.trim();
    if (stripped.startsWith("{{") && stripped.endsWith("}}") && stripped.split("{{").length === 2) {
      const inner = stripped.slice(2, -2).trim();
      return { __prefect_kind: "json", value: { __prefect_kind: "jinja", template: `{{ ${inner} | tojson }}` } };
    }
    return { __prefect_kind: "jinja", template };
  };
  const upgrade = (value: JsonObject): JsonObject => {
    if ("__prefect_kind" in value) return value;
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => {
        if (isJsonObject(item)) return [key, upgrade(item)];
        if (Array.isArray(item)) return [key, item.map((i) => (isJsonObject(i) ? upgrade(i) : typeof i === "string" && maybeTemplate(i) ? wrap(i) : i))];
        if (typeof item === "string" && maybeTemplate(item)) return [key, wrap(item)];
        return [key, item];
      }),
    );
  };
  return Object.fromEntries(
    Object.entries(parameters).map(([key, item]) => {
      if (isJsonObject(item)) return [key, "__prefect_kind" in item ? item : upgrade(item)];
      return [key, upgrade({ [key]: item })[key]!];
    }),
  );
}

function collectPlaceholders(value: JsonValue, templates: string[], variables: Set<string>): void {
  if (Array.isArray(value)) return value.forEach((v) => collectPlaceholders(v, templates, variables));
  if (!isJsonObject(value)) return;
  if (value.__prefect_kind === "jinja" && typeof value.template === "string") templates.push(value.template);
  if (value.__prefect_kind === "workspace_variable" && typeof value.variable_name === "string") variables.add(value.variable_name);
  for (const v of Object.values(value)) collectPlaceholders(v, templates, variables);
}
