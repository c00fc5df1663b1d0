/**
 * `/events` (server/api/events.py): ingestion over HTTP and the `/events/in`
 * websocket, the `/events/out` subscription, filtered pages and counts.
 */
import { Elysia, t } from "elysia";
import type { AppContext } from "../context";
import type { ValueCount } from "../db/repos/events";
import { bucketsProblem, spanMicros, PIVOT, timeBuckets, type EventCount } from "../events/counting";
import { clampSince, eventFilterFromBody, eventMatches, logicalLimit, withOrder, type EventFilter } from "../events/filters";
import { eventJson, type Event, type ReceivedEvent, type Resource } from "../events/model";
import { isJsonObject, type JsonObject } from "../lib/json";
import { formatDateTime, parseDateTime, type Micros } from "../lib/time";
import { canonicalUuid } from "../lib/uuid";
import { Enum, Lenient, Maybe } from "../schemas/common";
import { COUNTABLES, decoder, EventFilterSchema, EventSchema, TIME_UNITS, type EventBody } from "../schemas/events";
import { detail, forbidden, validationError } from "./errors";
import { MAX_JSON_DEPTH, valueTooDeep } from "./body";
import { acceptSubprotocol, Handshake, sendJson, WS_GOING_AWAY, WS_PROTOCOL_ERROR, type SocketLike } from "./websocket";

/** INTERACTIVE_PAGE_SIZE: the default and largest page of `/events/filter`. */
const PAGE_SIZE = 50;
/** PREFECT_SERVER_EVENTS_MAXIMUM_WEBSOCKET_BACKFILL */
const MAX_BACKFILL_MICROS = 15 * 60 * 1_000_000;
/** PREFECT_SERVER_EVENTS_WEBSOCKET_BACKFILL_PAGE_SIZE */
const BACKFILL_PAGE_SIZE = 250;

export function eventFromBody(body: EventBody): Event {
  return {
    id: canonicalUuid(body.id),
    occurred: parseDateTime(body.occurred)!,
    event: body.event,
    resource: body.resource as Resource,
    related: (body.related ?? []) as Resource[],
    payload: (body.payload ?? {}) as JsonObject,
    follows: body.follows == null ? null : canonicalUuid(body.follows),
  };
}

const countJson = (c: EventCount) => ({
  value: c.value,
  label: c.label,
  count: c.count,
  start_time: formatDateTime(c.start_time),
  end_time: formatDateTime(c.end_time),
});

const valueCount = (c: ValueCount): EventCount => ({ value: c.value, label: c.label, count: c.count, start_time: c.startTime, end_time: c.endTime });

// --------------------------------------------------------------- page tokens

interface PageToken {
  filter: EventFilter;
  count: number;
  pageSize: number;
  offset: number;
}

const base64 = (text: string) => Buffer.from(text).toString("base64");

/** storage.to_page_token: null on the last page. */
function pageToken(filter: EventFilter, count: number, pageSize: number, offset: number): string | null {
  if (offset + pageSize >= count) return null;
  return base64(JSON.stringify({ filter: filter.json, count, page_size: pageSize, offset: offset + pageSize }));
}

const decodeFilter = decoder(EventFilterSchema);

/** The `page-token` query value (the token base64-encoded once more), or null if it was tampered with. */
function readPageToken(text: string, now: Micros): PageToken | null {
  try {
    const parameters: unknown = JSON.parse(Buffer.from(Buffer.from(text, "base64").toString(), "base64").toString());
    if (!isJsonObject(parameters)) return null;
    const { filter, count, page_size: pageSize, offset } = parameters;
    const decoded = decodeFilter(filter);
    if (!decoded.ok || ![count, pageSize, offset].every((n) => Number.isSafeInteger(n) && (n as number) >= 0)) return null;
    return { filter: eventFilterFromBody(decoded.value, now), count: count as number, pageSize: pageSize as number, offset: offset as number };
  } catch {
    return null;
  }
}

/** An absolute URL, as Prefect builds it from the request's base URL. */
const nextPageLink = (request: Request, token: string | null) =>
  token === null ? null : `${new URL(request.url).origin}/api/events/filter/next?page-token=${base64(token)}`;

// --------------------------------------------------------------- /events/out

/** An open events websocket: its handshake, closed by the server when it shuts down. */
class Connection {
  readonly handshake: Handshake;
  private readonly release: () => void;

  constructor(socket: SocketLike, request: Request, ctx: AppContext) {
    this.handshake = new Handshake(request, ctx.config.authString);
    this.release = ctx.events.onClose(() => socket.close(WS_GOING_AWAY, "Server shutting down"));
    this.handshake.open(socket);
  }

  closed(): void {
    this.release();
  }
}

/** One `/events/out` subscriber: the handshake, then a filter message, then events. */
class Subscription extends Connection {
  private unsubscribe: (() => void) | null = null;

  constructor(
    socket: SocketLike,
    request: Request,
    private readonly ctx: AppContext,
  ) {
    super(socket, request, ctx);
  }

  get subscribed(): boolean {
    return this.unsubscribe !== null;
  }

  /** The first message after the handshake: `{"type": "filter", "filter": {...}, "backfill": true}`. */
  async start(socket: SocketLike, message: unknown): Promise<void> {
    if (!isJsonObject(message) || message.type !== "filter") {
      socket.close(WS_PROTOCOL_ERROR, "Expected 'filter' message");
      return;
    }
    const decoded = decodeFilter(message.filter);
    if (!decoded.ok) {
      socket.close(WS_PROTOCOL_ERROR, `Invalid filter: ${decoded.error}`.slice(0, 120)); // a close reason is at most 123 bytes
      return;
    }
    const now = this.ctx.clock.now();
    const filter = withOrder(clampSince(eventFilterFromBody(decoded.value, now), now - MAX_BACKFILL_MICROS), "ASC");
    const send = (event: ReceivedEvent) => sendJson(socket, { type: "event", event: eventJson(event) });
    // Subscribing before the backfill means nothing published from here on is missed. Live
    // events wait until the backfill is sent, and those it already carried are not sent twice.
    let arrivedDuringBackfill: ReceivedEvent[] | null = message.backfill === false ? null : [];
    this.unsubscribe = this.ctx.events.subscribe((event) => {
      if (!eventMatches(filter, event)) return;
      if (arrivedDuringBackfill) arrivedDuringBackfill.push(event);
      else send(event);
    });
    if (!arrivedDuringBackfill) return;
    const backfilled = new Set<string>();
    for (let offset = 0; ; offset += BACKFILL_PAGE_SIZE) {
      const page = await this.ctx.store.read((q) => q.events.query(filter, BACKFILL_PAGE_SIZE, offset));
      for (const event of page) {
        backfilled.add(event.id);
        send(event);
      }
      if (page.length < BACKFILL_PAGE_SIZE) break;
    }
    const live = arrivedDuringBackfill;
    arrivedDuringBackfill = null;
    for (const event of live) if (!backfilled.has(event.id)) send(event);
  }

  override closed(): void {
    super.closed();
    this.unsubscribe?.();
    this.unsubscribe = null;
  }
}

// -------------------------------------------------------------------- routes

export function eventRoutes(ctx: AppContext) {
  const { store, clock, events, logger } = ctx;
  const decodeEvent = decoder(EventSchema);
  const ingesting = new WeakMap<object, Connection>();
  const subscriptions = new WeakMap<object, Subscription>();

  async function page(request: Request, filter: EventFilter, count: number, pageSize: number, offset: number) {
    const rows = await store.read((q) => q.events.query(filter, Math.max(0, Math.min(pageSize, logicalLimit(filter))), offset));
    return { events: rows.map(eventJson), total: count, next_page: nextPageLink(request, pageToken(filter, count, pageSize, offset)) };
  }

  return new Elysia({ prefix: "/events" })
    .post(
      "",
      ({ body, set }) => {
        events.publish(body.map(eventFromBody));
        set.status = 204;
      },
      { body: t.Array(EventSchema) },
    )
    .ws("/in", {
      upgrade: acceptSubprotocol,
      open(ws) {
        ingesting.set(ws.raw, new Connection(ws, ws.data.request, ctx));
      },
      message(ws, message) {
        if (ingesting.get(ws.raw)?.handshake.consume(ws, message)) return;
        if (valueTooDeep(message)) return void logger.warning(`/events/in: dropped an event nested deeper than ${MAX_JSON_DEPTH} levels`);
        const decoded = decodeEvent(message);
        // Prefect would drop the connection; the client would then re-send the same event forever
        if (!decoded.ok) return void logger.warning(`/events/in: dropped an invalid event (${decoded.error})`);
        events.publish([eventFromBody(decoded.value)]);
      },
      close(ws) {
        ingesting.get(ws.raw)?.closed();
        ingesting.delete(ws.raw);
      },
    })
    .ws("/out", {
      upgrade: acceptSubprotocol,
      open(ws) {
        subscriptions.set(ws.raw, new Subscription(ws, ws.data.request, ctx));
      },
      message(ws, message) {
        const subscription = subscriptions.get(ws.raw);
        if (!subscription || subscription.handshake.consume(ws, message) || subscription.subscribed) return;
        subscription.start(ws, message).catch((error) => logger.error("event subscription failed", error));
      },
      close(ws) {
        subscriptions.get(ws.raw)?.closed();
        subscriptions.delete(ws.raw);
      },
    })
    .post(
      "/filter",
      async ({ body, request }) => {
        const filter = eventFilterFromBody(body.filter, clock.now());
        const limit = body.limit ?? PAGE_SIZE;
        return page(request, filter, await store.read((q) => q.events.count(filter)), limit, 0);
      },
      { body: Lenient({ filter: Maybe(EventFilterSchema), limit: Maybe(t.Integer({ minimum: 0, maximum: PAGE_SIZE })) }) },
    )
    .get(
      "/filter/next",
      ({ query, request }) => {
        const token = readPageToken(query["page-token"], clock.now());
        if (!token) throw forbidden("Forbidden");
        return page(request, token.filter, token.count, token.pageSize, token.offset);
      },
      { query: t.Object({ "page-token": t.String() }) },
    )
    .post(
      "/count-by/:countable",
      async ({ params, body }) => {
        const countable = params.countable;
        if (!(COUNTABLES as readonly string[]).includes(countable)) {
          throw validationError(
            [{ type: "enum", loc: ["path", "countable"], msg: "Input should be 'day', 'time', 'event' or 'resource'", input: countable }],
            body,
          );
        }
        const now = clock.now();
        const filter = eventFilterFromBody(body.filter, now);
        if (countable === "event" || countable === "resource") return (await store.read((q) => q.events.countByValue(filter, countable))).map(valueCount).map(countJson);
        // `day` is the legacy spelling of `time` by whole days
        const [unit, interval] = countable === "day" ? (["day", 1] as const) : [body.time_unit ?? "day", body.time_interval ?? 1];
        const problem = bucketsProblem(filter.since, filter.until, unit, interval);
        if (problem) throw detail(422, problem);
        const counts = await store.read((q) => q.events.countBySpan(filter, PIVOT, spanMicros(unit, interval)));
        return timeBuckets(filter.since, filter.until, unit, interval, now, counts).map(countJson);
      },
      {
        body: Lenient({
          filter: EventFilterSchema,
          time_unit: Maybe(Enum(TIME_UNITS)),
          time_interval: Maybe(t.Number({ minimum: 0.01 })),
        }),
      },
    );
}
