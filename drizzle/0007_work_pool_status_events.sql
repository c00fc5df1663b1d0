ALTER TABLE `work_pool` ADD `last_status_event_id` text;--> statement-breakpoint
ALTER TABLE `work_pool` ADD `last_status_event_at` integer;