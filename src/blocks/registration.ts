/**
 * Registering and reading block schemas: the checksum decides whether a schema
 * exists, nested schemas are registered with it, and stored fields are rebuilt
 * into the shape Prefect returns.
 */
import { blockSchemaChecksum } from "./checksum";
import { planSchemaRegistration, readableSchemaFields, type SchemaCatalog } from "./schemas";
import type { BlockSchemaRecord } from "../db/repos/blocks";
import type { Store } from "../db/store";
import type { JsonObject } from "../lib/json";
import type { Micros } from "../lib/time";

export interface BlockSchemaRegistration {
  fields: JsonObject;
  blockTypeId: string;
  capabilities: string[];
  version: string;
}

export interface RegisteredSchema {
  record: BlockSchemaRecord;
  /** The fields to answer with. */
  fields: JsonObject;
  /** False when a schema with the same checksum and version already existed (it is returned). */
  created: boolean;
}

function catalog(store: Store): SchemaCatalog {
  return {
    typeBySlug: (slug) => store.read((q) => q.blocks.getTypeBySlug(slug)),
    findSchema: async (checksum, version) => {
      const record = await store.read((q) => q.blocks.getSchemaByChecksum(checksum, version));
      return record && { checksum: record.schema.checksum, typeSlug: record.type.slug };
    },
  };
}

/** Rebuilds stored fields for responses; each nested schema is looked up once per reader. */
export function schemaFieldsReader(store: Store): (stored: JsonObject) => Promise<JsonObject> {
  const found = new Map<string, Promise<JsonObject | undefined>>();
  const find = (checksum: string) => {
    if (!found.has(checksum)) found.set(checksum, store.read((q) => q.blocks.getSchemaByChecksum(checksum)).then((r) => r?.schema.fields));
    return found.get(checksum)!;
  };
  return (stored) => readableSchemaFields(stored, find);
}

/** Registers the schema unless its (checksum, version) exists, which Prefect treats as success too. */
export async function registerBlockSchema(store: Store, input: BlockSchemaRegistration, now: Micros): Promise<RegisteredSchema> {
  // The server computes the checksum itself, whatever the client thinks it is.
  const checksum = blockSchemaChecksum(input.fields);
  const existing = await store.read((q) => q.blocks.getSchemaByChecksum(checksum, input.version));
  if (existing) return { record: existing, fields: await schemaFieldsReader(store)(existing.schema.fields), created: false };
  const plan = await planSchemaRegistration({ ...input, checksum }, catalog(store));
  await store.write((tx) => tx.blocks.createSchemas(plan.schemas, now));
  const record = (await store.read((q) => q.blocks.getSchemaByChecksum(checksum, input.version)))!;
  return { record, fields: plan.responseFields, created: true };
}
