/**
 * Response bodies shared by the block type, schema and document routes
 * (BlockType, BlockSchema and BlockDocument of schemas/core.py).
 */
import { assembleDocument, type StoredDocument } from "../blocks/documents";
import type { BlockDocumentRecord, BlockSchemaRecord, BlockTypeRow } from "../db/repos/blocks";
import type { Store } from "../db/store";
import { schemaFieldsReader } from "../blocks/registration";
import type { JsonObject } from "../lib/json";
import { formatDateTime } from "../lib/time";
import { validationError } from "./errors";

export function blockTypeJson(row: BlockTypeRow) {
  return {
    id: row.id,
    created: formatDateTime(row.created),
    updated: formatDateTime(row.updated),
    name: row.name,
    slug: row.slug,
    logo_url: row.logoUrl,
    documentation_url: row.documentationUrl,
    description: row.description,
    code_example: row.codeExample,
    is_protected: row.isProtected,
  };
}

/** `fields` are the readable ones (see schemaFieldsReader), not the stored ones. */
export function blockSchemaJson({ schema, type }: BlockSchemaRecord, fields: JsonObject) {
  return {
    id: schema.id,
    created: formatDateTime(schema.created),
    updated: formatDateTime(schema.updated),
    checksum: schema.checksum,
    fields,
    block_type_id: schema.blockTypeId,
    block_type: blockTypeJson(type),
    capabilities: schema.capabilities,
    version: schema.version,
  };
}

function storedDocument({ document, type, schema }: BlockDocumentRecord): StoredDocument {
  return {
    id: document.id,
    name: document.name,
    data: document.data,
    isAnonymous: document.isAnonymous,
    schemaFields: schema.fields,
    blockType: blockTypeJson(type),
  };
}

export async function readBlockSchemas(store: Store, records: BlockSchemaRecord[]) {
  const readable = schemaFieldsReader(store);
  return Promise.all(records.map(async (record) => blockSchemaJson(record, await readable(record.schema.fields))));
}

/**
 * The documents with the given ids, in that order, as Prefect returns them:
 * referenced documents inlined, secrets obfuscated unless asked for.
 */
export async function readBlockDocuments(store: Store, ids: string[], includeSecrets: boolean) {
  if (ids.length === 0) return [];
  const graph = await store.read((q) => q.blocks.loadDocumentGraph(ids));
  const stored = new Map([...graph.documents].map(([id, record]) => [id, storedDocument(record)]));
  const readable = schemaFieldsReader(store);
  const roots = ids.flatMap((id) => graph.documents.get(id) ?? []);
  return Promise.all(
    roots.map(async (record) => {
      const { data, block_document_references } = assembleDocument(record.document.id, stored, graph.references, includeSecrets);
      const { document, type, schema, schemaType } = record;
      return {
        id: document.id,
        created: formatDateTime(document.created),
        updated: formatDateTime(document.updated),
        name: document.name,
        data,
        block_schema_id: document.blockSchemaId,
        block_schema: blockSchemaJson({ schema, type: schemaType }, await readable(schema.fields)),
        block_type_id: document.blockTypeId,
        block_type_name: type.name,
        block_type: blockTypeJson(type),
        block_document_references,
        is_anonymous: document.isAnonymous,
      };
    }),
  );
}

/** One document by id, or undefined. */
export async function readBlockDocument(store: Store, id: string, includeSecrets: boolean) {
  return (await readBlockDocuments(store, [id], includeSecrets))[0];
}

const TRUE_WORDS = new Set(["1", "on", "t", "true", "y", "yes"]);
const FALSE_WORDS = new Set(["0", "off", "f", "false", "n", "no"]);

/** The `include_secrets` query parameter, read as pydantic reads a bool (422 otherwise). */
export function includeSecretsParam(query: { include_secrets?: string }): boolean {
  const raw = query.include_secrets;
  if (raw === undefined) return false;
  const word = raw.toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  throw validationError(
    [{ type: "bool_parsing", loc: ["query", "include_secrets"], msg: "Input should be a valid boolean, unable to interpret input", input: raw }],
    null,
  );
}
