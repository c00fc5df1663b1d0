/**
 * Global (v2) concurrency limits and the leases that hold their slots: every
 * statement on `concurrency_limit_v2` and `concurrency_lease` lives here.
 *
 * Slot accounting (shared with orchestration, which takes deployment slots):
 * - `active_slots` counts held slots. Rate limits (`slot_decay_per_second > 0`)
 *   give slots back over time: the live count is `activeSlotsAt(row, now)` =
 *   max(0, active_slots − floor(decay × seconds since `updated`)).
 * - Every write that moves `updated` first settles the decay (stores the decayed
 *   active and denied counts as of `now`), so no decay is lost or counted twice.
 *   (Prefect moves `updated` on a refused increment or a PATCH without settling
 *   `active_slots`, which forgets the decay earned until then.)
 * - A lease row holds `slots` on each of its `resourceIds` until it is released:
 *   releasing decrements those limits (never below 0) and deletes the row. A lease
 *   whose `expiration` has passed is still held until the repossessor releases it.
 *
 * Every method runs inside the caller's transaction (`store.write`), so a method
 * of several statements is atomic, and orchestration's deployment-slot effects join
 * the transition that caused them.
 * - `get`, `readByNames`: limit rows.
 * - `tryAcquire(limitIds, slots, now): boolean`: takes `slots` on every limit
 *   or on none. False (nothing written) when an id is unknown or inactive, or a
 *   limit lacks room after decay: Prefect's bulk_increment_active_slots.
 * - `releaseSlots(limitIds, slots, now, occupancySeconds?): boolean`: gives
 *   slots back on the active limits among `limitIds`; true when every id was an
 *   active limit (Prefect's bulk_decrement_active_slots).
 * - `createLease`, `readLease`, `renewLease`, `releaseLease`: the lease lifecycle.
 *
 * Tag limits (`tag:<tag>`) also serve the v1 API, which shows a limit's holders
 * (`liveHolders`) and releases or resets them by holder (`releaseHolderLeases`,
 * `resetHolders`).
 */
import { and, asc, eq, gt, inArray, lt, sql, type SQL } from "drizzle-orm";
import type { JsonObject } from "../../lib/json";
import { MICROS_PER_SECOND, type Micros } from "../../lib/time";
import { activeSlotsAt, deniedSlotsAt, occupancyAverage, settled } from "../../domain/concurrency-slots";
import type { SqliteDb } from "../client";
import { concurrencyLease, concurrencyLimitV2 } from "../schema";
import type { Op } from "../unit-of-work";

export type ConcurrencyLimitRow = typeof concurrencyLimitV2.$inferSelect;
export type ConcurrencyLeaseRow = typeof concurrencyLease.$inferSelect;

/** A limit named by id or by name (the `{id_or_name}` routes). */
export type LimitRef = { id: string } | { name: string };

export interface ConcurrencyLimitCreate {
  name: string;
  limit: number;
  active: boolean;
  activeSlots: number;
  deniedSlots: number;
  slotDecayPerSecond: number;
}

/** The fields a PATCH sent; an explicit null reaches the NOT NULL constraint (a 409, as in Prefect). */
export type ConcurrencyLimitPatch = { [K in keyof ConcurrencyLimitCreate]?: ConcurrencyLimitCreate[K] | null };

export type LeaseHolder = { type: "flow_run" | "task_run" | "deployment"; id: string };

export interface LeaseCreate {
  /** A lease id chosen in advance (orchestration names the lease it records); new otherwise. */
  id?: string;
  resourceIds: string[];
  slots: number;
  /** Time to live from `now`. */
  ttl: Micros;
  holder?: LeaseHolder | null;
}

/** An explicit null becomes SQL NULL so NOT NULL columns refuse it; undefined leaves the column alone. */
const sqlNull = <T>(value: T | null | undefined): T | SQL | undefined => (value === null ? sql`NULL` : value);

const refWhere = (ref: LimitRef): SQL =>
  "id" in ref ? eq(concurrencyLimitV2.id, ref.id) : eq(concurrencyLimitV2.name, ref.name);

export class ConcurrencyLimitRepository {
  private readonly byId;
  private readonly byName;
  private readonly leaseById;

  constructor(private readonly db: SqliteDb) {
    this.byId = db.select().from(concurrencyLimitV2).where(eq(concurrencyLimitV2.id, sql.placeholder("id"))).prepare();
    this.byName = db.select().from(concurrencyLimitV2).where(eq(concurrencyLimitV2.name, sql.placeholder("name"))).prepare();
    this.leaseById = db.select().from(concurrencyLease).where(eq(concurrencyLease.id, sql.placeholder("id"))).prepare();
  }

  // ---- limits -------------------------------------------------------------------------------

  /** Inserts the limit; undefined when the name is taken. */
  *create(input: ConcurrencyLimitCreate, now: Micros): Op<ConcurrencyLimitRow | undefined> {
    const inserted = this.db
      .insert(concurrencyLimitV2)
      .values({ id: Bun.randomUUIDv7(), created: now, updated: now, ...input })
      .onConflictDoNothing({ target: concurrencyLimitV2.name })
      .returning()
      .all();
    return inserted[0];
  }

  *get(ref: LimitRef): Op<ConcurrencyLimitRow | undefined> {
    return "id" in ref ? this.byId.get({ id: ref.id }) : this.byName.get({ name: ref.name });
  }

  /** The limits among `names` that exist, by name (unknown names are skipped). */
  *readByNames(names: string[]): Op<ConcurrencyLimitRow[]> {
    return this.db.select().from(concurrencyLimitV2).where(inArray(concurrencyLimitV2.name, names)).orderBy(asc(concurrencyLimitV2.name)).all();
  }

  *list(limit: number, offset: number): Op<ConcurrencyLimitRow[]> {
    return this.db.select().from(concurrencyLimitV2).orderBy(asc(concurrencyLimitV2.name)).limit(limit).offset(offset).all();
  }

  /** Limits whose name starts with `prefix` (case-sensitive, no wildcards), by name. */
  *listByPrefix(prefix: string, limit: number, offset: number): Op<ConcurrencyLimitRow[]> {
    return this.db
      .select()
      .from(concurrencyLimitV2)
      .where(sql`substr(${concurrencyLimitV2.name}, 1, length(${prefix})) = ${prefix}`)
      .orderBy(asc(concurrencyLimitV2.name))
      .limit(limit)
      .offset(offset)
      .all();
  }

  /** Writes the fields sent; false when the limit does not exist. A name clash throws the unique-constraint error (409). */
  *update(ref: LimitRef, patch: ConcurrencyLimitPatch, now: Micros): Op<boolean> {
    const row = this.db.select().from(concurrencyLimitV2).where(refWhere(ref)).get();
    if (!row) return false;
    const values = Object.fromEntries(Object.entries(patch).map(([key, value]) => [key, sqlNull(value)]));
    this.db.update(concurrencyLimitV2).set({ ...settled(row, now), ...values }).where(eq(concurrencyLimitV2.id, row.id)).run();
    return true;
  }

  /** Leases that hold slots on the limit are left alone: releasing them skips a missing limit. */
  *delete(ref: LimitRef): Op<boolean> {
    return this.db.delete(concurrencyLimitV2).where(refWhere(ref)).returning({ id: concurrencyLimitV2.id }).all().length > 0;
  }

  // ---- slots --------------------------------------------------------------------------------

  /** Takes the slots and records the lease; null (nothing written) when the slots are not free. */
  *incrementWithLease(limitIds: string[], lease: LeaseCreate, now: Micros): Op<ConcurrencyLeaseRow | null> {
    return (yield* this.tryAcquire(limitIds, lease.slots, now)) ? yield* this.createLease(lease, now) : null;
  }

  /** All-or-nothing: see the contract at the top of this file. */
  *tryAcquire(limitIds: string[], slots: number, now: Micros): Op<boolean> {
    const ids = [...new Set(limitIds)];
    const rows = this.readByIds(ids).filter((row) => row.active);
    if (rows.length !== ids.length) return false;
    if (rows.some((row) => activeSlotsAt(row, now) + slots > row.limit)) return false;
    for (const row of rows) this.write(row.id, { ...settled(row, now), activeSlots: activeSlotsAt(row, now) + slots });
    return true;
  }

  /** Counts a refused request on each active limit; the denials pace the Retry-After of later refusals. */
  *recordDenied(limitIds: string[], slots: number, now: Micros): Op<void> {
    for (const row of this.readByIds(limitIds)) {
      if (row.active) this.write(row.id, { ...settled(row, now), deniedSlots: deniedSlotsAt(row, now) + slots });
    }
  }

  /**
   * Gives `slots` back on each active limit among `limitIds` (never below 0). A
   * positive `occupancySeconds` (how long the slots were held) feeds the occupancy
   * average. True when every id named an active limit.
   */
  *releaseSlots(limitIds: string[], slots: number, now: Micros, occupancySeconds?: number | null): Op<boolean> {
    const ids = [...new Set(limitIds)];
    const rows = this.readByIds(ids).filter((row) => row.active);
    for (const row of rows) {
      this.write(row.id, {
        ...settled(row, now),
        activeSlots: Math.max(0, activeSlotsAt(row, now) - slots),
        ...(occupancySeconds ? { avgSlotOccupancySeconds: occupancyAverage(row, slots, occupancySeconds) } : {}),
      });
    }
    return rows.length === ids.length;
  }

  // ---- leases -------------------------------------------------------------------------------

  /** Records a lease; it does not take the slots (see `tryAcquire`). */
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
    this.db.insert(concurrencyLease).values(row).run();
    return row;
  }

  *readLease(id: string): Op<ConcurrencyLeaseRow | undefined> {
    return this.leaseById.get({ id });
  }

  /** Moves the expiration to `now + ttl`; false when the lease is unknown or already expired. */
  *renewLease(id: string, ttl: Micros, now: Micros): Op<boolean> {
    const lease = this.leaseById.get({ id });
    if (!lease || isExpired(lease, now)) return false;
    this.db.update(concurrencyLease).set({ expiration: now + ttl, updated: now }).where(eq(concurrencyLease.id, id)).run();
    return true;
  }

  /**
   * Gives the lease's slots back on its limits and deletes it; false when it is
   * unknown. By default the time it was held feeds the limits' occupancy average,
   * as for clients and the repossessor; Prefect's orchestration releases without it.
   */
  *releaseLease(id: string, now: Micros, options: { recordOccupancy?: boolean } = {}): Op<boolean> {
    const lease = this.leaseById.get({ id });
    if (!lease) return false;
    const occupancySeconds = options.recordOccupancy === false ? null : (now - lease.created) / MICROS_PER_SECOND;
    yield* this.releaseSlots(lease.resourceIds, lease.slots, now, occupancySeconds);
    this.db.delete(concurrencyLease).where(eq(concurrencyLease.id, id)).run();
    return true;
  }

  /**
   * The holders of the live (unexpired) leases on each of `limitIds`, oldest lease
   * first (Prefect's list_holders_for_limit); leases without a holder are left out.
   */
  *liveHolders(limitIds: string[], now: Micros): Op<Map<string, LeaseHolder[]>> {
    const holders = new Map<string, LeaseHolder[]>(limitIds.map((id) => [id, []]));
    for (const { limitId, lease } of this.liveLeasesOn(limitIds, now)) {
      const holder = leaseHolder(lease);
      if (holder) holders.get(limitId)?.push(holder);
    }
    return holders;
  }

  /**
   * Releases every live lease that `holderId` holds on any of `limitIds`, giving its
   * slots back on all of its limits (the v1 decrement). Returns how many were released.
   */
  *releaseHolderLeases(limitIds: string[], holderId: string, now: Micros): Op<number> {
    const leaseIds = new Set(
      this.liveLeasesOn(limitIds, now)
        .filter(({ lease }) => leaseHolder(lease)?.id === holderId)
        .map(({ lease }) => lease.id),
    );
    for (const id of leaseIds) yield* this.releaseLease(id, now, { recordOccupancy: false });
    return leaseIds.size;
  }

  /**
   * The v1 reset: the live leases on the limit stop holding it (their slots on it are
   * given back; a lease left holding nothing is deleted), then each of `holders` takes
   * one slot under a lease of `ttl`, as long as the limit has room.
   * (Prefect revokes those leases whole without giving their slots back, so a reset
   * limit stayed full; detaching keeps the leases' other limits held as they were.)
   */
  *resetHolders(limitId: string, holders: LeaseHolder[], ttl: Micros, now: Micros): Op<void> {
    for (const { lease } of this.liveLeasesOn([limitId], now)) {
      yield* this.releaseSlots([limitId], lease.slots, now);
      const resourceIds = lease.resourceIds.filter((id) => id !== limitId);
      if (resourceIds.length === 0) yield* this.revokeLease(lease.id);
      else this.db.update(concurrencyLease).set({ resourceIds, updated: now }).where(eq(concurrencyLease.id, lease.id)).run();
    }
    for (const holder of holders) {
      if (yield* this.tryAcquire([limitId], 1, now)) yield* this.createLease({ resourceIds: [limitId], slots: 1, ttl, holder }, now);
    }
  }

  /** Deletes a lease without giving its slots back (Prefect's revoke_lease: old clients cannot renew). */
  *revokeLease(id: string): Op<void> {
    this.db.delete(concurrencyLease).where(eq(concurrencyLease.id, id)).run();
  }

  /** Ids of leases expired at `now`, the longest-expired first. */
  *expiredLeaseIds(now: Micros, limit: number): Op<string[]> {
    return this.db
      .select({ id: concurrencyLease.id })
      .from(concurrencyLease)
      .where(lt(concurrencyLease.expiration, now))
      .orderBy(asc(concurrencyLease.expiration))
      .limit(limit)
      .all()
      .map((row) => row.id);
  }

  /** Releases the lease if it is still expired: a renewal since it was listed wins. */
  *repossessLease(id: string, now: Micros): Op<boolean> {
    const lease = this.leaseById.get({ id });
    return lease !== undefined && isExpired(lease, now) && (yield* this.releaseLease(id, now));
  }

  // ---- helpers ------------------------------------------------------------------------------

  /**
   * Each lease naming one of `limitIds` that expires after `now` (Prefect's test for the
   * holders it lists), once per limit it names, oldest first.
   */
  private liveLeasesOn(limitIds: string[], now: Micros): { limitId: string; lease: ConcurrencyLeaseRow }[] {
    if (limitIds.length === 0) return [];
    const named = sql<string>`json_each.value`;
    return this.db
      .select({ limitId: named, lease: concurrencyLease })
      .from(concurrencyLease)
      .innerJoin(sql`json_each(${concurrencyLease.resourceIds})`, sql`1`)
      .where(and(gt(concurrencyLease.expiration, now), inArray(named, limitIds)))
      .orderBy(asc(concurrencyLease.created), asc(concurrencyLease.id))
      .all();
  }

  private readByIds(ids: string[]): ConcurrencyLimitRow[] {
    return ids.length === 0 ? [] : this.db.select().from(concurrencyLimitV2).where(inArray(concurrencyLimitV2.id, ids)).all();
  }

  private write(id: string, values: Partial<ConcurrencyLimitRow>): void {
    this.db.update(concurrencyLimitV2).set(values).where(eq(concurrencyLimitV2.id, id)).run();
  }
}


/** The holder recorded in a lease's metadata, if any. */
export function leaseHolder(lease: ConcurrencyLeaseRow): LeaseHolder | null {
  const holder = lease.metadata?.holder;
  if (holder == null || typeof holder !== "object" || Array.isArray(holder)) return null;
  const { type, id } = holder;
  if ((type !== "flow_run" && type !== "task_run" && type !== "deployment") || typeof id !== "string") return null;
  return { type, id };
}

/** A lease is live through its expiration instant (Prefect reaps only `expiration < now`). */
export function isExpired(lease: ConcurrencyLeaseRow, now: Micros): boolean {
  return lease.expiration < now;
}
