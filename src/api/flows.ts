import { Elysia, t } from "elysia";
import type { AppContext } from "../context";
import type { FlowRow } from "../db/repos/flows";
import { formatDateTime } from "../lib/time";
import { Enum, IdParams, Lenient, Labels, LimitOffset, LimitPage, Maybe, NAME_FORBIDDEN, Strict, Tags } from "../schemas/common";
import { FlowRunRelatedFilters, RunFilters } from "../schemas/filters";
import { invalidField, notFound } from "./errors";
import { pagePaging, paginated, paging } from "./paging";

const FlowCreate = Strict({
  name: t.String(),
  tags: t.Optional(Tags),
  labels: Maybe(Labels),
});
const FlowUpdate = Strict({ tags: t.Optional(Tags) });
const FlowSortSchema = Maybe(Enum(["NAME_ASC", "NAME_DESC", "CREATED_DESC", "UPDATED_DESC"]));

export function flowJson(row: FlowRow) {
  return {
    id: row.id,
    created: formatDateTime(row.created),
    updated: formatDateTime(row.updated),
    name: row.name,
    tags: row.tags,
    labels: row.labels,
  };
}

export function flowRoutes({ store, clock, config }: AppContext) {
  const filters = { ...RunFilters, deployments: FlowRunRelatedFilters.deployments, work_pools: FlowRunRelatedFilters.work_pools };
  const listBody = Lenient({ ...filters, ...LimitOffset, sort: FlowSortSchema });

  return new Elysia({ prefix: "/flows" })
    .post(
      "/",
      async ({ body, set }) => {
        if (NAME_FORBIDDEN.test(body.name)) {
          throw invalidField(["name"], "Value error, Name cannot contain '/', '%', '&', '>', or '<'.", body.name, body);
        }
        const { row, created } = await store.write((tx) =>
          tx.flows.upsertByName(
            { name: body.name, tags: body.tags ?? [], labels: body.labels ?? {} },
            clock.now(),
          ),
        );
        set.status = created ? 201 : 200;
        return flowJson(row);
      },
      { body: FlowCreate },
    )
    .post(
      "/filter",
      async ({ body }) => {
        const { limit, offset } = paging(body, config.defaultLimit);
        const rows = await store.read((q) => q.flows.list(body, body.sort ?? "NAME_ASC", limit, offset));
        return rows.map(flowJson);
      },
      { body: listBody },
    )
    .post("/count", ({ body }) => store.read((q) => q.flows.count(body)), { body: Lenient(filters) })
    .post(
      "/paginate",
      async ({ body }) => {
        const { limit, offset, page } = pagePaging(body, config.defaultLimit);
        const [rows, count] = await Promise.all([
          store.read((q) => q.flows.list(body, body.sort ?? "NAME_ASC", limit, offset)),
          store.read((q) => q.flows.count(body)),
        ]);
        return paginated(rows.map(flowJson), count, limit, page);
      },
      { body: Lenient({ ...filters, ...LimitPage, sort: FlowSortSchema }) },
    )
    .post(
      "/bulk_delete",
      async ({ body }) => {
        const limit = body.limit ?? 50;
        if (limit < 1 || limit > 50) throw invalidField(["limit"], "Input should be between 1 and 50", limit, body);
        return { deleted: await store.write((tx) => tx.flows.bulkDelete(body, limit)) };
      },
      { body: Lenient({ flows: RunFilters.flows, limit: Maybe(t.Integer()) }) },
    )
    .get(
      "/name/:name",
      async ({ params }) => {
        const row = await store.read((q) => q.flows.getByName(params.name));
        if (!row) throw notFound("Flow not found");
        return flowJson(row);
      },
    )
    .get(
      "/:id",
      async ({ params }) => {
        const row = await store.read((q) => q.flows.get(params.id));
        if (!row) throw notFound("Flow not found");
        return flowJson(row);
      },
      { params: IdParams },
    )
    .patch(
      "/:id",
      async ({ params, body, set }) => {
        if (!(await store.write((tx) => tx.flows.update(params.id, body.tags ? { tags: body.tags } : {}, clock.now())))) {
          throw notFound("Flow not found");
        }
        set.status = 204;
      },
      { params: IdParams, body: FlowUpdate },
    )
    .delete(
      "/:id",
      async ({ params, set }) => {
        if (!(await store.write((tx) => tx.flows.delete(params.id)))) throw notFound("Flow not found");
        set.status = 204;
      },
      { params: IdParams },
    );
}
