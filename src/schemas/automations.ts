/**
 * Automation models (prefect/server/events/schemas/automations.py and events/actions.py):
 * the request bodies, and the checks and defaults of triggers and actions, which
 * return the normalized documents the server stores and answers.
 *
 * Triggers and actions are unions in Prefect; pydantic reports a failed union once per
 * branch. Here a trigger or action is checked against the branch its `type` names only,
 * and issues are located the way pydantic locates that branch's (e.g.
 * `["body", "trigger", "EventTrigger", "posture"]`).
 */
import { t } from "elysia";
import type { JsonObject, JsonValue } from "../lib/json";
import { isJsonObject } from "../lib/json";
import { validateTemplate } from "../lib/jinja-syntax";
import { UUID_RE, Maybe, Strict, Tags } from "./common";
import { canonicalUuid } from "../lib/uuid";
import { STATE_TYPES } from "../orchestration/states";
import { parseInterval } from "../schedules/duration";
import type { ValidationIssue } from "../domain/errors";

type Loc = (string | number)[];

const JsonDocument = t.Record(t.String(), t.Unsafe<JsonValue>(t.Any()));

/** The fields every full automation body has; trigger and actions are checked by `checkAutomation`. */
const automationFields = {
  name: t.String(),
  description: t.Optional(t.String()),
  enabled: t.Optional(t.Boolean()),
  tags: t.Optional(Tags),
  trigger: JsonDocument,
  actions: t.Array(JsonDocument),
  actions_on_trigger: t.Optional(t.Array(JsonDocument)),
  actions_on_resolve: t.Optional(t.Array(JsonDocument)),
};

export const AutomationCreate = Strict({ ...automationFields, owner_resource: Maybe(t.String()) });
export const AutomationUpdate = Strict(automationFields);
export const AutomationPartialUpdate = Strict({ enabled: t.Optional(t.Boolean()) });

export type AutomationBody = typeof AutomationUpdate.static;

export interface NormalizedAutomation {
  name: string;
  description: string;
  enabled: boolean;
  tags: string[];
  trigger: JsonObject;
  actions: JsonObject[];
  actionsOnTrigger: JsonObject[];
  actionsOnResolve: JsonObject[];
}

/** Collects issues while a document is read; each reader returns a usable value even after an issue. */
class Issues {
  readonly list: ValidationIssue[] = [];

  add(type: string, loc: Loc, msg: string, input: unknown): void {
    this.list.push({ type, loc, msg, input: input ?? null });
  }

  valueError(loc: Loc, message: string, input: unknown): void {
    this.add("value_error", loc, `Value error, ${message}`, input);
  }
}

// ---- field readers (pydantic's lax mode for JSON input) -------------------------------------

function readString(doc: JsonObject, key: string, loc: Loc, issues: Issues, fallback: string | null): string | null {
  const value = doc[key];
  if (value === undefined) return fallback;
  if (typeof value === "string") return value;
  issues.add("string_type", [...loc, key], "Input should be a valid string", value);
  return fallback;
}

function readOptionalString(doc: JsonObject, key: string, loc: Loc, issues: Issues): string | null {
  return doc[key] === null ? null : readString(doc, key, loc, issues, null);
}

function readRequired(doc: JsonObject, key: string, loc: Loc, issues: Issues): boolean {
  if (key in doc) return true;
  issues.add("missing", [...loc, key], "Field required", doc);
  return false;
}

function readUuid(doc: JsonObject, key: string, loc: Loc, issues: Issues): string | null {
  const value = doc[key];
  if (value == null) return null;
  if (typeof value === "string" && UUID_RE.test(value)) return canonicalUuid(value);
  issues.add("uuid_parsing", [...loc, key], "Input should be a valid UUID", value);
  return null;
}

/** A required `UUID` field (not Optional): null is pydantic's uuid_type error. */
function readRequiredUuid(doc: JsonObject, key: string, loc: Loc, issues: Issues): string | null {
  if (!readRequired(doc, key, loc, issues)) return null;
  if (doc[key] === null) {
    issues.add("uuid_type", [...loc, key], "UUID input should be a string, bytes or UUID object", null);
    return null;
  }
  return readUuid(doc, key, loc, issues);
}

function readBoolean(doc: JsonObject, key: string, loc: Loc, issues: Issues, fallback: boolean): boolean {
  const value = doc[key];
  if (value === undefined) return fallback;
  if (typeof value === "boolean") return value;
  issues.add("bool_type", [...loc, key], "Input should be a valid boolean", value);
  return fallback;
}

function readInteger(doc: JsonObject, key: string, loc: Loc, issues: Issues, fallback: number): number {
  const value = doc[key];
  if (value === undefined) return fallback;
  if (typeof value === "number" && Number.isInteger(value)) return value;
  issues.add("int_type", [...loc, key], "Input should be a valid integer", value);
  return fallback;
}

function readDict(doc: JsonObject, key: string, loc: Loc, issues: Issues): JsonObject | null {
  const value = doc[key];
  if (value == null) return null;
  if (isJsonObject(value)) return value;
  issues.add("dict_type", [...loc, key], "Input should be a valid dictionary", value);
  return null;
}

/** A timedelta field, answered as float seconds (Prefect serializes timedeltas as seconds). */
function readDuration(value: JsonValue, loc: Loc, issues: Issues): number | null {
  const parsed = parseInterval(value);
  if (parsed.ok) return parsed.micros / 1_000_000;
  issues.add(parsed.type, loc, parsed.msg, value);
  return null;
}

/** `Set[str]` fields: a list of strings, each kept once. */
function readStringSet(doc: JsonObject, key: string, loc: Loc, issues: Issues): string[] {
  const value = doc[key];
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    issues.add("set_type", [...loc, key], "Input should be a valid set", value);
    return [];
  }
  const out: string[] = [];
  value.forEach((item, i) => {
    if (typeof item !== "string") issues.add("string_type", [...loc, key, i], "Input should be a valid string", item);
    else if (!out.includes(item)) out.push(item);
  });
  return out;
}

/** A ResourceSpecification: labels to a value or a list of values. */
function readResourceSpecification(value: JsonValue, loc: Loc, issues: Issues): JsonObject {
  if (!isJsonObject(value)) {
    issues.add("dict_type", loc, "Input should be a valid dictionary", value);
    return {};
  }
  for (const [label, expected] of Object.entries(value)) {
    const ok = typeof expected === "string" || (Array.isArray(expected) && expected.every((v) => typeof v === "string"));
    if (!ok) issues.add("string_type", [...loc, label], "Input should be a valid string", expected);
  }
  return value;
}

// ---- triggers -------------------------------------------------------------------------------

const TRIGGER_LABELS: Record<string, string> = {
  event: "EventTrigger",
  compound: "function-after[validate_require(), function-after[validate_require(), CompoundTrigger]]",
  sequence: "SequenceTrigger",
};

/** Prefect's minimum window for Proactive triggers. */
const PROACTIVE_MIN_WITHIN_SECONDS = 10;

function readTrigger(value: JsonValue, loc: Loc, issues: Issues): JsonObject {
  if (!isJsonObject(value)) {
    issues.add("model_type", loc, "Input should be a valid dictionary or instance of EventTrigger", value);
    return {};
  }
  const type = value.type ?? "event";
  const label = typeof type === "string" ? TRIGGER_LABELS[type] : undefined;
  if (!label) {
    issues.add(
      "union_tag_invalid",
      loc,
      `Input tag ${JSON.stringify(type)} found using 'type' does not match any of the expected tags: 'event', 'compound', 'sequence'`,
      value,
    );
    return value;
  }
  const at = [...loc, label];
  // Prefect assigns new ids to every trigger of an automation it stores (reset_ids).
  const id = crypto.randomUUID();
  if (type === "event") return readEventTrigger(value, id, at, issues);
  const triggers = readRequired(value, "triggers", at, issues) ? readChildTriggers(value.triggers, [...at, "triggers"], issues) : [];
  const within = readRequired(value, "within", at, issues) && value.within !== null ? readDuration(value.within!, [...at, "within"], issues) : null;
  if (type === "sequence") return { type, id, triggers, within };
  let require: JsonValue = "any";
  if (readRequired(value, "require", at, issues)) {
    require = value.require!;
    if (typeof require === "number" && Number.isInteger(require)) {
      if (require < 1) issues.valueError(at, "require must be at least 1", value);
      else if (require > triggers.length) issues.valueError(at, "require must be less than or equal to the number of triggers", value);
    } else if (require !== "any" && require !== "all") {
      issues.add("literal_error", [...at, "require"], "Input should be 'any' or 'all'", require);
    }
  }
  return { type, id, triggers, within, require };
}

function readChildTriggers(value: JsonValue | undefined, loc: Loc, issues: Issues): JsonObject[] {
  if (!Array.isArray(value)) {
    issues.add("list_type", loc, "Input should be a valid list", value);
    return [];
  }
  return value.map((child, i) => readTrigger(child, [...loc, i], issues));
}

function readEventTrigger(doc: JsonObject, id: string, loc: Loc, issues: Issues): JsonObject {
  const match = doc.match === undefined ? {} : readResourceSpecification(doc.match, [...loc, "match"], issues);
  const related = doc.match_related;
  const matchRelated: JsonValue =
    related === undefined
      ? {}
      : Array.isArray(related)
        ? related.map((spec, i) => readResourceSpecification(spec, [...loc, "match_related", i], issues))
        : readResourceSpecification(related, [...loc, "match_related"], issues);
  const after = readStringSet(doc, "after", loc, issues);
  const expect = readStringSet(doc, "expect", loc, issues);
  const forEach = readStringSet(doc, "for_each", loc, issues);
  let posture: JsonValue = null;
  if (readRequired(doc, "posture", loc, issues)) {
    posture = doc.posture!;
    if (posture !== "Reactive" && posture !== "Proactive") {
      issues.add("literal_error", [...loc, "posture"], "Input should be 'Reactive' or 'Proactive'", posture);
    }
  }
  const threshold = readInteger(doc, "threshold", loc, issues, 1);
  let within = 0;
  if (doc.within === null) {
    issues.valueError(loc, "`within` should be a valid timedelta", doc);
  } else if (doc.within !== undefined) {
    within = readDuration(doc.within, [...loc, "within"], issues) ?? 0;
    if (within < 0) issues.add("greater_than_equal", [...loc, "within"], "Input should be greater than or equal to 0", doc.within);
  }
  if (posture === "Proactive") {
    if (within === 0) within = PROACTIVE_MIN_WITHIN_SECONDS;
    else if (within < PROACTIVE_MIN_WITHIN_SECONDS) {
      issues.valueError(loc, "`within` for Proactive triggers must be greater than or equal to 10 seconds", doc);
    }
  }
  return { type: "event", id, match, match_related: matchRelated, after, expect, for_each: forEach, posture, threshold, within };
}

// ---- actions --------------------------------------------------------------------------------

/** Actions aimed at a deployment, work pool, work queue or automation: the id field each names. */
const TARGET_FIELDS: Record<string, [field: string, validator: string]> = {
  "run-deployment": ["deployment_id", "selected_deployment_requires_id"],
  "pause-deployment": ["deployment_id", "selected_deployment_requires_id"],
  "resume-deployment": ["deployment_id", "selected_deployment_requires_id"],
  "pause-work-queue": ["work_queue_id", "selected_work_queue_requires_id"],
  "resume-work-queue": ["work_queue_id", "selected_work_queue_requires_id"],
  "pause-work-pool": ["work_pool_id", "selected_work_pool_requires_id"],
  "resume-work-pool": ["work_pool_id", "selected_work_pool_requires_id"],
  "pause-automation": ["automation_id", "selected_automation_requires_id"],
  "resume-automation": ["automation_id", "selected_automation_requires_id"],
};

const ACTION_CLASSES: Record<string, string> = {
  "do-nothing": "DoNothing",
  "run-deployment": "RunDeployment",
  "pause-deployment": "PauseDeployment",
  "resume-deployment": "ResumeDeployment",
  "cancel-flow-run": "CancelFlowRun",
  "delete-flow-run": "DeleteFlowRun",
  "change-flow-run-state": "ChangeFlowRunState",
  "pause-work-queue": "PauseWorkQueue",
  "resume-work-queue": "ResumeWorkQueue",
  "send-notification": "SendNotification",
  "call-webhook": "CallWebhook",
  "pause-automation": "PauseAutomation",
  "resume-automation": "ResumeAutomation",
  "suspend-flow-run": "SuspendFlowRun",
  "resume-flow-run": "ResumeFlowRun",
  "pause-work-pool": "PauseWorkPool",
  "resume-work-pool": "ResumeWorkPool",
};

const ACTION_TYPES = Object.keys(ACTION_CLASSES);

/** pydantic's location label for an action class (model validators wrap the class name). */
function actionLabel(type: string): string {
  const target = TARGET_FIELDS[type];
  const name = ACTION_CLASSES[type]!;
  return target ? `function-after[${target[1]}(), ${name}]` : name;
}

function checkTemplate(value: string, field: string, loc: Loc, issues: Issues): void {
  const error = validateTemplate(value);
  if (error) issues.valueError([...loc, field], `'${field}' is not a valid template: ${error.message}`, value);
}

function readAction(value: JsonValue, loc: Loc, issues: Issues): JsonObject {
  if (!isJsonObject(value)) {
    issues.add("model_type", loc, "Input should be a valid dictionary", value);
    return {};
  }
  const type = value.type;
  if (typeof type !== "string" || !ACTION_CLASSES[type]) {
    const expected = ACTION_TYPES.map((tag) => `'${tag}'`).join(", ");
    if (type === undefined) issues.add("union_tag_not_found", loc, "Unable to extract tag using discriminator 'type'", value);
    else issues.add("union_tag_invalid", loc, `Input tag ${JSON.stringify(type)} found using 'type' does not match any of the expected tags: ${expected}`, value);
    return value;
  }
  const at = [...loc, actionLabel(type)];
  const action: JsonObject = { type };

  const target = TARGET_FIELDS[type];
  if (target) {
    const [field] = target;
    const source = value.source ?? "selected";
    if (source !== "selected" && source !== "inferred") issues.add("literal_error", [...at, "source"], "Input should be 'selected' or 'inferred'", source);
    const targetId = readUuid(value, field, at, issues);
    action.source = source;
    action[field] = targetId;
    if ((source === "selected") !== (targetId !== null)) issues.valueError(at, `${field} is ${targetId !== null ? "not allowed" : "required"}`, value);
  }

  switch (type) {
    case "run-deployment": {
      action.parameters = readDict(value, "parameters", at, issues);
      action.job_variables = readDict(value, "job_variables", at, issues);
      const after = value.schedule_after === undefined ? 0 : readDuration(value.schedule_after, [...at, "schedule_after"], issues);
      if (after !== null && after < 0) issues.valueError([...at, "schedule_after"], "schedule_after must be non-negative", value.schedule_after);
      action.schedule_after = after ?? 0;
      break;
    }
    case "change-flow-run-state": {
      action.name = readOptionalString(value, "name", at, issues);
      if (readRequired(value, "state", at, issues) && !(STATE_TYPES as readonly JsonValue[]).includes(value.state!)) {
        const expected = STATE_TYPES.map((s) => `'${s}'`);
        issues.add("enum", [...at, "state"], `Input should be ${expected.slice(0, -1).join(", ")} or ${expected.at(-1)}`, value.state);
      }
      action.state = value.state ?? null;
      action.message = readOptionalString(value, "message", at, issues);
      action.force = readBoolean(value, "force", at, issues, false);
      break;
    }
    case "send-notification": {
      action.block_document_id = readRequiredUuid(value, "block_document_id", at, issues);
      const subject = readString(value, "subject", at, issues, "Prefect automated notification") ?? "";
      checkTemplate(subject, "subject", at, issues);
      action.subject = subject;
      if (readRequired(value, "body", at, issues)) {
        const body = readString(value, "body", at, issues, "") ?? "";
        checkTemplate(body, "body", at, issues);
        action.body = body;
      }
      break;
    }
    case "call-webhook": {
      action.block_document_id = readRequiredUuid(value, "block_document_id", at, issues);
      // Older UIs send the payload as an object: Prefect stores it as indented JSON text.
      const raw = value.payload;
      if (raw === null) issues.add("string_type", [...at, "payload"], "Input should be a valid string", raw);
      const payload = raw == null ? "" : typeof raw === "string" ? raw : JSON.stringify(raw, null, 2);
      if (payload) checkTemplate(payload, "payload", at, issues);
      action.payload = payload;
      break;
    }
  }
  return action;
}

function readActions(value: JsonObject[] | undefined, loc: Loc, issues: Issues): JsonObject[] {
  return (value ?? []).map((action, i) => readAction(action, [...loc, i], issues));
}

// ---- the automation -------------------------------------------------------------------------

/** Flow-run state events every deployment run goes through (prevent_run_deployment_loops). */
const LOOPING_EVENTS = ["prefect.flow-run.Scheduled", "prefect.flow-run.Pending", "prefect.flow-run.Running", "prefect.flow-run.*"];

/** ResourceSpecification.matches_every_resource_of_kind. */
function matchesEveryResourceOfKind(spec: JsonValue, prefix: string): boolean {
  if (!isJsonObject(spec)) return false;
  const labels = Object.keys(spec);
  if (labels.length === 0) return true;
  if (labels.length !== 1) return false;
  const resourceId = spec["prefect.resource.id"];
  if (!resourceId) return false;
  const values = typeof resourceId === "string" ? [resourceId] : Array.isArray(resourceId) ? resourceId : [];
  return values.some((value) => value === `${prefix}.*`);
}

/** Prefect's check that an enabled reactive automation cannot run deployments in an endless loop; the message, or null. */
export function runDeploymentLoop(automation: Pick<NormalizedAutomation, "enabled" | "trigger" | "actions">): string | null {
  const { trigger } = automation;
  if (!automation.enabled || trigger.type !== "event" || trigger.posture !== "Reactive") return null;
  const expect = (trigger.expect as string[] | undefined) ?? [];
  if (!expect.some((event) => event.startsWith("prefect.flow-run."))) return null;
  if (!expect.some((event) => LOOPING_EVENTS.includes(event))) return null;
  for (const action of automation.actions) {
    if (action.type !== "run-deployment") continue;
    if (action.source === "inferred") {
      return (
        "Running an inferred deployment from a flow run state change event will lead to an infinite loop of flow runs.  " +
        "Please choose a specific deployment and add additional filtering labels to the match or match_related for this automation's trigger."
      );
    }
    if (action.source === "selected" && matchesEveryResourceOfKind(trigger.match ?? {}, "prefect.flow-run")) {
      const related = trigger.match_related ?? {};
      const specs = Array.isArray(related) ? related : [related];
      if (specs.some((spec) => matchesEveryResourceOfKind(spec, "prefect.flow-run"))) {
        return (
          "Running a selected deployment from a flow run state change event may lead to an infinite loop of flow runs.  " +
          "Please include additional filtering labels on either match or match_related to narrow down which flow runs will " +
          "trigger this automation to exclude flow runs from the deployment you've selected."
        );
      }
    }
  }
  return null;
}

/**
 * Checks a full automation body (create or replace) and fills Prefect's defaults;
 * `issues` is empty when it is valid.
 */
export function checkAutomation(body: AutomationBody): { automation: NormalizedAutomation; issues: ValidationIssue[] } {
  const issues = new Issues();
  const automation: NormalizedAutomation = {
    name: body.name,
    description: body.description ?? "",
    enabled: body.enabled ?? true,
    tags: body.tags ?? [],
    trigger: readTrigger(body.trigger as JsonObject, ["body", "trigger"], issues),
    actions: readActions(body.actions as JsonObject[], ["body", "actions"], issues),
    actionsOnTrigger: readActions(body.actions_on_trigger as JsonObject[] | undefined, ["body", "actions_on_trigger"], issues),
    actionsOnResolve: readActions(body.actions_on_resolve as JsonObject[] | undefined, ["body", "actions_on_resolve"], issues),
  };
  if (issues.list.length === 0) {
    const loop = runDeploymentLoop(automation);
    if (loop) issues.valueError(["body"], loop, body);
  }
  return { automation, issues: issues.list };
}
