/**
 * Tag concurrency limits, the v1 API (Prefect's api/concurrency_limits.py): since
 * Prefect 3.4 they are global limits named `tag:<tag>` whose slots task runs hold
 * through leases; a limit's holders are its leases' task runs.
 */
import type { AppContext } from "../context";
import type { ConcurrencyLimitRow, LeaseHolder } from "../db/repos/concurrency-limits";
import type { Op } from "../db/unit-of-work";
import { activeSlotsAt, slotWaitCapSeconds } from "../domain/concurrency-slots";
import { Conflict, INTEGRITY_CONFLICT, Locked, NotFound } from "../domain/errors";
import { secondsToMicros, type Micros } from "../lib/time";

export const TAG_PREFIX = "tag:";
/** Prefect's V1_LEASE_TTL: 100 years of 365 days. */
const V1_LEASE_TTL = secondsToMicros(100 * 365 * 86_400);

export const tagOf = (row: ConcurrencyLimitRow) => row.name.slice(TAG_PREFIX.length);

/** A tag limit with the task runs holding its slots. */
export interface TagLimit {
  row: ConcurrencyLimitRow;
  holders: LeaseHolder[];
}

export type TagLimitRef = { id: string } | { tag: string };

const limitNotFound = () => new NotFound("Concurrency limit not found");

export class TagConcurrencyService {
  constructor(private readonly ctx: AppContext) {}

  private get store() {
    return this.ctx.store;
  }

  /** Creates the tag's limit, or sets the limit of the existing one; `created` tells which. */
  async upsert(tag: string, limit: number): Promise<TagLimit & { created: boolean }> {
    const now = this.ctx.clock.now();
    const name = TAG_PREFIX + tag;
    const outcome = await this.store.write(function* (tx) {
      const existing = yield* tx.concurrencyLimits.get({ name });
      if (existing) {
        yield* tx.concurrencyLimits.update({ id: existing.id }, { limit }, now);
        return { row: yield* tx.concurrencyLimits.get({ id: existing.id }), created: false };
      }
      const fields = { name, limit, active: true, activeSlots: 0, deniedSlots: 0, slotDecayPerSecond: 0 };
      return { row: yield* tx.concurrencyLimits.create(fields, now), created: true };
    });
    if (!outcome.row) throw new Conflict(INTEGRITY_CONFLICT);
    const [withHolders] = await this.withHolders([outcome.row], now);
    return { ...withHolders!, created: outcome.created };
  }

  async list(limit: number, offset: number): Promise<TagLimit[]> {
    const rows = await this.store.read((q) => q.concurrencyLimits.listByPrefix(TAG_PREFIX, limit, offset));
    return this.withHolders(rows, this.ctx.clock.now());
  }

  async get(ref: TagLimitRef): Promise<TagLimit> {
    const [found] = await this.withHolders([await this.tagLimit(ref)], this.ctx.clock.now());
    return found!;
  }

  /**
   * Takes one slot on each active limit of the tags for the task run, or none: a limit
   * of 0 can never be met and is refused before anything is taken (no Retry-After); a
   * full one answers 423 with the limit's wait cap. Answers the limits taken.
   */
  async increment(tags: string[], taskRunId: string): Promise<ConcurrencyLimitRow[]> {
    const now = this.ctx.clock.now();
    type Outcome = { taken: ConcurrencyLimitRow[] } | { refused: ConcurrencyLimitRow; full: boolean };
    const outcome = await this.store.write(function* (tx): Op<Outcome> {
      const byName = new Map((yield* tx.concurrencyLimits.readByNames(tags.map((tag) => TAG_PREFIX + tag))).map((row) => [row.name, row]));
      // In the order asked for, each limit once.
      const named = [...new Set(tags)].flatMap((tag) => byName.get(TAG_PREFIX + tag) ?? []);
      const zero = named.find((row) => row.limit === 0);
      if (zero) return { refused: zero, full: false };
      const active = named.filter((row) => row.active);
      if (active.length === 0) return { taken: active };
      const holder: LeaseHolder = { type: "task_run", id: taskRunId };
      const activeIds = active.map((row) => row.id);
      const lease = yield* tx.concurrencyLimits.incrementWithLease(activeIds, { resourceIds: activeIds, slots: 1, ttl: V1_LEASE_TTL, holder }, now);
      if (lease) return { taken: active };
      return { refused: active.find((row) => activeSlotsAt(row, now) + 1 > row.limit) ?? active[0]!, full: true };
    });
    if ("taken" in outcome) return outcome.taken;
    const { refused, full } = outcome;
    if (!full) throw new Locked(`The concurrency limit on tag "${tagOf(refused)}" is 0 and will deadlock if the task tries to run again.`);
    throw new Locked(`Concurrency limit for the ${tagOf(refused)} tag has been reached`, slotWaitCapSeconds(refused.name));
  }

  /** Releases the task run's leases on the tags' limits; answers those limits. */
  decrement(tags: string[], taskRunId: string): Promise<ConcurrencyLimitRow[]> {
    const now = this.ctx.clock.now();
    return this.store.write(function* (tx) {
      const named = yield* tx.concurrencyLimits.readByNames(tags.map((tag) => TAG_PREFIX + tag));
      yield* tx.concurrencyLimits.releaseHolderLeases(named.map((row) => row.id), taskRunId, now);
      return named;
    });
  }

  /** Replaces the tag's holders with `taskRunIds` (none: frees every slot). */
  async reset(tag: string, taskRunIds: string[]): Promise<void> {
    const row = await this.tagLimit({ tag });
    const holders = taskRunIds.map((id): LeaseHolder => ({ type: "task_run", id }));
    const now = this.ctx.clock.now();
    await this.store.write((tx) => tx.concurrencyLimits.resetHolders(row.id, holders, V1_LEASE_TTL, now));
  }

  async deleteTag(tag: string): Promise<void> {
    const row = await this.tagLimit({ tag });
    await this.store.write((tx) => tx.concurrencyLimits.delete({ id: row.id }));
  }

  /** By id Prefect deletes whatever global limit that is, not only a `tag:` one. */
  async deleteById(id: string): Promise<void> {
    if (!(await this.store.write((tx) => tx.concurrencyLimits.delete({ id })))) throw limitNotFound();
  }

  /** The `tag:` limit with that id or tag; 404 otherwise (v2 limits of other kinds are not v1 limits). */
  private async tagLimit(ref: TagLimitRef): Promise<ConcurrencyLimitRow> {
    const row = await this.store.read((q) => q.concurrencyLimits.get("id" in ref ? ref : { name: TAG_PREFIX + ref.tag }));
    if (!row || !row.name.startsWith(TAG_PREFIX)) throw limitNotFound();
    return row;
  }

  private async withHolders(rows: ConcurrencyLimitRow[], now: Micros): Promise<TagLimit[]> {
    const holders = await this.store.read((q) => q.concurrencyLimits.liveHolders(rows.map((row) => row.id), now));
    return rows.map((row) => ({ row, holders: holders.get(row.id) ?? [] }));
  }
}
