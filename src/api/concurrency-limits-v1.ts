/**
 * Task-run tag concurrency limits (`/concurrency_limits`), Prefect's v1 API as an
 * adapter over the global limits named `tag:<tag>` (prefect/server/api/concurrency_limits.py).
 * A v1 limit's `active_slots` lists the task runs holding leases on it; slots taken
 * through this API are held under leases that never expire in practice, since v1
 * clients cannot renew them.
 *
 * Deliberate differences from Prefect, whose adapter revokes leases without giving
 * their slots back (which leaves slots taken for good):
 * - deleting a limit leaves its leases alone, as `DELETE /v2/concurrency_limits` does:
 *   releasing one later gives back its slots on the limits that still exist;
 * - a reset gives back the reset limit's slots (see `resetHolders`);
 * - a refused increment names the limit that is full, not the first one asked for.
 */
import { Elysia, t } from "elysia";
import type { AppContext } from "../context";
import type { ConcurrencyLimitRow, LeaseHolder } from "../db/repos/concurrency-limits";
import { activeSlotsAt, slotWaitCapSeconds } from "../domain/concurrency-slots";
import { formatDateTime, secondsToMicros, type Micros } from "../lib/time";
import { IdParams, Lenient, LimitOffset, Maybe, Strict, Uuid } from "../schemas/common";
import { conflict, HttpError, INTEGRITY_CONFLICT, notFound } from "./errors";
import { paging } from "./paging";

const TAG_PREFIX = "tag:";
/** Prefect's V1_LEASE_TTL: 100 years of 365 days. */
const V1_LEASE_TTL = secondsToMicros(100 * 365 * 86_400);

const ConcurrencyLimitCreate = Strict({ tag: t.String(), concurrency_limit: t.Integer() });
const SlotsBody = Lenient({ names: t.Array(t.String()), task_run_id: Uuid });

const tagOf = (row: ConcurrencyLimitRow) => row.name.slice(TAG_PREFIX.length);

function concurrencyLimitJson(row: ConcurrencyLimitRow, holders: LeaseHolder[]) {
  return {
    id: row.id,
    created: formatDateTime(row.created),
    updated: formatDateTime(row.updated),
    tag: tagOf(row),
    concurrency_limit: row.limit,
    active_slots: holders.filter((holder) => holder.type === "task_run").map((holder) => holder.id),
  };
}

const limitNotFound = () => notFound("Concurrency limit not found");
const locked = (detail: string, headers: Record<string, string> = {}) => new HttpError(423, { detail }, headers);

export function concurrencyLimitV1Routes({ store, clock, config }: AppContext) {

  async function withHolders(rows: ConcurrencyLimitRow[], now: Micros) {
    const holders = await store.read((q) => q.concurrencyLimits.liveHolders(rows.map((row) => row.id), now));
    return rows.map((row) => concurrencyLimitJson(row, holders.get(row.id) ?? []));
  }

  /** The `tag:` limit with that id or tag; 404 otherwise (v2 limits of other kinds are not v1 limits). */
  async function tagLimit(ref: { id: string } | { tag: string }): Promise<ConcurrencyLimitRow> {
    const row = await store.read((q) => q.concurrencyLimits.get("id" in ref ? ref : { name: TAG_PREFIX + ref.tag }));
    if (!row || !row.name.startsWith(TAG_PREFIX)) throw limitNotFound();
    return row;
  }

  async function readOne(ref: { id: string } | { tag: string }) {
    const now = clock.now();
    const [json] = await withHolders([await tagLimit(ref)], now);
    return json;
  }

  return new Elysia({ prefix: "/concurrency_limits" })
    .post(
      "/",
      async ({ body, set }) => {
        const now = clock.now();
        const name = TAG_PREFIX + body.tag;
        const existing = await store.read((q) => q.concurrencyLimits.get({ name }));
        let row: ConcurrencyLimitRow | undefined;
        if (existing) {
          await store.write((tx) => tx.concurrencyLimits.update({ id: existing.id }, { limit: body.concurrency_limit }, now));
          row = await store.read((q) => q.concurrencyLimits.get({ id: existing.id }));
          set.status = 200;
        } else {
          const fields = { name, limit: body.concurrency_limit, active: true, activeSlots: 0, deniedSlots: 0, slotDecayPerSecond: 0 };
          row = await store.write((tx) => tx.concurrencyLimits.create(fields, now));
          set.status = 201;
        }
        // Lost a race with a concurrent create or delete of the same tag: Prefect's integrity error.
        if (!row) throw conflict(INTEGRITY_CONFLICT);
        const [json] = await withHolders([row], now);
        return json;
      },
      { body: ConcurrencyLimitCreate },
    )
    .post(
      "/filter",
      async ({ body }) => {
        const { limit, offset } = paging(body, config.defaultLimit);
        return withHolders(await store.read((q) => q.concurrencyLimits.listByPrefix(TAG_PREFIX, limit, offset)), clock.now());
      },
      { body: Lenient(LimitOffset) },
    )
    .post(
      "/increment",
      async ({ body }) => {
        const now = clock.now();
        const byName = new Map((await store.read((q) => q.concurrencyLimits.readByNames(body.names.map((tag) => TAG_PREFIX + tag)))).map((row) => [row.name, row]));
        // In the order asked for, each limit once.
        const named = [...new Set(body.names)].flatMap((tag) => byName.get(TAG_PREFIX + tag) ?? []);
        // A zero limit can never be met: refused before anything is taken, without a Retry-After.
        const zero = named.find((row) => row.limit === 0);
        if (zero) throw locked(`The concurrency limit on tag "${tagOf(zero)}" is 0 and will deadlock if the task tries to run again.`);
        const active = named.filter((row) => row.active);
        if (active.length === 0) return [];
        const holder: LeaseHolder = { type: "task_run", id: body.task_run_id };
        const activeIds = active.map((row) => row.id);
        const lease = await store.write((tx) => tx.concurrencyLimits.incrementWithLease(activeIds, { resourceIds: activeIds, slots: 1, ttl: V1_LEASE_TTL, holder }, now));
        if (!lease) {
          const full = active.find((row) => activeSlotsAt(row, now) + 1 > row.limit) ?? active[0]!;
          throw locked(`Concurrency limit for the ${tagOf(full)} tag has been reached`, {
            "Retry-After": String(slotWaitCapSeconds(full.name)),
          });
        }
        return active.map((row) => ({ id: row.id, name: tagOf(row), limit: row.limit }));
      },
      { body: SlotsBody },
    )
    .post(
      "/decrement",
      async ({ body }) => {
        const named = await store.read((q) => q.concurrencyLimits.readByNames(body.names.map((tag) => TAG_PREFIX + tag)));
        await store.write((tx) =>
          tx.concurrencyLimits.releaseHolderLeases(
            named.map((row) => row.id),
            body.task_run_id,
            clock.now(),
          ),
        );
        // Unlike the increment, Prefect answers the full limit names here.
        return named.map((row) => ({ id: row.id, name: row.name, limit: row.limit }));
      },
      { body: SlotsBody },
    )
    .get("/tag/:tag", ({ params }) => readOne({ tag: params.tag }))
    .post(
      "/tag/:tag/reset",
      async ({ params, body }) => {
        const row = await tagLimit({ tag: params.tag });
        const holders = (body?.slot_override ?? []).map((id): LeaseHolder => ({ type: "task_run", id }));
        await store.write((tx) => tx.concurrencyLimits.resetHolders(row.id, holders, V1_LEASE_TTL, clock.now()));
        return null;
      },
      { body: t.Optional(Lenient({ slot_override: Maybe(t.Array(Uuid)) })) },
    )
    .delete("/tag/:tag", async ({ params }) => {
      const row = await tagLimit({ tag: params.tag });
      await store.write((tx) => tx.concurrencyLimits.delete({ id: row.id }));
      return null;
    })
    .get("/:id", ({ params }) => readOne({ id: params.id }), { params: IdParams })
    .delete(
      "/:id",
      async ({ params }) => {
        // By id Prefect deletes whatever global limit that is, not only a `tag:` one.
        if (!(await store.write((tx) => tx.concurrencyLimits.delete({ id: params.id })))) throw limitNotFound();
        return null;
      },
      { params: IdParams },
    );
}
