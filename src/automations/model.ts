/**
 * Automations as the evaluator reads them (prefect/server/events/schemas/automations.py):
 * the stored, normalized trigger documents, one firing of a trigger, and one triggered
 * action. Everything here is plain JSON so a firing can be kept in the database (a
 * composite trigger's child firings, the actions queue) and read back unchanged.
 */
import type { AutomationRow } from "../db/repos/automations";
import { RESOURCE_ID, RESOURCE_ROLE, type ReceivedEvent, type Resource } from "../events/model";
import type { JsonObject } from "../lib/json";
import type { Micros } from "../lib/time";

/** A ResourceSpecification: label → pattern(s); an empty one matches every resource. */
export type ResourceSpecification = Record<string, string | string[]>;

export interface EventTrigger {
  type: "event";
  id: string;
  match: ResourceSpecification;
  match_related: ResourceSpecification | ResourceSpecification[];
  after: string[];
  expect: string[];
  for_each: string[];
  posture: "Reactive" | "Proactive";
  threshold: number;
  /** Seconds. */
  within: number;
}

export interface CompositeTrigger {
  type: "compound" | "sequence";
  id: string;
  triggers: Trigger[];
  /** Seconds, or null for no horizon. */
  within: number | null;
  require?: number | "any" | "all";
}

export type Trigger = EventTrigger | CompositeTrigger;

export type TriggerState = "Triggered" | "Resolved";

/** One instance of a trigger firing. */
export interface Firing {
  id: string;
  trigger: Trigger;
  trigger_states: TriggerState[];
  triggered: Micros;
  triggering_labels: Record<string, string>;
  triggering_firings: Firing[];
  triggering_event: ReceivedEvent | null;
}

/** The automation as a triggered action carries it (Prefect's Automation model, snake_case). */
export interface AutomationDocument {
  id: string;
  name: string;
  description: string;
  enabled: boolean;
  tags: string[];
  trigger: Trigger;
  actions: JsonObject[];
  actions_on_trigger: JsonObject[];
  actions_on_resolve: JsonObject[];
}

/** An action caused by a firing; its `id` is the invocation id (one per action per firing). */
export interface TriggeredAction {
  id: string;
  automation: AutomationDocument;
  firing: Firing | null;
  triggered: Micros;
  triggering_labels: Record<string, string>;
  triggering_event: ReceivedEvent | null;
  action: JsonObject;
  action_index: number;
  automation_triggered_event_id: string | null;
}

export function automationDocument(row: AutomationRow): AutomationDocument {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    enabled: row.enabled,
    tags: row.tags,
    trigger: row.trigger as unknown as Trigger,
    actions: row.actions,
    actions_on_trigger: row.actionsOnTrigger,
    actions_on_resolve: row.actionsOnResolve,
  };
}

/** Every trigger of a tree, the root first. */
export function allTriggers(trigger: Trigger): Trigger[] {
  return trigger.type === "event" ? [trigger] : [trigger, ...trigger.triggers.flatMap(allTriggers)];
}

export function allFirings(firing: Firing | null): Firing[] {
  return firing ? [firing, ...firing.triggering_firings.flatMap(allFirings)] : [];
}

export function allEvents(firing: Firing | null): ReceivedEvent[] {
  if (!firing) return [];
  return [...(firing.triggering_event ? [firing.triggering_event] : []), ...firing.triggering_firings.flatMap(allEvents)];
}

// ---- matching (events.py `matches`, ResourceSpecification, EventTrigger) ---------------------

const globs = new Map<string, RegExp>();

/** fnmatch.fnmatchcase: `*`, `?` and `[...]` over the whole value. */
function fnmatchRegExp(glob: string): RegExp {
  let compiled = globs.get(glob);
  if (!compiled) {
    let source = "";
    for (let i = 0; i < glob.length; i++) {
      const ch = glob[i]!;
      if (ch === "*") source += ".*";
      else if (ch === "?") source += ".";
      else if (ch === "[") {
        const close = glob.indexOf("]", i + 2);
        if (close === -1) source += "\\[";
        else {
          let body = glob.slice(i + 1, close).replace(/\\/g, "\\\\");
          if (body.startsWith("!")) body = `^${body.slice(1)}`;
          source += `[${body}]`;
          i = close;
        }
      } else source += ch.replace(/[.+^${}()|\\/\]]/g, (c) => `\\${c}`);
    }
    try {
      compiled = new RegExp(`^${source}$`, "s");
    } catch {
      // a bracket expression JavaScript rejects (e.g. `[z-a]`) matches itself literally
      compiled = new RegExp(`^${glob.replace(/[.*+?^${}()|[\]\\]/g, (c) => `\\${c}`)}$`, "s");
    }
    if (globs.size > 1024) globs.clear();
    globs.set(glob, compiled);
  }
  return compiled;
}

/** events.py `matches`: a glob, negated by a leading `!`; a missing value never matches. */
export function labelMatches(expected: string, value: string | undefined): boolean {
  if (value === undefined) return false;
  const positive = !expected.startsWith("!");
  const matched = fnmatchRegExp(positive ? expected : expected.slice(1)).test(value);
  return positive ? matched : !matched;
}

function specMatches(spec: ResourceSpecification, resource: Resource): boolean {
  return Object.entries(spec).every(([label, expected]) => {
    const candidates = typeof expected === "string" ? [expected] : expected;
    return candidates.some((candidate) => labelMatches(candidate, resource[label]));
  });
}

/** ResourceSpecification.includes: an empty specification includes everything. */
export function specIncludes(spec: ResourceSpecification, candidates: Resource[]): boolean {
  if (Object.keys(spec).length === 0) return true;
  return candidates.some((candidate) => specMatches(spec, candidate));
}

const eventPatterns = new WeakMap<EventTrigger, RegExp>();

/** EventTrigger.event_pattern: a `re.match` (anchored at the start only) of expect ∪ after. */
function eventPattern(trigger: EventTrigger): RegExp {
  let pattern = eventPatterns.get(trigger);
  if (!pattern) {
    const sources = [...new Set([...trigger.expect, ...trigger.after])].map((e) => e.replace(/[.+?^${}()|[\]\\]/g, (c) => `\\${c}`).replace(/\*/g, ".+"));
    pattern = trigger.expect.length === 0 ? /^.+/s : new RegExp(`^(?:${sources.join("|")})`, "s");
    eventPatterns.set(trigger, pattern);
  }
  return pattern;
}

export function covers(trigger: EventTrigger, event: ReceivedEvent): boolean {
  if (!eventPattern(trigger).test(event.event)) return false;
  if (!specIncludes(trigger.match, [event.resource])) return false;
  const related = Array.isArray(trigger.match_related) ? trigger.match_related : [trigger.match_related];
  return related.every((spec) => specIncludes(spec, event.related));
}

export function startsAfter(trigger: EventTrigger, event: string): boolean {
  return trigger.after.some((candidate) => labelMatches(candidate, event));
}

export function expects(trigger: EventTrigger, event: string): boolean {
  return trigger.expect.length === 0 || trigger.expect.some((candidate) => labelMatches(candidate, event));
}

/** Event.find_resource_label: `related:<role>:<label>` reads the first related resource in that role. */
export function findResourceLabel(event: ReceivedEvent, label: string): string | undefined {
  const cut = label.lastIndexOf(":");
  const directive = cut === -1 ? "" : label.slice(0, cut);
  const relatedLabel = label.slice(cut + 1);
  const [kind, ...roleParts] = directive.split(":");
  if (kind === "related") {
    const role = roleParts.join(":");
    const related = event.related.find((r) => r[RESOURCE_ROLE] === role);
    if (related) return related[relatedLabel];
  }
  return event.resource[label];
}

export function bucketingKey(trigger: EventTrigger, event: ReceivedEvent): string[] {
  return [...trigger.for_each].sort().map((label) => findResourceLabel(event, label) ?? "");
}

export function meetsThreshold(trigger: EventTrigger, count: number): boolean {
  return trigger.posture === "Reactive" ? count >= trigger.threshold : count < trigger.threshold;
}

/** A reactive trigger with no window fires for every event. */
export const immediate = (trigger: EventTrigger) => trigger.posture === "Reactive" && trigger.within === 0;

export function numExpectedFirings(trigger: CompositeTrigger): number {
  if (trigger.type === "sequence") return trigger.triggers.length;
  if (trigger.require === "any") return 1;
  if (trigger.require === "all") return trigger.triggers.length;
  return Number(trigger.require);
}

export function compositeReadyToFire(trigger: CompositeTrigger, firings: Firing[]): boolean {
  if (trigger.type === "compound") return firings.length >= numExpectedFirings(trigger);
  const order = [...firings].sort((a, b) => a.triggered - b.triggered).map((f) => f.trigger.id);
  const expected = trigger.triggers.map((t) => t.id);
  return order.length === expected.length && order.every((id, i) => id === expected[i]);
}

/** The resource of `prefect.<kind>.<uuid>` ids, as `_kind_and_id_from_resource` splits them. */
export function resourceKindAndId(resourceId: string): { kind: string; id: string } | null {
  const cut = resourceId.lastIndexOf(".");
  if (cut === -1) return null;
  const id = resourceId.slice(cut + 1);
  return /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(id) ? { kind: resourceId.slice(0, cut), id: id.toLowerCase() } : null;
}

/** `_first_resource_of_kind`: the primary resource, then the related ones, in order. */
export function firstResourceOfKind(event: ReceivedEvent, kind: string): Resource | null {
  for (const resource of [event.resource, ...event.related]) {
    const id = resource[RESOURCE_ID];
    if (id && id.slice(0, id.lastIndexOf(".")) === kind) return resource;
  }
  return null;
}

/** `_id_of_first_resource_of_kind` */
export function idOfFirstResourceOfKind(event: ReceivedEvent, kind: string): string | null {
  const resource = firstResourceOfKind(event, kind);
  const parsed = resource ? resourceKindAndId(resource[RESOURCE_ID]!) : null;
  return parsed && parsed.kind === kind ? parsed.id : null;
}
