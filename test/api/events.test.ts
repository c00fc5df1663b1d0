import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { configFromEnv } from "../../src/config";
import { eventFilterFromBody, eventMatches } from "../../src/events/filters";
import type { ReceivedEvent } from "../../src/events/model";
import { EventPersister } from "../../src/services/event-persister";
import { EventRetention } from "../../src/services/event-retention";
import { flowRunStateChangeEvent } from "../../src/events/server-events";
import { formatDateTime, parseDateTime } from "../../src/lib/time";
import { createLogger } from "../../src/logger";
import { newState } from "../../src/orchestration/states";
import type { EventFilterBody } from "../../src/schemas/events";
import { startServer, type RunningServer } from "../../src/server";
import { SqliteStore } from "../../src/db/store";
import { createSqliteTestApi, createTestApi, ManualClock } from "../support/api";
import { connect } from "../support/websocket";

const NOW = parseDateTime("2025-06-02T12:00:00Z")!;
const MINUTE = 60_000_000;
const at = (minutesAgo: number) => formatDateTime(NOW - minutesAgo * MINUTE);

interface EventInit {
  event?: string;
  resource?: Record<string, string>;
  related?: Record<string, string>[];
  payload?: Record<string, unknown>;
  minutesAgo?: number;
  id?: string;
}

const makeEvent = (init: EventInit = {}) => ({
  occurred: at(init.minutesAgo ?? 1),
  event: init.event ?? "test.happened",
  resource: init.resource ?? { "prefect.resource.id": "test.thing" },
  related: init.related ?? [],
  payload: init.payload ?? {},
  id: init.id ?? crypto.randomUUID(),
});

/** An in-process API on a manual clock with a persister flushed on demand (on SQLite when the test reads its rows raw). */
function eventsApi(options: { sqlite?: boolean } = {}) {
  const clock = new ManualClock(NOW);
  const api = options.sqlite ? createSqliteTestApi({ clock }) : createTestApi({ clock });
  const persister = new EventPersister(api.context);
  persister.start();
  const publish = async (...events: ReturnType<typeof makeEvent>[]) => {
    const res = await api.post("/events", events);
    expect(res.status).toBe(204);
    await persister.flush();
  };
  const close = async () => {
    await persister.stop();
    api.close();
  };
  return { api, clock, persister, publish, close };
}

const filterIds = async (api: ReturnType<typeof createTestApi>, filter: EventFilterBody | null, limit = 50) => {
  const res = await api.post("/events/filter", { filter, limit });
  expect(res.status).toBe(200);
  return (res.body.events as { id: string }[]).map((e) => e.id);
};

describe("POST /events", () => {
  const { api, publish, close } = eventsApi();
  afterAll(close);

  test("204; stored with `received`, related and payload defaults, and `follows`", async () => {
    const follows = crypto.randomUUID();
    const e = { ...makeEvent(), follows, received: "1999-01-01T00:00:00Z" };
    delete (e as Partial<typeof e>).related;
    delete (e as Partial<typeof e>).payload;
    await publish(e as ReturnType<typeof makeEvent>);
    const page = (await api.post("/events/filter", { filter: { id: { id: [e.id] } } })).body;
    expect(page.total).toBe(1);
    expect(page.events[0]).toEqual({
      occurred: e.occurred,
      event: e.event,
      resource: e.resource,
      related: [],
      payload: {},
      id: e.id,
      follows,
      received: formatDateTime(NOW),
    });
  });

  test("the same id twice is stored once, even across publishers", async () => {
    const e = makeEvent();
    await publish(e, e);
    await publish(e);
    expect(await filterIds(api, { id: { id: [e.id] } })).toEqual([e.id]);
  });

  test("an uppercase or unhyphenated id and follows are stored in canonical form", async () => {
    const [id, follows] = [crypto.randomUUID(), crypto.randomUUID()];
    await publish({ ...makeEvent(), id: id.toUpperCase(), follows: follows.replaceAll("-", "") } as ReturnType<typeof makeEvent>);
    const page = (await api.post("/events/filter", { filter: { id: { id: [id] } } })).body;
    expect(page.events.map((e: { id: string; follows: string }) => [e.id, e.follows])).toEqual([[id, follows]]);
  });

  test.each([
    ["a resource without prefect.resource.id", { resource: { "prefect.resource.name": "x" } }, ["body", 0, "resource", "prefect.resource.id"]],
    ["an empty prefect.resource.id", { resource: { "prefect.resource.id": "" } }, ["body", 0, "resource", "prefect.resource.id"]],
    ["a related resource without a role", { related: [{ "prefect.resource.id": "x" }] }, ["body", 0, "related", 0, "prefect.resource.role"]],
    ["a non-string label", { resource: { "prefect.resource.id": "x", n: 1 } }, ["body", 0, "resource", "n"]],
    ["an event name over 1024 characters", { event: "e".repeat(1025) }, ["body", 0, "event"]],
    ["more than 100 related resources", { related: Array.from({ length: 101 }, (_, i) => ({ "prefect.resource.id": `r${i}`, "prefect.resource.role": "r" })) }, ["body", 0, "related"]],
    ["more than 500 labels", { resource: Object.fromEntries([["prefect.resource.id", "x"], ...Array.from({ length: 500 }, (_, i) => [`l${i}`, "v"])]) }, ["body", 0, "resource"]],
    ["a bad id", { id: "not-a-uuid" }, ["body", 0, "id"]],
  ])("422 for %s", async (_name, override, loc) => {
    const res = await api.post("/events", [{ ...makeEvent(), ...override }]);
    expect(res.status).toBe(422);
    expect(res.body.exception_detail.map((d: { loc: unknown }) => d.loc)).toContainEqual(loc);
  });
});

describe("the EventFilter grammar: SQL and live matching agree", () => {
  const { api, clock, publish, close } = eventsApi();
  afterAll(close);

  const flowRun = (n: number, extra: Record<string, string> = {}) => ({ "prefect.resource.id": `prefect.flow-run.${n}`, "prefect.resource.name": `run-${n}`, ...extra });
  const rel = (id: string, role: string, extra: Record<string, string> = {}) => ({ "prefect.resource.id": id, "prefect.resource.role": role, ...extra });
  const events = [
    makeEvent({ event: "prefect.flow-run.Running", resource: flowRun(1, { env: "prod" }), related: [rel("prefect.flow.a", "flow", { "prefect.resource.name": "etl" }), rel("prefect.tag.x", "tag")], minutesAgo: 50 }),
    makeEvent({ event: "prefect.flow-run.Completed", resource: flowRun(1, { env: "prod" }), related: [rel("prefect.flow.a", "flow", { "prefect.resource.name": "etl" })], minutesAgo: 40 }),
    makeEvent({ event: "prefect.flow-run.Failed", resource: flowRun(2, { env: "dev" }), related: [rel("prefect.flow.b", "flow", { "prefect.resource.name": "ml_train" }), rel("prefect.tag.y", "tag")], minutesAgo: 30 }),
    makeEvent({ event: "prefect.task-run.Running", resource: { "prefect.resource.id": "prefect.task-run.9", "prefect.orchestration": "client" }, related: [rel("prefect.flow-run.2", "flow-run")], minutesAgo: 20 }),
    makeEvent({ event: "acme.deploy", resource: { "prefect.resource.id": "acme.service.web", "prefect.resource.name": "Web [blue]" }, payload: { note: "Deploy FAILED on host-7" }, minutesAgo: 10 }),
    makeEvent({ event: "acme.deploy_done", resource: { "prefect.resource.id": "acme.service.web_1" }, related: [rel("prefect.flow-run.1", "flow-run")], minutesAgo: 5 }),
    makeEvent({ event: "old.event", resource: flowRun(3), minutesAgo: 60 * 24 * 200 }),
  ];
  beforeAll(() => publish(...events));

  const filters: [string, EventFilterBody][] = [
    ["no filter (last 180 days)", {}],
    ["occurred window", { occurred: { since: at(45), until: at(15) } }],
    ["event prefix", { event: { prefix: ["prefect.flow-run."] } }],
    ["prefix is literal: _ is not a wildcard", { event: { prefix: ["acme.deploy_"] } }],
    ["exclude prefix", { event: { exclude_prefix: ["prefect."] } }],
    ["event names", { event: { name: ["acme.deploy", "prefect.flow-run.Failed"] } }],
    ["exclude names", { event: { exclude_name: ["acme.deploy"] } }],
    ["resource id", { resource: { id: ["prefect.flow-run.1"] } }],
    ["resource id prefix", { resource: { id_prefix: ["acme."] } }],
    ["resource label wildcard", { resource: { labels: { "prefect.resource.id": "prefect.flow-run.*" } } }],
    ["resource label ? and [", { resource: { labels: { "prefect.resource.name": "Web [blu?]" } } }],
    ["resource label negation", { resource: { labels: { env: "!prod" } } }],
    ["negation does not match a missing label", { resource: { labels: { env: ["!nothing"] } } }],
    ["resource labels are case-sensitive", { resource: { labels: { env: "PROD" } } }],
    ["several values of a label are OR-ed", { resource: { labels: { env: ["dev", "prod"] } } }],
    ["an empty value list matches nothing", { resource: { labels: { env: [] } } }],
    ["related role", { related: { role: ["flow-run"] } }],
    ["related id", { related: { id: ["prefect.flow.a"] } }],
    ["related labels on the same resource", { related: { labels: { "prefect.resource.role": "flow", "prefect.resource.name": "ml_*" } } }],
    ["related never matches the primary resource", { related: { labels: { "prefect.resource.id": "prefect.flow-run.*" } } }],
    ["related resources_in_roles", { related: { resources_in_roles: [["prefect.tag.x", "tag"]] } }],
    ["a list of related filters is AND-ed", { related: [{ role: ["flow"] }, { id: ["prefect.tag.y"] }] }],
    ["any_resource id (primary or related)", { any_resource: { id: ["prefect.flow-run.1"] } }],
    ["any_resource id prefix", { any_resource: { id_prefix: ["prefect.tag."] } }],
    ["any_resource labels", { any_resource: { labels: { "prefect.resource.role": "flow", "prefect.resource.id": "*.b" } } }],
    ["event id", { id: { id: [events[2]!.id, events[4]!.id] } }],
    ["text: one of", { text: { query: "failed ml_train" } }],
    ["text: exclusion", { text: { query: "deploy -host" } }],
    ["text: required", { text: { query: "+acme +service" } }],
    ["criteria are AND-ed", { event: { prefix: ["prefect."] }, any_resource: { id: ["prefect.flow-run.2"] } }],
  ];

  test.each(filters)("%s", async (_name, filter) => {
    const stored = await filterIds(api, { ...filter, order: "ASC" });
    const decoded = filter.id?.id ? { ...filter, id: { id: filter.id.id } } : filter;
    const resolved = eventFilterFromBody(decoded, clock.now());
    const live = events
      .map((e) => ({ ...e, occurred: parseDateTime(e.occurred)!, follows: null, received: NOW }) as ReceivedEvent)
      .filter((e) => eventMatches(resolved, e))
      .sort((a, b) => a.occurred - b.occurred)
      .map((e) => e.id);
    expect(stored).toEqual(live);
  });

  test("spot checks of what those filters select", async () => {
    const names = async (filter: EventFilterBody) => {
      const res = await api.post("/events/filter", { filter: { ...filter, order: "ASC" } });
      return (res.body.events as { event: string }[]).map((e) => e.event);
    };
    expect(await names({ event: { prefix: ["acme.deploy_"] } })).toEqual(["acme.deploy_done"]);
    expect(await names({ resource: { labels: { env: "!prod" } } })).toEqual(["prefect.flow-run.Failed"]);
    expect(await names({ related: { labels: { "prefect.resource.role": "flow", "prefect.resource.name": "ml_*" } } })).toEqual(["prefect.flow-run.Failed"]);
    expect(await names({ any_resource: { id: ["prefect.flow-run.1"] } })).toEqual(["prefect.flow-run.Running", "prefect.flow-run.Completed", "acme.deploy_done"]);
    expect(await names({ text: { query: "deploy -host" } })).toEqual(["acme.deploy_done"]);
    expect(await names({ occurred: { since: at(60 * 24 * 365) }, event: { name: ["old.event"] } })).toEqual(["old.event"]);
  });

  test("newest first by default; distinct keeps each resource's newest event", async () => {
    const all = await filterIds(api, {});
    expect(all).toEqual(events.slice(0, 6).map((e) => e.id).reverse());
    const distinct = await api.post("/events/filter", { filter: { resource: { id_prefix: ["prefect.flow-run."], distinct: true } } });
    expect(distinct.body.total).toBe(2);
    expect(distinct.body.events.map((e: { event: string }) => e.event)).toEqual(["prefect.flow-run.Failed", "prefect.flow-run.Completed"]);
  });

  test("pages: next_page is an absolute link with a token; the last page has none", async () => {
    const first = await api.post("/events/filter", { limit: 4 });
    expect(first.body.total).toBe(6);
    expect(first.body.events).toHaveLength(4);
    expect(first.body.next_page).toStartWith("http://localhost/api/events/filter/next?page-token=");
    const token = new URL(first.body.next_page).searchParams.get("page-token")!;
    const second = await api.get(`/events/filter/next?page-token=${encodeURIComponent(token)}`);
    expect(second.status).toBe(200);
    expect(second.body.total).toBe(6);
    expect(second.body.next_page).toBeNull();
    const ids = [...first.body.events, ...second.body.events].map((e: { id: string }) => e.id);
    expect(ids).toEqual(events.slice(0, 6).map((e) => e.id).reverse());
  });

  test("a bad page token is 403; a missing one 422; limit is 0..50", async () => {
    expect((await api.get("/events/filter/next?page-token=bm90IGpzb24=")).status).toBe(403);
    expect((await api.get("/events/filter/next")).status).toBe(422);
    expect((await api.post("/events/filter", { limit: 51 })).status).toBe(422);
    expect((await api.post("/events/filter", { filter: { bogus: 1 } })).status).toBe(422);
    expect((await api.post("/events/filter", { limit: 0 })).body.events).toEqual([]);
  });

  test("count-by event and resource: most frequent first, resources labelled by their latest name", async () => {
    const byEvent = await api.post("/events/count-by/event", { filter: { event: { prefix: ["prefect.flow-run."] } } });
    expect(byEvent.status).toBe(200);
    expect(byEvent.body).toEqual([
      { value: "prefect.flow-run.Completed", label: "prefect.flow-run.Completed", count: 1, start_time: at(40), end_time: at(40) },
      { value: "prefect.flow-run.Failed", label: "prefect.flow-run.Failed", count: 1, start_time: at(30), end_time: at(30) },
      { value: "prefect.flow-run.Running", label: "prefect.flow-run.Running", count: 1, start_time: at(50), end_time: at(50) },
    ]);
    const byResource = await api.post("/events/count-by/resource", { filter: { resource: { id_prefix: ["prefect.flow-run.", "acme."] } } });
    expect(byResource.body.map((c: { value: string; label: string; count: number }) => [c.value, c.label, c.count])).toEqual([
      ["prefect.flow-run.1", "run-1", 2],
      ["acme.service.web", "Web [blue]", 1],
      ["acme.service.web_1", "acme.service.web_1", 1],
      ["prefect.flow-run.2", "run-2", 1],
    ]);
  });

  test("count-by time: every span of the range, zeros included, numbered from 0", async () => {
    const res = await api.post("/events/count-by/time", {
      filter: { occurred: { since: formatDateTime(NOW - 60 * MINUTE), until: formatDateTime(NOW) } },
      time_unit: "minute",
      time_interval: 15,
    });
    expect(res.status).toBe(200);
    expect(res.body).toEqual([
      { value: "0", label: "2025-06-02T11:00:00+00:00", count: 1, start_time: "2025-06-02T11:00:00Z", end_time: "2025-06-02T11:14:59.999999Z" },
      { value: "1", label: "2025-06-02T11:15:00+00:00", count: 1, start_time: "2025-06-02T11:15:00Z", end_time: "2025-06-02T11:29:59.999999Z" },
      { value: "2", label: "2025-06-02T11:30:00+00:00", count: 2, start_time: "2025-06-02T11:30:00Z", end_time: "2025-06-02T11:44:59.999999Z" },
      { value: "3", label: "2025-06-02T11:45:00+00:00", count: 2, start_time: "2025-06-02T11:45:00Z", end_time: "2025-06-02T11:59:59.999999Z" },
    ]);
  });

  test("count-by day: whole UTC days up to the end of today", async () => {
    const res = await api.post("/events/count-by/day", { filter: { occurred: { since: "2025-06-01T06:00:00Z", until: "2025-06-03T00:00:00Z" } } });
    expect(res.body.map((c: { label: string; count: number }) => [c.label, c.count])).toEqual([
      ["2025-06-01T00:00:00+00:00", 0],
      ["2025-06-02T00:00:00+00:00", 6],
    ]);
    expect(res.body[1].end_time).toBe("2025-06-02T23:59:59.999999Z");
  });

  test("count-by: 422 for too many buckets, a tiny interval, an unknown countable or no filter", async () => {
    const tooMany = await api.post("/events/count-by/time", { filter: {}, time_unit: "second" });
    expect(tooMany.status).toBe(422);
    expect(tooMany.body.detail).toStartWith("The given interval would create ");
    expect((await api.post("/events/count-by/time", { filter: {}, time_interval: 0.001 })).status).toBe(422);
    const unknown = await api.post("/events/count-by/color", { filter: {} });
    expect(unknown.status).toBe(422);
    expect(unknown.body.exception_detail[0].loc).toEqual(["path", "countable"]);
    expect((await api.post("/events/count-by/event", {})).status).toBe(422);
  });
});

describe("retention", () => {
  test("the vacuum deletes events (and their resources) older than PREFECT_SERVER_EVENTS_RETENTION_PERIOD", async () => {
    const env = configFromEnv({ PREFECT_SERVER_EVENTS_RETENTION_PERIOD: "P1D" });
    expect(env.eventRetention).toBe(86_400_000_000);
    expect(configFromEnv({ PREFECT_SERVER_EVENTS_RETENTION_PERIOD: "3600" }).eventRetention).toBe(3_600_000_000);
    expect(configFromEnv({}).eventRetention).toBe(7 * 86_400_000_000);

    const { api, publish, close } = eventsApi({ sqlite: true });
    const old = makeEvent({ minutesAgo: 60 * 25, related: [{ "prefect.resource.id": "r", "prefect.resource.role": "x" }] });
    const recent = makeEvent({ minutesAgo: 60 });
    await publish(old, recent);
    api.context.config.eventRetention = env.eventRetention;
    await new EventRetention(api.context).tick(NOW);
    expect(await filterIds(api, { occurred: { since: at(60 * 48) } })).toEqual([recent.id]);
    const store = api.context.store;
    if (!(store instanceof SqliteStore)) throw new Error("this test reads SQLite's rows");
    const resources = store.db.$client.query("SELECT count(*) AS n FROM event_resources WHERE event_id = ?").get(old.id) as { n: number };
    expect(resources.n).toBe(0);
    await close();
  });
});

describe("server-emitted events", () => {
  const api = createSqliteTestApi();
  const received: ReceivedEvent[] = [];
  api.context.events.subscribe((e) => {
    // published only once the write is committed
    expect(api.context.store.db.$client.inTransaction).toBe(false);
    received.push(e);
  });
  afterAll(() => api.close());
  const named = (prefix: string) => received.filter((e) => e.event.startsWith(prefix));

  test("a flow-run state change is announced with Prefect's resource, related resources and payload", async () => {
    const pool = (await api.post("/work_pools/", { name: "pool-e", type: "process" })).body;
    const flow = (await api.post("/flows/", { name: "evented", tags: ["ft"] })).body;
    const deployment = (await api.post("/deployments/", { name: "dep", flow_id: flow.id, work_pool_name: pool.name, tags: ["dt"] })).body;
    const run = (await api.post(`/deployments/${deployment.id}/create_flow_run`, { tags: ["rt", "dt"] })).body;
    const scheduled = received.find((e) => e.event === "prefect.flow-run.Scheduled" && e.resource["prefect.resource.id"] === `prefect.flow-run.${run.id}`)!;
    expect(scheduled.id).toBe(run.state.id);
    expect(scheduled.payload).toEqual({ intended: { from: null, to: "SCHEDULED" }, initial_state: null, validated_state: { type: "SCHEDULED", name: "Scheduled" } });

    const res = await api.post(`/flow_runs/${run.id}/set_state`, { state: { type: "PENDING", message: "go" } });
    expect(res.body.status).toBe("ACCEPT");
    const pending = received.find((e) => e.id === res.body.state.id)!;
    expect(pending.event).toBe("prefect.flow-run.Pending");
    expect(pending.occurred).toBe(parseDateTime(res.body.state.timestamp)!);
    expect(pending.follows).toBe(run.state.id);
    expect(pending.resource).toEqual({
      "prefect.resource.id": `prefect.flow-run.${run.id}`,
      "prefect.resource.name": run.name,
      "prefect.run-count": "0",
      "prefect.state-message": "go",
      "prefect.state-name": "Pending",
      "prefect.state-timestamp": res.body.state.timestamp.replace("Z", "+00:00"),
      "prefect.state-type": "PENDING",
    });
    expect(pending.related).toEqual([
      { "prefect.resource.id": `prefect.flow.${flow.id}`, "prefect.resource.role": "flow", "prefect.resource.name": "evented" },
      { "prefect.resource.id": `prefect.deployment.${deployment.id}`, "prefect.resource.role": "deployment", "prefect.resource.name": "dep" },
      { "prefect.resource.id": `prefect.work-queue.${run.work_queue_id}`, "prefect.resource.role": "work-queue", "prefect.resource.name": "default" },
      { "prefect.resource.id": `prefect.work-pool.${pool.id}`, "prefect.resource.role": "work-pool", "prefect.resource.name": "pool-e", "prefect.work-pool.type": "process" },
      { "prefect.resource.id": "prefect.tag.dt", "prefect.resource.role": "tag" },
      { "prefect.resource.id": "prefect.tag.ft", "prefect.resource.role": "tag" },
      { "prefect.resource.id": "prefect.tag.rt", "prefect.resource.role": "tag" },
    ]);
    expect(pending.payload).toEqual({
      intended: { from: "SCHEDULED", to: "PENDING" },
      initial_state: { type: "SCHEDULED", name: "Scheduled" },
      validated_state: { type: "PENDING", name: "Pending", message: "go" },
    });
  });

  test("a rejected proposal announces nothing; a paused state says whether it reschedules", async () => {
    const flow = (await api.post("/flows/", { name: "evented-2" })).body;
    const run = (await api.post("/flow_runs/", { flow_id: flow.id, state: { type: "RUNNING" } })).body;
    const before = received.length;
    const rejected = await api.post(`/flow_runs/${run.id}/set_state`, { state: { type: "PENDING" } });
    expect(rejected.body.status).not.toBe("ACCEPT");
    expect(received.length).toBe(before);
    const paused = await api.post(`/flow_runs/${run.id}/set_state`, { state: { type: "PAUSED" } });
    expect(paused.body.status).toBe("ACCEPT");
    expect(received.find((e) => e.id === paused.body.state.id)!.payload.validated_state).toEqual({ type: "PAUSED", name: "Paused", pause_reschedule: "false" });
  });

  test("the run's creator (a deployment or automation) is related in role `creator`", () => {
    const state = newState("RUNNING", NOW);
    const event = flowRunStateChangeEvent(
      { id: "r", name: "run", tags: [], runCount: 1, createdBy: { id: "d1", type: "DEPLOYMENT", display_value: "my-dep" } },
      { flow: null, deployment: null, workQueue: null, workPool: null, parentTaskRun: { id: "t", name: "parent-task", tags: ["tt"] } },
      null,
      state,
    );
    expect(event.related).toEqual([
      { "prefect.resource.id": "prefect.task-run.t", "prefect.resource.role": "task-run", "prefect.resource.name": "parent-task" },
      { "prefect.resource.id": "prefect.tag.tt", "prefect.resource.role": "tag" },
      { "prefect.resource.id": "prefect.deployment.d1", "prefect.resource.role": "creator", "prefect.resource.name": "my-dep" },
    ]);
    expect(event.follows).toBeNull();
  });

  test("a state written in a transaction that rolls back is never announced", async () => {
    const { store, clock } = api.context;
    const flow = (await api.post("/flows/", { name: "evented-3" })).body;
    const run = (await api.post("/flow_runs/", { flow_id: flow.id })).body;
    const before = received.length;
    await expect(
      store.write(function* (tx) {
        yield* tx.flowRuns.setState(run.id, newState("RUNNING", clock.now()), { force: true }, clock.now());
        throw new Error("rolled back");
      }),
    ).rejects.toThrow("rolled back");
    expect(received.length).toBe(before);
    expect((await api.get(`/flow_runs/${run.id}`)).body.state_type).toBe("PENDING");
  });

  test("deployments: created, updated (with the changed fields), ready on a poll, deleted", async () => {
    const flow = (await api.post("/flows/", { name: "evented-4" })).body;
    const body = { name: "d", flow_id: flow.id, description: "one" };
    const deployment = (await api.post("/deployments/", body)).body;
    const resource = { "prefect.resource.id": `prefect.deployment.${deployment.id}`, "prefect.resource.name": "d" };
    const flowRelated = { "prefect.resource.id": `prefect.flow.${flow.id}`, "prefect.resource.name": "evented-4", "prefect.resource.role": "flow" };
    const mine = () => named("prefect.deployment.").filter((e) => e.resource["prefect.resource.id"] === resource["prefect.resource.id"]);
    expect(mine().map((e) => [e.event, e.resource, e.related])).toEqual([["prefect.deployment.created", resource, [flowRelated]]]);

    await api.post("/deployments/", body); // nothing changed
    await api.patch(`/deployments/${deployment.id}`, { description: "two", paused: true });
    expect(mine().map((e) => e.event)).toEqual(["prefect.deployment.created", "prefect.deployment.updated"]);
    expect(mine()[1]!.payload).toEqual({
      updated_fields: ["description", "paused"],
      updates: { description: { from: "one", to: "two" }, paused: { from: false, to: true } },
    });

    await api.post("/deployments/get_scheduled_flow_runs", { deployment_ids: [deployment.id] });
    await api.post("/deployments/get_scheduled_flow_runs", { deployment_ids: [deployment.id] }); // already READY
    expect((await api.delete(`/deployments/${deployment.id}`)).status).toBe(204);
    expect(mine().map((e) => e.event)).toEqual(["prefect.deployment.created", "prefect.deployment.updated", "prefect.deployment.ready", "prefect.deployment.deleted"]);
  });

  test("work pools and queues: created (with the default queue, then the pool's first status) and deleted", async () => {
    const pool = (await api.post("/work_pools/", { name: "pool-lifecycle", type: "process" })).body;
    const queue = (await api.post("/work_pools/pool-lifecycle/queues/", { name: "extra" })).body;
    expect((await api.delete("/work_pools/pool-lifecycle/queues/extra")).status).toBe(204);
    expect((await api.delete("/work_pools/pool-lifecycle")).status).toBe(204);
    const mine = received.filter((e) => e.resource["prefect.resource.id"] === `prefect.work-pool.${pool.id}` || e.related.some((r) => r["prefect.resource.id"] === `prefect.work-pool.${pool.id}`));
    expect(mine.map((e) => [e.event, e.resource["prefect.resource.name"]])).toEqual([
      ["prefect.work-queue.created", "default"],
      ["prefect.work-pool.created", "pool-lifecycle"],
      ["prefect.work-pool.not-ready", "pool-lifecycle"],
      ["prefect.work-queue.created", "extra"],
      ["prefect.work-queue.deleted", "extra"],
      ["prefect.work-queue.deleted", "default"],
      ["prefect.work-pool.deleted", "pool-lifecycle"],
    ]);
    expect(mine[1]!.resource).toEqual({
      "prefect.resource.id": `prefect.work-pool.${pool.id}`,
      "prefect.resource.name": "pool-lifecycle",
      "prefect.work-pool.type": "process",
      "prefect.resource.role": "work-pool",
    });
    expect(mine[1]!.related).toEqual([{ "prefect.resource.id": `prefect.work-queue.${pool.default_queue_id}`, "prefect.resource.role": "default-queue" }]);
    expect(mine[3]!.resource["prefect.resource.id"]).toBe(`prefect.work-queue.${queue.id}`);
  });
});

// ------------------------------------------------------------------ websockets on a real port

describe("websockets", () => {
  let server: RunningServer;
  let base: string;
  beforeAll(async () => {
    // every event is persisted as it arrives, so a backfill sees it at once
    server = await startServer({ port: 0, logger: createLogger("error"), services: { ...configFromEnv({}).services, eventPersisterBatchSize: 1 } });
    base = server.apiUrl.replace("http", "ws");
  });
  afterAll(() => server.stop());

  const now = () => new Date().toISOString();
  const liveFilter = (extra: EventFilterBody = {}) => ({ occurred: { since: now(), until: new Date(Date.now() + 86_400_000).toISOString() }, ...extra });

  test("/events/in: the prefect subprotocol, the auth handshake, then one event per frame", async () => {
    const socket = await connect(`${base}/events/in`);
    expect(socket.ws.protocol).toBe("prefect");
    socket.send({ type: "auth", token: null });
    expect(await socket.next()).toEqual({ type: "auth_success" });
    const first = { ...makeEvent({ event: "ws.in" }), occurred: now() };
    socket.send(first);
    socket.send({ ...first }); // a re-sent event (after a reconnect) is dropped
    socket.send({ event: "missing everything" }); // invalid: dropped, the connection stays up
    const second = { ...makeEvent({ event: "ws.in" }), occurred: now() };
    socket.send(second);
    await Bun.sleep(100);
    const response = await fetch(`${server.apiUrl}/events/filter`, { method: "POST", body: JSON.stringify({ filter: { event: { name: ["ws.in"] } } }) });
    const page = (await response.json()) as { events: { id: string }[] };
    expect(page.events.map((e: { id: string }) => e.id).sort()).toEqual([first.id, second.id].sort());
    socket.ws.close();
  });

  test("the first message must be auth (1008); a client without the subprotocol skips the handshake", async () => {
    const bad = await connect(`${base}/events/in`);
    bad.send(makeEvent());
    expect(await bad.closed).toEqual({ code: 1008, reason: "Expected 'auth' message" });

    const legacy = await connect(`${base}/events/out`, []);
    expect(legacy.ws.protocol).toBe("");
    legacy.send({ type: "filter", filter: liveFilter({ event: { name: ["legacy.event"] } }) });
    await Bun.sleep(50);
    const e = { ...makeEvent({ event: "legacy.event" }), occurred: now() };
    await fetch(`${server.apiUrl}/events`, { method: "POST", body: JSON.stringify([e]) });
    expect((await legacy.next()).event?.id).toBe(e.id);
    legacy.ws.close();
  });

  test("/events/out: backfill of stored matching events, then live ones, in order", async () => {
    const older = { ...makeEvent({ event: "ws.out.a" }), occurred: new Date(Date.now() - 60_000).toISOString() };
    const other = { ...makeEvent({ event: "ws.other" }), occurred: now() };
    await fetch(`${server.apiUrl}/events`, { method: "POST", body: JSON.stringify([older, other]) });
    await Bun.sleep(50);

    const socket = await connect(`${base}/events/out`);
    socket.send({ type: "auth", token: "ignored" });
    expect(await socket.next()).toEqual({ type: "auth_success" });
    const since = new Date(Date.now() - 120_000).toISOString();
    socket.send({ type: "filter", filter: { ...liveFilter({ event: { prefix: ["ws.out."] } }), occurred: { since, until: new Date(Date.now() + 86_400_000).toISOString() } } });
    const backfilled = await socket.next();
    expect(backfilled).toMatchObject({ type: "event", event: { id: older.id, event: "ws.out.a" } });
    expect(backfilled.event?.received).toBeString();

    const live = { ...makeEvent({ event: "ws.out.b" }), occurred: now() };
    await fetch(`${server.apiUrl}/events`, { method: "POST", body: JSON.stringify([live, { ...makeEvent({ event: "ws.nope" }), occurred: now() }]) });
    expect((await socket.next()).event?.id).toBe(live.id);
    socket.ws.close();
  });

  test("/events/out: backfill can be declined; a flow run's Cancelling state reaches the subscriber", async () => {
    const socket = await connect(`${base}/events/out`);
    socket.send({ type: "auth", token: null });
    await socket.next();
    socket.send({ type: "filter", backfill: false, filter: liveFilter({ event: { name: ["prefect.flow-run.Cancelling"] } }) });
    await Bun.sleep(50);
    const post = async <T>(path: string, body: unknown) => (await (await fetch(`${server.apiUrl}${path}`, { method: "POST", body: JSON.stringify(body) })).json()) as T;
    const flow = await post<{ id: string }>("/flows/", { name: "cancel-me" });
    const run = await post<{ id: string }>("/flow_runs/", { flow_id: flow.id, state: { type: "RUNNING" } });
    const result = await post<{ state: { id: string } }>(`/flow_runs/${run.id}/set_state`, { state: { type: "CANCELLING" } });
    const message = await socket.next();
    expect(message.event).toMatchObject({
      id: result.state.id,
      event: "prefect.flow-run.Cancelling",
      resource: { "prefect.resource.id": `prefect.flow-run.${run.id}`, "prefect.state-type": "CANCELLING" },
      payload: { intended: { from: "RUNNING", to: "CANCELLING" } },
    });
    socket.ws.close();
  });

  test("stopping the server closes open event sockets (1001) instead of waiting for their clients", async () => {
    const other = await startServer({ port: 0, logger: createLogger("error") });
    const socket = await connect(`${other.apiUrl.replace("http", "ws")}/events/out`);
    const stopped = other.stop();
    expect(await socket.closed).toEqual({ code: 1001, reason: "Server shutting down" });
    await stopped;
  });

  test("/events/out: anything but a filter message, or an invalid filter, closes with 1002", async () => {
    const notFilter = await connect(`${base}/events/out`);
    notFilter.send({ type: "auth", token: null });
    await notFilter.next();
    notFilter.send({ type: "subscribe" });
    expect(await notFilter.closed).toEqual({ code: 1002, reason: "Expected 'filter' message" });

    const invalid = await connect(`${base}/events/out`);
    invalid.send({ type: "auth", token: null });
    await invalid.next();
    invalid.send({ type: "filter", filter: { nonsense: true } });
    const closed = await invalid.closed;
    expect(closed.code).toBe(1002);
    expect(closed.reason).toStartWith("Invalid filter: ");
  });
});
