/**
 * Trigger evaluation, ported from prefect/server/events/triggers.py. Each event trigger
 * keeps exactly one open bucket (a time window and a count of expected events) per
 * bucketing key in the database. A reactive trigger fires as soon as a bucket reaches its
 * threshold; a proactive one fires when a bucket closes below it. A firing of a child of
 * a compound or sequence trigger is kept until the parent has the firings it needs.
 *
 * Everything here runs inside one write transaction (an `Op`): the buckets it changes, the
 * `prefect.automation.triggered` events it stages and the actions it queues commit together.
 */
import type { AutomationRow } from "../db/repos/automations";
import type { Bucket, BucketKey } from "../db/repos/automation-state";
import type { WriteTx } from "../db/store";
import type { Op } from "../db/unit-of-work";
import { eventJson, RESOURCE_ID, RESOURCE_ROLE, type Event, type ReceivedEvent } from "../events/model";
import type { JsonObject } from "../lib/json";
import type { Micros } from "../lib/time";
import {
  allTriggers,
  automationDocument,
  bucketingKey,
  compositeReadyToFire,
  covers,
  expects,
  immediate,
  meetsThreshold,
  numExpectedFirings,
  startsAfter,
  type CompositeTrigger,
  type EventTrigger,
  type Firing,
  type Trigger,
  type TriggeredAction,
  type TriggerState,
} from "./model";

const SECOND = 1_000_000;
/** ordering.PRECEDING_EVENT_LOOKBACK: how far back a first bucket opens, to catch events arriving out of order. */
export const PRECEDING_EVENT_LOOKBACK = 15 * 60 * SECOND;
/**
 * HELD_EXPECT_EVENTS_RETENTION: a lost follower waits up to the lookback, and an `after` event
 * among them can open a window up to one lookback back, so a held event outlasts both.
 */
export const HELD_EXPECT_EVENTS_RETENTION = 2 * PRECEDING_EVENT_LOOKBACK;

/**
 * A proactive trigger with `after` holds its `expect`-only events: events of one key can be
 * evaluated in any order, so one may come before the `after` event that opens its window.
 */
const holdsExpectEvents = (trigger: EventTrigger) => trigger.posture === "Proactive" && trigger.after.length > 0;

interface LoadedTrigger {
  automation: AutomationRow;
  trigger: EventTrigger;
}

interface LoadedAutomation {
  row: AutomationRow;
  /** Each trigger's parent in the tree (null for the automation's own trigger). */
  parents: Map<string, CompositeTrigger | null>;
}

/**
 * The automations loaded for evaluation, and when each proactive trigger is next due.
 * The clock is only read for a firing's `triggered` time.
 */
export class TriggerEvaluator {
  private automations = new Map<string, LoadedAutomation>();
  private triggers: LoadedTrigger[] = [];
  private readonly nextProactiveRuns = new Map<string, Micros>();

  constructor(private readonly now: () => Micros) {}

  /** load_automation for each enabled automation; triggers of automations no longer loaded are forgotten. */
  load(rows: AutomationRow[]): void {
    this.automations = new Map();
    this.triggers = [];
    const triggerIds = new Set<string>();
    for (const row of rows) {
      if (!row.enabled) continue;
      const root = row.trigger as unknown as Trigger;
      const parents = new Map<string, CompositeTrigger | null>([[root.id, null]]);
      for (const trigger of allTriggers(root)) {
        if (trigger.type !== "event") for (const child of trigger.triggers) parents.set(child.id, trigger);
      }
      const eventTriggers = allTriggers(root).filter((t): t is EventTrigger => t.type === "event");
      if (eventTriggers.length === 0) continue;
      this.automations.set(row.id, { row, parents });
      for (const trigger of eventTriggers) {
        this.triggers.push({ automation: row, trigger });
        triggerIds.add(trigger.id);
      }
    }
    for (const id of this.nextProactiveRuns.keys()) if (!triggerIds.has(id)) this.nextProactiveRuns.delete(id);
  }

  get loadedTriggerCount(): number {
    return this.triggers.length;
  }

  /** Whether any loaded trigger covers the event (find_interested_triggers), checked before a transaction is opened. */
  interested(event: ReceivedEvent): boolean {
    return this.triggers.some(({ trigger }) => covers(trigger, event));
  }

  /** reactive_evaluation: every trigger covering the event counts it; returns the automations' firings. */
  *reactive(tx: WriteTx, event: ReceivedEvent): Op<Firing[]> {
    const firings: Firing[] = [];
    for (const loaded of this.triggers) {
      const { trigger, automation } = loaded;
      if (!covers(trigger, event)) continue;
      const key = { automationId: automation.id, triggerId: trigger.id, bucketingKey: bucketingKey(trigger, event) };
      const now = this.now();
      let bucket: Bucket | null = null;
      if (trigger.after.length > 0 && startsAfter(trigger, event.event)) {
        // An event both `after` and `expect` starts the window it must not count in itself.
        const initial = expects(trigger, event.event) ? -1 : 0;
        const [start, end] = [event.occurred, event.occurred + trigger.within * SECOND];
        const count = initial + (yield* this.held(tx, trigger, key, start, end));
        bucket = yield* tx.automationState.ensureBucket(key, { start, end, count, lastEvent: event }, now);
      }
      if (!bucket && trigger.after.length === 0 && expects(trigger, event.event)) {
        // A first bucket opens in the past so events arriving out of order still count.
        bucket = yield* tx.automationState.ensureBucket(
          key,
          { start: event.occurred - PRECEDING_EVENT_LOOKBACK, end: event.occurred + trigger.within * SECOND, count: 0, lastEvent: event },
          now,
        );
      }
      if (!expects(trigger, event.event)) continue;
      if (!bucket && holdsExpectEvents(trigger)) {
        // An `expect`-only event is held for any bucket that opens later over it; one already
        // held was counted by a bucket, and must not be counted again.
        if (yield* tx.automationState.isHeld(key, event.id)) continue;
        const horizon = Math.max(HELD_EXPECT_EVENTS_RETENTION, trigger.within * SECOND);
        yield* tx.automationState.holdEvent(key, event, trigger.within * SECOND, trigger.threshold, horizon, now);
      }
      bucket ??= yield* tx.automationState.readBucket(key);
      if (!bucket) continue;
      yield* this.evaluate(tx, loaded, bucket, event.occurred, event, firings);
    }
    return firings;
  }

  /** The proactive triggers due by `asOf` are evaluated (evaluate_proactive_triggers). */
  *proactive(tx: WriteTx, asOf: Micros): Op<Firing[]> {
    const firings: Firing[] = [];
    for (const loaded of this.triggers) {
      const { trigger, automation } = loaded;
      if (trigger.posture !== "Proactive") continue;
      if ((this.nextProactiveRuns.get(trigger.id) ?? asOf) > asOf) continue;
      const within = trigger.within * SECOND;
      let runAgainAt = asOf + within;
      if (trigger.for_each.length === 0) {
        const key = { automationId: automation.id, triggerId: trigger.id, bucketingKey: [] };
        const count = yield* this.held(tx, trigger, key, asOf, asOf + within);
        yield* tx.automationState.ensureBucket(key, { start: asOf, end: asOf + within, count, lastEvent: null }, this.now());
      }
      yield* tx.automationState.removeBucketsAtThreshold(automation.id, trigger.id, trigger.threshold);
      for (const bucket of yield* tx.automationState.bucketsOf(automation.id, trigger.id)) {
        const next = yield* this.evaluate(tx, loaded, bucket, asOf, null, firings);
        if (next && asOf < next.end && next.end < runAgainAt) runAgainAt = next.end;
      }
      this.nextProactiveRuns.set(trigger.id, runAgainAt);
    }
    return firings;
  }

  /** evaluate(): counts the event in the bucket, fires when due, and opens the next window. */
  private *evaluate(tx: WriteTx, loaded: LoadedTrigger, bucket: Bucket, now: Micros, event: ReceivedEvent | null, firings: Firing[]): Op<Bucket | null> {
    const { trigger } = loaded;
    const state = tx.automationState;
    const written = this.now();
    let count = event ? 1 : 0;
    // an older, out-of-order event, or one for a reactive trigger that already fired
    if (now < bucket.start) return bucket;
    const previousLastEvent = bucket.lastEvent;
    if (count && (immediate(trigger) || (bucket.start <= now && now < bucket.end))) {
      bucket = yield* state.incrementBucket(bucket, count, event, written);
      count = 0;
    }
    // Reactive triggers fire eagerly; proactive ones only once the window is over.
    const readyToFire = trigger.posture === "Reactive" || bucket.end <= now;
    const meets = meetsThreshold(trigger, bucket.count);
    if (readyToFire && meets) {
      const labels: Record<string, string> = {};
      [...trigger.for_each].sort().forEach((label, i) => (labels[label] = bucket.bucketingKey[i] ?? ""));
      const firing: Firing = {
        id: Bun.randomUUIDv7(),
        trigger,
        trigger_states: ["Triggered"],
        triggered: written,
        triggering_labels: labels,
        triggering_firings: [],
        triggering_event: event ?? bucket.lastEvent,
      };
      yield* this.fire(tx, loaded.automation.id, firing, firings);
      // removed at once so a crash cannot act twice on one window
      yield* state.removeBucket(bucket);
    } else if (now < bucket.end) {
      // A proactive trigger whose `after` and `expect` share the event (heartbeats): each
      // such event restarts the window.
      if (event && trigger.posture === "Proactive" && !meets && startsAfter(trigger, event.event) && expects(trigger, event.event)) {
        yield* state.removeBucket(bucket);
        let lastEvent = event;
        if (
          previousLastEvent &&
          expects(trigger, previousLastEvent.event) &&
          !startsAfter(trigger, previousLastEvent.event) &&
          previousLastEvent.occurred >= event.occurred
        ) {
          lastEvent = previousLastEvent;
        }
        const [start, end] = [event.occurred, event.occurred + trigger.within * SECOND];
        const count = yield* this.held(tx, trigger, bucket, start, end);
        return yield* state.startNewBucket(bucket, { start, end, count, lastEvent }, written);
      }
      return bucket;
    }
    // Outside the window, or just fired: the next window, unless an `after` event must open it.
    if (trigger.after.length > 0) {
      yield* state.removeBucket(bucket);
      return null;
    }
    if (trigger.within === 0) return null;
    const start = Math.max(bucket.end, now);
    const end = start + trigger.within * SECOND;
    if (trigger.posture === "Reactive" && count > 0) {
      // an event from after the window: it may fire the next window by itself
      const next = yield* state.startNewBucket(bucket, { start, end, count: 0, lastEvent: null }, written);
      return yield* this.evaluate(tx, loaded, next, now, event, firings);
    }
    const held = yield* this.held(tx, trigger, bucket, start, end);
    return yield* state.startNewBucket(bucket, { start, end, count: count + held, lastEvent: null }, written);
  }

  /** The held `expect` events a new window of the key counts (none for triggers that hold none). */
  private *held(tx: WriteTx, trigger: EventTrigger, key: BucketKey, start: Micros, end: Micros): Op<number> {
    return holdsExpectEvents(trigger) ? yield* tx.automationState.heldEventsInWindow(key, start, end) : 0;
  }

  /** A firing of the automation's own trigger acts; a child's goes to its compound or sequence parent. */
  private *fire(tx: WriteTx, automationId: string, firing: Firing, firings: Firing[]): Op<void> {
    const loaded = this.automations.get(automationId);
    if (!loaded) return;
    const parent = loaded.parents.get(firing.trigger.id) ?? null;
    if (!parent) {
      firings.push(firing);
      yield* act(tx, loaded.row, firing);
      return;
    }
    yield* this.evaluateComposite(tx, loaded.row, parent, firing, firings);
  }

  /** evaluate_composite_trigger */
  private *evaluateComposite(tx: WriteTx, automation: AutomationRow, trigger: CompositeTrigger, firing: Firing, firings: Firing[]): Op<void> {
    const parentFiring = (children: Firing[]): Firing => ({
      id: Bun.randomUUIDv7(),
      trigger,
      trigger_states: ["Triggered"],
      triggered: this.now(),
      triggering_labels: {},
      triggering_firings: children,
      triggering_event: firing.triggering_event,
    });
    if (numExpectedFirings(trigger) === 1) {
      yield* this.fire(tx, automation.id, parentFiring([firing]), firings);
      return;
    }
    const state = tx.automationState;
    if (trigger.within !== null) yield* state.clearOldChildFirings(automation.id, trigger.id, firing.triggered - trigger.within * SECOND);
    yield* state.upsertChildFiring(
      automation.id,
      trigger.id,
      { firingId: firing.id, triggerId: firing.trigger.id, firedAt: firing.triggered, firing: firing as unknown as JsonObject },
      this.now(),
    );
    const children = (yield* state.childFirings(automation.id, trigger.id)).map((c) => c.firing as unknown as Firing);
    const ids = children.map((c) => c.id);
    if (!ids.includes(firing.id)) return;
    if (!compositeReadyToFire(trigger, children)) return;
    const deleted = yield* state.clearChildFirings(automation.id, trigger.id, ids);
    if (deleted.length !== ids.length) return;
    yield* this.fire(tx, automation.id, parentFiring(children), firings);
  }
}

/** Trigger.create_automation_state_change_event */
export function automationStateChangeEvent(automation: AutomationRow, firing: Firing, state: TriggerState): ReceivedEvent {
  const resource: Record<string, string> = {
    [RESOURCE_ID]: `prefect.automation.${automation.id}`,
    "prefect.resource.name": automation.name,
  };
  if (firing.trigger.type === "event") resource["prefect.posture"] = firing.trigger.posture;
  const triggering = firing.triggering_event;
  return {
    id: Bun.randomUUIDv7(),
    occurred: firing.triggered,
    received: firing.triggered,
    event: `prefect.automation.${state.toLowerCase()}`,
    resource,
    related: triggering ? [{ [RESOURCE_ID]: `prefect.event.${triggering.id}`, [RESOURCE_ROLE]: "triggering-event" }] : [],
    payload: {
      triggering_labels: firing.triggering_labels,
      triggering_event: triggering ? (eventJson(triggering) as unknown as JsonObject) : null,
    },
    follows: null,
  };
}

/**
 * act(): stages the automation's state-change events and queues one triggered action per
 * action (`actions`, then `actions_on_trigger` / `actions_on_resolve`), all in this transaction.
 */
export function* act(tx: WriteTx, automation: AutomationRow, firing: Firing): Op<void> {
  const order: TriggerState[] = ["Triggered", "Resolved"];
  const states = order.filter((s) => firing.trigger_states.includes(s));
  const stateEvents = new Map(states.map((s) => [s, automationStateChangeEvent(automation, firing, s)]));
  const toStage: Event[] = [...stateEvents.values()].map(({ received: _received, ...event }) => event);
  tx.stage(...toStage);
  const primary = stateEvents.get("Triggered") ?? stateEvents.get("Resolved") ?? null;
  const sources: [ReceivedEvent | null, JsonObject, string | null][] = automation.actions.map((a) => [firing.triggering_event, a, primary?.id ?? null]);
  const triggered = stateEvents.get("Triggered");
  if (triggered) sources.push(...automation.actionsOnTrigger.map((a): [ReceivedEvent, JsonObject, string] => [triggered, a, triggered.id]));
  const resolved = stateEvents.get("Resolved");
  if (resolved) sources.push(...automation.actionsOnResolve.map((a): [ReceivedEvent, JsonObject, string] => [resolved, a, resolved.id]));
  const document = automationDocument(automation);
  const actions = sources.map(([event, action, stateEventId], index) => {
    const triggeredAction: TriggeredAction = {
      id: Bun.randomUUIDv7(),
      automation: document,
      firing,
      triggered: firing.triggered,
      triggering_labels: firing.triggering_labels,
      triggering_event: event,
      action,
      action_index: index,
      automation_triggered_event_id: stateEventId,
    };
    return { id: triggeredAction.id, automationId: automation.id, actionIndex: index, triggeredAction: triggeredAction as unknown as JsonObject };
  });
  yield* tx.automationState.enqueueActions(actions, firing.triggered);
}
