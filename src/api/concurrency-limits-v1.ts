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
import { tagOf, TagConcurrencyService, type TagLimit } from "../concurrency/tag-limits";
import { formatDateTime } from "../lib/time";
import { IdParams, Lenient, LimitOffset, Maybe, Strict, Uuid } from "../schemas/common";
import { paging } from "./paging";

const ConcurrencyLimitCreate = Strict({ tag: t.String(), concurrency_limit: t.Integer() });
const SlotsBody = Lenient({ names: t.Array(t.String()), task_run_id: Uuid });

function concurrencyLimitJson({ row, holders }: TagLimit) {
  return {
    id: row.id,
    created: formatDateTime(row.created),
    updated: formatDateTime(row.updated),
    tag: tagOf(row),
    concurrency_limit: row.limit,
    active_slots: holders.filter((holder) => holder.type === "task_run").map((holder) => holder.id),
  };
}

export function concurrencyLimitV1Routes(ctx: AppContext) {
  const tagLimits = new TagConcurrencyService(ctx);

  return new Elysia({ prefix: "/concurrency_limits" })
    .post(
      "/",
      async ({ body, set }) => {
        const limit = await tagLimits.upsert(body.tag, body.concurrency_limit);
        set.status = limit.created ? 201 : 200;
        return concurrencyLimitJson(limit);
      },
      { body: ConcurrencyLimitCreate },
    )
    .post(
      "/filter",
      async ({ body }) => {
        const { limit, offset } = paging(body, ctx.config.defaultLimit);
        return (await tagLimits.list(limit, offset)).map(concurrencyLimitJson);
      },
      { body: Lenient(LimitOffset) },
    )
    .post(
      "/increment",
      async ({ body }) => (await tagLimits.increment(body.names, body.task_run_id)).map((row) => ({ id: row.id, name: tagOf(row), limit: row.limit })),
      { body: SlotsBody },
    )
    .post(
      "/decrement",
      // Unlike the increment, Prefect answers the full limit names here.
      async ({ body }) => (await tagLimits.decrement(body.names, body.task_run_id)).map((row) => ({ id: row.id, name: row.name, limit: row.limit })),
      { body: SlotsBody },
    )
    .get("/tag/:tag", async ({ params }) => concurrencyLimitJson(await tagLimits.get({ tag: params.tag })))
    .post(
      "/tag/:tag/reset",
      async ({ params, body }) => {
        await tagLimits.reset(params.tag, body?.slot_override ?? []);
        return null;
      },
      { body: t.Optional(Lenient({ slot_override: Maybe(t.Array(Uuid)) })) },
    )
    .delete("/tag/:tag", async ({ params }) => {
      await tagLimits.deleteTag(params.tag);
      return null;
    })
    .get("/:id", async ({ params }) => concurrencyLimitJson(await tagLimits.get({ id: params.id })), { params: IdParams })
    .delete(
      "/:id",
      async ({ params }) => {
        await tagLimits.deleteById(params.id);
        return null;
      },
      { params: IdParams },
    );
}
