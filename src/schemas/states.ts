/** StateCreate (schemas/actions.py) and its conversion into the engine's StateInit. */
import { t, type Static } from "elysia";
import { isJsonObject, type JsonValue } from "../lib/json";
import { parseDateTime } from "../lib/time";
import { STATE_TYPES, emptyStateDetails, type StateDetails, type StateInit } from "../orchestration/states";
import { DateTime, Enum, Maybe, Strict } from "./common";

/** StateDetails ignores unknown keys (it is not an action model); known datetime keys must parse. */
const StateDetailsSchema = t.Object(
  {
    scheduled_time: Maybe(DateTime),
    cache_expiration: Maybe(DateTime),
    pause_timeout: Maybe(DateTime),
  },
  { additionalProperties: true },
);

export const StateCreate = Strict({
  type: Enum(STATE_TYPES),
  name: Maybe(t.String()),
  message: Maybe(t.String()),
  data: t.Optional(t.Any()),
  state_details: t.Optional(StateDetailsSchema),
});
export type StateCreate = Static<typeof StateCreate>;

const DATETIME_DETAILS = new Set(["scheduled_time", "cache_expiration", "pause_timeout"]);
const KNOWN_DETAILS = new Set(Object.keys(emptyStateDetails()));

/** Keeps the known StateDetails keys, converting datetimes to micros. */
export function stateDetailsFromJson(json: Record<string, unknown> | undefined): Partial<StateDetails> {
  const details: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json ?? {})) {
    if (!KNOWN_DETAILS.has(key)) continue;
    details[key] = DATETIME_DETAILS.has(key) && typeof value === "string" ? parseDateTime(value) : value;
  }
  return details as Partial<StateDetails>;
}

export function stateInit(body: StateCreate): StateInit {
  return {
    name: body.name,
    message: body.message,
    data: (body.data ?? null) as JsonValue,
    state_details: stateDetailsFromJson(isJsonObject(body.state_details) ? body.state_details : undefined),
  };
}
