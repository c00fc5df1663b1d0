/**
 * The events the server itself emits (server/models/events.py), built from plain
 * data: the data layer looks the objects up inside the transaction that changed
 * them and stages these for publication after commit.
 */
import type { JsonObject, JsonValue } from "../lib/json";
import type { Micros } from "../lib/time";
import type { State } from "../orchestration/states";
import { pythonIsoformat, truncatedTo, type Event, type Resource } from "./model";

/** Some users put error text or results into state messages; events keep at most this much. */
const TRUNCATE_STATE_MESSAGES_AT = 100_000;
/** Consecutive state changes closer than this name their predecessor in `follows`. */
const TIGHT_TIMING = 5 * 60 * 1_000_000;

export interface NamedObject {
  id: string;
  name: string;
}

export interface TaggedObject extends NamedObject {
  tags: string[];
}

export interface WorkPoolObject extends NamedObject {
  type: string;
}

export interface FlowRunSubject extends TaggedObject {
  runCount: number;
  createdBy: JsonObject | null;
}

/** What a flow-run event relates to (Prefect's _flow_run_related_resources_from_orm). */
export interface FlowRunRelations {
  flow: TaggedObject | null;
  deployment: TaggedObject | null;
  workQueue: NamedObject | null;
  workPool: WorkPoolObject | null;
  parentTaskRun: TaggedObject | null;
}

const related = (kind: string, role: string, object: NamedObject, extra: Resource = {}): Resource => ({
  "prefect.resource.id": `prefect.${kind}.${object.id}`,
  "prefect.resource.role": role,
  "prefect.resource.name": object.name,
  ...extra,
});

function workPoolRelated(pool: WorkPoolObject): Resource {
  return {
    "prefect.resource.id": `prefect.work-pool.${pool.id}`,
    "prefect.resource.name": pool.name,
    "prefect.work-pool.type": pool.type,
    "prefect.resource.role": "work-pool",
  };
}

/** The essential string parts of a state (state_payload). */
function statePayload(state: State | null): JsonObject | null {
  if (!state) return null;
  const payload: JsonObject = { type: state.type };
  if (state.name) payload.name = state.name;
  if (state.message) payload.message = truncatedTo(TRUNCATE_STATE_MESSAGES_AT, state.message);
  if (state.type === "PAUSED") payload.pause_reschedule = String(state.state_details.pause_reschedule);
  return payload;
}

/** Related resources of a flow-run event: its objects, then every tag they carry, then its creator. */
function flowRunRelated(run: FlowRunSubject, r: FlowRunRelations): Resource[] {
  const resources: Resource[] = [];
  if (r.flow) resources.push(related("flow", "flow", r.flow));
  if (r.deployment) resources.push(related("deployment", "deployment", r.deployment));
  if (r.workQueue) resources.push(related("work-queue", "work-queue", r.workQueue));
  if (r.workPool) resources.push(related("work-pool", "work-pool", r.workPool, { "prefect.work-pool.type": r.workPool.type }));
  if (r.parentTaskRun) resources.push(related("task-run", "task-run", r.parentTaskRun));
  const tags = new Set([run, r.flow, r.deployment, r.parentTaskRun].flatMap((o) => o?.tags ?? []));
  for (const tag of [...tags].sort()) resources.push({ "prefect.resource.id": `prefect.tag.${tag}`, "prefect.resource.role": "tag" });
  const creator = creatorResource(run.createdBy);
  if (creator) resources.push(creator);
  return resources;
}

/** The deployment or automation that created a run (_provenance_as_related_resources). */
function creatorResource(createdBy: JsonObject | null): Resource | null {
  const kind = createdBy?.type === "DEPLOYMENT" ? "deployment" : createdBy?.type === "AUTOMATION" ? "automation" : null;
  if (!kind || !createdBy) return null;
  const creator: Resource = { "prefect.resource.id": `prefect.${kind}.${String(createdBy.id)}`, "prefect.resource.role": "creator" };
  if (typeof createdBy.display_value === "string" && createdBy.display_value) creator["prefect.resource.name"] = createdBy.display_value;
  return creator;
}

/**
 * `prefect.flow-run.<state name>` (flow_run_state_change_event). The event id is the new
 * state's id, so a state is announced once however often it is read.
 */
export function flowRunStateChangeEvent(run: FlowRunSubject, relations: FlowRunRelations, initial: State | null, validated: State): Event {
  const occurred = validated.timestamp;
  const tight = initial !== null && Math.abs(occurred - initial.timestamp) < TIGHT_TIMING;
  return {
    id: validated.id,
    occurred,
    event: `prefect.flow-run.${validated.name}`,
    resource: {
      "prefect.resource.id": `prefect.flow-run.${run.id}`,
      "prefect.resource.name": run.name,
      "prefect.run-count": String(run.runCount),
      "prefect.state-message": truncatedTo(TRUNCATE_STATE_MESSAGES_AT, validated.message),
      "prefect.state-name": validated.name || "",
      "prefect.state-timestamp": pythonIsoformat(validated.timestamp),
      "prefect.state-type": validated.type,
    },
    related: flowRunRelated(run, relations),
    payload: {
      intended: { from: initial?.type ?? null, to: validated.type },
      initial_state: statePayload(initial),
      validated_state: statePayload(validated),
    },
    follows: tight ? initial.id : null,
  };
}

/** What a deployment event relates to (_deployment_related_resources). */
export interface DeploymentRelations {
  flow: NamedObject | null;
  workQueue: NamedObject | null;
  workPool: WorkPoolObject | null;
  storageDocumentId: string | null;
  infrastructureDocumentId: string | null;
  concurrencyLimitId: string | null;
}

function deploymentRelated(r: DeploymentRelations): Resource[] {
  const resources: Resource[] = [];
  if (r.flow) resources.push(related("flow", "flow", r.flow));
  if (r.workQueue) resources.push(related("work-queue", "work-queue", r.workQueue));
  if (r.workPool) resources.push(workPoolRelated(r.workPool));
  const byId = (kind: string, id: string | null, role: string) => {
    if (id) resources.push({ "prefect.resource.id": `prefect.${kind}.${id}`, "prefect.resource.role": role });
  };
  byId("block-document", r.storageDocumentId, "storage");
  byId("block-document", r.infrastructureDocumentId, "infrastructure");
  byId("concurrency-limit", r.concurrencyLimitId, "concurrency-limit");
  return resources;
}

export type DeploymentChange = "created" | "updated" | "deleted" | "ready" | "not-ready";

/** `prefect.deployment.<change>`; an update carries the changed fields (`{field: {from, to}}`). */
export function deploymentEvent(
  change: DeploymentChange,
  deployment: NamedObject,
  relations: DeploymentRelations,
  occurred: Micros,
  updates?: Record<string, { from: JsonValue; to: JsonValue }>,
): Event {
  return {
    id: Bun.randomUUIDv7(),
    occurred,
    event: `prefect.deployment.${change}`,
    resource: { "prefect.resource.id": `prefect.deployment.${deployment.id}`, "prefect.resource.name": deployment.name },
    related: deploymentRelated(relations),
    payload: updates ? { updated_fields: Object.keys(updates), updates } : {},
    follows: null,
  };
}

/** The resource of a work-pool lifecycle event (it carries a role, as Prefect's does). */
const workPoolResource = (pool: WorkPoolObject): Resource => workPoolRelated(pool);

export type LifecycleChange = "created" | "deleted";

/** `prefect.work-pool.created|deleted`, related to the pool's default queue. */
export function workPoolEvent(change: LifecycleChange, pool: WorkPoolObject, defaultQueueId: string | null, occurred: Micros): Event {
  return {
    id: Bun.randomUUIDv7(),
    occurred,
    event: `prefect.work-pool.${change}`,
    resource: workPoolResource(pool),
    related: defaultQueueId ? [{ "prefect.resource.id": `prefect.work-queue.${defaultQueueId}`, "prefect.resource.role": "default-queue" }] : [],
    payload: {},
    follows: null,
  };
}

const workQueueResource = (queue: NamedObject): Resource => ({
  "prefect.resource.id": `prefect.work-queue.${queue.id}`,
  "prefect.resource.name": queue.name,
  "prefect.resource.role": "work-queue",
});

/** `prefect.work-queue.created|deleted`, related to the queue's pool. */
export function workQueueEvent(change: LifecycleChange, queue: NamedObject, pool: WorkPoolObject | null, occurred: Micros): Event {
  return {
    id: Bun.randomUUIDv7(),
    occurred,
    event: `prefect.work-queue.${change}`,
    resource: workQueueResource(queue),
    related: pool ? [workPoolRelated(pool)] : [],
    payload: {},
    follows: null,
  };
}

/** A status event names its predecessor in `follows` only when that came this recently. */
const STATUS_EVENT_FOLLOWS_WITHIN = 10 * 60 * 1_000_000;

/** The pool's last status event, as the pool row keeps it. */
export interface PoolStatusEventMark {
  lastStatusEventId: string | null;
  lastStatusEventAt: Micros | null;
}

/** What a new status event `follows` (_get_recent_preceding_work_pool_event_id). */
export function precedingPoolStatusEvent(mark: PoolStatusEventMark | null, now: Micros): string | null {
  if (!mark?.lastStatusEventId || mark.lastStatusEventAt == null) return null;
  return now - mark.lastStatusEventAt < STATUS_EVENT_FOLLOWS_WITHIN ? mark.lastStatusEventId : null;
}

/** `READY` → `ready`, `NOT_READY` → `not-ready` (Prefect's in_kebab_case). */
const kebabStatus = (status: string): string => status.toLowerCase().replaceAll("_", "-");

/** `{field: {from, to}}` of the fields whose values differ, in the order of `fields`. */
export type FieldUpdates = Record<string, { from: JsonValue; to: JsonValue }>;

export function changedFields(fields: readonly string[], before: Record<string, JsonValue>, after: Record<string, JsonValue>): FieldUpdates {
  const updates: FieldUpdates = {};
  for (const field of fields) {
    if (JSON.stringify(before[field]) !== JSON.stringify(after[field])) updates[field] = { from: before[field]!, to: after[field]! };
  }
  return updates;
}

const updatesPayload = (updates: FieldUpdates): JsonObject => ({ updated_fields: Object.keys(updates), updates });

/** `prefect.work-pool.<status>` (work_pool_status_event): its resource has no role and it relates to nothing. */
export function workPoolStatusEvent(pool: WorkPoolObject & { status: string }, id: string, occurred: Micros, follows: string | null): Event {
  return {
    id,
    occurred,
    event: `prefect.work-pool.${kebabStatus(pool.status)}`,
    resource: { "prefect.resource.id": `prefect.work-pool.${pool.id}`, "prefect.resource.name": pool.name, "prefect.work-pool.type": pool.type },
    related: [],
    payload: {},
    follows,
  };
}

/** `prefect.work-pool.updated` with the fields that changed. */
export function workPoolUpdatedEvent(pool: WorkPoolObject, updates: FieldUpdates, occurred: Micros): Event {
  return { id: Bun.randomUUIDv7(), occurred, event: "prefect.work-pool.updated", resource: workPoolResource(pool), related: [], payload: updatesPayload(updates), follows: null };
}

/** `prefect.work-queue.<status>` (work_queue_status_event), related to the queue's pool. */
export function workQueueStatusEvent(queue: NamedObject & { status: string }, pool: WorkPoolObject | null, occurred: Micros): Event {
  return {
    id: Bun.randomUUIDv7(),
    occurred,
    event: `prefect.work-queue.${kebabStatus(queue.status)}`,
    resource: workQueueResource(queue),
    related: pool ? [workPoolRelated(pool)] : [],
    payload: {},
    follows: null,
  };
}

/** `prefect.work-queue.updated` with the fields that changed, related to the queue's pool. */
export function workQueueUpdatedEvent(queue: NamedObject, pool: WorkPoolObject | null, updates: FieldUpdates, occurred: Micros): Event {
  return {
    id: Bun.randomUUIDv7(),
    occurred,
    event: "prefect.work-queue.updated",
    resource: workQueueResource(queue),
    related: pool ? [workPoolRelated(pool)] : [],
    payload: updatesPayload(updates),
    follows: null,
  };
}
