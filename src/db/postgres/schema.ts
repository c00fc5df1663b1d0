/**
 * PostgreSQL schema: the same tables, columns and indexes as the SQLite one (src/db/schema.ts),
 * in PostgreSQL's own types. Instants are `timestamptz`, read and written as the same integer
 * microseconds the domain uses (never through a JS Date, which keeps milliseconds only);
 * JSON documents are `jsonb`; ids are `uuid`. Durations stay integer microseconds.
 * `npm run db:generate` writes its migrations into drizzle/postgres/.
 */
import { sql } from "drizzle-orm";
import {
  bigint,
  bigserial,
  boolean,
  customType,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  uniqueIndex,
  uuid,
  type AnyPgColumn,
} from "drizzle-orm/pg-core";
import type { JsonObject, JsonValue } from "../../lib/json";
import { formatDateTime, parseDateTime, type Micros } from "../../lib/time";

/**
 * `timestamptz` as microseconds. The client hands timestamps over as PostgreSQL's text
 * (src/db/postgres/client.ts keeps the driver from making Dates and sets the session to
 * UTC, ISO style: `2026-12-03 10:00:00.123456+00`); written as ISO-8601 with all six digits.
 */
const timestamptz = customType<{ data: Micros; driverData: string }>({
  dataType: () => "timestamp(6) with time zone",
  toDriver: (value) => formatDateTime(value),
  fromDriver: (value) => {
    const micros = parseDateTime(value);
    if (micros === null) throw new Error(`unreadable timestamptz from PostgreSQL: ${value}`);
    return micros;
  },
});

const id = () => uuid("id").primaryKey();
const created = () => timestamptz("created").notNull();
const updated = () => timestamptz("updated").notNull();
const json = <T>(name: string) => jsonb(name).$type<T>();
const instant = (name: string) => timestamptz(name);

export const flow = pgTable("flow", {
  id: id(),
  created: created(),
  updated: updated(),
  name: text("name").notNull().unique(),
  tags: json<string[]>("tags").notNull(),
  labels: json<JsonObject>("labels").notNull(),
});

export const flowRun = pgTable(
  "flow_run",
  {
    id: id(),
    created: created(),
    updated: updated(),
    name: text("name").notNull(),
    flowId: uuid("flow_id").notNull().references(() => flow.id, { onDelete: "cascade" }),
    stateId: uuid("state_id"),
    deploymentId: uuid("deployment_id"),
    deploymentVersion: text("deployment_version"),
    workQueueId: uuid("work_queue_id"),
    workQueueName: text("work_queue_name"),
    flowVersion: text("flow_version"),
    parameters: json<JsonObject>("parameters").notNull(),
    idempotencyKey: text("idempotency_key"),
    context: json<JsonObject>("context").notNull(),
    empiricalPolicy: json<JsonObject>("empirical_policy").notNull(),
    tags: json<string[]>("tags").notNull(),
    labels: json<JsonObject>("labels").notNull(),
    parentTaskRunId: uuid("parent_task_run_id").references((): AnyPgColumn => taskRun.id, { onDelete: "set null" }),
    stateType: text("state_type"),
    stateName: text("state_name"),
    stateTimestamp: instant("state_timestamp"),
    runCount: integer("run_count").notNull().default(0),
    expectedStartTime: instant("expected_start_time"),
    nextScheduledStartTime: instant("next_scheduled_start_time"),
    startTime: instant("start_time"),
    endTime: instant("end_time"),
    totalRunTime: bigint("total_run_time", { mode: "number" }).notNull().default(0),
    autoScheduled: boolean("auto_scheduled").notNull().default(false),
    infrastructureDocumentId: uuid("infrastructure_document_id"),
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

export const flowRunState = pgTable(
  "flow_run_state",
  {
    ...stateColumns,
    flowRunId: uuid("flow_run_id").notNull().references(() => flowRun.id, { onDelete: "cascade" }),
  },
  (t) => [uniqueIndex("uq_flow_run_state__flow_run_id_timestamp").on(t.flowRunId, t.timestamp)],
);

export const taskRun = pgTable(
  "task_run",
  {
    id: id(),
    created: created(),
    updated: updated(),
    name: text("name").notNull(),
    flowRunId: uuid("flow_run_id").references((): AnyPgColumn => flowRun.id, { onDelete: "cascade" }),
    taskKey: text("task_key").notNull(),
    dynamicKey: text("dynamic_key").notNull(),
    cacheKey: text("cache_key"),
    cacheExpiration: instant("cache_expiration"),
    taskVersion: text("task_version"),
    empiricalPolicy: json<JsonObject>("empirical_policy").notNull(),
    tags: json<string[]>("tags").notNull(),
    labels: json<JsonObject>("labels").notNull(),
    stateId: uuid("state_id"),
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
    totalRunTime: bigint("total_run_time", { mode: "number" }).notNull().default(0),
  },
  (t) => [
    uniqueIndex("uq_task_run__flow_run_id_task_key_dynamic_key").on(t.flowRunId, t.taskKey, t.dynamicKey),
    index("ix_task_run__flow_run_id").on(t.flowRunId),
    index("ix_task_run__state_type").on(t.stateType),
    index("ix_task_run__expected_start_time").on(t.expectedStartTime),
    index("ix_task_run__name").on(t.name),
  ],
);

export const taskRunState = pgTable(
  "task_run_state",
  {
    ...stateColumns,
    taskRunId: uuid("task_run_id").notNull().references(() => taskRun.id, { onDelete: "cascade" }),
  },
  (t) => [uniqueIndex("uq_task_run_state__task_run_id_timestamp").on(t.taskRunId, t.timestamp)],
);

export const taskRunStateCache = pgTable(
  "task_run_state_cache",
  {
    id: id(),
    created: created(),
    updated: updated(),
    cacheKey: text("cache_key").notNull(),
    cacheExpiration: instant("cache_expiration"),
    taskRunStateId: uuid("task_run_state_id").notNull(),
  },
  (t) => [index("ix_task_run_state_cache__cache_key_created").on(t.cacheKey, t.created)],
);

export const flowRunInput = pgTable(
  "flow_run_input",
  {
    id: id(),
    created: created(),
    updated: updated(),
    flowRunId: uuid("flow_run_id").notNull().references(() => flowRun.id, { onDelete: "cascade" }),
    key: text("key").notNull(),
    value: text("value").notNull(),
    sender: text("sender"),
  },
  (t) => [uniqueIndex("uq_flow_run_input__flow_run_id_key").on(t.flowRunId, t.key)],
);

export const log = pgTable(
  "log",
  {
    id: id(),
    created: created(),
    updated: updated(),
    name: text("name").notNull(),
    level: integer("level").notNull(),
    flowRunId: uuid("flow_run_id"),
    taskRunId: uuid("task_run_id"),
    message: text("message").notNull(),
    timestamp: instant("timestamp").notNull(),
  },
  (t) => [
    index("ix_log__flow_run_id_timestamp").on(t.flowRunId, t.timestamp),
    index("ix_log__task_run_id").on(t.taskRunId),
    index("ix_log__timestamp").on(t.timestamp),
  ],
);

export const variable = pgTable("variable", {
  id: id(),
  created: created(),
  updated: updated(),
  name: text("name").notNull().unique(),
  value: json<JsonValue>("value"),
  tags: json<string[]>("tags").notNull(),
});

export const blockType = pgTable("block_type", {
  id: id(),
  created: created(),
  updated: updated(),
  name: text("name").notNull(),
  slug: text("slug").notNull().unique(),
  logoUrl: text("logo_url"),
  documentationUrl: text("documentation_url"),
  description: text("description"),
  codeExample: text("code_example"),
  isProtected: boolean("is_protected").notNull().default(false),
});

export const blockSchema = pgTable(
  "block_schema",
  {
    id: id(),
    created: created(),
    updated: updated(),
    checksum: text("checksum").notNull(),
    fields: json<JsonObject>("fields").notNull(),
    blockTypeId: uuid("block_type_id").notNull().references(() => blockType.id, { onDelete: "cascade" }),
    capabilities: json<string[]>("capabilities").notNull(),
    version: text("version").notNull(),
  },
  (t) => [
    uniqueIndex("uq_block_schema__checksum_version").on(t.checksum, t.version),
    index("ix_block_schema__block_type_id").on(t.blockTypeId),
  ],
);

export const blockDocument = pgTable(
  "block_document",
  {
    id: id(),
    created: created(),
    updated: updated(),
    name: text("name").notNull(),
    data: json<JsonObject>("data").notNull(),
    blockSchemaId: uuid("block_schema_id").notNull().references(() => blockSchema.id, { onDelete: "cascade" }),
    blockTypeId: uuid("block_type_id").notNull().references(() => blockType.id, { onDelete: "cascade" }),
    isAnonymous: boolean("is_anonymous").notNull().default(false),
  },
  (t) => [uniqueIndex("uq_block_document__block_type_id_name").on(t.blockTypeId, t.name)],
);

export const blockDocumentReference = pgTable(
  "block_document_reference",
  {
    id: id(),
    created: created(),
    updated: updated(),
    name: text("name").notNull(),
    parentBlockDocumentId: uuid("parent_block_document_id")
      .notNull()
      .references(() => blockDocument.id, { onDelete: "cascade" }),
    referenceBlockDocumentId: uuid("reference_block_document_id")
      .notNull()
      .references(() => blockDocument.id, { onDelete: "cascade" }),
  },
  (t) => [uniqueIndex("uq_block_document_reference__parent_name").on(t.parentBlockDocumentId, t.name)],
);

/** Server-wide settings stored in the database (Prefect's `configuration` table). */
export const configuration = pgTable("configuration", {
  id: id(),
  created: created(),
  updated: updated(),
  key: text("key").notNull().unique(),
  value: json<JsonObject>("value").notNull(),
});

export const workPool = pgTable("work_pool", {
  id: id(),
  created: created(),
  updated: updated(),
  name: text("name").notNull().unique(),
  description: text("description"),
  type: text("type").notNull(),
  baseJobTemplate: json<JsonObject>("base_job_template").notNull(),
  isPaused: boolean("is_paused").notNull().default(false),
  defaultQueueId: uuid("default_queue_id"),
  concurrencyLimit: integer("concurrency_limit"),
  status: text("status"),
  lastTransitionedStatusAt: instant("last_transitioned_status_at"),
  /** The last `prefect.work-pool.<status>` event, which the next one `follows` while it is recent. */
  lastStatusEventId: uuid("last_status_event_id"),
  /** When that event occurred (polls also move last_transitioned_status_at, decision #8). */
  lastStatusEventAt: instant("last_status_event_at"),
  storageConfiguration: json<JsonObject>("storage_configuration").notNull(),
});

export const workQueue = pgTable(
  "work_queue",
  {
    id: id(),
    created: created(),
    updated: updated(),
    name: text("name").notNull(),
    description: text("description").notNull().default(""),
    isPaused: boolean("is_paused").notNull().default(false),
    concurrencyLimit: integer("concurrency_limit"),
    priority: integer("priority").notNull(),
    lastPolled: instant("last_polled"),
    status: text("status").notNull().default("NOT_READY"),
    filter: json<JsonObject | null>("filter"),
    workPoolId: uuid("work_pool_id").notNull().references(() => workPool.id, { onDelete: "cascade" }),
  },
  (t) => [
    uniqueIndex("uq_work_queue__work_pool_id_name").on(t.workPoolId, t.name),
    index("ix_work_queue__work_pool_id_priority").on(t.workPoolId, t.priority),
  ],
);

export const worker = pgTable(
  "worker",
  {
    id: id(),
    created: created(),
    updated: updated(),
    workPoolId: uuid("work_pool_id").notNull().references(() => workPool.id, { onDelete: "cascade" }),
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

export const concurrencyLimitV2 = pgTable("concurrency_limit_v2", {
  id: id(),
  created: created(),
  updated: updated(),
  active: boolean("active").notNull().default(true),
  name: text("name").notNull().unique(),
  limit: integer("limit").notNull(),
  activeSlots: integer("active_slots").notNull().default(0),
  deniedSlots: integer("denied_slots").notNull().default(0),
  slotDecayPerSecond: doublePrecision("slot_decay_per_second").notNull().default(0),
  avgSlotOccupancySeconds: doublePrecision("avg_slot_occupancy_seconds").notNull().default(2),
});

/** Slots held on concurrency limits, released explicitly or repossessed when they expire. */
export const concurrencyLease = pgTable(
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

export const deployment = pgTable(
  "deployment",
  {
    id: id(),
    created: created(),
    updated: updated(),
    name: text("name").notNull(),
    version: text("version"),
    description: text("description"),
    flowId: uuid("flow_id").notNull().references(() => flow.id, { onDelete: "cascade" }),
    paused: boolean("paused").notNull().default(false),
    workQueueName: text("work_queue_name"),
    workQueueId: uuid("work_queue_id").references(() => workQueue.id, { onDelete: "set null" }),
    jobVariables: json<JsonObject>("job_variables").notNull(),
    path: text("path"),
    entrypoint: text("entrypoint"),
    lastPolled: instant("last_polled"),
    status: text("status").notNull().default("NOT_READY"),
    concurrencyLimitId: uuid("concurrency_limit_id").references(() => concurrencyLimitV2.id, { onDelete: "set null" }),
    concurrencyOptions: json<JsonObject | null>("concurrency_options"),
    tags: json<string[]>("tags").notNull(),
    labels: json<JsonObject>("labels").notNull(),
    parameters: json<JsonObject>("parameters").notNull(),
    pullSteps: json<JsonValue[] | null>("pull_steps"),
    parameterOpenapiSchema: json<JsonObject | null>("parameter_openapi_schema"),
    enforceParameterSchema: boolean("enforce_parameter_schema").notNull().default(true),
    createdBy: json<JsonObject | null>("created_by"),
    updatedBy: json<JsonObject | null>("updated_by"),
    storageDocumentId: uuid("storage_document_id"),
    infrastructureDocumentId: uuid("infrastructure_document_id"),
    versionInfo: json<JsonObject | null>("version_info"),
  },
  (t) => [
    uniqueIndex("uq_deployment__flow_id_name").on(t.flowId, t.name),
    index("ix_deployment__work_queue_id").on(t.workQueueId),
    index("ix_deployment__updated").on(t.updated),
    index("ix_deployment__paused").on(t.paused),
  ],
);

export const deploymentSchedule = pgTable(
  "deployment_schedule",
  {
    id: id(),
    created: created(),
    updated: updated(),
    deploymentId: uuid("deployment_id").notNull().references(() => deployment.id, { onDelete: "cascade" }),
    schedule: json<JsonObject>("schedule").notNull(),
    active: boolean("active").notNull().default(true),
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
export const event = pgTable(
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
    follows: uuid("follows"),
  },
  (t) => [
    index("ix_events__occurred_id").on(t.occurred, t.id),
    index("ix_events__event_occurred_id").on(t.event, t.occurred, t.id),
    index("ix_events__event_resource_id_occurred").on(t.event, t.resourceId, t.occurred),
  ],
);

/** One row per resource an event names (its own and each related one), for resource filters. */
export const eventResource = pgTable(
  "event_resources",
  {
    id: id(),
    created: created(),
    updated: updated(),
    occurred: instant("occurred").notNull(),
    resourceId: text("resource_id").notNull(),
    resourceRole: text("resource_role").notNull(),
    resource: json<JsonObject>("resource").notNull(),
    eventId: uuid("event_id").notNull().references(() => event.id, { onDelete: "cascade" }),
  },
  (t) => [
    index("ix_event_resources__resource_id_occurred").on(t.resourceId, t.occurred),
    index("ix_event_resources__event_id").on(t.eventId),
  ],
);

export const artifact = pgTable(
  "artifact",
  {
    id: id(),
    created: created(),
    updated: updated(),
    key: text("key"),
    taskRunId: uuid("task_run_id"),
    flowRunId: uuid("flow_run_id"),
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
export const artifactCollection = pgTable("artifact_collection", {
  id: id(),
  created: created(),
  updated: updated(),
  key: text("key").notNull().unique(),
  latestId: uuid("latest_id").notNull(),
  taskRunId: uuid("task_run_id"),
  flowRunId: uuid("flow_run_id"),
  type: text("type"),
  data: json<JsonValue>("data"),
  description: text("description"),
  metadata: json<JsonObject | null>("metadata_"),
});

export const savedSearch = pgTable("saved_search", {
  id: id(),
  created: created(),
  updated: updated(),
  name: text("name").notNull().unique(),
  filters: json<JsonObject[]>("filters").notNull(),
});

export const automation = pgTable("automation", {
  id: id(),
  created: created(),
  updated: updated(),
  name: text("name").notNull(),
  description: text("description").notNull().default(""),
  enabled: boolean("enabled").notNull().default(true),
  tags: json<string[]>("tags").notNull(),
  trigger: json<JsonObject>("trigger").notNull(),
  actions: json<JsonObject[]>("actions").notNull(),
  actionsOnTrigger: json<JsonObject[]>("actions_on_trigger").notNull(),
  actionsOnResolve: json<JsonObject[]>("actions_on_resolve").notNull(),
  /** `owner_resource` on create (e.g. `prefect.deployment.<id>`), for DELETE /automations/owned-by/... */
  ownerResource: text("owner_resource"),
});

/** Per-bucket state of an automation's event trigger (Prefect's automation_bucket). */
export const automationBucket = pgTable(
  "automation_bucket",
  {
    id: id(),
    created: created(),
    updated: updated(),
    automationId: uuid("automation_id").notNull().references(() => automation.id, { onDelete: "cascade" }),
    triggerId: uuid("trigger_id").notNull(),
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

/** A child trigger's firing kept until its compound or sequence parent fires. */
export const compositeTriggerChildFiring = pgTable(
  "composite_trigger_child_firing",
  {
    id: id(),
    created: created(),
    updated: updated(),
    automationId: uuid("automation_id").notNull().references(() => automation.id, { onDelete: "cascade" }),
    parentTriggerId: uuid("parent_trigger_id").notNull(),
    childTriggerId: uuid("child_trigger_id").notNull(),
    childFiringId: uuid("child_firing_id").notNull(),
    childFiredAt: instant("child_fired_at").notNull(),
    childFiring: json<JsonObject>("child_firing").notNull(),
  },
  (t) => [uniqueIndex("uq_composite_trigger_child_firing__a_p_c").on(t.automationId, t.parentTriggerId, t.childTriggerId)],
);

/** One action of one firing, queued for the actions service; its id is the invocation id. */
export const automationAction = pgTable(
  "automation_action",
  {
    id: id(),
    created: created(),
    updated: updated(),
    automationId: uuid("automation_id").notNull(),
    actionIndex: integer("action_index").notNull(),
    triggeredAction: json<JsonObject>("triggered_action").notNull(),
    status: text("status").notNull(),
    attempts: integer("attempts").notNull().default(0),
    nextAttemptAt: instant("next_attempt_at").notNull(),
    lastError: text("last_error"),
  },
  (t) => [index("ix_automation_action__status_next").on(t.status, t.nextAttemptAt)],
);

/** An `expect` event of a proactive trigger with `after`, held for the buckets that open later over it. */
export const automationHeldEvent = pgTable(
  "automation_held_event",
  {
    id: id(),
    created: created(),
    updated: updated(),
    automationId: uuid("automation_id").notNull().references(() => automation.id, { onDelete: "cascade" }),
    triggerId: uuid("trigger_id").notNull(),
    bucketingKey: text("bucketing_key").notNull(),
    eventId: uuid("event_id").notNull(),
    occurred: instant("occurred").notNull(),
  },
  (t) => [
    uniqueIndex("uq_automation_held_event__trigger_key_event").on(t.automationId, t.triggerId, t.bucketingKey, t.eventId),
    index("ix_automation_held_event__trigger_key_occurred").on(t.automationId, t.triggerId, t.bucketingKey, t.occurred, t.eventId),
  ],
);

/**
 * PostgreSQL only: the events each replica published, for the other replicas on this database
 * to read (src/db/postgres/event-relay.ts). `seq` orders them; rows are swept after a minute.
 * The event is its JSON as text, not jsonb: nothing queries inside it, and text keeps every
 * value an event may hold (jsonb refuses `\u0000`).
 */
export const eventRelay = pgTable(
  "event_relay",
  {
    seq: bigserial("seq", { mode: "number" }).primaryKey(),
    origin: uuid("origin").notNull(),
    event: text("event").notNull(),
    relayed: timestamptz("relayed").notNull().default(sql`now()`),
  },
  (t) => [index("ix_event_relay__relayed").on(t.relayed)],
);
