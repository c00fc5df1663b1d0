/** Saved searches (`/saved_searches`): the UI's named filter sets, as prefect/server/api/saved_searches.py. */
import { Elysia, t } from "elysia";
import type { AppContext } from "../context";
import type { SavedSearchRow } from "../db/repos/saved-searches";
import type { JsonValue } from "../lib/json";
import { formatDateTime } from "../lib/time";
import { IdParams, Lenient, LimitOffset, Strict } from "../schemas/common";
import { notFound } from "./errors";
import { paging } from "./paging";

/** `SavedSearchFilter` ignores unknown keys; `value` is required but may be any JSON, null included. */
const SavedSearchFilter = Lenient({
  object: t.String(),
  property: t.String(),
  type: t.String(),
  operation: t.String(),
  value: t.Unsafe<JsonValue>(t.Any()),
});
const SavedSearchCreate = Strict({ name: t.String(), filters: t.Optional(t.Array(SavedSearchFilter)) });

export function savedSearchJson(row: SavedSearchRow) {
  return { id: row.id, created: formatDateTime(row.created), updated: formatDateTime(row.updated), name: row.name, filters: row.filters };
}

const savedSearchNotFound = () => notFound("Saved search not found");

export function savedSearchRoutes({ store, clock, config }: AppContext) {
  return new Elysia({ prefix: "/saved_searches" })
    .put(
      "/",
      async ({ body, set }) => {
        // Only the model's fields are kept: the unknown keys a filter may carry are dropped.
        const filters = (body.filters ?? []).map(({ object, property, type, operation, value }) => ({ object, property, type, operation, value }));
        const { row, created } = await store.write((tx) => tx.savedSearches.upsert({ name: body.name, filters }, clock.now()));
        set.status = created ? 201 : 200;
        return savedSearchJson(row);
      },
      { body: SavedSearchCreate },
    )
    .post(
      "/filter",
      async ({ body }) => {
        const { limit, offset } = paging(body, config.defaultLimit);
        return (await store.read((q) => q.savedSearches.list(limit, offset))).map(savedSearchJson);
      },
      { body: Lenient(LimitOffset) },
    )
    .get(
      "/:id",
      async ({ params }) => {
        const row = await store.read((q) => q.savedSearches.get(params.id));
        if (!row) throw savedSearchNotFound();
        return savedSearchJson(row);
      },
      { params: IdParams },
    )
    .delete(
      "/:id",
      async ({ params, set }) => {
        if (!(await store.write((tx) => tx.savedSearches.delete(params.id)))) throw savedSearchNotFound();
        set.status = 204;
      },
      { params: IdParams },
    );
}
