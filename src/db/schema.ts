/**
 * SQLite schema. Instants are integer microseconds since the epoch (UTC);
 * durations are integer microseconds; JSON documents are TEXT.
 * A PostgreSQL schema would live beside this file with the same table shapes.
 */
import { sql } from "drizzle-orm";
import { index, integer, real, sqliteTable, text, uniqueIndex, type AnySQLiteColumn } from "drizzle-orm/sqlite-core";
import type { JsonObject, JsonValue } from "../lib/json";

const id = () => text("id").primaryKey();
const created = () => integer("created").notNull();
const updated = () => integer("updated").notNull();
const json = <T>(name: string) => text(name, { mode: "json" }).$type<T>();
const instant = (name: string) => integer(name);

export const flow = sqliteTable("flow", {
  id: id(),
  created: created(),
  updated: updated(),
  name: text("name").notNull().unique(),
  tags: json<string[]>("tags").notNull(),
  labels: json<JsonObject>("labels").notNull(),
});

export const flowRun = sqliteTable(
  "flow_run",
  {
    id: id(),
    created: created(),
    updated: updated(),
    name: text("name").notNull(),
    flowId: text("flow_id").notNull().references(() => flow.id, { onDelete: "cascade" }),
    stateId: text("state_id"),
    deploymentId: text("deployment_id"),
    deploymentVersion: text("deployment_version"),
    workQueueId: text("work_queue_id"),
    workQueueName: text("work_queue_name"),
    flowVersion: text("flow_version"),
    parameters: json<JsonObject>("parameters").notNull(),
    idempotencyKey: text("idempotency_key"),
    context: json<JsonObject>("context").notNull(),
    empiricalPolicy: json<JsonObject>("empirical_policy").notNull(),
    tags: json<string[]>("tags").notNull(),
    labels: json<JsonObject>("labels").notNull(),
    parentTaskRunId: text("parent_task_run_id").references((): AnySQLiteColumn => taskRun.id, { onDelete: "set null" }),
    stateType: text("state_type"),
    stateName: text("state_name"),
    stateTimestamp: instant("state_timestamp"),
    runCount: integer("run_count").notNull().default(0),
    expectedStartTime: instant("expected_start_time"),
    nextScheduledStartTime: instant("next_scheduled_start_time"),
    startTime: instant("start_time"),
    endTime: instant("end_time"),
    totalRunTime: integer("total_run_time").notNull().default(0),
    autoScheduled: integer("auto_scheduled", { mode: "boolean" }).notNull().default(false),
    infrastructureDocumentId: text("infrastructure_document_id"),
    infrastructurePid: text("infrastructure_pid"),
    createdBy: json<JsonObject | null>("created_by"),
    jobVariables: json<JsonObject | null>("job_variables"),
  },
  (t) => [
    uniqueIndex("uq_flow_run__flow_id_idempotency_key").on(t.flowId, t.idempotencyKey),
    index("ix_flow_run__flow_id").on(t.flowId),
    // the scheduler's "future runs of this deployment" and deployment clean-ups
    index("ix_flow_run__deployment_id_state_type_next_scheduled").on(t.deploymentId, t.stateType, t.nextScheduledStartTime),
    // worker polling: a queue's SCHEDULED runs in scheduled-time order
    index("ix_flow_run__work_queue_id_state_type_next_scheduled").on(t.workQueueId, t.stateType, t.nextScheduledStartTime),
    // late runs and the scheduler's "future runs of this deployment"
    index("ix_flow_run__state_type_next_scheduled").on(t.stateType, t.nextScheduledStartTime),
    index("ix_flow_run__parent_task_run_id").on(t.parentTaskRunId),
    index("ix_flow_run__state_type").on(t.stateType),
    index("ix_flow_run__expected_start_time").on(t.expectedStartTime),
    index("ix_flow_run__next_scheduled_start_time").on(t.nextScheduledStartTime),
    index("ix_flow_run__start_time").on(t.startTime),
    // START_TIME sorts and start_time filters use COALESCE(start_time, expected_start_time), as Prefect does
    index("ix_flow_run__coalesce_start_time_id").on(sql`COALESCE(start_time, expected_start_time) DESC`, sql`id DESC`),
    index("ix_flow_run__end_time").on(t.endTime),
    index("ix_flow_run__name").on(t.name),
  ],
);

const stateColumns = {
  id: id(),
  created: created(),
  updated: updated(),
  type: text("type").notNull(),
  name: text("name").notNull(),
  timestamp: instant("timestamp").notNull(),
  message: text("message"),
  data: json<JsonValue>("data"),
  stateDetails: json<JsonObject>("state_details").notNull(),
};

export const flowRunState = sqliteTable(
  "flow_run_state",
  {
    ...stateColumns,
    flowRunId: text("flow_run_id").notNull().references(() => flowRun.id, { onDelete: "cascade" }),
  },
  (t) => [uniqueIndex("uq_flow_run_state__flow_run_id_timestamp").on(t.flowRunId, t.timestamp)],
);

export const taskRun = sqliteTable(
  "task_run",
  {
    id: id(),
    created: created(),
    updated: updated(),
    name: text("name").notNull(),
    flowRunId: text("flow_run_id").references((): AnySQLiteColumn => flowRun.id, { onDelete: "cascade" }),
    taskKey: text("task_key").notNull(),
    dynamicKey: text("dynamic_key").notNull(),
    cacheKey: text("cache_key"),
    cacheExpiration: instant("cache_expiration"),
    taskVersion: text("task_version"),
    empiricalPolicy: json<JsonObject>("empirical_policy").notNull(),
    tags: json<string[]>("tags").notNull(),
    labels: json<JsonObject>("labels").notNull(),
    stateId: text("state_id"),
    taskInputs: json<JsonObject>("task_inputs").notNull(),
    stateType: text("state_type"),
    stateName: text("state_name"),
    stateTimestamp: instant("state_timestamp"),
    runCount: integer("run_count").notNull().default(0),
    flowRunRunCount: integer("flow_run_run_count").notNull().default(0),
    expectedStartTime: instant("expected_start_time"),
    nextScheduledStartTime: instant("next_scheduled_start_time"),
    startTime: instant("start_time"),
    endTime: instant("end_time"),
    totalRunTime: integer("total_run_time").notNull().default(0),
  },
  (t) => [
    uniqueIndex("uq_task_run__flow_run_id_task_key_dynamic_key").on(t.flowRunId, t.taskKey, t.dynamicKey),
    index("ix_task_run__flow_run_id").on(t.flowRunId),
    index("ix_task_run__state_type").on(t.stateType),
    index("ix_task_run__expected_start_time").on(t.expectedStartTime),
    index("ix_task_run__name").on(t.name),
  ],
);

export const taskRunState = sqliteTable(
  "task_run_state",
  {
    ...stateColumns,
    taskRunId: text("task_run_id").notNull().references(() => taskRun.id, { onDelete: "cascade" }),
  },
  (t) => [uniqueIndex("uq_task_run_state__task_run_id_timestamp").on(t.taskRunId, t.timestamp)],
);

export const taskRunStateCache = sqliteTable(
  "task_run_state_cache",
  {
    id: id(),
    created: created(),
    updated: updated(),
    cacheKey: text("cache_key").notNull(),
    cacheExpiration: instant("cache_expiration"),
    taskRunStateId: text("task_run_state_id").notNull(),
  },
  (t) => [index("ix_task_run_state_cache__cache_key_created").on(t.cacheKey, t.created)],
);

export const flowRunInput = sqliteTable(
  "flow_run_input",
  {
    id: id(),
    created: created(),
    updated: updated(),
    flowRunId: text("flow_run_id").notNull().references(() => flowRun.id, { onDelete: "cascade" }),
    key: text("key").notNull(),
    value: text("value").notNull(),
    sender: text("sender"),
  },
  (t) => [uniqueIndex("uq_flow_run_input__flow_run_id_key").on(t.flowRunId, t.key)],
);

export const log = sqliteTable(
  "log",
  {
    id: id(),
    created: created(),
    updated: updated(),
    name: text("name").notNull(),
    level: integer("level").notNull(),
    flowRunId: text("flow_run_id"),
    taskRunId: text("task_run_id"),
    message: text("message").notNull(),
    timestamp: instant("timestamp").notNull(),
  },
  (t) => [
    index("ix_log__flow_run_id_timestamp").on(t.flowRunId, t.timestamp),
    index("ix_log__task_run_id").on(t.taskRunId),
    index("ix_log__timestamp").on(t.timestamp),
  ],
);

export const variable = sqliteTable("variable", {
  id: id(),
  created: created(),
  updated: updated(),
  name: text("name").notNull().unique(),
  value: json<JsonValue>("value"),
  tags: json<string[]>("tags").notNull(),
});

export const blockType = sqliteTable("block_type", {
  id: id(),
  created: created(),
  updated: updated(),
  name: text("name").notNull(),
  slug: text("slug").notNull().unique(),
  logoUrl: text("logo_url"),
  documentationUrl: text("documentation_url"),
  description: text("description"),
  codeExample: text("code_example"),
  isProtected: integer("is_protected", { mode: "boolean" }).notNull().default(false),
});

export const blockSchema = sqliteTable(
  "block_schema",
  {
    id: id(),
    created: created(),
    updated: updated(),
    checksum: text("checksum").notNull(),
    fields: json<JsonObject>("fields").notNull(),
    blockTypeId: text("block_type_id").notNull().references(() => blockType.id, { onDelete: "cascade" }),
    capabilities: json<string[]>("capabilities").notNull(),
    version: text("version").notNull(),
  },
  (t) => [
    uniqueIndex("uq_block_schema__checksum_version").on(t.checksum, t.version),
    index("ix_block_schema__block_type_id").on(t.blockTypeId),
  ],
);

export const blockDocument = sqliteTable(
  "block_document",
  {
    id: id(),
    created: created(),
    updated: updated(),
    name: text("name").notNull(),
    data: json<JsonObject>("data").notNull(),
    blockSchemaId: text("block_schema_id").notNull().references(() => blockSchema.id, { onDelete: "cascade" }),
    blockTypeId: text("block_type_id").notNull().references(() => blockType.id, { onDelete: "cascade" }),
    isAnonymous: integer("is_anonymous", { mode: "boolean" }).notNull().default(false),
  },
  (t) => [uniqueIndex("uq_block_document__block_type_id_name").on(t.blockTypeId, t.name)],
);

export const blockDocumentReference = sqliteTable(
  "block_document_reference",
  {
    id: id(),
    created: created(),
    updated: updated(),
    name: text("name").notNull(),
    parentBlockDocumentId: text("parent_block_document_id")
      .notNull()
      .references(() => blockDocument.id, { onDelete: "cascade" }),
    referenceBlockDocumentId: text("reference_block_document_id")
      .notNull()
      .references(() => blockDocument.id, { onDelete: "cascade" }),
  },
  (t) => [uniqueIndex("uq_block_document_reference__parent_name").on(t.parentBlockDocumentId, t.name)],
);

/** Server-wide settings stored in the database (Prefect's `configuration` table). */
export const configuration = sqliteTable("configuration", {
  id: id(),
  created: created(),
  updated: updated(),
  key: text("key").notNull().unique(),
  value: json<JsonObject>("value").notNull(),
});

export const workPool = sqliteTable("work_pool", {
  id: id(),
  created: created(),
  updated: updated(),
  name: text("name").notNull().unique(),
  description: text("description"),
  type: text("type").notNull(),
  baseJobTemplate: json<JsonObject>("base_job_template").notNull(),
  isPaused: integer("is_paused", { mode: "boolean" }).notNull().default(false),
  defaultQueueId: text("default_queue_id"),
  concurrencyLimit: integer("concurrency_limit"),
  status: text("status"),
  lastTransitionedStatusAt: instant("last_transitioned_status_at"),
  /** The last `prefect.work-pool.<status>` event, which the next one `follows` while it is recent. */
  lastStatusEventId: text("last_status_event_id"),
  /** When that event occurred (polls also move last_transitioned_status_at, decision #8). */
  lastStatusEventAt: instant("last_status_event_at"),
  storageConfiguration: json<JsonObject>("storage_configuration").notNull(),
});

export const workQueue = sqliteTable(
  "work_queue",
  {
    id: id(),
    created: created(),
    updated: updated(),
    name: text("name").notNull(),
    description: text("description").notNull().default(""),
    isPaused: integer("is_paused", { mode: "boolean" }).notNull().default(false),
    concurrencyLimit: integer("concurrency_limit"),
    priority: integer("priority").notNull(),
    lastPolled: instant("last_polled"),
    status: text("status").notNull().default("NOT_READY"),
    filter: json<JsonObject | null>("filter"),
    workPoolId: text("work_pool_id").notNull().references(() => workPool.id, { onDelete: "cascade" }),
  },
  (t) => [
    uniqueIndex("uq_work_queue__work_pool_id_name").on(t.workPoolId, t.name),
    index("ix_work_queue__work_pool_id_priority").on(t.workPoolId, t.priority),
  ],
);

export const worker = sqliteTable(
  "worker",
  {
    id: id(),
    created: created(),
    updated: updated(),
    workPoolId: text("work_pool_id").notNull().references(() => workPool.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    lastHeartbeatTime: instant("last_heartbeat_time").notNull(),
    heartbeatIntervalSeconds: integer("heartbeat_interval_seconds"),
    status: text("status").notNull().default("OFFLINE"),
  },
  (t) => [
    uniqueIndex("uq_worker__work_pool_id_name").on(t.workPoolId, t.name),
    index("ix_worker__work_pool_id_last_heartbeat_time").on(t.workPoolId, t.lastHeartbeatTime),
  ],
);

export const concurrencyLimitV2 = sqliteTable("concurrency_limit_v2", {
  id: id(),
  created: created(),
  updated: updated(),
  active: integer("active", { mode: "boolean" }).notNull().default(true),
  name: text("name").notNull().unique(),
  limit: integer("limit").notNull(),
  activeSlots: integer("active_slots").notNull().default(0),
  deniedSlots: integer("denied_slots").notNull().default(0),
  slotDecayPerSecond: real("slot_decay_per_second").notNull().default(0),
  avgSlotOccupancySeconds: real("avg_slot_occupancy_seconds").notNull().default(2),
});

/** Slots held on concurrency limits, released explicitly or repossessed when they expire. */
export const concurrencyLease = sqliteTable(
  "concurrency_lease",
  {
    id: id(),
    created: created(),
    updated: updated(),
    expiration: instant("expiration").notNull(),
    resourceIds: json<string[]>("resource_ids").notNull(),
    slots: integer("slots").notNull(),
    metadata: json<JsonObject | null>("metadata"),
  },
  (t) => [index("ix_concurrency_lease__expiration").on(t.expiration)],
);

export const deployment = sqliteTable(
  "deployment",
  {
    id: id(),
    created: created(),
    updated: updated(),
    name: text("name").notNull(),
    version: text("version"),
    description: text("description"),
    flowId: text("flow_id").notNull().references(() => flow.id, { onDelete: "cascade" }),
    paused: integer("paused", { mode: "boolean" }).notNull().default(false),
    workQueueName: text("work_queue_name"),
    workQueueId: text("work_queue_id").references(() => workQueue.id, { onDelete: "set null" }),
    jobVariables: json<JsonObject>("job_variables").notNull(),
    path: text("path"),
    entrypoint: text("entrypoint"),
    lastPolled: instant("last_polled"),
    status: text("status").notNull().default("NOT_READY"),
    concurrencyLimitId: text("concurrency_limit_id").references(() => concurrencyLimitV2.id, { onDelete: "set null" }),
    concurrencyOptions: json<JsonObject | null>("concurrency_options"),
    tags: json<string[]>("tags").notNull(),
    labels: json<JsonObject>("labels").notNull(),
    parameters: json<JsonObject>("parameters").notNull(),
    pullSteps: json<JsonValue[] | null>("pull_steps"),
    parameterOpenapiSchema: json<JsonObject | null>("parameter_openapi_schema"),
    enforceParameterSchema: integer("enforce_parameter_schema", { mode: "boolean" }).notNull().default(true),
    createdBy: json<JsonObject | null>("created_by"),
    updatedBy: json<JsonObject | null>("updated_by"),
    storageDocumentId: text("storage_document_id"),
    infrastructureDocumentId: text("infrastructure_document_id"),
    versionInfo: json<JsonObject | null>("version_info"),
  },
  (t) => [
    uniqueIndex("uq_deployment__flow_id_name").on(t.flowId, t.name),
    index("ix_deployment__work_queue_id").on(t.workQueueId),
    index("ix_deployment__updated").on(t.updated),
    index("ix_deployment__paused").on(t.paused),
  ],
);

export const deploymentSchedule = sqliteTable(
  "deployment_schedule",
  {
    id: id(),
    created: created(),
    updated: updated(),
    deploymentId: text("deployment_id").notNull().references(() => deployment.id, { onDelete: "cascade" }),
    schedule: json<JsonObject>("schedule").notNull(),
    active: integer("active", { mode: "boolean" }).notNull().default(true),
    maxScheduledRuns: integer("max_scheduled_runs"),
    parameters: json<JsonObject>("parameters").notNull(),
    slug: text("slug"),
  },
  (t) => [
    index("ix_deployment_schedule__deployment_id").on(t.deploymentId),
    uniqueIndex("uq_deployment_schedule__deployment_id_slug").on(t.deploymentId, t.slug),
  ],
);

/** Events (Prefect's `events` table); `id` is the event's own id, so re-sent events are dropped. */
export const event = sqliteTable(
  "events",
  {
    id: id(),
    created: created(),
    updated: updated(),
    occurred: instant("occurred").notNull(),
    event: text("event").notNull(),
    resourceId: text("resource_id").notNull(),
    resource: json<JsonObject>("resource").notNull(),
    relatedResourceIds: json<string[]>("related_resource_ids").notNull(),
    related: json<JsonObject[]>("related").notNull(),
    payload: json<JsonObject>("payload").notNull(),
    received: instant("received").notNull(),
    recorded: instant("recorded").notNull(),
    follows: text("follows"),
  },
  (t) => [
    index("ix_events__occurred_id").on(t.occurred, t.id),
    index("ix_events__event_occurred_id").on(t.event, t.occurred, t.id),
    index("ix_events__event_resource_id_occurred").on(t.event, t.resourceId, t.occurred),
  ],
);

/** One row per resource an event names (its own and each related one), for resource filters. */
export const eventResource = sqliteTable(
  "event_resources",
  {
    id: id(),
    created: created(),
    updated: updated(),
    occurred: instant("occurred").notNull(),
    resourceId: text("resource_id").notNull(),
    resourceRole: text("resource_role").notNull(),
    resource: json<JsonObject>("resource").notNull(),
    eventId: text("event_id").notNull().references(() => event.id, { onDelete: "cascade" }),
  },
  (t) => [
    index("ix_event_resources__resource_id_occurred").on(t.resourceId, t.occurred),
    index("ix_event_resources__event_id").on(t.eventId),
  ],
);

export const artifact = sqliteTable(
  "artifact",
  {
    id: id(),
    created: created(),
    updated: updated(),
    key: text("key"),
    taskRunId: text("task_run_id"),
    flowRunId: text("flow_run_id"),
    type: text("type"),
    data: json<JsonValue>("data"),
    description: text("description"),
    metadata: json<JsonObject | null>("metadata_"),
  },
  (t) => [
    index("ix_artifact__key_created").on(t.key, t.created),
    index("ix_artifact__flow_run_id").on(t.flowRunId),
    index("ix_artifact__task_run_id").on(t.taskRunId),
  ],
);

/** The latest artifact of each key, kept in step on create and delete. */
export const artifactCollection = sqliteTable("artifact_collection", {
  id: id(),
  created: created(),
  updated: updated(),
  key: text("key").notNull().unique(),
  latestId: text("latest_id").notNull(),
  taskRunId: text("task_run_id"),
  flowRunId: text("flow_run_id"),
  type: text("type"),
  data: json<JsonValue>("data"),
  description: text("description"),
  metadata: json<JsonObject | null>("metadata_"),
});

export const savedSearch = sqliteTable("saved_search", {
  id: id(),
  created: created(),
  updated: updated(),
  name: text("name").notNull().unique(),
  filters: json<JsonObject[]>("filters").notNull(),
});

export const automation = sqliteTable("automation", {
  id: id(),
  created: created(),
  updated: updated(),
  name: text("name").notNull(),
  description: text("description").notNull().default(""),
  enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
  tags: json<string[]>("tags").notNull(),
  trigger: json<JsonObject>("trigger").notNull(),
  actions: json<JsonObject[]>("actions").notNull(),
  actionsOnTrigger: json<JsonObject[]>("actions_on_trigger").notNull(),
  actionsOnResolve: json<JsonObject[]>("actions_on_resolve").notNull(),
  /** `owner_resource` on create (e.g. `prefect.deployment.<id>`), for DELETE /automations/owned-by/... */
  ownerResource: text("owner_resource"),
});

/**
 * The open window of one event trigger for one `for_each` bucketing key (Prefect's
 * automation_bucket): how many expected events it has counted between `start` and `end`.
 */
export const automationBucket = sqliteTable(
  "automation_bucket",
  {
    id: id(),
    created: created(),
    updated: updated(),
    automationId: text("automation_id").notNull().references(() => automation.id, { onDelete: "cascade" }),
    triggerId: text("trigger_id").notNull(),
    /** JSON array of the `for_each` label values, in sorted label order. */
    bucketingKey: text("bucketing_key").notNull(),
    lastEvent: json<JsonObject>("last_event"),
    start: instant("start").notNull(),
    end: instant("end").notNull(),
    count: integer("count").notNull(),
    lastOperation: text("last_operation"),
    triggeredAt: instant("triggered_at"),
  },
  (t) => [uniqueIndex("uq_automation_bucket__automation_trigger_key").on(t.automationId, t.triggerId, t.bucketingKey), index("ix_automation_bucket__end").on(t.end)],
);

/** A child trigger's firing kept until its compound or sequence parent fires (composite_trigger_child_firing). */
export const compositeTriggerChildFiring = sqliteTable(
  "composite_trigger_child_firing",
  {
    id: id(),
    created: created(),
    updated: updated(),
    automationId: text("automation_id").notNull().references(() => automation.id, { onDelete: "cascade" }),
    parentTriggerId: text("parent_trigger_id").notNull(),
    childTriggerId: text("child_trigger_id").notNull(),
    childFiringId: text("child_firing_id").notNull(),
    childFiredAt: instant("child_fired_at").notNull(),
    childFiring: json<JsonObject>("child_firing").notNull(),
  },
  (t) => [uniqueIndex("uq_composite_trigger_child_firing__a_p_c").on(t.automationId, t.parentTriggerId, t.childTriggerId)],
);

/**
 * One action of one firing (a TriggeredAction), queued for the actions service. Its id is
 * the invocation id: a finished row is never run again, an unfinished one is retried.
 */
export const automationAction = sqliteTable(
  "automation_action",
  {
    id: id(),
    created: created(),
    updated: updated(),
    automationId: text("automation_id").notNull(),
    actionIndex: integer("action_index").notNull(),
    /** The TriggeredAction document: automation, firing, triggering event and labels, action. */
    triggeredAction: json<JsonObject>("triggered_action").notNull(),
    /** PENDING until it ran; then EXECUTED or FAILED. */
    status: text("status").notNull(),
    attempts: integer("attempts").notNull().default(0),
    /** When a PENDING action may next be tried (also a lease while one try runs). */
    nextAttemptAt: instant("next_attempt_at").notNull(),
    lastError: text("last_error"),
  },
  (t) => [index("ix_automation_action__status_next").on(t.status, t.nextAttemptAt)],
);

/**
 * An `expect` event of a proactive trigger with `after`, evaluated before a bucket for its key
 * existed, held for the buckets that open later over it (automation_held_event).
 */
export const automationHeldEvent = sqliteTable(
  "automation_held_event",
  {
    id: id(),
    created: created(),
    updated: updated(),
    automationId: text("automation_id").notNull().references(() => automation.id, { onDelete: "cascade" }),
    triggerId: text("trigger_id").notNull(),
    bucketingKey: text("bucketing_key").notNull(),
    eventId: text("event_id").notNull(),
    occurred: instant("occurred").notNull(),
  },
  (t) => [
    uniqueIndex("uq_automation_held_event__trigger_key_event").on(t.automationId, t.triggerId, t.bucketingKey, t.eventId),
    index("ix_automation_held_event__trigger_key_occurred").on(t.automationId, t.triggerId, t.bucketingKey, t.occurred, t.eventId),
  ],
);
