import { and, asc, eq, gt, gte, inArray, lt, sql, type SQL } from "drizzle-orm";
import { activeSlotsAt, deniedSlotsAt, occupancyAverage, settled } from "../../../domain/concurrency-slots";
import type { JsonObject } from "../../../lib/json";
import { MICROS_PER_SECOND, type Micros } from "../../../lib/time";
import type { ConcurrencyLimitRepo } from "../../repositories";
import type {
  ConcurrencyLeaseRow,
  ConcurrencyLimitCreate,
  ConcurrencyLimitPatch,
  ConcurrencyLimitRow,
  LeaseCreate,
  LeaseHolder,
  LimitRef,
} from "../../repos/concurrency-limits";
import { isExpired, leaseHolder } from "../../repos/concurrency-limits";
import type { Op } from "../../unit-of-work";
import { byCodePoint } from "../filters";
import { query } from "../query";
import { concurrencyLease, concurrencyLimitV2 } from "../schema";

/** An explicit null becomes SQL NULL so NOT NULL columns refuse it; undefined leaves the column alone. */
const sqlNull = <T>(value: T | null | undefined): T | SQL | undefined => (value === null ? sql`NULL` : value);

const refWhere = (ref: LimitRef): SQL => ("id" in ref ? eq(concurrencyLimitV2.id, ref.id) : eq(concurrencyLimitV2.name, ref.name));

const BY_NAME = asc(byCodePoint(concurrencyLimitV2.name));

/**
 * src/db/repos/concurrency-limits.ts on PostgreSQL (its contract is there). Replicas share
 * the rows, so every read-modify-write of a limit or lease reads it FOR UPDATE: a slot
 * count is decided on the committed count, and a racing transaction waits, then sees the
 * new count (a 1-slot limit has one holder however many race for it). Locks are taken
 * leases first, then limits in id order, so writers seldom deadlock (a victim is run again).
 */
export class PgConcurrencyLimitRepository implements ConcurrencyLimitRepo {
  // ---- limits -------------------------------------------------------------------------------

  *create(input: ConcurrencyLimitCreate, now: Micros): Op<ConcurrencyLimitRow | undefined> {
    const inserted = yield* query((db) =>
      db
        .insert(concurrencyLimitV2)
        .values({ id: Bun.randomUUIDv7(), created: now, updated: now, ...input })
        .onConflictDoNothing({ target: concurrencyLimitV2.name })
        .returning(),
    );
    return inserted[0];
  }

  *get(ref: LimitRef): Op<ConcurrencyLimitRow | undefined> {
    return (yield* query((db) => db.select().from(concurrencyLimitV2).where(refWhere(ref))))[0];
  }

  *readByNames(names: string[]): Op<ConcurrencyLimitRow[]> {
    if (names.length === 0) return [];
    return yield* query((db) => db.select().from(concurrencyLimitV2).where(inArray(concurrencyLimitV2.name, names)).orderBy(BY_NAME));
  }

  *list(limit: number, offset: number): Op<ConcurrencyLimitRow[]> {
    return yield* query((db) => db.select().from(concurrencyLimitV2).orderBy(BY_NAME).limit(limit).offset(offset));
  }

  *listByPrefix(prefix: string, limit: number, offset: number): Op<ConcurrencyLimitRow[]> {
    return yield* query((db) =>
      db
        .select()
        .from(concurrencyLimitV2)
        .where(sql`starts_with(${concurrencyLimitV2.name}, ${prefix})`)
        .orderBy(BY_NAME)
        .limit(limit)
        .offset(offset),
    );
  }

  *update(ref: LimitRef, patch: ConcurrencyLimitPatch, now: Micros): Op<boolean> {
    const [row] = yield* query((db) => db.select().from(concurrencyLimitV2).where(refWhere(ref)).for("update"));
    if (!row) return false;
    const values = Object.fromEntries(Object.entries(patch).map(([key, value]) => [key, sqlNull(value)]));
    yield* query((db) => db.update(concurrencyLimitV2).set({ ...settled(row, now), ...values }).where(eq(concurrencyLimitV2.id, row.id)));
    return true;
  }

  *delete(ref: LimitRef): Op<boolean> {
    return (yield* query((db) => db.delete(concurrencyLimitV2).where(refWhere(ref)).returning({ id: concurrencyLimitV2.id }))).length > 0;
  }

  // ---- slots --------------------------------------------------------------------------------

  *incrementWithLease(limitIds: string[], lease: LeaseCreate, now: Micros): Op<ConcurrencyLeaseRow | null> {
    return (yield* this.tryAcquire(limitIds, lease.slots, now)) ? yield* this.createLease(lease, now) : null;
  }

  *tryAcquire(limitIds: string[], slots: number, now: Micros): Op<boolean> {
    const ids = [...new Set(limitIds)];
    const rows = (yield* this.lockByIds(ids)).filter((row) => row.active);
    if (rows.length !== ids.length) return false;
    if (rows.some((row) => activeSlotsAt(row, now) + slots > row.limit)) return false;
    for (const row of rows) yield* this.write(row.id, { ...settled(row, now), activeSlots: activeSlotsAt(row, now) + slots });
    return true;
  }

  *recordDenied(limitIds: string[], slots: number, now: Micros): Op<void> {
    for (const row of yield* this.lockByIds([...new Set(limitIds)])) {
      if (row.active) yield* this.write(row.id, { ...settled(row, now), deniedSlots: deniedSlotsAt(row, now) + slots });
    }
  }

  *releaseSlots(limitIds: string[], slots: number, now: Micros, occupancySeconds?: number | null): Op<boolean> {
    const ids = [...new Set(limitIds)];
    const rows = (yield* this.lockByIds(ids)).filter((row) => row.active);
    for (const row of rows) {
      yield* this.write(row.id, {
        ...settled(row, now),
        activeSlots: Math.max(0, activeSlotsAt(row, now) - slots),
        ...(occupancySeconds ? { avgSlotOccupancySeconds: occupancyAverage(row, slots, occupancySeconds) } : {}),
      });
    }
    return rows.length === ids.length;
  }

  // ---- leases -------------------------------------------------------------------------------

  *createLease(lease: LeaseCreate, now: Micros): Op<ConcurrencyLeaseRow> {
    const row: ConcurrencyLeaseRow = {
      id: lease.id ?? Bun.randomUUIDv7(),
      created: now,
      updated: now,
      expiration: now + lease.ttl,
      resourceIds: lease.resourceIds,
      slots: lease.slots,
      metadata: lease.holder ? ({ holder: lease.holder } satisfies JsonObject) : null,
    };
    yield* query((db) => db.insert(concurrencyLease).values(row));
    return row;
  }

  *readLease(id: string): Op<ConcurrencyLeaseRow | undefined> {
    return (yield* query((db) => db.select().from(concurrencyLease).where(eq(concurrencyLease.id, id))))[0];
  }

  /** One conditional UPDATE: a repossession committing meanwhile either precedes it (no row) or waits for it. */
  *renewLease(id: string, ttl: Micros, now: Micros): Op<boolean> {
    const renewed = yield* query((db) =>
      db
        .update(concurrencyLease)
        .set({ expiration: now + ttl, updated: now })
        .where(and(eq(concurrencyLease.id, id), gte(concurrencyLease.expiration, now)))
        .returning({ id: concurrencyLease.id }),
    );
    return renewed.length > 0;
  }

  /** The lease is locked first: of two replicas releasing it, one gives its slots back, the other finds it gone. */
  *releaseLease(id: string, now: Micros, options: { recordOccupancy?: boolean } = {}): Op<boolean> {
    const lease = yield* this.lockLease(id);
    if (!lease) return false;
    const occupancySeconds = options.recordOccupancy === false ? null : (now - lease.created) / MICROS_PER_SECOND;
    yield* this.releaseSlots(lease.resourceIds, lease.slots, now, occupancySeconds);
    yield* query((db) => db.delete(concurrencyLease).where(eq(concurrencyLease.id, id)));
    return true;
  }

  *liveHolders(limitIds: string[], now: Micros): Op<Map<string, LeaseHolder[]>> {
    const holders = new Map<string, LeaseHolder[]>(limitIds.map((id) => [id, []]));
    for (const { limitId, lease } of yield* this.liveLeasesOn(limitIds, now)) {
      const holder = leaseHolder(lease);
      if (holder) holders.get(limitId)?.push(holder);
    }
    return holders;
  }

  /** Counts only the leases this call released: another replica may release some of them first. */
  *releaseHolderLeases(limitIds: string[], holderId: string, now: Micros): Op<number> {
    const leaseIds = new Set(
      (yield* this.liveLeasesOn(limitIds, now)).filter(({ lease }) => leaseHolder(lease)?.id === holderId).map(({ lease }) => lease.id),
    );
    let released = 0;
    for (const id of leaseIds) if (yield* this.releaseLease(id, now, { recordOccupancy: false })) released++;
    return released;
  }

  /** Each listed lease is locked and read again before it is detached, so a concurrent release or reset is not undone. */
  *resetHolders(limitId: string, holders: LeaseHolder[], ttl: Micros, now: Micros): Op<void> {
    for (const { lease: listed } of yield* this.liveLeasesOn([limitId], now)) {
      const lease = yield* this.lockLease(listed.id);
      if (!lease || !lease.resourceIds.includes(limitId)) continue;
      yield* this.releaseSlots([limitId], lease.slots, now);
      const resourceIds = lease.resourceIds.filter((id) => id !== limitId);
      if (resourceIds.length === 0) yield* this.revokeLease(lease.id);
      else yield* query((db) => db.update(concurrencyLease).set({ resourceIds, updated: now }).where(eq(concurrencyLease.id, lease.id)));
    }
    for (const holder of holders) {
      if (yield* this.tryAcquire([limitId], 1, now)) yield* this.createLease({ resourceIds: [limitId], slots: 1, ttl, holder }, now);
    }
  }

  *revokeLease(id: string): Op<void> {
    yield* query((db) => db.delete(concurrencyLease).where(eq(concurrencyLease.id, id)));
  }

  *expiredLeaseIds(now: Micros, limit: number): Op<string[]> {
    const rows = yield* query((db) =>
      db
        .select({ id: concurrencyLease.id })
        .from(concurrencyLease)
        .where(lt(concurrencyLease.expiration, now))
        .orderBy(asc(concurrencyLease.expiration))
        .limit(limit),
    );
    return rows.map((row) => row.id);
  }

  *repossessLease(id: string, now: Micros): Op<boolean> {
    const lease = yield* this.lockLease(id);
    return lease !== undefined && isExpired(lease, now) && (yield* this.releaseLease(id, now));
  }

  // ---- helpers ------------------------------------------------------------------------------

  private *liveLeasesOn(limitIds: string[], now: Micros): Op<{ limitId: string; lease: ConcurrencyLeaseRow }[]> {
    if (limitIds.length === 0) return [];
    const named = sql<string>`named.limit_id`;
    return yield* query((db) =>
      db
        .select({ limitId: named, lease: concurrencyLease })
        .from(concurrencyLease)
        .innerJoin(sql`jsonb_array_elements_text(${concurrencyLease.resourceIds}) AS named(limit_id)`, sql`TRUE`)
        .where(and(gt(concurrencyLease.expiration, now), inArray(named, limitIds)))
        .orderBy(asc(concurrencyLease.created), asc(concurrencyLease.id)),
    );
  }

  private *lockLease(id: string): Op<ConcurrencyLeaseRow | undefined> {
    return (yield* query((db) => db.select().from(concurrencyLease).where(eq(concurrencyLease.id, id)).for("update")))[0];
  }

  /** The limits among `ids`, locked in id order (one order for every writer, so none deadlock). */
  private *lockByIds(ids: string[]): Op<ConcurrencyLimitRow[]> {
    if (ids.length === 0) return [];
    return yield* query((db) => db.select().from(concurrencyLimitV2).where(inArray(concurrencyLimitV2.id, ids)).orderBy(asc(concurrencyLimitV2.id)).for("update"));
  }

  private *write(id: string, values: Partial<ConcurrencyLimitRow>): Op<void> {
    yield* query((db) => db.update(concurrencyLimitV2).set(values).where(eq(concurrencyLimitV2.id, id)));
  }
}
