/**
 * What evaluating automations keeps between events: each event trigger's open bucket per
 * bucketing key (Prefect's automation_bucket), the child firings a compound or sequence
 * trigger is collecting (composite_trigger_child_firing), and the queue of triggered
 * actions the actions service drains.
 */
import { and, asc, desc, eq, gt, gte, inArray, lt, lte, notExists, notInArray, sql } from "drizzle-orm";
import type { ReceivedEvent } from "../../events/model";
import type { JsonObject } from "../../lib/json";
import type { Micros } from "../../lib/time";
import type { SqliteDb } from "../client";
import { automationAction, automationBucket, automationHeldEvent, compositeTriggerChildFiring } from "../schema";
import type { Op } from "../unit-of-work";

export interface Bucket {
  automationId: string;
  triggerId: string;
  bucketingKey: string[];
  start: Micros;
  end: Micros;
  count: number;
  lastEvent: ReceivedEvent | null;
}

export interface BucketKey {
  automationId: string;
  triggerId: string;
  bucketingKey: string[];
}

export interface ChildFiring {
  firingId: string;
  triggerId: string;
  firedAt: Micros;
  firing: JsonObject;
}

export type ActionStatus = "PENDING" | "EXECUTED" | "FAILED";
export type QueuedActionRow = typeof automationAction.$inferSelect;

type BucketRow = typeof automationBucket.$inferSelect;

const toBucket = (row: BucketRow): Bucket => ({
  automationId: row.automationId,
  triggerId: row.triggerId,
  bucketingKey: JSON.parse(row.bucketingKey) as string[],
  start: row.start,
  end: row.end,
  count: row.count,
  lastEvent: (row.lastEvent as unknown as ReceivedEvent | null) ?? null,
});

const keyCond = (key: BucketKey) =>
  and(
    eq(automationBucket.automationId, key.automationId),
    eq(automationBucket.triggerId, key.triggerId),
    eq(automationBucket.bucketingKey, JSON.stringify(key.bucketingKey)),
  );

const heldKeyCond = (key: BucketKey) =>
  and(
    eq(automationHeldEvent.automationId, key.automationId),
    eq(automationHeldEvent.triggerId, key.triggerId),
    eq(automationHeldEvent.bucketingKey, JSON.stringify(key.bucketingKey)),
  );

const BUCKET_TARGET = [automationBucket.automationId, automationBucket.triggerId, automationBucket.bucketingKey];

export class AutomationStateRepository {
  constructor(private readonly db: SqliteDb) {}

  *readBucket(key: BucketKey): Op<Bucket | null> {
    const row = this.db.select().from(automationBucket).where(keyCond(key)).get();
    return row ? toBucket(row) : null;
  }

  /** Starts the bucket unless one is open for the key; returns the key's bucket either way. */
  *ensureBucket(key: BucketKey, window: { start: Micros; end: Micros; count: number; lastEvent: ReceivedEvent | null }, now: Micros): Op<Bucket> {
    this.db
      .insert(automationBucket)
      .values({ id: Bun.randomUUIDv7(), created: now, updated: now, ...this.keyValues(key), ...this.windowValues(window), lastOperation: "ensure_bucket[insert]" })
      .onConflictDoNothing({ target: BUCKET_TARGET })
      .run();
    return (yield* this.readBucket(key))!;
  }

  /** Adds `count` to the key's bucket (and makes `lastEvent` its last event). */
  *incrementBucket(bucket: Bucket, count: number, lastEvent: ReceivedEvent | null, now: Micros): Op<Bucket> {
    this.db
      .insert(automationBucket)
      .values({ id: Bun.randomUUIDv7(), created: now, updated: now, ...this.keyValues(bucket), start: bucket.start, end: bucket.end, count, lastOperation: "increment_bucket[insert]" })
      .onConflictDoUpdate({
        target: BUCKET_TARGET,
        set: {
          count: sql`${automationBucket.count} + ${count}`,
          lastOperation: "increment_bucket[update]",
          updated: now,
          ...(lastEvent && { lastEvent: lastEvent as unknown as JsonObject }),
        },
      })
      .run();
    return (yield* this.readBucket(bucket))!;
  }

  /** Makes the key's bucket the given window, whatever was there. */
  *startNewBucket(key: BucketKey, window: { start: Micros; end: Micros; count: number; lastEvent: ReceivedEvent | null }, now: Micros): Op<Bucket> {
    const values = { ...this.windowValues(window), lastOperation: "start_new_bucket[update]", triggeredAt: null, updated: now };
    this.db
      .insert(automationBucket)
      .values({ id: Bun.randomUUIDv7(), created: now, ...this.keyValues(key), ...values, lastOperation: "start_new_bucket[insert]" })
      .onConflictDoUpdate({ target: BUCKET_TARGET, set: values })
      .run();
    return (yield* this.readBucket(key))!;
  }

  *removeBucket(key: BucketKey): Op<void> {
    this.db.delete(automationBucket).where(keyCond(key)).run();
  }

  /** Every bucket of the trigger, earliest start first. */
  *bucketsOf(automationId: string, triggerId: string): Op<Bucket[]> {
    return this.db
      .select()
      .from(automationBucket)
      .where(and(eq(automationBucket.automationId, automationId), eq(automationBucket.triggerId, triggerId)))
      .orderBy(asc(automationBucket.start), asc(automationBucket.id))
      .all()
      .map(toBucket);
  }

  /** remove_buckets_exceeding_threshold: a proactive bucket that saw its events has nothing left to say. */
  *removeBucketsAtThreshold(automationId: string, triggerId: string, threshold: number): Op<void> {
    this.db
      .delete(automationBucket)
      .where(and(eq(automationBucket.automationId, automationId), eq(automationBucket.triggerId, triggerId), gte(automationBucket.count, threshold)))
      .run();
  }

  /** sweep_closed_buckets */
  *sweepClosedBuckets(olderThan: Micros): Op<void> {
    this.db.delete(automationBucket).where(lte(automationBucket.end, olderThan)).run();
  }

  // ---- held `expect` events (automation_held_events.py) ------------------------------------

  *isHeld(key: BucketKey, eventId: string): Op<boolean> {
    return this.db.select({ id: automationHeldEvent.id }).from(automationHeldEvent).where(and(heldKeyCond(key), eq(automationHeldEvent.eventId, eventId))).get() !== undefined;
  }

  /**
   * Holds the event for the buckets that open later, then drops the key's held events older
   * than `horizon` before the newest, and in the event's slot (`within` wide, aligned to the
   * epoch) all but the first and last `threshold` events: a window counts at least
   * min(threshold, events in it), and reaching the threshold already keeps a proactive trigger quiet.
   */
  *holdEvent(key: BucketKey, event: { id: string; occurred: Micros }, within: Micros, threshold: number, horizon: Micros, now: Micros): Op<void> {
    this.db
      .insert(automationHeldEvent)
      .values({ id: Bun.randomUUIDv7(), created: now, updated: now, ...this.keyValues(key), eventId: event.id, occurred: event.occurred })
      .onConflictDoNothing()
      .run();
    const forKey = heldKeyCond(key);
    const newest = this.db.select({ n: sql<number | null>`max(${automationHeldEvent.occurred})` }).from(automationHeldEvent).where(forKey).get()?.n ?? event.occurred;
    this.db.delete(automationHeldEvent).where(and(forKey, lt(automationHeldEvent.occurred, newest - horizon))).run();
    if (within <= 0) return;
    const start = Math.floor(event.occurred / within) * within;
    const inSlot = and(forKey, gte(automationHeldEvent.occurred, start), lt(automationHeldEvent.occurred, start + within));
    const ends = (order: "asc" | "desc") =>
      this.db
        .select({ id: automationHeldEvent.id })
        .from(automationHeldEvent)
        .where(inSlot)
        .orderBy(...(order === "asc" ? [asc(automationHeldEvent.occurred), asc(automationHeldEvent.eventId)] : [desc(automationHeldEvent.occurred), desc(automationHeldEvent.eventId)]))
        .limit(threshold)
        .all()
        .map((row) => row.id);
    const keep = [...ends("asc"), ...ends("desc")];
    this.db.delete(automationHeldEvent).where(and(inSlot, keep.length > 0 ? notInArray(automationHeldEvent.id, keep) : undefined)).run();
  }

  /** How many events are held for the key that occurred in [start, end). */
  *heldEventsInWindow(key: BucketKey, start: Micros, end: Micros): Op<number> {
    return this.db
      .select({ n: sql<number>`count(*)` })
      .from(automationHeldEvent)
      .where(and(heldKeyCond(key), gte(automationHeldEvent.occurred, start), lt(automationHeldEvent.occurred, end)))
      .get()!.n;
  }

  /** Held events older than `retention` go, unless a bucket of their key is still open. */
  *sweepHeldEvents(now: Micros, retention: Micros): Op<void> {
    const openBucket = this.db
      .select({ id: automationBucket.id })
      .from(automationBucket)
      .where(
        and(
          eq(automationBucket.automationId, automationHeldEvent.automationId),
          eq(automationBucket.triggerId, automationHeldEvent.triggerId),
          eq(automationBucket.bucketingKey, automationHeldEvent.bucketingKey),
          gt(automationBucket.end, now),
        ),
      );
    this.db.delete(automationHeldEvent).where(and(lt(automationHeldEvent.updated, now - retention), notExists(openBucket))).run();
  }

  // ---- composite triggers ------------------------------------------------------------------

  /** Keeps the child's latest firing (one per child trigger). */
  *upsertChildFiring(automationId: string, parentTriggerId: string, child: ChildFiring, now: Micros): Op<void> {
    const values = { childFiringId: child.firingId, childFiredAt: child.firedAt, childFiring: child.firing, updated: now };
    this.db
      .insert(compositeTriggerChildFiring)
      .values({ id: Bun.randomUUIDv7(), created: now, automationId, parentTriggerId, childTriggerId: child.triggerId, ...values })
      .onConflictDoUpdate({
        target: [compositeTriggerChildFiring.automationId, compositeTriggerChildFiring.parentTriggerId, compositeTriggerChildFiring.childTriggerId],
        set: values,
      })
      .run();
  }

  *childFirings(automationId: string, parentTriggerId: string): Op<ChildFiring[]> {
    return this.db
      .select()
      .from(compositeTriggerChildFiring)
      .where(and(eq(compositeTriggerChildFiring.automationId, automationId), eq(compositeTriggerChildFiring.parentTriggerId, parentTriggerId)))
      .all()
      .map((row) => ({ firingId: row.childFiringId, triggerId: row.childTriggerId, firedAt: row.childFiredAt, firing: row.childFiring }));
  }

  *clearOldChildFirings(automationId: string, parentTriggerId: string, firedBefore: Micros): Op<void> {
    this.db
      .delete(compositeTriggerChildFiring)
      .where(
        and(
          eq(compositeTriggerChildFiring.automationId, automationId),
          eq(compositeTriggerChildFiring.parentTriggerId, parentTriggerId),
          lt(compositeTriggerChildFiring.childFiredAt, firedBefore),
        ),
      )
      .run();
  }

  /** Deletes those firings; returns the ids actually deleted (the caller fires only if it got them all). */
  *clearChildFirings(automationId: string, parentTriggerId: string, firingIds: string[]): Op<string[]> {
    if (firingIds.length === 0) return [];
    return this.db
      .delete(compositeTriggerChildFiring)
      .where(
        and(
          eq(compositeTriggerChildFiring.automationId, automationId),
          eq(compositeTriggerChildFiring.parentTriggerId, parentTriggerId),
          inArray(compositeTriggerChildFiring.childFiringId, firingIds),
        ),
      )
      .returning({ id: compositeTriggerChildFiring.childFiringId })
      .all()
      .map((row) => row.id);
  }

  // ---- the actions queue -------------------------------------------------------------------

  *enqueueActions(actions: { id: string; automationId: string; actionIndex: number; triggeredAction: JsonObject }[], now: Micros): Op<void> {
    if (actions.length === 0) return;
    this.db
      .insert(automationAction)
      .values(actions.map((a) => ({ ...a, created: now, updated: now, status: "PENDING", attempts: 0, nextAttemptAt: now })))
      .onConflictDoNothing()
      .run();
  }

  /**
   * Takes up to `limit` pending actions due by `now`, oldest first, counting the attempt
   * and leasing each until `leaseUntil` (a crashed attempt is retried after it).
   */
  *claimDueActions(now: Micros, leaseUntil: Micros, limit: number): Op<QueuedActionRow[]> {
    const due = this.db
      .select({ id: automationAction.id })
      .from(automationAction)
      .where(and(eq(automationAction.status, "PENDING"), lte(automationAction.nextAttemptAt, now)))
      .orderBy(asc(automationAction.nextAttemptAt), asc(automationAction.id))
      .limit(limit)
      .all()
      .map((row) => row.id);
    if (due.length === 0) return [];
    return this.db
      .update(automationAction)
      .set({ attempts: sql`${automationAction.attempts} + 1`, nextAttemptAt: leaseUntil, updated: now })
      .where(inArray(automationAction.id, due))
      .returning()
      .all()
      .sort((a, b) => (a.created - b.created) || (a.id < b.id ? -1 : 1));
  }

  /** Records the outcome of a claimed action; false when it had already finished. */
  *finishAction(id: string, status: Exclude<ActionStatus, "PENDING">, error: string | null, now: Micros): Op<boolean> {
    return (
      this.db
        .update(automationAction)
        .set({ status, lastError: error, updated: now })
        .where(and(eq(automationAction.id, id), eq(automationAction.status, "PENDING")))
        .returning({ id: automationAction.id })
        .all().length > 0
    );
  }

  *retryActionAt(id: string, at: Micros, error: string, now: Micros): Op<void> {
    this.db.update(automationAction).set({ nextAttemptAt: at, lastError: error, updated: now }).where(eq(automationAction.id, id)).run();
  }

  /** Finished actions older than `before` are forgotten. */
  *sweepFinishedActions(before: Micros): Op<void> {
    this.db
      .delete(automationAction)
      .where(and(inArray(automationAction.status, ["EXECUTED", "FAILED"]), lt(automationAction.updated, before)))
      .run();
  }

  private keyValues(key: BucketKey) {
    return { automationId: key.automationId, triggerId: key.triggerId, bucketingKey: JSON.stringify(key.bucketingKey) };
  }

  private windowValues(window: { start: Micros; end: Micros; count: number; lastEvent: ReceivedEvent | null }) {
    return { start: window.start, end: window.end, count: window.count, lastEvent: window.lastEvent as unknown as JsonObject | null };
  }
}
