import { and, asc, count, desc, eq, gt, gte, inArray, lt, lte, max, notExists, notInArray, sql } from "drizzle-orm";
import type { ReceivedEvent } from "../../../events/model";
import type { JsonObject } from "../../../lib/json";
import type { Micros } from "../../../lib/time";
import type { AutomationStateRepo } from "../../repositories";
import type { ActionStatus, Bucket, BucketKey, ChildFiring, QueuedActionRow } from "../../repos/automation-state";
import type { Op } from "../../unit-of-work";
import { query } from "../query";
import { automationAction, automationBucket, automationHeldEvent, compositeTriggerChildFiring } from "../schema";

type BucketRow = typeof automationBucket.$inferSelect;
type BucketWindow = { start: Micros; end: Micros; count: number; lastEvent: ReceivedEvent | null };

const toBucket = (row: BucketRow): Bucket => ({
  automationId: row.automationId,
  triggerId: row.triggerId,
  bucketingKey: JSON.parse(row.bucketingKey) as string[],
  start: row.start,
  end: row.end,
  count: row.count,
  lastEvent: (row.lastEvent as unknown as ReceivedEvent | null) ?? null,
});

const keyValues = (key: BucketKey) => ({ automationId: key.automationId, triggerId: key.triggerId, bucketingKey: JSON.stringify(key.bucketingKey) });

const windowValues = (window: BucketWindow) => ({ start: window.start, end: window.end, count: window.count, lastEvent: window.lastEvent as unknown as JsonObject | null });

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

/**
 * src/db/repos/automation-state.ts on PostgreSQL. Evaluating a trigger reads its bucket,
 * decides, then writes it: in a write, buckets are read FOR UPDATE, so a replica
 * evaluating the same bucket waits for this transaction and then reads what it wrote
 * (the same event is counted once, a window fires once). Upserts return the row they
 * wrote, which they have locked.
 */
export class PgAutomationStateRepository implements AutomationStateRepo {
  *readBucket(key: BucketKey): Op<Bucket | null> {
    const [row] = yield* query((db) => db.select().from(automationBucket).where(keyCond(key)).for("update"));
    return row ? toBucket(row) : null;
  }

  /** A bucket deleted by another transaction between the insert and the read is simply inserted again. */
  *ensureBucket(key: BucketKey, window: BucketWindow, now: Micros): Op<Bucket> {
    for (;;) {
      const [inserted] = yield* query((db) =>
        db
          .insert(automationBucket)
          .values({ id: Bun.randomUUIDv7(), created: now, updated: now, ...keyValues(key), ...windowValues(window), lastOperation: "ensure_bucket[insert]" })
          .onConflictDoNothing({ target: BUCKET_TARGET })
          .returning(),
      );
      if (inserted) return toBucket(inserted);
      const existing = yield* this.readBucket(key);
      if (existing) return existing;
    }
  }

  *incrementBucket(bucket: Bucket, count: number, lastEvent: ReceivedEvent | null, now: Micros): Op<Bucket> {
    const [row] = yield* query((db) =>
      db
        .insert(automationBucket)
        .values({ id: Bun.randomUUIDv7(), created: now, updated: now, ...keyValues(bucket), start: bucket.start, end: bucket.end, count, lastOperation: "increment_bucket[insert]" })
        .onConflictDoUpdate({
          target: BUCKET_TARGET,
          set: {
            count: sql`${automationBucket.count} + ${count}`,
            lastOperation: "increment_bucket[update]",
            updated: now,
            ...(lastEvent && { lastEvent: lastEvent as unknown as JsonObject }),
          },
        })
        .returning(),
    );
    return toBucket(row!);
  }

  *startNewBucket(key: BucketKey, window: BucketWindow, now: Micros): Op<Bucket> {
    const values = { ...windowValues(window), lastOperation: "start_new_bucket[update]", triggeredAt: null, updated: now };
    const [row] = yield* query((db) =>
      db
        .insert(automationBucket)
        .values({ id: Bun.randomUUIDv7(), created: now, ...keyValues(key), ...values, lastOperation: "start_new_bucket[insert]" })
        .onConflictDoUpdate({ target: BUCKET_TARGET, set: values })
        .returning(),
    );
    return toBucket(row!);
  }

  *removeBucket(key: BucketKey): Op<void> {
    yield* query((db) => db.delete(automationBucket).where(keyCond(key)));
  }

  *bucketsOf(automationId: string, triggerId: string): Op<Bucket[]> {
    const rows = yield* query((db) =>
      db
        .select()
        .from(automationBucket)
        .where(and(eq(automationBucket.automationId, automationId), eq(automationBucket.triggerId, triggerId)))
        .orderBy(asc(automationBucket.start), asc(automationBucket.id))
        .for("update"),
    );
    return rows.map(toBucket);
  }

  *removeBucketsAtThreshold(automationId: string, triggerId: string, threshold: number): Op<void> {
    yield* query((db) =>
      db
        .delete(automationBucket)
        .where(and(eq(automationBucket.automationId, automationId), eq(automationBucket.triggerId, triggerId), gte(automationBucket.count, threshold))),
    );
  }

  *sweepClosedBuckets(olderThan: Micros): Op<void> {
    yield* query((db) => db.delete(automationBucket).where(lte(automationBucket.end, olderThan)));
  }

  // ---- held `expect` events ------------------------------------------------------------------

  *isHeld(key: BucketKey, eventId: string): Op<boolean> {
    const rows = yield* query((db) =>
      db.select({ id: automationHeldEvent.id }).from(automationHeldEvent).where(and(heldKeyCond(key), eq(automationHeldEvent.eventId, eventId))),
    );
    return rows.length > 0;
  }

  *holdEvent(key: BucketKey, event: { id: string; occurred: Micros }, within: Micros, threshold: number, horizon: Micros, now: Micros): Op<void> {
    yield* query((db) =>
      db
        .insert(automationHeldEvent)
        .values({ id: Bun.randomUUIDv7(), created: now, updated: now, ...keyValues(key), eventId: event.id, occurred: event.occurred })
        .onConflictDoNothing(),
    );
    const forKey = heldKeyCond(key);
    const [latest] = yield* query((db) => db.select({ n: max(automationHeldEvent.occurred) }).from(automationHeldEvent).where(forKey));
    const newest = latest?.n ?? event.occurred;
    yield* query((db) => db.delete(automationHeldEvent).where(and(forKey, lt(automationHeldEvent.occurred, newest - horizon))));
    if (within <= 0) return;
    const start = Math.floor(event.occurred / within) * within;
    const inSlot = and(forKey, gte(automationHeldEvent.occurred, start), lt(automationHeldEvent.occurred, start + within));
    const ends = (order: "asc" | "desc") =>
      query((db) =>
        db
          .select({ id: automationHeldEvent.id })
          .from(automationHeldEvent)
          .where(inSlot)
          .orderBy(...(order === "asc" ? [asc(automationHeldEvent.occurred), asc(automationHeldEvent.eventId)] : [desc(automationHeldEvent.occurred), desc(automationHeldEvent.eventId)]))
          .limit(threshold),
      );
    const keep = [...(yield* ends("asc")), ...(yield* ends("desc"))].map((row) => row.id);
    yield* query((db) => db.delete(automationHeldEvent).where(and(inSlot, keep.length > 0 ? notInArray(automationHeldEvent.id, keep) : undefined)));
  }

  *heldEventsInWindow(key: BucketKey, start: Micros, end: Micros): Op<number> {
    const [row] = yield* query((db) =>
      db
        .select({ n: count() })
        .from(automationHeldEvent)
        .where(and(heldKeyCond(key), gte(automationHeldEvent.occurred, start), lt(automationHeldEvent.occurred, end))),
    );
    return row!.n;
  }

  *sweepHeldEvents(now: Micros, retention: Micros): Op<void> {
    yield* query((db) => {
      const openBucket = db
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
      return db.delete(automationHeldEvent).where(and(lt(automationHeldEvent.updated, now - retention), notExists(openBucket)));
    });
  }

  // ---- composite triggers ------------------------------------------------------------------

  *upsertChildFiring(automationId: string, parentTriggerId: string, child: ChildFiring, now: Micros): Op<void> {
    const values = { childFiringId: child.firingId, childFiredAt: child.firedAt, childFiring: child.firing, updated: now };
    yield* query((db) =>
      db
        .insert(compositeTriggerChildFiring)
        .values({ id: Bun.randomUUIDv7(), created: now, automationId, parentTriggerId, childTriggerId: child.triggerId, ...values })
        .onConflictDoUpdate({
          target: [compositeTriggerChildFiring.automationId, compositeTriggerChildFiring.parentTriggerId, compositeTriggerChildFiring.childTriggerId],
          set: values,
        }),
    );
  }

  *childFirings(automationId: string, parentTriggerId: string): Op<ChildFiring[]> {
    const rows = yield* query((db) =>
      db
        .select()
        .from(compositeTriggerChildFiring)
        .where(and(eq(compositeTriggerChildFiring.automationId, automationId), eq(compositeTriggerChildFiring.parentTriggerId, parentTriggerId))),
    );
    return rows.map((row) => ({ firingId: row.childFiringId, triggerId: row.childTriggerId, firedAt: row.childFiredAt, firing: row.childFiring }));
  }

  *clearOldChildFirings(automationId: string, parentTriggerId: string, firedBefore: Micros): Op<void> {
    yield* query((db) =>
      db
        .delete(compositeTriggerChildFiring)
        .where(
          and(
            eq(compositeTriggerChildFiring.automationId, automationId),
            eq(compositeTriggerChildFiring.parentTriggerId, parentTriggerId),
            lt(compositeTriggerChildFiring.childFiredAt, firedBefore),
          ),
        ),
    );
  }

  /** DELETE ... RETURNING: of two replicas clearing the same firings, each gets only the ones it deleted. */
  *clearChildFirings(automationId: string, parentTriggerId: string, firingIds: string[]): Op<string[]> {
    if (firingIds.length === 0) return [];
    const rows = yield* query((db) =>
      db
        .delete(compositeTriggerChildFiring)
        .where(
          and(
            eq(compositeTriggerChildFiring.automationId, automationId),
            eq(compositeTriggerChildFiring.parentTriggerId, parentTriggerId),
            inArray(compositeTriggerChildFiring.childFiringId, firingIds),
          ),
        )
        .returning({ id: compositeTriggerChildFiring.childFiringId }),
    );
    return rows.map((row) => row.id);
  }

  // ---- the actions queue -------------------------------------------------------------------

  *enqueueActions(actions: { id: string; automationId: string; actionIndex: number; triggeredAction: JsonObject }[], now: Micros): Op<void> {
    if (actions.length === 0) return;
    yield* query((db) =>
      db
        .insert(automationAction)
        .values(actions.map((a) => ({ ...a, created: now, updated: now, status: "PENDING", attempts: 0, nextAttemptAt: now })))
        .onConflictDoNothing(),
    );
  }

  /** Due actions another replica is claiming are skipped (FOR UPDATE SKIP LOCKED): each attempt is claimed once. */
  *claimDueActions(now: Micros, leaseUntil: Micros, limit: number): Op<QueuedActionRow[]> {
    const due = (yield* query((db) =>
      db
        .select({ id: automationAction.id })
        .from(automationAction)
        .where(and(eq(automationAction.status, "PENDING"), lte(automationAction.nextAttemptAt, now)))
        .orderBy(asc(automationAction.nextAttemptAt), asc(automationAction.id))
        .limit(limit)
        .for("update", { skipLocked: true }),
    )).map((row) => row.id);
    if (due.length === 0) return [];
    const claimed = yield* query((db) =>
      db
        .update(automationAction)
        .set({ attempts: sql`${automationAction.attempts} + 1`, nextAttemptAt: leaseUntil, updated: now })
        .where(inArray(automationAction.id, due))
        .returning(),
    );
    return claimed.sort((a, b) => a.created - b.created || (a.id < b.id ? -1 : 1));
  }

  *finishAction(id: string, status: Exclude<ActionStatus, "PENDING">, error: string | null, now: Micros): Op<boolean> {
    const rows = yield* query((db) =>
      db
        .update(automationAction)
        .set({ status, lastError: error, updated: now })
        .where(and(eq(automationAction.id, id), eq(automationAction.status, "PENDING")))
        .returning({ id: automationAction.id }),
    );
    return rows.length > 0;
  }

  *retryActionAt(id: string, at: Micros, error: string, now: Micros): Op<void> {
    yield* query((db) => db.update(automationAction).set({ nextAttemptAt: at, lastError: error, updated: now }).where(eq(automationAction.id, id)));
  }

  *sweepFinishedActions(before: Micros): Op<void> {
    yield* query((db) => db.delete(automationAction).where(and(inArray(automationAction.status, ["EXECUTED", "FAILED"]), lt(automationAction.updated, before))));
  }
}
