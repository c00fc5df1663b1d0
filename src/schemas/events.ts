/**
 * Events and the EventFilter grammar (server/events/schemas/events.py, events/filters.py)
 * as TypeBox shapes. The same schemas validate `POST /events` bodies and the
 * websocket messages, so both paths enforce Prefect's limits.
 */
import { t, type Static } from "elysia";
import { TypeCompiler } from "@sinclair/typebox/compiler";
import type { TSchema } from "@sinclair/typebox";
import { MAX_EVENT_NAME_LENGTH, MAX_LABELS_PER_RESOURCE, MAX_RELATED_RESOURCES } from "../events/model";
import { STATE_TYPES } from "../orchestration/states";
import { DateTime, Enum, JsonObjectSchema, Maybe, Strict, Uuid } from "./common";

/** Label values are strings; `prefect.resource.id` (and a related resource's role) must be non-empty. */
const resourceSchema = (required: Record<string, ReturnType<typeof t.String>>) =>
  t.Object(required, { additionalProperties: t.String(), maxProperties: MAX_LABELS_PER_RESOURCE });

const Resource = resourceSchema({ "prefect.resource.id": t.String({ minLength: 1 }) });
const RelatedResource = resourceSchema({
  "prefect.resource.id": t.String({ minLength: 1 }),
  "prefect.resource.role": t.String({ minLength: 1 }),
});

/** A UUID in any form pydantic accepts; eventFromBody brings it to the canonical form. */
const EventUuid = t.String({ format: "prefect-uuid" });

/**
 * Event: unknown keys (a `received` sent back, say) are ignored, as pydantic does. No
 * Transform inside: decoding one would copy and walk every payload and resource, the
 * largest cost of an event arriving on `/events/in`.
 */
export const EventSchema = t.Object(
  {
    occurred: DateTime,
    event: t.String({ maxLength: MAX_EVENT_NAME_LENGTH }),
    resource: Resource,
    related: t.Optional(t.Array(RelatedResource, { maxItems: MAX_RELATED_RESOURCES })),
    payload: t.Optional(JsonObjectSchema),
    id: EventUuid,
    follows: Maybe(EventUuid),
  },
  { additionalProperties: true },
);
export type EventBody = Static<typeof EventSchema>;

/** `{label: value | [values]}`; values may end in `*` wildcards or start with `!` to negate. */
const ResourceSpecification = t.Record(t.String(), t.Union([t.String(), t.Array(t.String())]));
const Strings = Maybe(t.Array(t.String()));

const RelatedFilter = Strict({
  id: Strings,
  role: Strings,
  resources_in_roles: Maybe(t.Array(t.Tuple([t.String(), t.String()]))),
  labels: Maybe(ResourceSpecification),
});
const AnyResourceFilter = Strict({ id: Strings, id_prefix: Strings, labels: Maybe(ResourceSpecification) });

/** EventFilter: every level forbids unknown keys (EventDataFilter is `extra="forbid"`). */
export const EventFilterSchema = Strict({
  occurred: t.Optional(Strict({ since: t.Optional(DateTime), until: t.Optional(DateTime) })),
  event: Maybe(Strict({ prefix: Strings, exclude_prefix: Strings, name: Strings, exclude_name: Strings })),
  resource: Maybe(Strict({ id: Strings, id_prefix: Strings, labels: Maybe(ResourceSpecification), distinct: t.Optional(t.Boolean()) })),
  related: Maybe(t.Union([RelatedFilter, t.Array(RelatedFilter)])),
  any_resource: Maybe(t.Union([AnyResourceFilter, t.Array(AnyResourceFilter)])),
  id: t.Optional(Strict({ id: Maybe(t.Array(Uuid)) })),
  text: Maybe(Strict({ query: t.String({ maxLength: 200 }) })),
  order: t.Optional(Enum(["ASC", "DESC"])),
});
export type EventFilterBody = Static<typeof EventFilterSchema>;

/**
 * The payload of a client's `prefect.task-run.<state>` event, as the task-run recorder
 * reads it: the new state and the task run (TaskRun fields; the client leaves out nulls).
 */
export const TaskRunStatePayload = t.Object(
  {
    validated_state: t.Object(
      {
        type: Enum(STATE_TYPES),
        name: Maybe(t.String()),
        message: Maybe(t.String()),
        state_details: t.Optional(
          t.Object(
            { scheduled_time: Maybe(DateTime), cache_expiration: Maybe(DateTime), pause_timeout: Maybe(DateTime) },
            { additionalProperties: true },
          ),
        ),
        data: t.Optional(t.Any()),
      },
      { additionalProperties: true },
    ),
    task_run: t.Object(
      {
        name: Maybe(t.String()),
        task_key: t.String(),
        dynamic_key: t.String(),
        cache_key: Maybe(t.String()),
        cache_expiration: Maybe(DateTime),
        task_version: Maybe(t.String()),
        empirical_policy: t.Optional(JsonObjectSchema),
        tags: t.Optional(t.Array(t.String())),
        labels: Maybe(JsonObjectSchema),
        task_inputs: t.Optional(JsonObjectSchema),
        run_count: t.Optional(t.Integer()),
        flow_run_run_count: t.Optional(t.Integer()),
        expected_start_time: Maybe(DateTime),
        next_scheduled_start_time: Maybe(DateTime),
        start_time: Maybe(DateTime),
        end_time: Maybe(DateTime),
        total_run_time: t.Optional(t.Number()),
      },
      { additionalProperties: true },
    ),
  },
  { additionalProperties: true },
);
export type TaskRunStatePayload = Static<typeof TaskRunStatePayload>;

export const TIME_UNITS = ["week", "day", "hour", "minute", "second"] as const;
export const COUNTABLES = ["day", "time", "event", "resource"] as const;

/**
 * Decodes a websocket message (or page token) against a schema: the decoded value
 * (UUIDs canonical), or the first validation error's message.
 */
export function decoder<S extends TSchema>(schema: S) {
  // Compiled on first use: start-up need not pay for validators of messages that may never come.
  let compiled: ReturnType<typeof TypeCompiler.Compile<S>> | undefined;
  return (value: unknown): { ok: true; value: Static<S> } | { ok: false; error: string } => {
    compiled ??= TypeCompiler.Compile(schema);
    if (!compiled.Check(value)) {
      const first = compiled.Errors(value).First();
      return { ok: false, error: first ? `${first.path || "/"}: ${first.message}` : "invalid" };
    }
    return { ok: true, value: compiled.Decode(value) as Static<S> };
  };
}
