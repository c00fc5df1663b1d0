import { Elysia, t } from "elysia";
import { DEFAULT_SCHEMA_VERSION } from "../blocks/schemas";
import type { AppContext } from "../context";
import type { JsonObject } from "../lib/json";
import { canonicalUuid } from "../lib/uuid";
import { BlockSchemaCreate, BlockSchemaFilter } from "../schemas/blocks";
import { IdParams, Lenient, LimitOffset, Maybe } from "../schemas/common";
import { registerBlockSchema, schemaFieldsReader } from "../blocks/registration";
import { blockSchemaJson, readBlockSchemas } from "./block-responses";
import { forbidden, notFound } from "./errors";
import { paging } from "./paging";

export function blockSchemaRoutes({ store, clock, config }: AppContext) {
  return new Elysia({ prefix: "/block_schemas" })
    .post(
      "/",
      async ({ body, set }) => {
        const blockTypeId = canonicalUuid(body.block_type_id);
        if (!(await store.read((q) => q.blocks.getType(blockTypeId)))) throw notFound(`Block type ${blockTypeId} not found.`);
        const { record, fields, created } = await registerBlockSchema(
          store,
          {
            fields: (body.fields ?? {}) as JsonObject,
            blockTypeId,
            capabilities: body.capabilities ?? [],
            version: body.version ?? DEFAULT_SCHEMA_VERSION,
          },
          clock.now(),
        );
        // An existing (checksum, version) is returned as is, whichever block type it belongs to.
        set.status = created ? 201 : 200;
        return blockSchemaJson(record, fields);
      },
      { body: BlockSchemaCreate },
    )
    .post(
      "/filter",
      async ({ body }) => {
        const { limit, offset } = paging(body, config.defaultLimit);
        return readBlockSchemas(store, await store.read((q) => q.blocks.listSchemas(body.block_schemas, limit, offset)));
      },
      { body: Lenient({ block_schemas: Maybe(BlockSchemaFilter), ...LimitOffset }) },
    )
    .get(
      "/checksum/:checksum",
      async ({ params, query }) => {
        const record = await store.read((q) => q.blocks.getSchemaByChecksum(params.checksum, query.version));
        if (!record) throw notFound("Block schema not found");
        return blockSchemaJson(record, await schemaFieldsReader(store)(record.schema.fields));
      },
      { query: t.Object({ version: t.Optional(t.String()) }) },
    )
    .get(
      "/:id",
      async ({ params }) => {
        const record = await store.read((q) => q.blocks.getSchema(params.id));
        if (!record) throw notFound("Block schema not found");
        return blockSchemaJson(record, await schemaFieldsReader(store)(record.schema.fields));
      },
      { params: IdParams },
    )
    .delete(
      "/:id",
      async ({ params, set }) => {
        const record = await store.read((q) => q.blocks.getSchema(params.id));
        if (!record) throw notFound("Block schema not found");
        if (record.type.isProtected) throw forbidden("Block schemas for protected block types cannot be deleted.");
        await store.write((tx) => tx.blocks.deleteSchema(params.id));
        set.status = 204;
      },
      { params: IdParams },
    );
}

/** GET /block_capabilities/: every capability some schema declares. */
export function blockCapabilityRoutes({ store }: AppContext) {
  return new Elysia({ prefix: "/block_capabilities" }).get("/", () => store.read((q) => q.blocks.capabilities()));
}
