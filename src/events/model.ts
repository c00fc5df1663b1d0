/**
 * Prefect's event model (server/events/schemas/events.py) in the server's own
 * units: instants are microseconds. A resource is a flat map of string labels
 * named by its `prefect.resource.id`; a related resource also has a
 * `prefect.resource.role`. A received event is one the server has accepted.
 */
import type { JsonObject } from "../lib/json";
import { formatDateTime, type Micros } from "../lib/time";

export const RESOURCE_ID = "prefect.resource.id";
export const RESOURCE_ROLE = "prefect.resource.role";

/** PREFECT_SERVER_EVENTS_MAXIMUM_LABELS_PER_RESOURCE */
export const MAX_LABELS_PER_RESOURCE = 500;
/** PREFECT_EVENTS_MAXIMUM_RELATED_RESOURCES */
export const MAX_RELATED_RESOURCES = 100;
/** PREFECT_SERVER_EVENTS_MAXIMUM_EVENT_NAME_LENGTH */
export const MAX_EVENT_NAME_LENGTH = 1024;
/** PREFECT_EVENTS_MAXIMUM_SIZE_BYTES: larger events are refused by the publisher. */
export const MAX_EVENT_SIZE_BYTES = 1_500_000;

export type Resource = Record<string, string>;

export interface Event {
  id: string;
  occurred: Micros;
  event: string;
  resource: Resource;
  related: Resource[];
  payload: JsonObject;
  /** An event known to have happened just before this one (for ordering close events). */
  follows: string | null;
}

export interface ReceivedEvent extends Event {
  received: Micros;
}

export const receive = (event: Event, now: Micros): ReceivedEvent => ({ ...event, received: now });

/** Prefect's ReceivedEvent JSON, keys in its order. */
export function eventJson(event: ReceivedEvent) {
  return {
    occurred: formatDateTime(event.occurred),
    event: event.event,
    resource: event.resource,
    related: event.related,
    payload: event.payload,
    id: event.id,
    follows: event.follows,
    received: formatDateTime(event.received),
  };
}

/**
 * The resources of an event as the `event_resources` index stores them: the primary
 * resource with role "" and each related resource with its role.
 */
export function involvedResources(event: Event): { id: string; role: string; resource: Resource }[] {
  return [
    { id: event.resource[RESOURCE_ID]!, role: "", resource: event.resource },
    ...event.related.map((r) => ({ id: r[RESOURCE_ID]!, role: r[RESOURCE_ROLE]!, resource: r })),
  ];
}

/** A resource's labels without its id and role, which `event_resources` keeps in columns. */
export function labelsOnly(resource: Resource): Resource {
  const { [RESOURCE_ID]: _id, [RESOURCE_ROLE]: _role, ...labels } = resource;
  return labels;
}

/** The UUID in `prefect.<kind>.<uuid>`, or null when the resource id is of another kind. */
export function prefectObjectId(resourceId: string, kind: string): string | null {
  const prefix = `${kind}.`;
  return resourceId.startsWith(prefix) ? resourceId.slice(prefix.length) : null;
}

/** Python's `datetime.isoformat()` of a UTC instant (`+00:00`), as Prefect writes timestamps into labels. */
export function pythonIsoformat(value: Micros): string {
  return formatDateTime(value).replace(/Z$/, "+00:00");
}

/** prefect.utilities.text.truncated_to: long texts keep both ends around an "...N additional characters..." marker. */
export function truncatedTo(length: number, value: string | null | undefined): string {
  if (!value) return "";
  if (value.length <= length) return value;
  const half = Math.floor(length / 2);
  const beginning = value.slice(0, half);
  const end = value.slice(-half);
  const proposed = `${beginning}...${value.length - beginning.length - end.length} additional characters...${end}`;
  return proposed.length < value.length ? proposed : value;
}
