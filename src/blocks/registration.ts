/**
 * Registering and reading block schemas: the checksum decides whether a schema
 * exists, nested schemas are registered with it, and stored fields are rebuilt
 * into the shape Prefect returns.
 */
import { blockSchemaChecksum } from "./checksum";
import { planSchemaRegistration, readableSchemaFields, type NewBlockSchema, type SchemaCatalog } from "./schemas";
import type { BlockSchemaRecord } from "../db/repos/blocks";
import type { Repositories, Store, WriteTx } from "../db/store";
import type { Op } from "../db/unit-of-work";
import type { JsonObject } from "../lib/json";
import type { Micros } from "../lib/time";

export interface BlockSchemaRegistration {
  fields: JsonObject;
  blockTypeId: string;
  capabilities: string[];
  version: string;
  /**
   * Prefect's own checksum of `fields`, from a catalog built into the server (test/ui/block-catalog.test.ts
   * checks that ours equals it); a client's is never trusted: the server computes it then.
   */
  knownChecksum?: string;
}

export interface RegisteredSchema {
  record: BlockSchemaRecord;
  /** The fields to answer with. */
  fields: JsonObject;
  /** False when a schema with the same checksum and version already existed (it is returned). */
  created: boolean;
}

/** What registering inside a transaction gives: the new schema's response fields, or none when it existed. */
export interface SchemaWrite {
  checksum: string;
  responseFields: JsonObject | null;
}

function catalog(q: Repositories): SchemaCatalog {
  return {
    typeBySlug: (slug) => q.blocks.getTypeBySlug(slug),
    *findSchema(checksum, version) {
      const record = yield* q.blocks.getSchemaByChecksum(checksum, version);
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

/**
 * Inside a write: registers the schema, and the nested schemas it makes Prefect register,
 * unless its (checksum, version) exists, which Prefect treats as success too.
 */
export function* registerSchema(tx: WriteTx, input: BlockSchemaRegistration, now: Micros): Op<SchemaWrite> {
  const { knownChecksum, ...schema } = input;
  const checksum = knownChecksum ?? blockSchemaChecksum(schema.fields);
  if (yield* tx.blocks.getSchemaByChecksum(checksum, schema.version)) return { checksum, responseFields: null };
  const plan = yield* planSchemaRegistration({ ...schema, checksum }, catalog(tx));
  yield* tx.blocks.createSchemas(plan.schemas, now);
  return { checksum, responseFields: plan.responseFields };
}

/**
 * Inside a write: registers many schemas (a catalog's) as registerSchema registers each, with
 * their rows inserted in one statement at the end; a schema planned earlier in the list counts
 * as registered for those after it.
 */
export function* registerSchemas(tx: WriteTx, inputs: BlockSchemaRegistration[], now: Micros): Op<void> {
  const planned = new Map<string, NewBlockSchema>();
  const stored = catalog(tx);
  const lookups: SchemaCatalog = {
    typeBySlug: stored.typeBySlug,
    *findSchema(checksum, version) {
      const own = [...planned.values()].findLast((s) => s.checksum === checksum && (version === undefined || s.version === version));
      if (!own) return yield* stored.findSchema(checksum, version);
      return { checksum, typeSlug: (yield* tx.blocks.getType(own.blockTypeId))!.slug };
    },
  };
  const rows: NewBlockSchema[] = [];
  for (const { knownChecksum, ...schema } of inputs) {
    const checksum = knownChecksum ?? blockSchemaChecksum(schema.fields);
    if (planned.has(`${checksum}\u0000${schema.version}`) || (yield* tx.blocks.getSchemaByChecksum(checksum, schema.version))) continue;
    const plan = yield* planSchemaRegistration({ ...schema, checksum }, lookups);
    for (const row of plan.schemas) {
      rows.push(row);
      planned.set(`${row.checksum}\u0000${row.version}`, row);
    }
  }
  yield* tx.blocks.createSchemas(rows, now);
}

/** `POST /block_schemas/`: one transaction, so the lookups and the inserts see the same database. */
export async function registerBlockSchema(store: Store, input: Omit<BlockSchemaRegistration, "knownChecksum">, now: Micros): Promise<RegisteredSchema> {
  const { record, responseFields } = await store.write(function* (tx) {
    const { checksum, responseFields } = yield* registerSchema(tx, input, now);
    return { record: (yield* tx.blocks.getSchemaByChecksum(checksum, input.version))!, responseFields };
  });
  if (responseFields) return { record, fields: responseFields, created: true };
  return { record, fields: await schemaFieldsReader(store)(record.schema.fields), created: false };
}
