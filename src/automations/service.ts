/**
 * The two automation services (prefect/server/events/services/triggers.py and actions.py).
 *
 * `AutomationTriggers` evaluates every committed event on the bus against the enabled
 * automations (reactive evaluation, one transaction per event, in causal order), and on each
 * tick evaluates the proactive triggers that are due, re-evaluates followers whose leader never
 * came and sweeps closed buckets. A firing queues its actions in the same transaction.
 *
 * `AutomationActions` drains that queue outside any request: each queued action is claimed
 * (attempt counted, leased), carried out, and finished with its `action.triggered` and
 * `action.executed`/`action.failed` events in one transaction. A fault other than the action's
 * own failure is retried, up to MAX_ATTEMPTS; a finished action is never run again.
 */
import type { AppContext } from "../context";
import type { QueuedActionRow } from "../db/repos/automation-state";
import { RESOURCE_ID, RESOURCE_ROLE, type Event, type ReceivedEvent, type Resource } from "../events/model";
import type { Micros } from "../lib/time";
import { EventConsumer } from "../services/event-consumer";
import type { Service } from "../services/service";
import { ActionExecutor, ActionFailed, type ActionOutcome } from "./actions";
import type { TriggeredAction } from "./model";
import { CausalOrdering, MAX_DEPTH_OF_PRECEDING_EVENT } from "./ordering";
import { TemplateRenderer } from "../lib/user-templates";
import { HELD_EXPECT_EVENTS_RETENTION, TriggerEvaluator } from "./triggers";

const SECOND = 1_000_000;
/** PREFECT_SERVER_EVENTS_PROACTIVE_GRANULARITY: how often proactive triggers are looked at. */
const PROACTIVE_GRANULARITY_SECONDS = 5;
/** PREFECT_EVENTS_EXPIRED_BUCKET_BUFFER: closed buckets older than this are swept. */
const EXPIRED_BUCKET_BUFFER = 60 * SECOND;

export class AutomationTriggers extends EventConsumer<ReceivedEvent> {
  readonly name = "AutomationTriggers";
  readonly evaluator: TriggerEvaluator;
  private readonly ordering = new CausalOrdering();
  private snapshot: string | null = null;
  private revision = -1;
  private draining: Promise<void> = Promise.resolve();

  constructor(ctx: AppContext) {
    // batch size 1: every event is evaluated as soon as the publisher's call returns
    super(ctx, PROACTIVE_GRANULARITY_SECONDS, 1);
    this.evaluator = new TriggerEvaluator(() => ctx.clock.now());
  }

  protected enqueue(event: ReceivedEvent): boolean {
    if (event.event === "prefect.log.write") return false;
    this.queue.push(event);
    return true;
  }

  protected flushFullBatches(): Promise<void> {
    return this.flush();
  }

  /** Evaluates every queued event, one evaluation at a time. */
  flush(): Promise<void> {
    // a failed pass is logged and the next one still runs
    this.draining = this.draining.then(() => this.drain().catch((error) => this.logger.error(`${this.name} failed`, error)));
    return this.draining;
  }

  override tick(now: Micros): Promise<void> {
    return this.evaluatePass(now, true);
  }

  protected override standbyTick(now: Micros): Promise<void> {
    return this.evaluatePass(now, false);
  }

  /**
   * Every replica evaluates the events it received, against the automations as any replica
   * last changed them; only the leader evaluates proactive triggers and sweeps the shared state.
   */
  private async evaluatePass(now: Micros, leads: boolean): Promise<void> {
    await this.flush();
    if (leads) await this.ctx.store.write((tx) => tx.automationState.sweepHeldEvents(now, HELD_EXPECT_EVENTS_RETENTION));
    await this.reconcile();
    if (leads) await this.ctx.store.write((tx) => this.evaluator.proactive(tx, now));
    for (const event of this.ordering.lostFollowers(now)) await this.evaluate(event, 0);
    if (leads) await this.ctx.store.write((tx) => tx.automationState.sweepClosedBuckets(now - EXPIRED_BUCKET_BUFFER));
  }

  /**
   * Reloads the automations when any was created, changed or deleted (reconcile_automations):
   * before each pass when this process wrote one, and on every tick by the table's snapshot
   * (another process's writes).
   */
  private async reconcile(): Promise<void> {
    const { revision, snapshot } = await this.ctx.store.read(function* (q) {
      return { revision: yield* q.automations.revision(), snapshot: yield* q.automations.snapshot() };
    });
    this.revision = revision;
    if (snapshot === this.snapshot) return;
    this.evaluator.load(await this.ctx.store.read((q) => q.automations.enabled()));
    this.snapshot = snapshot;
  }

  private async drain(): Promise<void> {
    if (this.queue.length === 0) return;
    if (this.revision !== (await this.ctx.store.read((q) => q.automations.revision()))) await this.reconcile();
    while (this.queue.length > 0) {
      const event = this.queue.shift()!;
      if (this.ordering.hasBeenSeen(event.id)) continue;
      await this.evaluate(event, 0);
    }
  }

  /** reactive_evaluation inside preceding_event_confirmed: a follower waits for its leader. */
  private async evaluate(event: ReceivedEvent, depth: number): Promise<void> {
    if (this.evaluator.loadedTriggerCount === 0) return;
    const now = this.clock.now();
    const leader = event.follows;
    // A leader evaluated before a restart, or while no automation was loaded, is in the events table.
    if (leader && leader !== event.id && !this.ordering.hasBeenSeen(leader) && (await this.ctx.store.read((q) => q.events.exists(leader)))) {
      this.ordering.markSeen(leader, now);
    }
    if (!this.ordering.ready(event, now)) return;
    if (this.evaluator.interested(event)) {
      try {
        await this.ctx.store.write((tx) => this.evaluator.reactive(tx, event));
      } catch (error) {
        this.logger.error(`evaluating automations for event ${event.event} ${event.id} failed`, error);
      }
    }
    const followers = this.ordering.evaluated(event, now);
    if (depth >= MAX_DEPTH_OF_PRECEDING_EVENT) return;
    for (const follower of followers) await this.evaluate(follower, depth + 1);
  }
}

/** Tries of one action before a fault (not the action's own failure) makes it fail. */
const MAX_ATTEMPTS = 3;
/** How long a claimed action is held before another tick may take it (a crashed try). */
const LEASE = 5 * 60 * SECOND;
/** Pause before the next try after a fault: RETRY_DELAY × attempt. */
const RETRY_DELAY = 5 * SECOND;
/** Actions taken per pass. */
const CLAIM_BATCH = 50;
/** Finished actions are kept this long (a firing's history), then swept. */
const FINISHED_RETENTION = 7 * 24 * 3600 * SECOND;
/** Action.succeed/fail link to the triggering event only when it is this recent. */
const TIGHT_TIMING = 5 * 60 * SECOND;
/** How often the queue is looked at besides right after a firing (retries). */
const ACTIONS_LOOP_SECONDS = 5;

export class AutomationActions implements Service {
  readonly name = "AutomationActions";
  readonly executor: ActionExecutor;
  private timer: ReturnType<typeof setInterval> | null = null;
  private unsubscribe: (() => void) | null = null;
  private running: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly ctx: AppContext,
    fetcher: typeof fetch = fetch,
  ) {
    const uiUrl = ctx.config.uiUrl ?? (ctx.config.port ? `http://${ctx.config.host}:${ctx.config.port}` : null);
    this.executor = new ActionExecutor(ctx, new TemplateRenderer(uiUrl), fetcher);
  }

  start(): void {
    if (this.timer) return;
    // a firing's actions are queued in the transaction that published its automation event
    this.unsubscribe = this.ctx.events.subscribe((event) => {
      if (event.event === "prefect.automation.triggered" || event.event === "prefect.automation.resolved") void this.runSoon();
    });
    this.timer = setInterval(() => void this.runSoon(), ACTIONS_LOOP_SECONDS * 1000);
    void this.runSoon();
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One pass at a time; a request for a pass during one runs another after it. */
  private async runSoon(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.tick(this.ctx.clock.now()).catch((error) => this.ctx.logger.error(`${this.name} failed`, error));
      } while (this.again);
    })().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Runs every action due by `now`. */
  async tick(now: Micros): Promise<void> {
    for (;;) {
      const claimed = await this.ctx.store.write((tx) => tx.automationState.claimDueActions(now, now + LEASE, CLAIM_BATCH));
      if (claimed.length === 0) break;
      for (const row of claimed) await this.run(row);
      if (claimed.length < CLAIM_BATCH) break;
    }
    await this.ctx.store.write((tx) => tx.automationState.sweepFinishedActions(now - FINISHED_RETENTION));
  }

  private async run(row: QueuedActionRow): Promise<void> {
    const triggered = row.triggeredAction as unknown as TriggeredAction;
    const outcome: ActionOutcome = { resultDetails: {}, relatedResources: [] };
    try {
      await this.executor.execute(triggered, outcome);
    } catch (error) {
      const templateError = this.executor.takeTemplateError();
      if (templateError) Object.assign(outcome.resultDetails, templateError);
      if (error instanceof ActionFailed) return this.finish(row, triggered, outcome, error.reason);
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      if (row.attempts >= MAX_ATTEMPTS) return this.finish(row, triggered, outcome, `Action failed after ${row.attempts} attempts: ${message}`);
      this.ctx.logger.warning(`automation action ${row.id} failed (attempt ${row.attempts}/${MAX_ATTEMPTS}), retrying`, error);
      const now = this.ctx.clock.now();
      await this.ctx.store.write((tx) => tx.automationState.retryActionAt(row.id, now + RETRY_DELAY * row.attempts, message, now));
      return;
    }
    await this.finish(row, triggered, outcome, null);
  }

  /** Action.succeed / Action.fail: the outcome and its two events, committed together. */
  private async finish(row: QueuedActionRow, triggered: TriggeredAction, outcome: ActionOutcome, reason: string | null): Promise<void> {
    const now = this.ctx.clock.now();
    const events = actionEvents(triggered, outcome, reason, now);
    if (reason !== null) this.ctx.logger.warning(`Action failed: ${JSON.stringify(reason)}`);
    await this.ctx.store.write(function* (tx) {
      if (yield* tx.automationState.finishAction(row.id, reason === null ? "EXECUTED" : "FAILED", reason, now)) tx.stage(...events);
    });
  }
}

/** The `prefect.automation.action.triggered` event and its `executed` (reason null) or `failed` event. */
export function actionEvents(triggered: TriggeredAction, outcome: ActionOutcome, reason: string | null, now: Micros): Event[] {
  const { automation } = triggered;
  const resource: Resource = {
    [RESOURCE_ID]: `prefect.automation.${automation.id}`,
    "prefect.resource.name": automation.name,
    "prefect.trigger-type": automation.trigger.type,
  };
  if (automation.trigger.type === "event") resource["prefect.posture"] = automation.trigger.posture;
  const related: Resource[] = [...outcome.relatedResources];
  if (triggered.automation_triggered_event_id) {
    related.push({ [RESOURCE_ID]: `prefect.event.${triggered.automation_triggered_event_id}`, [RESOURCE_ROLE]: "automation-triggered-event" });
  }
  const triggering = triggered.triggering_event;
  if (triggering) related.push({ [RESOURCE_ID]: `prefect.event.${triggering.id}`, [RESOURCE_ROLE]: "triggering-event" });
  const details = { action_index: triggered.action_index, action_type: triggered.action.type as string, invocation: triggered.id };
  const triggeredEventId = Bun.randomUUIDv7();
  const follows = triggering && Math.abs(triggered.triggered - triggering.occurred) < TIGHT_TIMING ? triggering.id : null;
  return [
    { id: triggeredEventId, occurred: triggered.triggered, event: "prefect.automation.action.triggered", resource, related, payload: details, follows },
    {
      id: Bun.randomUUIDv7(),
      occurred: now,
      event: reason === null ? "prefect.automation.action.executed" : "prefect.automation.action.failed",
      resource,
      related,
      payload: reason === null ? { ...details, ...outcome.resultDetails } : { ...details, reason, ...outcome.resultDetails },
      follows: triggeredEventId,
    },
  ];
}
