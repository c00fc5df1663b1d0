CREATE TABLE `concurrency_lease` (
	`id` text PRIMARY KEY NOT NULL,
	`created` integer NOT NULL,
	`updated` integer NOT NULL,
	`expiration` integer NOT NULL,
	`resource_ids` text NOT NULL,
	`slots` integer NOT NULL,
	`metadata` text
);
--> statement-breakpoint
CREATE INDEX `ix_concurrency_lease__expiration` ON `concurrency_lease` (`expiration`);--> statement-breakpoint
CREATE TABLE `concurrency_limit_v2` (
	`id` text PRIMARY KEY NOT NULL,
	`created` integer NOT NULL,
	`updated` integer NOT NULL,
	`active` integer DEFAULT true NOT NULL,
	`name` text NOT NULL,
	`limit` integer NOT NULL,
	`active_slots` integer DEFAULT 0 NOT NULL,
	`denied_slots` integer DEFAULT 0 NOT NULL,
	`slot_decay_per_second` real DEFAULT 0 NOT NULL,
	`avg_slot_occupancy_seconds` real DEFAULT 2 NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `concurrency_limit_v2_name_unique` ON `concurrency_limit_v2` (`name`);--> statement-breakpoint
CREATE TABLE `deployment` (
	`id` text PRIMARY KEY NOT NULL,
	`created` integer NOT NULL,
	`updated` integer NOT NULL,
	`name` text NOT NULL,
	`version` text,
	`description` text,
	`flow_id` text NOT NULL,
	`paused` integer DEFAULT false NOT NULL,
	`work_queue_name` text,
	`work_queue_id` text,
	`job_variables` text NOT NULL,
	`path` text,
	`entrypoint` text,
	`last_polled` integer,
	`status` text DEFAULT 'NOT_READY' NOT NULL,
	`concurrency_limit_id` text,
	`concurrency_options` text,
	`tags` text NOT NULL,
	`labels` text NOT NULL,
	`parameters` text NOT NULL,
	`pull_steps` text,
	`parameter_openapi_schema` text,
	`enforce_parameter_schema` integer DEFAULT true NOT NULL,
	`created_by` text,
	`updated_by` text,
	`storage_document_id` text,
	`infrastructure_document_id` text,
	`version_info` text,
	FOREIGN KEY (`flow_id`) REFERENCES `flow`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`work_queue_id`) REFERENCES `work_queue`(`id`) ON UPDATE no action ON DELETE set null,
	FOREIGN KEY (`concurrency_limit_id`) REFERENCES `concurrency_limit_v2`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE UNIQUE INDEX `uq_deployment__flow_id_name` ON `deployment` (`flow_id`,`name`);--> statement-breakpoint
CREATE INDEX `ix_deployment__work_queue_id` ON `deployment` (`work_queue_id`);--> statement-breakpoint
CREATE INDEX `ix_deployment__updated` ON `deployment` (`updated`);--> statement-breakpoint
CREATE INDEX `ix_deployment__paused` ON `deployment` (`paused`);--> statement-breakpoint
CREATE TABLE `deployment_schedule` (
	`id` text PRIMARY KEY NOT NULL,
	`created` integer NOT NULL,
	`updated` integer NOT NULL,
	`deployment_id` text NOT NULL,
	`schedule` text NOT NULL,
	`active` integer DEFAULT true NOT NULL,
	`max_scheduled_runs` integer,
	`parameters` text NOT NULL,
	`slug` text,
	FOREIGN KEY (`deployment_id`) REFERENCES `deployment`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `ix_deployment_schedule__deployment_id` ON `deployment_schedule` (`deployment_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `uq_deployment_schedule__deployment_id_slug` ON `deployment_schedule` (`deployment_id`,`slug`);--> statement-breakpoint
CREATE TABLE `work_pool` (
	`id` text PRIMARY KEY NOT NULL,
	`created` integer NOT NULL,
	`updated` integer NOT NULL,
	`name` text NOT NULL,
	`description` text,
	`type` text NOT NULL,
	`base_job_template` text NOT NULL,
	`is_paused` integer DEFAULT false NOT NULL,
	`default_queue_id` text,
	`concurrency_limit` integer,
	`status` text,
	`last_transitioned_status_at` integer,
	`storage_configuration` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `work_pool_name_unique` ON `work_pool` (`name`);--> statement-breakpoint
CREATE TABLE `work_queue` (
	`id` text PRIMARY KEY NOT NULL,
	`created` integer NOT NULL,
	`updated` integer NOT NULL,
	`name` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`is_paused` integer DEFAULT false NOT NULL,
	`concurrency_limit` integer,
	`priority` integer NOT NULL,
	`last_polled` integer,
	`status` text DEFAULT 'NOT_READY' NOT NULL,
	`filter` text,
	`work_pool_id` text NOT NULL,
	FOREIGN KEY (`work_pool_id`) REFERENCES `work_pool`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `uq_work_queue__work_pool_id_name` ON `work_queue` (`work_pool_id`,`name`);--> statement-breakpoint
CREATE INDEX `ix_work_queue__work_pool_id_priority` ON `work_queue` (`work_pool_id`,`priority`);--> statement-breakpoint
CREATE TABLE `worker` (
	`id` text PRIMARY KEY NOT NULL,
	`created` integer NOT NULL,
	`updated` integer NOT NULL,
	`work_pool_id` text NOT NULL,
	`name` text NOT NULL,
	`last_heartbeat_time` integer NOT NULL,
	`heartbeat_interval_seconds` integer,
	`status` text DEFAULT 'OFFLINE' NOT NULL,
	FOREIGN KEY (`work_pool_id`) REFERENCES `work_pool`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `uq_worker__work_pool_id_name` ON `worker` (`work_pool_id`,`name`);--> statement-breakpoint
CREATE INDEX `ix_worker__work_pool_id_last_heartbeat_time` ON `worker` (`work_pool_id`,`last_heartbeat_time`);--> statement-breakpoint
DROP INDEX `ix_flow_run__work_queue_id`;--> statement-breakpoint
CREATE INDEX `ix_flow_run__work_queue_id_state_type_next_scheduled` ON `flow_run` (`work_queue_id`,`state_type`,`next_scheduled_start_time`);--> statement-breakpoint
CREATE INDEX `ix_flow_run__state_type_next_scheduled` ON `flow_run` (`state_type`,`next_scheduled_start_time`);