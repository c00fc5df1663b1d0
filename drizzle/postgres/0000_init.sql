CREATE TABLE "artifact" (
	"id" uuid PRIMARY KEY NOT NULL,
	"created" timestamp(6) with time zone NOT NULL,
	"updated" timestamp(6) with time zone NOT NULL,
	"key" text,
	"task_run_id" uuid,
	"flow_run_id" uuid,
	"type" text,
	"data" jsonb,
	"description" text,
	"metadata_" jsonb
);
--> statement-breakpoint
CREATE TABLE "artifact_collection" (
	"id" uuid PRIMARY KEY NOT NULL,
	"created" timestamp(6) with time zone NOT NULL,
	"updated" timestamp(6) with time zone NOT NULL,
	"key" text NOT NULL,
	"latest_id" uuid NOT NULL,
	"task_run_id" uuid,
	"flow_run_id" uuid,
	"type" text,
	"data" jsonb,
	"description" text,
	"metadata_" jsonb,
	CONSTRAINT "artifact_collection_key_unique" UNIQUE("key")
);
--> statement-breakpoint
CREATE TABLE "automation" (
	"id" uuid PRIMARY KEY NOT NULL,
	"created" timestamp(6) with time zone NOT NULL,
	"updated" timestamp(6) with time zone NOT NULL,
	"name" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"tags" jsonb NOT NULL,
	"trigger" jsonb NOT NULL,
	"actions" jsonb NOT NULL,
	"actions_on_trigger" jsonb NOT NULL,
	"actions_on_resolve" jsonb NOT NULL,
	"owner_resource" text
);
--> statement-breakpoint
CREATE TABLE "block_document" (
	"id" uuid PRIMARY KEY NOT NULL,
	"created" timestamp(6) with time zone NOT NULL,
	"updated" timestamp(6) with time zone NOT NULL,
	"name" text NOT NULL,
	"data" jsonb NOT NULL,
	"block_schema_id" uuid NOT NULL,
	"block_type_id" uuid NOT NULL,
	"is_anonymous" boolean DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE TABLE "block_document_reference" (
	"id" uuid PRIMARY KEY NOT NULL,
	"created" timestamp(6) with time zone NOT NULL,
	"updated" timestamp(6) with time zone NOT NULL,
	"name" text NOT NULL,
	"parent_block_document_id" uuid NOT NULL,
	"reference_block_document_id" uuid NOT NULL
);
--> statement-breakpoint
CREATE TABLE "block_schema" (
	"id" uuid PRIMARY KEY NOT NULL,
	"created" timestamp(6) with time zone NOT NULL,
	"updated" timestamp(6) with time zone NOT NULL,
	"checksum" text NOT NULL,
	"fields" jsonb NOT NULL,
	"block_type_id" uuid NOT NULL,
	"capabilities" jsonb NOT NULL,
	"version" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "block_type" (
	"id" uuid PRIMARY KEY NOT NULL,
	"created" timestamp(6) with time zone NOT NULL,
	"updated" timestamp(6) with time zone NOT NULL,
	"name" text NOT NULL,
	"slug" text NOT NULL,
	"logo_url" text,
	"documentation_url" text,
	"description" text,
	"code_example" text,
	"is_protected" boolean DEFAULT false NOT NULL,
	CONSTRAINT "block_type_slug_unique" UNIQUE("slug")
);
--> statement-breakpoint
CREATE TABLE "concurrency_lease" (
	"id" uuid PRIMARY KEY NOT NULL,
	"created" timestamp(6) with time zone NOT NULL,
	"updated" timestamp(6) with time zone NOT NULL,
	"expiration" timestamp(6) with time zone NOT NULL,
	"resource_ids" jsonb NOT NULL,
	"slots" integer NOT NULL,
	"metadata" jsonb
);
--> statement-breakpoint
CREATE TABLE "concurrency_limit_v2" (
	"id" uuid PRIMARY KEY NOT NULL,
	"created" timestamp(6) with time zone NOT NULL,
	"updated" timestamp(6) with time zone NOT NULL,
	"active" boolean DEFAULT true NOT NULL,
	"name" text NOT NULL,
	"limit" integer NOT NULL,
	"active_slots" integer DEFAULT 0 NOT NULL,
	"denied_slots" integer DEFAULT 0 NOT NULL,
	"slot_decay_per_second" double precision DEFAULT 0 NOT NULL,
	"avg_slot_occupancy_seconds" double precision DEFAULT 2 NOT NULL,
	CONSTRAINT "concurrency_limit_v2_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "configuration" (
	"id" uuid PRIMARY KEY NOT NULL,
	"created" timestamp(6) with time zone NOT NULL,
	"updated" timestamp(6) with time zone NOT NULL,
	"key" text NOT NULL,
	"value" jsonb NOT NULL,
	CONSTRAINT "configuration_key_unique" UNIQUE("key")
);
--> statement-breakpoint
CREATE TABLE "deployment" (
	"id" uuid PRIMARY KEY NOT NULL,
	"created" timestamp(6) with time zone NOT NULL,
	"updated" timestamp(6) with time zone NOT NULL,
	"name" text NOT NULL,
	"version" text,
	"description" text,
	"flow_id" uuid NOT NULL,
	"paused" boolean DEFAULT false NOT NULL,
	"work_queue_name" text,
	"work_queue_id" uuid,
	"job_variables" jsonb NOT NULL,
	"path" text,
	"entrypoint" text,
	"last_polled" timestamp(6) with time zone,
	"status" text DEFAULT 'NOT_READY' NOT NULL,
	"concurrency_limit_id" uuid,
	"concurrency_options" jsonb,
	"tags" jsonb NOT NULL,
	"labels" jsonb NOT NULL,
	"parameters" jsonb NOT NULL,
	"pull_steps" jsonb,
	"parameter_openapi_schema" jsonb,
	"enforce_parameter_schema" boolean DEFAULT true NOT NULL,
	"created_by" jsonb,
	"updated_by" jsonb,
	"storage_document_id" uuid,
	"infrastructure_document_id" uuid,
	"version_info" jsonb
);
--> statement-breakpoint
CREATE TABLE "deployment_schedule" (
	"id" uuid PRIMARY KEY NOT NULL,
	"created" timestamp(6) with time zone NOT NULL,
	"updated" timestamp(6) with time zone NOT NULL,
	"deployment_id" uuid NOT NULL,
	"schedule" jsonb NOT NULL,
	"active" boolean DEFAULT true NOT NULL,
	"max_scheduled_runs" integer,
	"parameters" jsonb NOT NULL,
	"slug" text
);
--> statement-breakpoint
CREATE TABLE "events" (
	"id" uuid PRIMARY KEY NOT NULL,
	"created" timestamp(6) with time zone NOT NULL,
	"updated" timestamp(6) with time zone NOT NULL,
	"occurred" timestamp(6) with time zone NOT NULL,
	"event" text NOT NULL,
	"resource_id" text NOT NULL,
	"resource" jsonb NOT NULL,
	"related_resource_ids" jsonb NOT NULL,
	"related" jsonb NOT NULL,
	"payload" jsonb NOT NULL,
	"received" timestamp(6) with time zone NOT NULL,
	"recorded" timestamp(6) with time zone NOT NULL,
	"follows" uuid
);
--> statement-breakpoint
CREATE TABLE "event_resources" (
	"id" uuid PRIMARY KEY NOT NULL,
	"created" timestamp(6) with time zone NOT NULL,
	"updated" timestamp(6) with time zone NOT NULL,
	"occurred" timestamp(6) with time zone NOT NULL,
	"resource_id" text NOT NULL,
	"resource_role" text NOT NULL,
	"resource" jsonb NOT NULL,
	"event_id" uuid NOT NULL
);
--> statement-breakpoint
CREATE TABLE "flow" (
	"id" uuid PRIMARY KEY NOT NULL,
	"created" timestamp(6) with time zone NOT NULL,
	"updated" timestamp(6) with time zone NOT NULL,
	"name" text NOT NULL,
	"tags" jsonb NOT NULL,
	"labels" jsonb NOT NULL,
	CONSTRAINT "flow_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "flow_run" (
	"id" uuid PRIMARY KEY NOT NULL,
	"created" timestamp(6) with time zone NOT NULL,
	"updated" timestamp(6) with time zone NOT NULL,
	"name" text NOT NULL,
	"flow_id" uuid NOT NULL,
	"state_id" uuid,
	"deployment_id" uuid,
	"deployment_version" text,
	"work_queue_id" uuid,
	"work_queue_name" text,
	"flow_version" text,
	"parameters" jsonb NOT NULL,
	"idempotency_key" text,
	"context" jsonb NOT NULL,
	"empirical_policy" jsonb NOT NULL,
	"tags" jsonb NOT NULL,
	"labels" jsonb NOT NULL,
	"parent_task_run_id" uuid,
	"state_type" text,
	"state_name" text,
	"state_timestamp" timestamp(6) with time zone,
	"run_count" integer DEFAULT 0 NOT NULL,
	"expected_start_time" timestamp(6) with time zone,
	"next_scheduled_start_time" timestamp(6) with time zone,
	"start_time" timestamp(6) with time zone,
	"end_time" timestamp(6) with time zone,
	"total_run_time" bigint DEFAULT 0 NOT NULL,
	"auto_scheduled" boolean DEFAULT false NOT NULL,
	"infrastructure_document_id" uuid,
	"infrastructure_pid" text,
	"created_by" jsonb,
	"job_variables" jsonb
);
--> statement-breakpoint
CREATE TABLE "flow_run_input" (
	"id" uuid PRIMARY KEY NOT NULL,
	"created" timestamp(6) with time zone NOT NULL,
	"updated" timestamp(6) with time zone NOT NULL,
	"flow_run_id" uuid NOT NULL,
	"key" text NOT NULL,
	"value" text NOT NULL,
	"sender" text
);
--> statement-breakpoint
CREATE TABLE "flow_run_state" (
	"id" uuid PRIMARY KEY NOT NULL,
	"created" timestamp(6) with time zone NOT NULL,
	"updated" timestamp(6) with time zone NOT NULL,
	"type" text NOT NULL,
	"name" text NOT NULL,
	"timestamp" timestamp(6) with time zone NOT NULL,
	"message" text,
	"data" jsonb,
	"state_details" jsonb NOT NULL,
	"flow_run_id" uuid NOT NULL
);
--> statement-breakpoint
CREATE TABLE "log" (
	"id" uuid PRIMARY KEY NOT NULL,
	"created" timestamp(6) with time zone NOT NULL,
	"updated" timestamp(6) with time zone NOT NULL,
	"name" text NOT NULL,
	"level" integer NOT NULL,
	"flow_run_id" uuid,
	"task_run_id" uuid,
	"message" text NOT NULL,
	"timestamp" timestamp(6) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "saved_search" (
	"id" uuid PRIMARY KEY NOT NULL,
	"created" timestamp(6) with time zone NOT NULL,
	"updated" timestamp(6) with time zone NOT NULL,
	"name" text NOT NULL,
	"filters" jsonb NOT NULL,
	CONSTRAINT "saved_search_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "task_run" (
	"id" uuid PRIMARY KEY NOT NULL,
	"created" timestamp(6) with time zone NOT NULL,
	"updated" timestamp(6) with time zone NOT NULL,
	"name" text NOT NULL,
	"flow_run_id" uuid,
	"task_key" text NOT NULL,
	"dynamic_key" text NOT NULL,
	"cache_key" text,
	"cache_expiration" timestamp(6) with time zone,
	"task_version" text,
	"empirical_policy" jsonb NOT NULL,
	"tags" jsonb NOT NULL,
	"labels" jsonb NOT NULL,
	"state_id" uuid,
	"task_inputs" jsonb NOT NULL,
	"state_type" text,
	"state_name" text,
	"state_timestamp" timestamp(6) with time zone,
	"run_count" integer DEFAULT 0 NOT NULL,
	"flow_run_run_count" integer DEFAULT 0 NOT NULL,
	"expected_start_time" timestamp(6) with time zone,
	"next_scheduled_start_time" timestamp(6) with time zone,
	"start_time" timestamp(6) with time zone,
	"end_time" timestamp(6) with time zone,
	"total_run_time" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "task_run_state" (
	"id" uuid PRIMARY KEY NOT NULL,
	"created" timestamp(6) with time zone NOT NULL,
	"updated" timestamp(6) with time zone NOT NULL,
	"type" text NOT NULL,
	"name" text NOT NULL,
	"timestamp" timestamp(6) with time zone NOT NULL,
	"message" text,
	"data" jsonb,
	"state_details" jsonb NOT NULL,
	"task_run_id" uuid NOT NULL
);
--> statement-breakpoint
CREATE TABLE "task_run_state_cache" (
	"id" uuid PRIMARY KEY NOT NULL,
	"created" timestamp(6) with time zone NOT NULL,
	"updated" timestamp(6) with time zone NOT NULL,
	"cache_key" text NOT NULL,
	"cache_expiration" timestamp(6) with time zone,
	"task_run_state_id" uuid NOT NULL
);
--> statement-breakpoint
CREATE TABLE "variable" (
	"id" uuid PRIMARY KEY NOT NULL,
	"created" timestamp(6) with time zone NOT NULL,
	"updated" timestamp(6) with time zone NOT NULL,
	"name" text NOT NULL,
	"value" jsonb,
	"tags" jsonb NOT NULL,
	CONSTRAINT "variable_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "work_pool" (
	"id" uuid PRIMARY KEY NOT NULL,
	"created" timestamp(6) with time zone NOT NULL,
	"updated" timestamp(6) with time zone NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"type" text NOT NULL,
	"base_job_template" jsonb NOT NULL,
	"is_paused" boolean DEFAULT false NOT NULL,
	"default_queue_id" uuid,
	"concurrency_limit" integer,
	"status" text,
	"last_transitioned_status_at" timestamp(6) with time zone,
	"storage_configuration" jsonb NOT NULL,
	CONSTRAINT "work_pool_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "work_queue" (
	"id" uuid PRIMARY KEY NOT NULL,
	"created" timestamp(6) with time zone NOT NULL,
	"updated" timestamp(6) with time zone NOT NULL,
	"name" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"is_paused" boolean DEFAULT false NOT NULL,
	"concurrency_limit" integer,
	"priority" integer NOT NULL,
	"last_polled" timestamp(6) with time zone,
	"status" text DEFAULT 'NOT_READY' NOT NULL,
	"filter" jsonb,
	"work_pool_id" uuid NOT NULL
);
--> statement-breakpoint
CREATE TABLE "worker" (
	"id" uuid PRIMARY KEY NOT NULL,
	"created" timestamp(6) with time zone NOT NULL,
	"updated" timestamp(6) with time zone NOT NULL,
	"work_pool_id" uuid NOT NULL,
	"name" text NOT NULL,
	"last_heartbeat_time" timestamp(6) with time zone NOT NULL,
	"heartbeat_interval_seconds" integer,
	"status" text DEFAULT 'OFFLINE' NOT NULL
);
--> statement-breakpoint
ALTER TABLE "block_document" ADD CONSTRAINT "block_document_block_schema_id_block_schema_id_fk" FOREIGN KEY ("block_schema_id") REFERENCES "public"."block_schema"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "block_document" ADD CONSTRAINT "block_document_block_type_id_block_type_id_fk" FOREIGN KEY ("block_type_id") REFERENCES "public"."block_type"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "block_document_reference" ADD CONSTRAINT "block_document_reference_parent_block_document_id_block_document_id_fk" FOREIGN KEY ("parent_block_document_id") REFERENCES "public"."block_document"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "block_document_reference" ADD CONSTRAINT "block_document_reference_reference_block_document_id_block_document_id_fk" FOREIGN KEY ("reference_block_document_id") REFERENCES "public"."block_document"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "block_schema" ADD CONSTRAINT "block_schema_block_type_id_block_type_id_fk" FOREIGN KEY ("block_type_id") REFERENCES "public"."block_type"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "deployment" ADD CONSTRAINT "deployment_flow_id_flow_id_fk" FOREIGN KEY ("flow_id") REFERENCES "public"."flow"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "deployment" ADD CONSTRAINT "deployment_work_queue_id_work_queue_id_fk" FOREIGN KEY ("work_queue_id") REFERENCES "public"."work_queue"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "deployment" ADD CONSTRAINT "deployment_concurrency_limit_id_concurrency_limit_v2_id_fk" FOREIGN KEY ("concurrency_limit_id") REFERENCES "public"."concurrency_limit_v2"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "deployment_schedule" ADD CONSTRAINT "deployment_schedule_deployment_id_deployment_id_fk" FOREIGN KEY ("deployment_id") REFERENCES "public"."deployment"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "event_resources" ADD CONSTRAINT "event_resources_event_id_events_id_fk" FOREIGN KEY ("event_id") REFERENCES "public"."events"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "flow_run" ADD CONSTRAINT "flow_run_flow_id_flow_id_fk" FOREIGN KEY ("flow_id") REFERENCES "public"."flow"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "flow_run" ADD CONSTRAINT "flow_run_parent_task_run_id_task_run_id_fk" FOREIGN KEY ("parent_task_run_id") REFERENCES "public"."task_run"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "flow_run_input" ADD CONSTRAINT "flow_run_input_flow_run_id_flow_run_id_fk" FOREIGN KEY ("flow_run_id") REFERENCES "public"."flow_run"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "flow_run_state" ADD CONSTRAINT "flow_run_state_flow_run_id_flow_run_id_fk" FOREIGN KEY ("flow_run_id") REFERENCES "public"."flow_run"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "task_run" ADD CONSTRAINT "task_run_flow_run_id_flow_run_id_fk" FOREIGN KEY ("flow_run_id") REFERENCES "public"."flow_run"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "task_run_state" ADD CONSTRAINT "task_run_state_task_run_id_task_run_id_fk" FOREIGN KEY ("task_run_id") REFERENCES "public"."task_run"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "work_queue" ADD CONSTRAINT "work_queue_work_pool_id_work_pool_id_fk" FOREIGN KEY ("work_pool_id") REFERENCES "public"."work_pool"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "worker" ADD CONSTRAINT "worker_work_pool_id_work_pool_id_fk" FOREIGN KEY ("work_pool_id") REFERENCES "public"."work_pool"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "ix_artifact__key_created" ON "artifact" USING btree ("key","created");--> statement-breakpoint
CREATE INDEX "ix_artifact__flow_run_id" ON "artifact" USING btree ("flow_run_id");--> statement-breakpoint
CREATE INDEX "ix_artifact__task_run_id" ON "artifact" USING btree ("task_run_id");--> statement-breakpoint
CREATE UNIQUE INDEX "uq_block_document__block_type_id_name" ON "block_document" USING btree ("block_type_id","name");--> statement-breakpoint
CREATE UNIQUE INDEX "uq_block_document_reference__parent_name" ON "block_document_reference" USING btree ("parent_block_document_id","name");--> statement-breakpoint
CREATE UNIQUE INDEX "uq_block_schema__checksum_version" ON "block_schema" USING btree ("checksum","version");--> statement-breakpoint
CREATE INDEX "ix_block_schema__block_type_id" ON "block_schema" USING btree ("block_type_id");--> statement-breakpoint
CREATE INDEX "ix_concurrency_lease__expiration" ON "concurrency_lease" USING btree ("expiration");--> statement-breakpoint
CREATE UNIQUE INDEX "uq_deployment__flow_id_name" ON "deployment" USING btree ("flow_id","name");--> statement-breakpoint
CREATE INDEX "ix_deployment__work_queue_id" ON "deployment" USING btree ("work_queue_id");--> statement-breakpoint
CREATE INDEX "ix_deployment__updated" ON "deployment" USING btree ("updated");--> statement-breakpoint
CREATE INDEX "ix_deployment__paused" ON "deployment" USING btree ("paused");--> statement-breakpoint
CREATE INDEX "ix_deployment_schedule__deployment_id" ON "deployment_schedule" USING btree ("deployment_id");--> statement-breakpoint
CREATE UNIQUE INDEX "uq_deployment_schedule__deployment_id_slug" ON "deployment_schedule" USING btree ("deployment_id","slug");--> statement-breakpoint
CREATE INDEX "ix_events__occurred_id" ON "events" USING btree ("occurred","id");--> statement-breakpoint
CREATE INDEX "ix_events__event_occurred_id" ON "events" USING btree ("event","occurred","id");--> statement-breakpoint
CREATE INDEX "ix_events__event_resource_id_occurred" ON "events" USING btree ("event","resource_id","occurred");--> statement-breakpoint
CREATE INDEX "ix_event_resources__resource_id_occurred" ON "event_resources" USING btree ("resource_id","occurred");--> statement-breakpoint
CREATE INDEX "ix_event_resources__event_id" ON "event_resources" USING btree ("event_id");--> statement-breakpoint
CREATE UNIQUE INDEX "uq_flow_run__flow_id_idempotency_key" ON "flow_run" USING btree ("flow_id","idempotency_key");--> statement-breakpoint
CREATE INDEX "ix_flow_run__flow_id" ON "flow_run" USING btree ("flow_id");--> statement-breakpoint
CREATE INDEX "ix_flow_run__deployment_id_state_type_next_scheduled" ON "flow_run" USING btree ("deployment_id","state_type","next_scheduled_start_time");--> statement-breakpoint
CREATE INDEX "ix_flow_run__work_queue_id_state_type_next_scheduled" ON "flow_run" USING btree ("work_queue_id","state_type","next_scheduled_start_time");--> statement-breakpoint
CREATE INDEX "ix_flow_run__state_type_next_scheduled" ON "flow_run" USING btree ("state_type","next_scheduled_start_time");--> statement-breakpoint
CREATE INDEX "ix_flow_run__parent_task_run_id" ON "flow_run" USING btree ("parent_task_run_id");--> statement-breakpoint
CREATE INDEX "ix_flow_run__state_type" ON "flow_run" USING btree ("state_type");--> statement-breakpoint
CREATE INDEX "ix_flow_run__expected_start_time" ON "flow_run" USING btree ("expected_start_time");--> statement-breakpoint
CREATE INDEX "ix_flow_run__next_scheduled_start_time" ON "flow_run" USING btree ("next_scheduled_start_time");--> statement-breakpoint
CREATE INDEX "ix_flow_run__start_time" ON "flow_run" USING btree ("start_time");--> statement-breakpoint
CREATE INDEX "ix_flow_run__coalesce_start_time_id" ON "flow_run" USING btree (COALESCE(start_time, expected_start_time) DESC,id DESC);--> statement-breakpoint
CREATE INDEX "ix_flow_run__end_time" ON "flow_run" USING btree ("end_time");--> statement-breakpoint
CREATE INDEX "ix_flow_run__name" ON "flow_run" USING btree ("name");--> statement-breakpoint
CREATE UNIQUE INDEX "uq_flow_run_input__flow_run_id_key" ON "flow_run_input" USING btree ("flow_run_id","key");--> statement-breakpoint
CREATE UNIQUE INDEX "uq_flow_run_state__flow_run_id_timestamp" ON "flow_run_state" USING btree ("flow_run_id","timestamp");--> statement-breakpoint
CREATE INDEX "ix_log__flow_run_id_timestamp" ON "log" USING btree ("flow_run_id","timestamp");--> statement-breakpoint
CREATE INDEX "ix_log__task_run_id" ON "log" USING btree ("task_run_id");--> statement-breakpoint
CREATE INDEX "ix_log__timestamp" ON "log" USING btree ("timestamp");--> statement-breakpoint
CREATE UNIQUE INDEX "uq_task_run__flow_run_id_task_key_dynamic_key" ON "task_run" USING btree ("flow_run_id","task_key","dynamic_key");--> statement-breakpoint
CREATE INDEX "ix_task_run__flow_run_id" ON "task_run" USING btree ("flow_run_id");--> statement-breakpoint
CREATE INDEX "ix_task_run__state_type" ON "task_run" USING btree ("state_type");--> statement-breakpoint
CREATE INDEX "ix_task_run__expected_start_time" ON "task_run" USING btree ("expected_start_time");--> statement-breakpoint
CREATE INDEX "ix_task_run__name" ON "task_run" USING btree ("name");--> statement-breakpoint
CREATE UNIQUE INDEX "uq_task_run_state__task_run_id_timestamp" ON "task_run_state" USING btree ("task_run_id","timestamp");--> statement-breakpoint
CREATE INDEX "ix_task_run_state_cache__cache_key_created" ON "task_run_state_cache" USING btree ("cache_key","created");--> statement-breakpoint
CREATE UNIQUE INDEX "uq_work_queue__work_pool_id_name" ON "work_queue" USING btree ("work_pool_id","name");--> statement-breakpoint
CREATE INDEX "ix_work_queue__work_pool_id_priority" ON "work_queue" USING btree ("work_pool_id","priority");--> statement-breakpoint
CREATE UNIQUE INDEX "uq_worker__work_pool_id_name" ON "worker" USING btree ("work_pool_id","name");--> statement-breakpoint
CREATE INDEX "ix_worker__work_pool_id_last_heartbeat_time" ON "worker" USING btree ("work_pool_id","last_heartbeat_time");