CREATE TABLE `block_document` (
	`id` text PRIMARY KEY NOT NULL,
	`created` integer NOT NULL,
	`updated` integer NOT NULL,
	`name` text NOT NULL,
	`data` text NOT NULL,
	`block_schema_id` text NOT NULL,
	`block_type_id` text NOT NULL,
	`is_anonymous` integer DEFAULT false NOT NULL,
	FOREIGN KEY (`block_schema_id`) REFERENCES `block_schema`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`block_type_id`) REFERENCES `block_type`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `uq_block_document__block_type_id_name` ON `block_document` (`block_type_id`,`name`);--> statement-breakpoint
CREATE TABLE `block_document_reference` (
	`id` text PRIMARY KEY NOT NULL,
	`created` integer NOT NULL,
	`updated` integer NOT NULL,
	`name` text NOT NULL,
	`parent_block_document_id` text NOT NULL,
	`reference_block_document_id` text NOT NULL,
	FOREIGN KEY (`parent_block_document_id`) REFERENCES `block_document`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`reference_block_document_id`) REFERENCES `block_document`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `uq_block_document_reference__parent_name` ON `block_document_reference` (`parent_block_document_id`,`name`);--> statement-breakpoint
CREATE TABLE `block_schema` (
	`id` text PRIMARY KEY NOT NULL,
	`created` integer NOT NULL,
	`updated` integer NOT NULL,
	`checksum` text NOT NULL,
	`fields` text NOT NULL,
	`block_type_id` text NOT NULL,
	`capabilities` text NOT NULL,
	`version` text NOT NULL,
	FOREIGN KEY (`block_type_id`) REFERENCES `block_type`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `uq_block_schema__checksum_version` ON `block_schema` (`checksum`,`version`);--> statement-breakpoint
CREATE INDEX `ix_block_schema__block_type_id` ON `block_schema` (`block_type_id`);--> statement-breakpoint
CREATE TABLE `block_type` (
	`id` text PRIMARY KEY NOT NULL,
	`created` integer NOT NULL,
	`updated` integer NOT NULL,
	`name` text NOT NULL,
	`slug` text NOT NULL,
	`logo_url` text,
	`documentation_url` text,
	`description` text,
	`code_example` text,
	`is_protected` integer DEFAULT false NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `block_type_slug_unique` ON `block_type` (`slug`);--> statement-breakpoint
CREATE TABLE `flow` (
	`id` text PRIMARY KEY NOT NULL,
	`created` integer NOT NULL,
	`updated` integer NOT NULL,
	`name` text NOT NULL,
	`tags` text NOT NULL,
	`labels` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `flow_name_unique` ON `flow` (`name`);--> statement-breakpoint
CREATE TABLE `flow_run` (
	`id` text PRIMARY KEY NOT NULL,
	`created` integer NOT NULL,
	`updated` integer NOT NULL,
	`name` text NOT NULL,
	`flow_id` text NOT NULL,
	`state_id` text,
	`deployment_id` text,
	`deployment_version` text,
	`work_queue_id` text,
	`work_queue_name` text,
	`flow_version` text,
	`parameters` text NOT NULL,
	`idempotency_key` text,
	`context` text NOT NULL,
	`empirical_policy` text NOT NULL,
	`tags` text NOT NULL,
	`labels` text NOT NULL,
	`parent_task_run_id` text,
	`state_type` text,
	`state_name` text,
	`state_timestamp` integer,
	`run_count` integer DEFAULT 0 NOT NULL,
	`expected_start_time` integer,
	`next_scheduled_start_time` integer,
	`start_time` integer,
	`end_time` integer,
	`total_run_time` integer DEFAULT 0 NOT NULL,
	`auto_scheduled` integer DEFAULT false NOT NULL,
	`infrastructure_document_id` text,
	`infrastructure_pid` text,
	`created_by` text,
	`job_variables` text,
	FOREIGN KEY (`flow_id`) REFERENCES `flow`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`parent_task_run_id`) REFERENCES `task_run`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE UNIQUE INDEX `uq_flow_run__flow_id_idempotency_key` ON `flow_run` (`flow_id`,`idempotency_key`);--> statement-breakpoint
CREATE INDEX `ix_flow_run__flow_id` ON `flow_run` (`flow_id`);--> statement-breakpoint
CREATE INDEX `ix_flow_run__deployment_id` ON `flow_run` (`deployment_id`);--> statement-breakpoint
CREATE INDEX `ix_flow_run__work_queue_id` ON `flow_run` (`work_queue_id`);--> statement-breakpoint
CREATE INDEX `ix_flow_run__parent_task_run_id` ON `flow_run` (`parent_task_run_id`);--> statement-breakpoint
CREATE INDEX `ix_flow_run__state_type` ON `flow_run` (`state_type`);--> statement-breakpoint
CREATE INDEX `ix_flow_run__expected_start_time` ON `flow_run` (`expected_start_time`);--> statement-breakpoint
CREATE INDEX `ix_flow_run__next_scheduled_start_time` ON `flow_run` (`next_scheduled_start_time`);--> statement-breakpoint
CREATE INDEX `ix_flow_run__start_time` ON `flow_run` (`start_time`);--> statement-breakpoint
CREATE INDEX `ix_flow_run__end_time` ON `flow_run` (`end_time`);--> statement-breakpoint
CREATE INDEX `ix_flow_run__name` ON `flow_run` (`name`);--> statement-breakpoint
CREATE TABLE `flow_run_input` (
	`id` text PRIMARY KEY NOT NULL,
	`created` integer NOT NULL,
	`updated` integer NOT NULL,
	`flow_run_id` text NOT NULL,
	`key` text NOT NULL,
	`value` text NOT NULL,
	`sender` text,
	FOREIGN KEY (`flow_run_id`) REFERENCES `flow_run`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `uq_flow_run_input__flow_run_id_key` ON `flow_run_input` (`flow_run_id`,`key`);--> statement-breakpoint
CREATE TABLE `flow_run_state` (
	`id` text PRIMARY KEY NOT NULL,
	`created` integer NOT NULL,
	`updated` integer NOT NULL,
	`type` text NOT NULL,
	`name` text NOT NULL,
	`timestamp` integer NOT NULL,
	`message` text,
	`data` text,
	`state_details` text NOT NULL,
	`flow_run_id` text NOT NULL,
	FOREIGN KEY (`flow_run_id`) REFERENCES `flow_run`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `uq_flow_run_state__flow_run_id_timestamp` ON `flow_run_state` (`flow_run_id`,`timestamp`);--> statement-breakpoint
CREATE TABLE `log` (
	`id` text PRIMARY KEY NOT NULL,
	`created` integer NOT NULL,
	`updated` integer NOT NULL,
	`name` text NOT NULL,
	`level` integer NOT NULL,
	`flow_run_id` text,
	`task_run_id` text,
	`message` text NOT NULL,
	`timestamp` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `ix_log__flow_run_id_timestamp` ON `log` (`flow_run_id`,`timestamp`);--> statement-breakpoint
CREATE INDEX `ix_log__task_run_id` ON `log` (`task_run_id`);--> statement-breakpoint
CREATE INDEX `ix_log__timestamp` ON `log` (`timestamp`);--> statement-breakpoint
CREATE TABLE `task_run` (
	`id` text PRIMARY KEY NOT NULL,
	`created` integer NOT NULL,
	`updated` integer NOT NULL,
	`name` text NOT NULL,
	`flow_run_id` text,
	`task_key` text NOT NULL,
	`dynamic_key` text NOT NULL,
	`cache_key` text,
	`cache_expiration` integer,
	`task_version` text,
	`empirical_policy` text NOT NULL,
	`tags` text NOT NULL,
	`labels` text NOT NULL,
	`state_id` text,
	`task_inputs` text NOT NULL,
	`state_type` text,
	`state_name` text,
	`state_timestamp` integer,
	`run_count` integer DEFAULT 0 NOT NULL,
	`flow_run_run_count` integer DEFAULT 0 NOT NULL,
	`expected_start_time` integer,
	`next_scheduled_start_time` integer,
	`start_time` integer,
	`end_time` integer,
	`total_run_time` integer DEFAULT 0 NOT NULL,
	FOREIGN KEY (`flow_run_id`) REFERENCES `flow_run`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `uq_task_run__flow_run_id_task_key_dynamic_key` ON `task_run` (`flow_run_id`,`task_key`,`dynamic_key`);--> statement-breakpoint
CREATE INDEX `ix_task_run__flow_run_id` ON `task_run` (`flow_run_id`);--> statement-breakpoint
CREATE INDEX `ix_task_run__state_type` ON `task_run` (`state_type`);--> statement-breakpoint
CREATE INDEX `ix_task_run__expected_start_time` ON `task_run` (`expected_start_time`);--> statement-breakpoint
CREATE INDEX `ix_task_run__name` ON `task_run` (`name`);--> statement-breakpoint
CREATE TABLE `task_run_state` (
	`id` text PRIMARY KEY NOT NULL,
	`created` integer NOT NULL,
	`updated` integer NOT NULL,
	`type` text NOT NULL,
	`name` text NOT NULL,
	`timestamp` integer NOT NULL,
	`message` text,
	`data` text,
	`state_details` text NOT NULL,
	`task_run_id` text NOT NULL,
	FOREIGN KEY (`task_run_id`) REFERENCES `task_run`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `uq_task_run_state__task_run_id_timestamp` ON `task_run_state` (`task_run_id`,`timestamp`);--> statement-breakpoint
CREATE TABLE `task_run_state_cache` (
	`id` text PRIMARY KEY NOT NULL,
	`created` integer NOT NULL,
	`updated` integer NOT NULL,
	`cache_key` text NOT NULL,
	`cache_expiration` integer,
	`task_run_state_id` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `ix_task_run_state_cache__cache_key_created` ON `task_run_state_cache` (`cache_key`,`created`);--> statement-breakpoint
CREATE TABLE `variable` (
	`id` text PRIMARY KEY NOT NULL,
	`created` integer NOT NULL,
	`updated` integer NOT NULL,
	`name` text NOT NULL,
	`value` text,
	`tags` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `variable_name_unique` ON `variable` (`name`);