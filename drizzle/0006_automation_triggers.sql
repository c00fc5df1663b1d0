CREATE TABLE `automation_action` (
	`id` text PRIMARY KEY NOT NULL,
	`created` integer NOT NULL,
	`updated` integer NOT NULL,
	`automation_id` text NOT NULL,
	`action_index` integer NOT NULL,
	`triggered_action` text NOT NULL,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`last_error` text
);
--> statement-breakpoint
CREATE INDEX `ix_automation_action__status_next` ON `automation_action` (`status`,`next_attempt_at`);--> statement-breakpoint
CREATE TABLE `automation_bucket` (
	`id` text PRIMARY KEY NOT NULL,
	`created` integer NOT NULL,
	`updated` integer NOT NULL,
	`automation_id` text NOT NULL,
	`trigger_id` text NOT NULL,
	`bucketing_key` text NOT NULL,
	`last_event` text,
	`start` integer NOT NULL,
	`end` integer NOT NULL,
	`count` integer NOT NULL,
	`last_operation` text,
	`triggered_at` integer,
	FOREIGN KEY (`automation_id`) REFERENCES `automation`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `uq_automation_bucket__automation_trigger_key` ON `automation_bucket` (`automation_id`,`trigger_id`,`bucketing_key`);--> statement-breakpoint
CREATE INDEX `ix_automation_bucket__end` ON `automation_bucket` (`end`);--> statement-breakpoint
CREATE TABLE `automation_held_event` (
	`id` text PRIMARY KEY NOT NULL,
	`created` integer NOT NULL,
	`updated` integer NOT NULL,
	`automation_id` text NOT NULL,
	`trigger_id` text NOT NULL,
	`bucketing_key` text NOT NULL,
	`event_id` text NOT NULL,
	`occurred` integer NOT NULL,
	FOREIGN KEY (`automation_id`) REFERENCES `automation`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `uq_automation_held_event__trigger_key_event` ON `automation_held_event` (`automation_id`,`trigger_id`,`bucketing_key`,`event_id`);--> statement-breakpoint
CREATE INDEX `ix_automation_held_event__trigger_key_occurred` ON `automation_held_event` (`automation_id`,`trigger_id`,`bucketing_key`,`occurred`,`event_id`);--> statement-breakpoint
CREATE TABLE `composite_trigger_child_firing` (
	`id` text PRIMARY KEY NOT NULL,
	`created` integer NOT NULL,
	`updated` integer NOT NULL,
	`automation_id` text NOT NULL,
	`parent_trigger_id` text NOT NULL,
	`child_trigger_id` text NOT NULL,
	`child_firing_id` text NOT NULL,
	`child_fired_at` integer NOT NULL,
	`child_firing` text NOT NULL,
	FOREIGN KEY (`automation_id`) REFERENCES `automation`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `uq_composite_trigger_child_firing__a_p_c` ON `composite_trigger_child_firing` (`automation_id`,`parent_trigger_id`,`child_trigger_id`);