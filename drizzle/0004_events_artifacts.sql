CREATE TABLE `artifact` (
	`id` text PRIMARY KEY NOT NULL,
	`created` integer NOT NULL,
	`updated` integer NOT NULL,
	`key` text,
	`task_run_id` text,
	`flow_run_id` text,
	`type` text,
	`data` text,
	`description` text,
	`metadata_` text
);
--> statement-breakpoint
CREATE INDEX `ix_artifact__key_created` ON `artifact` (`key`,`created`);--> statement-breakpoint
CREATE INDEX `ix_artifact__flow_run_id` ON `artifact` (`flow_run_id`);--> statement-breakpoint
CREATE INDEX `ix_artifact__task_run_id` ON `artifact` (`task_run_id`);--> statement-breakpoint
CREATE TABLE `artifact_collection` (
	`id` text PRIMARY KEY NOT NULL,
	`created` integer NOT NULL,
	`updated` integer NOT NULL,
	`key` text NOT NULL,
	`latest_id` text NOT NULL,
	`task_run_id` text,
	`flow_run_id` text,
	`type` text,
	`data` text,
	`description` text,
	`metadata_` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `artifact_collection_key_unique` ON `artifact_collection` (`key`);--> statement-breakpoint
CREATE TABLE `automation` (
	`id` text PRIMARY KEY NOT NULL,
	`created` integer NOT NULL,
	`updated` integer NOT NULL,
	`name` text NOT NULL,
	`description` text DEFAULT '' NOT NULL,
	`enabled` integer DEFAULT true NOT NULL,
	`tags` text NOT NULL,
	`trigger` text NOT NULL,
	`actions` text NOT NULL,
	`actions_on_trigger` text NOT NULL,
	`actions_on_resolve` text NOT NULL,
	`owner_resource` text
);
--> statement-breakpoint
CREATE TABLE `events` (
	`id` text PRIMARY KEY NOT NULL,
	`created` integer NOT NULL,
	`updated` integer NOT NULL,
	`occurred` integer NOT NULL,
	`event` text NOT NULL,
	`resource_id` text NOT NULL,
	`resource` text NOT NULL,
	`related_resource_ids` text NOT NULL,
	`related` text NOT NULL,
	`payload` text NOT NULL,
	`received` integer NOT NULL,
	`recorded` integer NOT NULL,
	`follows` text
);
--> statement-breakpoint
CREATE INDEX `ix_events__occurred_id` ON `events` (`occurred`,`id`);--> statement-breakpoint
CREATE INDEX `ix_events__event_occurred_id` ON `events` (`event`,`occurred`,`id`);--> statement-breakpoint
CREATE INDEX `ix_events__event_resource_id_occurred` ON `events` (`event`,`resource_id`,`occurred`);--> statement-breakpoint
CREATE TABLE `event_resources` (
	`id` text PRIMARY KEY NOT NULL,
	`created` integer NOT NULL,
	`updated` integer NOT NULL,
	`occurred` integer NOT NULL,
	`resource_id` text NOT NULL,
	`resource_role` text NOT NULL,
	`resource` text NOT NULL,
	`event_id` text NOT NULL,
	FOREIGN KEY (`event_id`) REFERENCES `events`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `ix_event_resources__resource_id_occurred` ON `event_resources` (`resource_id`,`occurred`);--> statement-breakpoint
CREATE INDEX `ix_event_resources__event_id` ON `event_resources` (`event_id`);--> statement-breakpoint
CREATE TABLE `saved_search` (
	`id` text PRIMARY KEY NOT NULL,
	`created` integer NOT NULL,
	`updated` integer NOT NULL,
	`name` text NOT NULL,
	`filters` text NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `saved_search_name_unique` ON `saved_search` (`name`);