import { Elysia } from "elysia";
import { htmlEscape, htmlUnescape } from "../blocks/html";
import type { AppContext } from "../context";
import type { BlockTypePatch, BlockTypeRow } from "../db/repos/blocks";
import { IdParams, Lenient, LimitOffset, Maybe, NAME_FORBIDDEN } from "../schemas/common";
import { BlockSchemaFilter, BlockTypeCreate, BlockTypeFilter, BlockTypeUpdate, IncludeSecretsQuery, SLUG_RE } from "../schemas/blocks";
import { installSystemBlocks } from "../blocks/install";
import { blockTypeJson, includeSecretsParam, readBlockDocument, readBlockDocuments } from "./block-responses";
import { conflict, forbidden, invalidField, notFound } from "./errors";
import { paging } from "./paging";

const UPDATABLE = ["logo_url", "documentation_url", "description", "code_example"] as const;
const ESCAPED = new Set<string>(["description", "code_example"]);
type BlockTypeUpdateBody = (typeof BlockTypeUpdate)["static"];

const current = (row: BlockTypeRow) => ({
  logo_url: row.logoUrl,
  documentation_url: row.documentationUrl,
  description: row.description,
  code_example: row.codeExample,
});

/**
 * Prefect's `_should_update_block_type`: the request is compared on the fields it
 * sets against all four stored ones, so only a request restating every field
 * unchanged is a no-op.
 */
function shouldUpdate(body: BlockTypeUpdateBody, row: BlockTypeRow): boolean {
  const stored = current(row);
  const comparable = (key: (typeof UPDATABLE)[number], value: string | null | undefined) =>
    value != null && ESCAPED.has(key) ? htmlUnescape(value) : value;
  return !UPDATABLE.every((key) => key in body && comparable(key, body[key]) === comparable(key, stored[key]));
}

function typePatch(body: BlockTypeUpdateBody): BlockTypePatch {
  const patch: BlockTypePatch = {};
  if ("logo_url" in body) patch.logoUrl = body.logo_url ?? null;
  if ("documentation_url" in body) patch.documentationUrl = body.documentation_url ?? null;
  if ("description" in body) patch.description = body.description ?? null;
  if ("code_example" in body) patch.codeExample = body.code_example ?? null;
  return patch;
}

function validateBlockType(body: (typeof BlockTypeCreate)["static"]): void {
  if (body.name === "" || NAME_FORBIDDEN.test(body.name)) {
    throw invalidField(["name"], "String should match pattern '^[^/%&><]+$'", body.name, body);
  }
  if (!SLUG_RE.test(body.slug)) {
    throw invalidField(["slug"], "Value error, Block type slug must only contain lowercase letters, numbers, and dashes.", body.slug, body);
  }
}

export function blockTypeRoutes({ store, clock, config }: AppContext) {
  const listBody = Lenient({ block_types: Maybe(BlockTypeFilter), block_schemas: Maybe(BlockSchemaFilter), ...LimitOffset });

  return new Elysia({ prefix: "/block_types" })
    .post(
      "/",
      async ({ body, set }) => {
        validateBlockType(body);
        // "Prefect" names are reserved for the system block types.
        if (body.name.toLowerCase().startsWith("prefect")) throw forbidden("Block type names beginning with 'Prefect' are reserved.");
        const row = await store.write((tx) =>
          tx.blocks.createType(
            {
              name: body.name,
              slug: body.slug,
              logoUrl: body.logo_url ?? null,
              documentationUrl: body.documentation_url ?? null,
              description: htmlEscape(body.description),
              codeExample: htmlEscape(body.code_example),
            },
            clock.now(),
          ),
        );
        if (!row) throw conflict(`Block type with name "${body.name}" already exists`);
        set.status = 201;
        return blockTypeJson(row);
      },
      { body: BlockTypeCreate },
    )
    .post(
      "/filter",
      async ({ body }) => {
        const { limit, offset } = paging(body, config.defaultLimit);
        const rows = await store.read((q) => q.blocks.listTypes({ types: body.block_types, schemas: body.block_schemas }, limit, offset));
        return rows.map(blockTypeJson);
      },
      { body: listBody },
    )
    .post("/install_system_block_types", async () => {
      await installSystemBlocks(store, clock.now());
      return null;
    })
    .get("/slug/:slug", async ({ params }) => {
      const row = await store.read((q) => q.blocks.getTypeBySlug(params.slug));
      if (!row) throw notFound("Block type not found");
      return blockTypeJson(row);
    })
    .get(
      "/slug/:slug/block_documents",
      async ({ params, query }) => {
        const includeSecrets = includeSecretsParam(query);
        const type = await store.read((q) => q.blocks.getTypeBySlug(params.slug));
        if (!type) throw notFound("Block type not found");
        // Unpaged: Prefect returns every (non-anonymous) document of the type.
        const ids = await store.read((q) => q.blocks.listDocumentIds({ block_documents: { block_type_id: { any_: [type.id] } } }, "NAME_ASC"));
        return readBlockDocuments(store, ids, includeSecrets);
      },
      { query: IncludeSecretsQuery },
    )
    .get(
      "/slug/:slug/block_documents/name/:block_document_name",
      async ({ params, query }) => {
        const includeSecrets = includeSecretsParam(query);
        // A lookup by name finds anonymous documents too (Prefect applies no anonymity filter here).
        const filters = {
          block_documents: { name: { any_: [params.block_document_name] }, is_anonymous: null },
          block_types: { slug: { any_: [params.slug] } },
        };
        const ids = await store.read((q) => q.blocks.listDocumentIds(filters, "NAME_ASC", { limit: 1, offset: 0 }));
        const document = ids[0] ? await readBlockDocument(store, ids[0], includeSecrets) : undefined;
        if (!document) throw notFound("Block document not found");
        return document;
      },
      { query: IncludeSecretsQuery },
    )
    .get(
      "/:id",
      async ({ params }) => {
        const row = await store.read((q) => q.blocks.getType(params.id));
        if (!row) throw notFound("Block type not found");
        return blockTypeJson(row);
      },
      { params: IdParams },
    )
    .patch(
      "/:id",
      async ({ params, body, set }) => {
        const row = await store.read((q) => q.blocks.getType(params.id));
        if (!row) throw notFound("Block type not found");
        // Updating only on a real change avoids write contention when many clients register the same blocks.
        if (shouldUpdate(body, row)) await store.write((tx) => tx.blocks.updateType(params.id, typePatch(body), clock.now()));
        set.status = 204;
      },
      { params: IdParams, body: BlockTypeUpdate },
    )
    .delete(
      "/:id",
      async ({ params, set }) => {
        const row = await store.read((q) => q.blocks.getType(params.id));
        if (!row) throw notFound("Block type not found");
        if (row.isProtected) throw forbidden("protected block types cannot be deleted.");
        await store.write((tx) => tx.blocks.deleteType(params.id));
        set.status = 204;
      },
      { params: IdParams },
    );
}
