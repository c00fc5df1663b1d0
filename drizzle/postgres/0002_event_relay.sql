CREATE TABLE "event_relay" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"origin" uuid NOT NULL,
	"event" text NOT NULL,
	"relayed" timestamp(6) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "ix_event_relay__relayed" ON "event_relay" USING btree ("relayed");