/**
 * Trigger evaluation, table-driven, without HTTP: an in-memory store, a manual clock, and
 * events handed straight to the evaluator (src/automations/triggers.ts).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { ManualClock } from "../../src/clock";
import { SqliteStore } from "../../src/db/store";
import type { ReceivedEvent, Resource } from "../../src/events/model";
import type { JsonObject } from "../../src/lib/json";
import { TriggerEvaluator } from "../../src/automations/triggers";
import type { Firing } from "../../src/automations/model";
import { checkAutomation } from "../../src/schemas/automations";

const T0 = Date.UTC(2025, 0, 1) * 1000;
const S = 1_000_000;

type Step =
  | { event: string; at: number; resource?: string; name?: string; related?: Resource[]; id?: string }
  | { proactive: number };

interface Case {
  name: string;
  trigger: JsonObject;
  steps: Step[];
  /** Firings of the automation after each step. */
  fires: number[];
}

const stores: SqliteStore[] = [];
afterAll(() => stores.forEach((s) => s.close()));

function event(step: Extract<Step, { event: string }>): ReceivedEvent {
  const resource: Resource = { "prefect.resource.id": step.resource ?? "prefect.flow-run.1" };
  if (step.name) resource["prefect.resource.name"] = step.name;
  return { id: step.id ?? Bun.randomUUIDv7(), occurred: T0 + step.at * S, received: T0 + step.at * S, event: step.event, resource, related: step.related ?? [], payload: {}, follows: null };
}

async function run(trigger: JsonObject, steps: Step[]): Promise<{ counts: number[]; firings: Firing[][] }> {
  const store = SqliteStore.open(":memory:");
  stores.push(store);
  const clock = new ManualClock(T0);
  const { automation, issues } = checkAutomation({ name: "a", trigger, actions: [{ type: "do-nothing" }] });
  expect(issues).toEqual([]);
  await store.write((tx) => tx.automations.create({ ...automation, ownerResource: null }, T0));
  const evaluator = new TriggerEvaluator(() => clock.now());
  evaluator.load(await store.read((q) => q.automations.enabled()));
  const firings: Firing[][] = [];
  for (const step of steps) {
    if ("event" in step) {
      clock.set(T0 + step.at * S);
      firings.push(await store.write((tx) => evaluator.reactive(tx, event(step))));
    } else {
      clock.set(T0 + step.proactive * S);
      firings.push(await store.write((tx) => evaluator.proactive(tx, T0 + step.proactive * S)));
    }
  }
  return { counts: firings.map((f) => f.length), firings };
}

const completed = (at: number, more: Partial<Extract<Step, { event: string }>> = {}): Step => ({ event: "prefect.flow-run.Completed", at, ...more });
const running = (at: number, more: Partial<Extract<Step, { event: string }>> = {}): Step => ({ event: "prefect.flow-run.Running", at, ...more });
const reactive = (more: JsonObject): JsonObject => ({ type: "event", posture: "Reactive", expect: ["prefect.flow-run.Completed"], ...more });

const cases: Case[] = [
  { name: "immediate reactive: every matching event fires", trigger: reactive({}), steps: [completed(0), completed(1)], fires: [1, 1] },
  { name: "event names not expected are ignored", trigger: reactive({}), steps: [running(0)], fires: [0] },
  { name: "wildcard expect", trigger: reactive({ expect: ["prefect.flow-run.*"] }), steps: [running(0), completed(1)], fires: [1, 1] },
  {
    name: "threshold within a window fires once it is reached, then waits for the window to pass",
    trigger: reactive({ threshold: 3, within: 60 }),
    steps: [completed(0), completed(10), completed(20), completed(30), completed(60), completed(70), completed(80)],
    fires: [0, 0, 1, 0, 0, 0, 1],
  },
  {
    name: "events past the window start a new one",
    trigger: reactive({ threshold: 3, within: 60 }),
    steps: [completed(0), completed(10), completed(70), completed(80), completed(90)],
    fires: [0, 0, 0, 0, 1],
  },
  {
    name: "an event arriving out of order still counts in its window",
    trigger: reactive({ threshold: 2, within: 60 }),
    steps: [completed(30), completed(10)],
    fires: [0, 1],
  },
  {
    name: "for_each keeps a bucket per label value",
    trigger: reactive({ threshold: 2, within: 60, for_each: ["prefect.resource.id"] }),
    steps: [completed(0, { resource: "prefect.flow-run.a" }), completed(1, { resource: "prefect.flow-run.b" }), completed(2, { resource: "prefect.flow-run.a" })],
    fires: [0, 0, 1],
  },
  {
    name: "match filters on the primary resource's labels",
    trigger: reactive({ match: { "prefect.resource.name": "keep-*" } }),
    steps: [completed(0, { name: "other" }), completed(1, { name: "keep-1" }), completed(2)],
    fires: [0, 1, 0],
  },
  {
    name: "negated match",
    trigger: reactive({ match: { "prefect.resource.name": "!skip-*" } }),
    steps: [completed(0, { name: "skip-1" }), completed(1, { name: "run-1" })],
    fires: [0, 1],
  },
  {
    name: "match_related needs a related resource that matches",
    trigger: reactive({ match_related: { "prefect.resource.role": "flow", "prefect.resource.id": "prefect.flow.f1" } }),
    steps: [
      completed(0, { related: [{ "prefect.resource.id": "prefect.flow.f2", "prefect.resource.role": "flow" }] }),
      completed(1, { related: [{ "prefect.resource.id": "prefect.flow.f1", "prefect.resource.role": "flow" }] }),
    ],
    fires: [0, 1],
  },
  {
    name: "after: an expected event counts only once an `after` event opened a window",
    trigger: reactive({ after: ["prefect.flow-run.Pending"], within: 60, for_each: ["prefect.resource.id"] }),
    steps: [completed(0), { event: "prefect.flow-run.Pending", at: 1 }, completed(2), completed(3)],
    fires: [0, 0, 1, 0],
  },
  {
    name: "proactive: no Completed within 30 s of Running fires when the window closes",
    trigger: { type: "event", posture: "Proactive", after: ["prefect.flow-run.Running"], expect: ["prefect.flow-run.Completed"], for_each: ["prefect.resource.id"], within: 30 },
    steps: [running(0), { proactive: 10 }, { proactive: 31 }],
    fires: [0, 0, 1],
  },
  {
    name: "proactive: the expected event in time keeps it quiet",
    trigger: { type: "event", posture: "Proactive", after: ["prefect.flow-run.Running"], expect: ["prefect.flow-run.Completed"], for_each: ["prefect.resource.id"], within: 30 },
    steps: [running(0), completed(5), { proactive: 31 }, { proactive: 62 }],
    fires: [0, 0, 0, 0],
  },
  {
    name: "proactive: an expected event evaluated before its `after` event is held and still counts",
    trigger: { type: "event", posture: "Proactive", after: ["prefect.flow-run.Running"], expect: ["prefect.flow-run.Completed"], for_each: ["prefect.resource.id"], within: 30 },
    steps: [completed(5), running(0), { proactive: 31 }, { proactive: 62 }],
    fires: [0, 0, 0, 0],
  },
  {
    name: "proactive: a held event outside the window does not count",
    trigger: { type: "event", posture: "Proactive", after: ["prefect.flow-run.Running"], expect: ["prefect.flow-run.Completed"], for_each: ["prefect.resource.id"], within: 30 },
    steps: [completed(50), running(0), { proactive: 31 }],
    fires: [0, 0, 1],
  },
  {
    name: "proactive without after: a quiet window fires",
    trigger: { type: "event", posture: "Proactive", expect: ["prefect.flow-run.Completed"], within: 10 },
    steps: [{ proactive: 0 }, completed(5), { proactive: 10 }, { proactive: 20 }, { proactive: 30 }],
    fires: [0, 0, 0, 0, 1],
  },
  {
    name: "proactive heartbeat: the same event in after and expect restarts the window",
    trigger: { type: "event", posture: "Proactive", after: ["prefect.flow-run.heartbeat"], expect: ["prefect.flow-run.heartbeat"], for_each: ["prefect.resource.id"], within: 10 },
    steps: [{ event: "prefect.flow-run.heartbeat", at: 0 }, { event: "prefect.flow-run.heartbeat", at: 8 }, { proactive: 12 }, { proactive: 19 }],
    fires: [0, 0, 0, 1],
  },
  {
    name: "compound all: fires once every child has fired",
    trigger: {
      type: "compound",
      require: "all",
      within: 60,
      triggers: [reactive({ expect: ["prefect.flow-run.Completed"] }), reactive({ expect: ["prefect.flow-run.Running"] })],
    },
    steps: [completed(0), completed(1), running(2), running(3)],
    fires: [0, 0, 1, 0],
  },
  {
    name: "compound any fires on the first child",
    trigger: { type: "compound", require: "any", within: null, triggers: [reactive({}), reactive({ expect: ["prefect.flow-run.Running"] })] },
    steps: [running(0), completed(1)],
    fires: [1, 1],
  },
  {
    name: "compound n of 3",
    trigger: {
      type: "compound",
      require: 2,
      within: 60,
      triggers: [reactive({}), reactive({ expect: ["prefect.flow-run.Running"] }), reactive({ expect: ["prefect.flow-run.Failed"] })],
    },
    steps: [running(0), { event: "prefect.flow-run.Failed", at: 1 }],
    fires: [0, 1],
  },
  {
    name: "compound within: child firings older than the horizon are dropped",
    trigger: { type: "compound", require: "all", within: 10, triggers: [reactive({}), reactive({ expect: ["prefect.flow-run.Running"] })] },
    steps: [completed(0), running(30), completed(31)],
    fires: [0, 0, 1],
  },
  {
    name: "sequence: children must fire in order",
    trigger: { type: "sequence", within: 60, triggers: [reactive({ expect: ["prefect.flow-run.Running"] }), reactive({})] },
    steps: [completed(0), running(1), completed(2)],
    fires: [0, 0, 1],
  },
];

describe("trigger evaluation", () => {
  for (const c of cases) {
    test(c.name, async () => {
      const { counts } = await run(c.trigger, c.steps);
      expect(counts).toEqual(c.fires);
    });
  }

  test("a firing carries the for_each labels and the triggering event", async () => {
    const trigger = reactive({ for_each: ["prefect.resource.id"] });
    const { firings } = await run(trigger, [completed(0, { resource: "prefect.flow-run.xyz", id: "0190e0e0-0000-7000-8000-000000000001" })]);
    const firing = firings[0]![0]!;
    expect(firing.triggering_labels).toEqual({ "prefect.resource.id": "prefect.flow-run.xyz" });
    expect(firing.triggering_event?.id).toBe("0190e0e0-0000-7000-8000-000000000001");
    expect(firing.trigger_states).toEqual(["Triggered"]);
  });

  test("a proactive firing without a triggering event carries the window's last event", async () => {
    const trigger = { type: "event", posture: "Proactive", after: ["prefect.flow-run.Running"], expect: ["prefect.flow-run.Completed"], for_each: ["prefect.resource.id"], within: 30 };
    const { firings } = await run(trigger, [running(0, { id: "0190e0e0-0000-7000-8000-000000000002" }), { proactive: 31 }]);
    expect(firings[1]![0]!.triggering_event?.id).toBe("0190e0e0-0000-7000-8000-000000000002");
  });

  test("a compound firing lists its children's firings", async () => {
    const trigger = { type: "compound", require: "all", within: 60, triggers: [reactive({}), reactive({ expect: ["prefect.flow-run.Running"] })] };
    const { firings } = await run(trigger, [completed(0), running(1)]);
    const firing = firings[1]![0]!;
    expect(firing.trigger.type).toBe("compound");
    expect(firing.triggering_firings.map((f) => f.trigger.type)).toEqual(["event", "event"]);
  });
});
