/**
 * Automations end to end in process: events reach the bus (posted to /api/events or emitted
 * by the server's own writes), the triggers service evaluates them, and a tick of the actions
 * service carries out the queued actions. Webhooks and notifications go to a local Bun.serve.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { AutomationActions, AutomationTriggers } from "../../src/automations/service";
import type { ReceivedEvent } from "../../src/events/model";
import { formatDateTime } from "../../src/lib/time";
import { createTestApi, ManualClock } from "../support/api";

const T0 = Date.UTC(2025, 0, 1) * 1000;
const S = 1_000_000;
const clock = new ManualClock(T0);
const api = createTestApi({ clock });
const triggers = new AutomationTriggers(api.context);
const actions = new AutomationActions(api.context);
const seen: ReceivedEvent[] = [];
api.context.events.subscribe((event) => seen.push(event));

interface Captured {
  path: string;
  body: string;
  headers: Record<string, string>;
}
const captured: Captured[] = [];
let receiver: ReturnType<typeof Bun.serve>;
let receiverUrl = "";

beforeAll(() => {
  triggers.start();
  receiver = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      captured.push({ path: new URL(req.url).pathname, body: await req.text(), headers: Object.fromEntries(req.headers) });
      return new Response("ok", { status: new URL(req.url).pathname === "/fail" ? 500 : 200 });
    },
  });
  receiverUrl = `http://127.0.0.1:${receiver.port}`;
});
afterAll(async () => {
  await triggers.stop();
  receiver.stop(true);
  api.close();
});

/** Lets the triggers service evaluate what is on the bus, then runs the due actions. */
async function settle(): Promise<void> {
  await triggers.flush();
  await actions.tick(clock.now());
  await triggers.flush();
}

async function createAutomation(body: Record<string, unknown>) {
  const res = await api.post("/automations/", { name: `auto-${crypto.randomUUID().slice(0, 6)}`, ...body });
  expect(res.status).toBe(201);
  return res.body as { id: string; name: string };
}

async function postEvent(event: string, resource: Record<string, string>, more: Record<string, unknown> = {}) {
  const id = (more.id as string | undefined) ?? Bun.randomUUIDv7();
  const res = await api.post("/events", [{ id, occurred: formatDateTime(clock.now()), event, resource, related: [], payload: {}, ...more }]);
  expect(res.status).toBe(204);
  return id;
}

const eventsNamed = (name: string, automationId: string) => seen.filter((e) => e.event === name && e.resource["prefect.resource.id"] === `prefect.automation.${automationId}`);
const reactiveOn = (event: string, more: Record<string, unknown> = {}) => ({ type: "event", posture: "Reactive", expect: [event], ...more });

async function flowAndDeployment(name: string, extra: Record<string, unknown> = {}) {
  const flow = (await api.post("/flows/", { name: `flow-${name}` })).body;
  const deployment = (await api.post("/deployments/", { flow_id: flow.id, name, ...extra })).body;
  return { flow, deployment };
}

const runsOf = async (deploymentId: string) => (await api.post("/flow_runs/filter", { flow_runs: { deployment_id: { any_: [deploymentId] } } })).body as any[];

describe("run-deployment", () => {
  test("when a run of deployment A completes, deployment B runs with templated parameters, once", async () => {
    const a = await flowAndDeployment("a");
    const b = await flowAndDeployment("b", { parameters: { fixed: 1 } });
    const automation = await createAutomation({
      trigger: reactiveOn("prefect.flow-run.Completed", { match_related: { "prefect.resource.id": `prefect.deployment.${a.deployment.id}` } }),
      actions: [
        {
          type: "run-deployment",
          source: "selected",
          deployment_id: b.deployment.id,
          parameters: { upstream: "{{ flow_run.name }}", state: "{{ flow_run.state.name }}", flow: "{{ flow.name }}", count: "{{ (40 + 2) }}" },
          job_variables: { image: "x" },
        },
      ],
    });
    const run = (await api.post(`/deployments/${a.deployment.id}/create_flow_run`, { name: "upstream-run" })).body;
    for (const type of ["PENDING", "RUNNING", "COMPLETED"]) {
      clock.advance(S);
      expect((await api.post(`/flow_runs/${run.id}/set_state`, { state: { type } })).body.status).toBe("ACCEPT");
    }
    await settle();
    await settle();
    const downstream = await runsOf(b.deployment.id);
    expect(downstream).toHaveLength(1);
    expect(downstream[0].parameters).toEqual({ fixed: 1, upstream: "upstream-run", state: "Completed", flow: "flow-a", count: 42 });
    expect(downstream[0].job_variables).toEqual({ image: "x" });
    expect(downstream[0].state.type).toBe("SCHEDULED");
    expect(downstream[0].created_by).toEqual({ id: automation.id, type: "AUTOMATION", display_value: automation.name });

    const [fired] = eventsNamed("prefect.automation.triggered", automation.id);
    expect(fired!.resource).toEqual({ "prefect.resource.id": `prefect.automation.${automation.id}`, "prefect.resource.name": automation.name, "prefect.posture": "Reactive" });
    const completedEvent = seen.find((e) => e.event === "prefect.flow-run.Completed" && e.resource["prefect.resource.id"] === `prefect.flow-run.${run.id}`)!;
    expect(fired!.related).toEqual([{ "prefect.resource.id": `prefect.event.${completedEvent.id}`, "prefect.resource.role": "triggering-event" }]);
    expect((fired!.payload.triggering_event as { id: string }).id).toBe(completedEvent.id);

    const [triggeredAction] = eventsNamed("prefect.automation.action.triggered", automation.id);
    const executed = eventsNamed("prefect.automation.action.executed", automation.id);
    expect(executed).toHaveLength(1);
    expect(executed[0]!.follows).toBe(triggeredAction!.id);
    expect(triggeredAction!.follows).toBe(completedEvent.id);
    expect(executed[0]!.payload).toMatchObject({ action_index: 0, action_type: "run-deployment", status_code: 201 });
    expect(executed[0]!.resource).toMatchObject({ "prefect.trigger-type": "event", "prefect.posture": "Reactive" });
    expect(executed[0]!.related).toEqual([
      { "prefect.resource.id": `prefect.deployment.${b.deployment.id}`, "prefect.resource.role": "target" },
      { "prefect.resource.id": `prefect.flow-run.${downstream[0].id}`, "prefect.resource.role": "flow-run", "prefect.resource.name": downstream[0].name },
      { "prefect.resource.id": `prefect.event.${fired!.id}`, "prefect.resource.role": "automation-triggered-event" },
      { "prefect.resource.id": `prefect.event.${completedEvent.id}`, "prefect.resource.role": "triggering-event" },
    ]);
  });

  test("inferred deployment, and a deployment that is gone fails with Prefect's reason", async () => {
    const c = await flowAndDeployment("c");
    const automation = await createAutomation({ trigger: reactiveOn("custom.go"), actions: [{ type: "run-deployment", source: "inferred" }] });
    await postEvent("custom.go", { "prefect.resource.id": `prefect.deployment.${c.deployment.id}` });
    await settle();
    expect(await runsOf(c.deployment.id)).toHaveLength(1);

    await api.delete(`/deployments/${c.deployment.id}`);
    await postEvent("custom.go", { "prefect.resource.id": `prefect.deployment.${c.deployment.id}` });
    await postEvent("custom.go", { "prefect.resource.id": "prefect.flow.nothing" });
    await settle();
    const failed = eventsNamed("prefect.automation.action.failed", automation.id).map((e) => e.payload.reason);
    expect(failed).toEqual(["Unexpected status from 'run-deployment' action: 404", "No deployment could be inferred"]);
  });
});

describe("run-deployment parameters: Prefect's hydration", () => {
  test("none, json, workspace variables and templates are hydrated; a placeholder that fails reports the exception's repr", async () => {
    await api.post("/variables/", { name: "zone", value: "eu-1" });
    const d = await flowAndDeployment("hydrated-action");
    const automation = await createAutomation({
      trigger: reactiveOn("custom.hydrate"),
      actions: [
        {
          type: "run-deployment",
          source: "selected",
          deployment_id: d.deployment.id,
          parameters: {
            kept: { __prefect_kind: "none", value: 5 },
            items: { __prefect_kind: "json", value: "[1, 2]" },
            zone: { __prefect_kind: "workspace_variable", variable_name: "zone" },
            who: { __prefect_kind: "jinja", template: "{{ event.event }}" },
          },
        },
        { type: "run-deployment", source: "selected", deployment_id: d.deployment.id, parameters: { bad: { __prefect_kind: "json", value: "[1," } } },
      ],
    });
    await postEvent("custom.hydrate", { "prefect.resource.id": "x" });
    await settle();
    const runs = await runsOf(d.deployment.id);
    expect(runs.map((r) => r.parameters)).toEqual([{ kept: 5, items: [1, 2], zone: "eu-1", who: "custom.hydrate" }]);
    // Prefect 3.9.1: ActionFailed(f"Unable to create flow run from deployment: {exc!r}"), and InvalidJSON's repr is `InvalidJSON()`
    expect(eventsNamed("prefect.automation.action.failed", automation.id).map((e) => e.payload.reason)).toEqual(["Unable to create flow run from deployment: InvalidJSON()"]);
  });
});

describe("state, pause and resume actions", () => {
  test("pause and resume a work pool, selected and inferred", async () => {
    const pool = (await api.post("/work_pools/", { name: "pool-p", type: "process" })).body;
    await createAutomation({ trigger: reactiveOn("custom.pause-pool"), actions: [{ type: "pause-work-pool", source: "selected", work_pool_id: pool.id }] });
    await createAutomation({ trigger: reactiveOn("custom.resume-pool"), actions: [{ type: "resume-work-pool", source: "inferred" }] });
    await postEvent("custom.pause-pool", { "prefect.resource.id": "custom.thing" });
    await settle();
    expect((await api.get("/work_pools/pool-p")).body.is_paused).toBe(true);
    await postEvent("custom.resume-pool", { "prefect.resource.id": `prefect.work-pool.${pool.id}` });
    await settle();
    expect((await api.get("/work_pools/pool-p")).body.is_paused).toBe(false);
  });

  test("pause a work queue and a deployment inferred from the event's related resources", async () => {
    const pool = (await api.post("/work_pools/", { name: "pool-q", type: "process" })).body;
    const queue = (await api.post("/work_pools/pool-q/queues", { name: "q1" })).body;
    const d = await flowAndDeployment("paused-one");
    await createAutomation({
      trigger: reactiveOn("custom.pause-things"),
      actions: [
        { type: "pause-work-queue", source: "inferred" },
        { type: "pause-deployment", source: "inferred" },
      ],
    });
    await api.post("/events", [
      {
        id: Bun.randomUUIDv7(),
        occurred: formatDateTime(clock.now()),
        event: "custom.pause-things",
        resource: { "prefect.resource.id": "custom.x" },
        related: [
          { "prefect.resource.id": `prefect.work-queue.${queue.id}`, "prefect.resource.role": "work-queue" },
          { "prefect.resource.id": `prefect.deployment.${d.deployment.id}`, "prefect.resource.role": "deployment" },
        ],
      },
    ]);
    await settle();
    expect((await api.get(`/work_queues/${queue.id}`)).body.is_paused).toBe(true);
    expect((await api.get(`/deployments/${d.deployment.id}`)).body.paused).toBe(true);
    expect(pool.id).toBeString();
  });

  test("change-flow-run-state, cancel-flow-run and suspend-flow-run go through orchestration", async () => {
    const flow = (await api.post("/flows/", { name: "stateful" })).body;
    const newRun = async () => {
      const run = (await api.post("/flow_runs/", { flow_id: flow.id, state: { type: "RUNNING" } })).body;
      return run.id as string;
    };
    const [failMe, cancelMe] = [await newRun(), await newRun()];
    await createAutomation({ trigger: reactiveOn("custom.fail"), actions: [{ type: "change-flow-run-state", state: "FAILED", message: "told to" }] });
    await createAutomation({ trigger: reactiveOn("custom.cancel"), actions: [{ type: "cancel-flow-run" }] });
    await postEvent("custom.fail", { "prefect.resource.id": `prefect.flow-run.${failMe}` });
    await postEvent("custom.cancel", { "prefect.resource.id": `prefect.flow-run.${cancelMe}` });
    await settle();
    const failed = (await api.get(`/flow_runs/${failMe}`)).body.state;
    expect([failed.type, failed.message]).toEqual(["FAILED", "told to"]);
    const cancelling = (await api.get(`/flow_runs/${cancelMe}`)).body.state;
    expect(cancelling.type).toBe("CANCELLING");
    expect(cancelling.message).toStartWith("Cancelled by Automation ");
  });

  test("suspend-flow-run and resume-flow-run", async () => {
    const d = await flowAndDeployment("suspendable");
    const run = (await api.post(`/deployments/${d.deployment.id}/create_flow_run`, {})).body;
    for (const type of ["PENDING", "RUNNING"]) {
      clock.advance(S);
      expect((await api.post(`/flow_runs/${run.id}/set_state`, { state: { type } })).body.status).toBe("ACCEPT");
    }
    await createAutomation({ trigger: reactiveOn("custom.suspend"), actions: [{ type: "suspend-flow-run" }] });
    await createAutomation({ trigger: reactiveOn("custom.resume"), actions: [{ type: "resume-flow-run" }] });
    await postEvent("custom.suspend", { "prefect.resource.id": `prefect.flow-run.${run.id}` });
    await settle();
    const suspended = (await api.get(`/flow_runs/${run.id}`)).body.state;
    expect([suspended.type, suspended.name, suspended.state_details.pause_reschedule]).toEqual(["PAUSED", "Suspended", true]);
    clock.advance(S);
    await postEvent("custom.resume", { "prefect.resource.id": `prefect.flow-run.${run.id}` });
    await settle();
    expect((await api.get(`/flow_runs/${run.id}`)).body.state.type).toBe("SCHEDULED");
  });

  test("pause-automation turns another automation off", async () => {
    const target = await createAutomation({ trigger: reactiveOn("custom.never"), actions: [{ type: "do-nothing" }] });
    await createAutomation({ trigger: reactiveOn("custom.off"), actions: [{ type: "pause-automation", source: "selected", automation_id: target.id }] });
    await postEvent("custom.off", { "prefect.resource.id": "custom.x" });
    await settle();
    expect((await api.get(`/automations/${target.id}`)).body.enabled).toBe(false);
  });
});

describe("webhooks and notifications", () => {
  const kinds = new Map<string, { type: { id: string }; schema: { id: string } }>();
  async function blockDocument(slug: string, data: Record<string, unknown>, capabilities: string[]) {
    let kind = kinds.get(slug);
    if (!kind) {
      const type = (await api.post("/block_types/", { name: `T ${slug}`, slug })).body;
      const schema = (await api.post("/block_schemas/", { block_type_id: type.id, fields: { title: slug, properties: {} }, capabilities })).body;
      kinds.set(slug, (kind = { type, schema }));
    }
    const doc = await api.post("/block_documents/", { name: `${slug}-${crypto.randomUUID().slice(0, 6)}`, block_type_id: kind.type.id, block_schema_id: kind.schema.id, data });
    expect(doc.status).toBe(201);
    return doc.body.id as string;
  }

  test("call-webhook sends the rendered payload to the webhook block's URL", async () => {
    const block = await blockDocument("webhook", { method: "POST", url: `${receiverUrl}/hook`, headers: { "x-token": "t" } }, ["call"]);
    const automation = await createAutomation({
      trigger: reactiveOn("custom.hook"),
      actions: [{ type: "call-webhook", block_document_id: block, payload: '{"event": "{{ event.event }}", "resource": "{{ event.resource.id }}", "automation": "{{ automation.name }}"}' }],
    });
    await postEvent("custom.hook", { "prefect.resource.id": "custom.r1" });
    await settle();
    const hit = captured.filter((c) => c.path === "/hook");
    expect(hit).toHaveLength(1);
    expect(JSON.parse(hit[0]!.body)).toEqual({ event: "custom.hook", resource: "custom.r1", automation: automation.name });
    expect(hit[0]!.headers["x-token"]).toBe("t");
    const [executed] = eventsNamed("prefect.automation.action.executed", automation.id);
    expect(executed!.payload).toMatchObject({ status_code: 200, response_body: "ok" });
    expect(executed!.related.map((r) => r["prefect.resource.role"])).toEqual(["block", "block-type", "automation-triggered-event", "triggering-event"]);
  });

  test("send-notification to a Slack webhook renders Prefect's flow-run template", async () => {
    const block = await blockDocument("slack-webhook", { url: `${receiverUrl}/slack` }, ["notify"]);
    const flow = (await api.post("/flows/", { name: "notify-flow" })).body;
    const run = (await api.post("/flow_runs/", { flow_id: flow.id, name: "loud-run", state: { type: "RUNNING" } })).body;
    await createAutomation({
      trigger: reactiveOn("prefect.flow-run.Failed"),
      actions: [
        {
          type: "send-notification",
          block_document_id: block,
          subject: "Prefect flow run notification",
          body: "Flow run {{ flow.name }}/{{ flow_run.name }} observed in state `{{ flow_run.state.name }}`.\nFlow run ID: {{ flow_run.id }}",
        },
      ],
    });
    clock.advance(S);
    await api.post(`/flow_runs/${run.id}/set_state`, { state: { type: "FAILED" } });
    await settle();
    const hit = captured.filter((c) => c.path === "/slack");
    expect(hit).toHaveLength(1);
    expect(JSON.parse(hit[0]!.body).text).toBe(`*Prefect flow run notification*\nFlow run notify-flow/loud-run observed in state \`Failed\`.\nFlow run ID: ${run.id}`);
  });

  test("a notification block type that is not HTTP fails with a clear reason; a failing endpoint fails", async () => {
    const email = await blockDocument("email-server-credentials-x", { host: "smtp" }, ["notify"]);
    const broken = await blockDocument("custom-webhook", { url: `${receiverUrl}/fail`, method: "POST", json_data: { text: "{{subject}}: {{body}}" } }, ["notify"]);
    const automation = await createAutomation({
      trigger: reactiveOn("custom.notify"),
      actions: [
        { type: "send-notification", block_document_id: email, body: "hello" },
        { type: "send-notification", block_document_id: broken, body: "hello {{ event.event }}" },
      ],
    });
    await postEvent("custom.notify", { "prefect.resource.id": "custom.r" });
    await settle();
    const failed = eventsNamed("prefect.automation.action.failed", automation.id);
    expect(failed.map((e) => e.payload.reason)).toEqual([
      "The referenced block type 'email-server-credentials-x' cannot send notifications from prefect-lite (only slack-webhook, ms-teams-webhook, discord-webhook and custom-webhook are sent over HTTP)",
      "Notification failed",
    ]);
    expect(JSON.parse(captured.find((c) => c.path === "/fail")!.body)).toEqual({ text: "Prefect automated notification: hello custom.notify" });
  });

  test("templates cannot reach JavaScript's Function", async () => {
    const block = await blockDocument("webhook", { method: "POST", url: `${receiverUrl}/sandbox` }, ["call"]);
    const automation = await createAutomation({
      trigger: reactiveOn("custom.sandbox"),
      actions: [
        { type: "call-webhook", block_document_id: block, payload: '{{ range.constructor }}|{{ "".constructor }}|{{ event.__proto__ }}|{{ range(3) | join(",") }}' },
        { type: "call-webhook", block_document_id: block, payload: '{{ "".constructor.constructor("return 7*6")() }}' },
      ],
    });
    await postEvent("custom.sandbox", { "prefect.resource.id": "custom.r" });
    await settle();
    expect(captured.filter((c) => c.path === "/sandbox").map((c) => c.body)).toEqual(["|||0,1,2"]);
    const [failed] = eventsNamed("prefect.automation.action.failed", automation.id);
    expect(failed!.payload.reason).toStartWith("Template rendering failed: ");
    expect(failed!.payload.template_source).toBe('{{ "".constructor.constructor("return 7*6")() }}');
  });
});

describe("the services", () => {
  test("a proactive trigger fires on the tick after its window closes without the expected event", async () => {
    const automation = await createAutomation({
      trigger: { type: "event", posture: "Proactive", after: ["custom.job.start"], expect: ["custom.job.done"], for_each: ["prefect.resource.id"], within: 10 },
      actions: [{ type: "do-nothing" }],
    });
    await postEvent("custom.job.start", { "prefect.resource.id": "custom.job.1" });
    await postEvent("custom.job.start", { "prefect.resource.id": "custom.job.2" });
    await postEvent("custom.job.done", { "prefect.resource.id": "custom.job.2" });
    await triggers.flush();
    await triggers.tick(clock.now() + 5 * S);
    expect(eventsNamed("prefect.automation.triggered", automation.id)).toHaveLength(0);
    clock.advance(11 * S);
    await triggers.tick(clock.now());
    await triggers.flush();
    const fired = eventsNamed("prefect.automation.triggered", automation.id);
    expect(fired).toHaveLength(1);
    expect(fired[0]!.resource["prefect.posture"]).toBe("Proactive");
    expect(fired[0]!.payload.triggering_labels).toEqual({ "prefect.resource.id": "custom.job.1" });
  });

  test("an event that follows one not yet seen waits for it", async () => {
    const automation = await createAutomation({ trigger: reactiveOn("custom.second"), actions: [{ type: "do-nothing" }] });
    const first = Bun.randomUUIDv7();
    await postEvent("custom.second", { "prefect.resource.id": "custom.o" }, { follows: first });
    await triggers.flush();
    expect(eventsNamed("prefect.automation.triggered", automation.id)).toHaveLength(0);
    await postEvent("custom.first", { "prefect.resource.id": "custom.o" }, { id: first });
    await triggers.flush();
    expect(eventsNamed("prefect.automation.triggered", automation.id)).toHaveLength(1);
  });

  test("a follower whose leader is already stored (evaluated before a restart) does not wait", async () => {
    const automation = await createAutomation({ trigger: reactiveOn("custom.after-restart"), actions: [{ type: "do-nothing" }] });
    const leader: ReceivedEvent = {
      id: Bun.randomUUIDv7(),
      occurred: clock.now(),
      received: clock.now(),
      event: "custom.before-restart",
      resource: { "prefect.resource.id": "custom.o" },
      related: [],
      payload: {},
      follows: null,
    };
    await api.context.store.write((tx) => tx.events.write([leader], clock.now()));
    await postEvent("custom.after-restart", { "prefect.resource.id": "custom.o" }, { follows: leader.id });
    await triggers.flush();
    expect(eventsNamed("prefect.automation.triggered", automation.id)).toHaveLength(1);
  });

  test("a faulting action is retried later and runs exactly once", async () => {
    const automation = await createAutomation({ trigger: reactiveOn("custom.flaky"), actions: [{ type: "do-nothing" }] });
    const execute = actions.executor.execute.bind(actions.executor);
    let calls = 0;
    actions.executor.execute = async (...args) => {
      if (args[0].automation.id !== automation.id) return execute(...args);
      if (++calls === 1) throw new Error("database went away");
      return execute(...args);
    };
    try {
      await settle();
      await postEvent("custom.flaky", { "prefect.resource.id": "custom.f" });
      await settle();
      expect(eventsNamed("prefect.automation.action.executed", automation.id)).toHaveLength(0);
      await actions.tick(clock.now());
      expect(calls).toBe(1);
      clock.advance(6 * S);
      await settle();
      await settle();
      expect(calls).toBe(2);
      expect(eventsNamed("prefect.automation.action.executed", automation.id)).toHaveLength(1);
    } finally {
      actions.executor.execute = execute;
    }
  });

  test("a disabled automation does not fire", async () => {
    const automation = await createAutomation({ enabled: false, trigger: reactiveOn("custom.quiet"), actions: [{ type: "do-nothing" }] });
    await postEvent("custom.quiet", { "prefect.resource.id": "custom.q" });
    await settle();
    expect(eventsNamed("prefect.automation.triggered", automation.id)).toHaveLength(0);
  });
});
