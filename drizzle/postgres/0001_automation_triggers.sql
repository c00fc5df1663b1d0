CREATE TABLE "automation_action" (
	"id" uuid PRIMARY KEY NOT NULL,
	"created" timestamp(6) with time zone NOT NULL,
	"updated" timestamp(6) with time zone NOT NULL,
	"automation_id" uuid NOT NULL,
	"action_index" integer NOT NULL,
	"triggered_action" jsonb NOT NULL,
	"status" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp(6) with time zone NOT NULL,
	"last_error" text
);
--> statement-breakpoint
CREATE TABLE "automation_bucket" (
	"id" uuid PRIMARY KEY NOT NULL,
	"created" timestamp(6) with time zone NOT NULL,
	"updated" timestamp(6) with time zone NOT NULL,
	"automation_id" uuid NOT NULL,
	"trigger_id" uuid NOT NULL,
	"bucketing_key" text NOT NULL,
	"last_event" jsonb,
	"start" timestamp(6) with time zone NOT NULL,
	"end" timestamp(6) with time zone NOT NULL,
	"count" integer NOT NULL,
	"last_operation" text,
	"triggered_at" timestamp(6) with time zone
);
--> statement-breakpoint
CREATE TABLE "automation_held_event" (
	"id" uuid PRIMARY KEY NOT NULL,
	"created" timestamp(6) with time zone NOT NULL,
	"updated" timestamp(6) with time zone NOT NULL,
	"automation_id" uuid NOT NULL,
	"trigger_id" uuid NOT NULL,
	"bucketing_key" text NOT NULL,
	"event_id" uuid NOT NULL,
	"occurred" timestamp(6) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "composite_trigger_child_firing" (
	"id" uuid PRIMARY KEY NOT NULL,
	"created" timestamp(6) with time zone NOT NULL,
	"updated" timestamp(6) with time zone NOT NULL,
	"automation_id" uuid NOT NULL,
	"parent_trigger_id" uuid NOT NULL,
	"child_trigger_id" uuid NOT NULL,
	"child_firing_id" uuid NOT NULL,
	"child_fired_at" timestamp(6) with time zone NOT NULL,
	"child_firing" jsonb NOT NULL
);
--> statement-breakpoint
ALTER TABLE "automation_bucket" ADD CONSTRAINT "automation_bucket_automation_id_automation_id_fk" FOREIGN KEY ("automation_id") REFERENCES "public"."automation"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "automation_held_event" ADD CONSTRAINT "automation_held_event_automation_id_automation_id_fk" FOREIGN KEY ("automation_id") REFERENCES "public"."automation"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "composite_trigger_child_firing" ADD CONSTRAINT "composite_trigger_child_firing_automation_id_automation_id_fk" FOREIGN KEY ("automation_id") REFERENCES "public"."automation"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "ix_automation_action__status_next" ON "automation_action" USING btree ("status","next_attempt_at");--> statement-breakpoint
CREATE UNIQUE INDEX "uq_automation_bucket__automation_trigger_key" ON "automation_bucket" USING btree ("automation_id","trigger_id","bucketing_key");--> statement-breakpoint
CREATE INDEX "ix_automation_bucket__end" ON "automation_bucket" USING btree ("end");--> statement-breakpoint
CREATE UNIQUE INDEX "uq_automation_held_event__trigger_key_event" ON "automation_held_event" USING btree ("automation_id","trigger_id","bucketing_key","event_id");--> statement-breakpoint
CREATE INDEX "ix_automation_held_event__trigger_key_occurred" ON "automation_held_event" USING btree ("automation_id","trigger_id","bucketing_key","occurred","event_id");--> statement-breakpoint
CREATE UNIQUE INDEX "uq_composite_trigger_child_firing__a_p_c" ON "composite_trigger_child_firing" USING btree ("automation_id","parent_trigger_id","child_trigger_id");