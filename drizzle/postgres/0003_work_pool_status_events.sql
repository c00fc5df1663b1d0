ALTER TABLE "work_pool" ADD COLUMN "last_status_event_id" uuid;--> statement-breakpoint
ALTER TABLE "work_pool" ADD COLUMN "last_status_event_at" timestamp(6) with time zone;