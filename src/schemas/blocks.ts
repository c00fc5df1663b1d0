/**
 * Request models of the blocks API (schemas/actions.py and the block filters of
 * schemas/filters.py). Name and slug rules are checked by the routes so the 422
 * carries Prefect's messages.
 */
import { t, type Static } from "elysia";
import { Enum, JsonObjectSchema, Maybe, Strict, Uuid } from "./common";

/** Block type slugs and block document names: lowercase letters, digits and dashes. */
export const SLUG_RE = /^[a-z0-9-]*$/;

const Operator = Maybe(t.Union([t.Literal("and_"), t.Literal("or_")]));
const List = <S extends Parameters<typeof t.Array>[0]>(item: S) => Maybe(t.Array(item));

export const BlockTypeCreate = Strict({
  name: t.String(),
  slug: t.String(),
  logo_url: Maybe(t.String()),
  documentation_url: Maybe(t.String()),
  description: Maybe(t.String()),
  code_example: Maybe(t.String()),
});

export const BlockTypeUpdate = Strict({
  logo_url: Maybe(t.String()),
  documentation_url: Maybe(t.String()),
  description: Maybe(t.String()),
  code_example: Maybe(t.String()),
});

export const BlockSchemaCreate = Strict({
  fields: t.Optional(JsonObjectSchema),
  block_type_id: Uuid,
  capabilities: t.Optional(t.Array(t.String())),
  version: t.Optional(t.String()),
});

export const BlockDocumentCreate = Strict({
  name: Maybe(t.String()),
  data: t.Optional(JsonObjectSchema),
  block_schema_id: Uuid,
  block_type_id: Uuid,
  is_anonymous: t.Optional(t.Boolean()),
});

export const BlockDocumentUpdate = Strict({
  block_schema_id: Maybe(Uuid),
  data: t.Optional(JsonObjectSchema),
  merge_existing_data: t.Optional(t.Boolean()),
});

export const BlockTypeFilter = Strict({
  name: Maybe(Strict({ like_: Maybe(t.String()) })),
  slug: Maybe(Strict({ any_: List(t.String()) })),
});

export const BlockSchemaFilter = Strict({
  operator: Operator,
  block_type_id: Maybe(Strict({ any_: List(Uuid) })),
  block_capabilities: Maybe(Strict({ all_: List(t.String()) })),
  id: Maybe(Strict({ any_: List(Uuid) })),
  version: Maybe(Strict({ any_: List(t.String()) })),
});

/** `is_anonymous` left out means `{"eq_": false}`; an explicit null lifts the restriction. */
export const BlockDocumentFilter = Strict({
  operator: Operator,
  id: Maybe(Strict({ any_: List(Uuid) })),
  is_anonymous: Maybe(Strict({ eq_: Maybe(t.Boolean()) })),
  block_type_id: Maybe(Strict({ any_: List(Uuid) })),
  name: Maybe(Strict({ any_: List(t.String()), like_: Maybe(t.String()) })),
});

export const BlockDocumentSortSchema = Maybe(Enum(["NAME_DESC", "NAME_ASC", "BLOCK_TYPE_AND_NAME_ASC"]));

export type BlockTypeFilter = Static<typeof BlockTypeFilter>;
export type BlockSchemaFilter = Static<typeof BlockSchemaFilter>;
export type BlockDocumentFilter = Static<typeof BlockDocumentFilter>;
export type BlockDocumentSort = "NAME_DESC" | "NAME_ASC" | "BLOCK_TYPE_AND_NAME_ASC";

/** The filters accepted by block document list and count endpoints. */
export const BlockDocumentFilters = {
  block_documents: Maybe(BlockDocumentFilter),
  block_types: Maybe(BlockTypeFilter),
  block_schemas: Maybe(BlockSchemaFilter),
};

export interface BlockDocumentFilterSet {
  block_documents?: BlockDocumentFilter | null;
  block_types?: BlockTypeFilter | null;
  block_schemas?: BlockSchemaFilter | null;
}

/** `include_secrets` query parameter; parsed like FastAPI's bool so bad values are a 422. */
export const IncludeSecretsQuery = t.Object({ include_secrets: t.Optional(t.String()) });
