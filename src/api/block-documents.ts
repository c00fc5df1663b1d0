import { Elysia, t } from "elysia";
import { separateReferences, updatedDocumentData } from "../blocks/documents";
import type { AppContext } from "../context";
import type { Store } from "../db/store";
import type { JsonObject } from "../lib/json";
import { canonicalUuid } from "../lib/uuid";
import {
  BlockDocumentCreate,
  BlockDocumentFilters,
  BlockDocumentSortSchema,
  BlockDocumentUpdate,
  IncludeSecretsQuery,
  SLUG_RE,
} from "../schemas/blocks";
import { IdParams, Lenient, LimitOffset, Maybe, NAME_FORBIDDEN } from "../schemas/common";
import { includeSecretsParam, readBlockDocument, readBlockDocuments } from "./block-responses";
import { conflict, detail, invalidField, notFound } from "./errors";
import { paging } from "./paging";

type CreateBody = (typeof BlockDocumentCreate)["static"];

/** BlockDocumentCreate's validators: a name unless anonymous, and block document names are slugs. */
function documentName(body: CreateBody): string {
  if (!body.name && !body.is_anonymous) {
    throw invalidField([], "Value error, Names must be provided for block documents.", body, body);
  }
  if (body.name == null) return `anonymous-${crypto.randomUUID()}`;
  if (body.name === "" || NAME_FORBIDDEN.test(body.name)) {
    throw invalidField(["name"], "String should match pattern '^[^/%&><]+$'", body.name, body);
  }
  if (!SLUG_RE.test(body.name)) {
    throw invalidField(["name"], "Value error, Block document name must only contain lowercase letters, numbers, and dashes.", body.name, body);
  }
  return body.name;
}

/** Each new reference must not make the document (indirectly) reference itself. */
async function assertNoCycles(store: Store, parentId: string, references: [string, string][]): Promise<void> {
  for (const [, childId] of references) {
    if (await store.read((q) => q.blocks.wouldFormCycle(parentId, childId))) {
      throw detail(
        400,
        "Cannot create block document reference: it would introduce a cycle into the block_document_reference graph " +
          `(parent=${parentId}, reference=${childId}).`,
      );
    }
  }
}

/** A PATCH may move the document to another schema, but only one of the same block type. */
async function assertSchemaOfType(store: Store, schemaId: string, blockTypeId: string): Promise<void> {
  const record = await store.read((q) => q.blocks.getSchema(schemaId));
  if (!record) throw detail(400, `Block schema ${schemaId} not found`);
  if (record.schema.blockTypeId !== blockTypeId) {
    throw detail(400, "Must migrate block document to a block schema of the same block type.");
  }
}

export function blockDocumentRoutes({ store, clock, config }: AppContext) {
  return new Elysia({ prefix: "/block_documents" })
    .post(
      "/",
      async ({ body, set }) => {
        const name = documentName(body);
        const blockTypeId = canonicalUuid(body.block_type_id);
        // Prefect answers a taken name before looking at the data.
        if (await store.read((q) => q.blocks.documentNameTaken(blockTypeId, name))) throw conflict("Block already exists");
        const { data, references } = separateReferences((body.data ?? {}) as JsonObject);
        const id = await store.write((tx) =>
          tx.blocks.createDocument(
            { name, data, blockSchemaId: canonicalUuid(body.block_schema_id), blockTypeId, isAnonymous: body.is_anonymous ?? false },
            references,
            clock.now(),
          ),
        );
        if (!id) throw conflict("Block already exists");
        set.status = 201;
        // Prefect answers a create with the stored document, secrets obfuscated.
        return readBlockDocument(store, id, false);
      },
      { body: BlockDocumentCreate },
    )
    .post(
      "/filter",
      async ({ body }) => {
        const { limit, offset } = paging(body, config.defaultLimit);
        const ids = await store.read((q) => q.blocks.listDocumentIds(body, body.sort ?? "NAME_ASC", { limit, offset }));
        return readBlockDocuments(store, ids, body.include_secrets ?? false);
      },
      {
        body: Lenient({
          ...BlockDocumentFilters,
          ...LimitOffset,
          include_secrets: Maybe(t.Boolean()),
          sort: BlockDocumentSortSchema,
        }),
      },
    )
    .post("/count", ({ body }) => store.read((q) => q.blocks.countDocuments(body ?? {})), { body: t.Optional(Lenient(BlockDocumentFilters)) })
    .get(
      "/:id",
      async ({ params, query }) => {
        const document = await readBlockDocument(store, params.id, includeSecretsParam(query));
        if (!document) throw notFound("Block document not found");
        return document;
      },
      { params: IdParams, query: IncludeSecretsQuery },
    )
    .patch(
      "/:id",
      async ({ params, body, set }) => {
        const current = await store.read((q) => q.blocks.getDocument(params.id));
        if (!current) throw notFound("Block document not found");
        set.status = 204;
        const change = updatedDocumentData(current.document.data, current.schema.fields, {
          data: body.data as JsonObject | undefined,
          merge_existing_data: body.merge_existing_data,
        });
        if (!change) return;
        const blockSchemaId = body.block_schema_id == null ? undefined : canonicalUuid(body.block_schema_id);
        if (blockSchemaId && blockSchemaId !== current.document.blockSchemaId) {
          await assertSchemaOfType(store, blockSchemaId, current.document.blockTypeId);
        }
        await assertNoCycles(store, params.id, change.references);
        await store.write((tx) => tx.blocks.updateDocument(params.id, { ...change, blockSchemaId }, clock.now()));
      },
      { params: IdParams, body: BlockDocumentUpdate },
    )
    .delete(
      "/:id",
      async ({ params, set }) => {
        if (!(await store.write((tx) => tx.blocks.deleteDocument(params.id)))) throw notFound("Block document not found");
        set.status = 204;
      },
      { params: IdParams },
    );
}
