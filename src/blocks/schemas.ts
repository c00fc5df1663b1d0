/**
 * Block schema fields as Prefect's models/block_schemas.py stores and rebuilds
 * them. On create, nested block schemas named in `block_schema_references` are
 * registered (from the parent's `definitions`) when missing, and only the
 * non-block definitions in use are stored. On read, `block_schema_references`
 * is always present and the nested schemas' fields are put back into
 * `definitions`, keyed by their titles.
 *
 * Prefect keeps references in a block_schema_reference table; here the stored
 * fields carry them, resolved to the referenced schemas' checksums.
 */
import { BadRequest, Conflict } from "../domain/errors";
import { isJsonObject, type JsonObject, type JsonValue } from "../lib/json";
import type { Op } from "../db/unit-of-work";
import { blockSchemaChecksum, collectRefs, definitionKey, isTruthy, nonBlockDefinitions } from "./checksum";

export const DEFAULT_SCHEMA_VERSION = "non-versioned";

export interface NewBlockSchema {
  checksum: string;
  /** Stored form: see storedFields(). */
  fields: JsonObject;
  blockTypeId: string;
  capabilities: string[];
  version: string;
}

/** A registered schema, as far as references need it. */
export interface SchemaRef {
  checksum: string;
  typeSlug: string;
}

/** The lookups registration needs, as operations of the transaction that registers. */
export interface SchemaCatalog {
  typeBySlug(slug: string): Op<{ id: string; slug: string; name: string } | undefined>;
  /** The newest schema with the checksum, of the version when given. */
  findSchema(checksum: string, version?: string): Op<SchemaRef | undefined>;
}

export interface SchemaRegistration {
  /** The new schema first, then the nested schemas it makes Prefect register. */
  schemas: NewBlockSchema[];
  /** Prefect answers a create with the stored fields plus `block_schema_references` and `definitions` as sent. */
  responseFields: JsonObject;
}

type ResolvedReference = { block_schema_checksum: string; block_type_slug: string };

/** A key of parsed JSON, never an inherited property (`__proto__`, `constructor`). */
const own = (object: JsonObject, key: string): JsonValue | undefined => (Object.hasOwn(object, key) ? object[key] : undefined);

/** Python's repr() of a str, as it appears in Prefect's messages. */
const pyRepr = (text: string) => (text.includes("'") && !text.includes('"') ? `"${text}"` : `'${text.replaceAll("'", "\\'")}'`);

/** [name, entry] for every reference; a name may hold one entry or a list (a union of blocks). */
function referenceEntries(fields: JsonObject): [string, JsonObject][] {
  const references = own(fields, "block_schema_references");
  if (!isJsonObject(references)) return [];
  return Object.entries(references).flatMap(([name, value]) =>
    (Array.isArray(value) ? value : [value]).filter(isJsonObject).map((entry): [string, JsonObject] => [name, entry]),
  );
}

/** One reference per name is an object, several distinct ones a list (Prefect's read shape). */
function groupReferences(resolved: [string, ResolvedReference][]): JsonObject {
  const grouped = new Map<string, ResolvedReference[]>();
  for (const [name, ref] of resolved) {
    const list = grouped.get(name) ?? [];
    const duplicate = list.some((r) => r.block_schema_checksum === ref.block_schema_checksum && r.block_type_slug === ref.block_type_slug);
    if (!duplicate) grouped.set(name, [...list, ref]);
  }
  return Object.fromEntries([...grouped].map(([name, list]) => [name, list.length === 1 ? list[0]! : list]));
}

/**
 * `_get_fields_for_child_schema`: the definition the property points at, or, for a
 * union of blocks, the one whose `block_type_slug` is the referenced type.
 */
function childSchemaFields(definitions: JsonObject, parent: JsonObject, name: string, slug: string): JsonObject | undefined {
  const properties = own(parent, "properties");
  const property = isJsonObject(properties) ? own(properties, name) : undefined;
  const refs = property === undefined ? [] : collectRefs(property).filter((r): r is string => typeof r === "string");
  const candidates = refs.map((ref) => own(definitions, definitionKey(ref))).filter(isJsonObject);
  if (refs.length === 1) return candidates[0];
  return candidates.find((definition) => definition.block_type_slug === slug);
}

/** What Prefect stores: the non-block definitions in use only (none: no key), and the resolved references. */
function storedFields(fields: JsonObject, references: JsonObject): JsonObject {
  const { block_schema_references: _sent, ...stored } = fields;
  const definitions = own(fields, "definitions");
  if (isJsonObject(definitions) && isTruthy(definitions)) {
    const used = nonBlockDefinitions(fields, definitions);
    if (Object.keys(used).length > 0) stored.definitions = used;
    else delete stored.definitions;
  }
  return { ...stored, block_schema_references: references };
}

/**
 * Plans the registration of a schema whose fields are `fields` (not registered
 * yet). Throws 409 when a referenced block type is unknown (as Prefect does) and
 * 400 where Prefect fails with a server error (a nested definition is missing).
 */
export function* planSchemaRegistration(
  root: Omit<NewBlockSchema, "fields"> & { fields: JsonObject },
  catalog: SchemaCatalog,
): Op<SchemaRegistration> {
  const definitions = own(root.fields, "definitions");
  const sharedDefinitions = isJsonObject(definitions) ? definitions : undefined;
  const nested: (NewBlockSchema & { typeSlug: string })[] = [];

  function* plannedOrRegistered(checksum: string, version?: string): Op<SchemaRef | undefined> {
    const planned = nested.find((s) => s.checksum === checksum && (version === undefined || s.version === version));
    return planned ? { checksum, typeSlug: planned.typeSlug } : yield* catalog.findSchema(checksum, version);
  }

  function* registerChild(parent: JsonObject, name: string, type: { id: string; slug: string; name: string }): Op<SchemaRef> {
    if (!sharedDefinitions) throw new BadRequest("Unable to create nested block schema due to missing definitions in root block schema fields");
    const child = childSchemaFields(sharedDefinitions, parent, name, type.slug);
    if (!child) throw new BadRequest(`Unable to create nested block schema for block type ${pyRepr(type.name)} due to missing definition.`);
    // Prefect hashes (and prunes) a nested schema together with the root's definitions.
    const fields = isTruthy(sharedDefinitions) ? { ...child, definitions: sharedDefinitions } : child;
    const checksum = blockSchemaChecksum(fields);
    const existing = yield* plannedOrRegistered(checksum, DEFAULT_SCHEMA_VERSION);
    if (existing) return existing;
    const entry = { checksum, fields, blockTypeId: type.id, capabilities: [], version: DEFAULT_SCHEMA_VERSION, typeSlug: type.slug };
    nested.push(entry);
    entry.fields = storedFields(fields, yield* resolveReferences(child));
    return { checksum, typeSlug: type.slug };
  }

  function* resolveReferences(parent: JsonObject): Op<JsonObject> {
    const resolved: [string, ResolvedReference][] = [];
    for (const [name, entry] of referenceEntries(parent)) {
      const slug = String(entry.block_type_slug ?? "");
      const type = yield* catalog.typeBySlug(slug);
      if (!type) {
        throw new Conflict(`Cannot create block schema because block type ${pyRepr(slug)} was not found.Did you forget to register the block type?`);
      }
      const target = (yield* plannedOrRegistered(String(entry.block_schema_checksum ?? ""))) ?? (yield* registerChild(parent, name, type));
      resolved.push([name, { block_schema_checksum: target.checksum, block_type_slug: target.typeSlug }]);
    }
    return groupReferences(resolved);
  }

  const stored = storedFields(root.fields, yield* resolveReferences(root.fields));
  const { block_schema_references: _resolved, ...responseFields } = stored;
  responseFields.block_schema_references = own(root.fields, "block_schema_references") ?? {};
  if (definitions != null) responseFields.definitions = definitions;
  return {
    schemas: [{ ...root, fields: stored }, ...nested.map(({ typeSlug: _slug, ...schema }) => schema)],
    responseFields,
  };
}

/**
 * The fields of a stored schema as Prefect returns them: `block_schema_references`
 * last, and each referenced schema (rebuilt the same way) in `definitions` under
 * its title, its own definitions flattened beside it.
 */
export async function readableSchemaFields(
  stored: JsonObject,
  findFields: (checksum: string) => Promise<JsonObject | undefined>,
  visiting: ReadonlySet<string> = new Set(),
): Promise<JsonObject> {
  const { block_schema_references: references, ...rest } = stored;
  const fields: JsonObject = { ...rest, block_schema_references: references ?? {} };
  let nestedDefinitions: JsonObject = {};
  for (const [, entry] of referenceEntries(fields)) {
    const checksum = String(entry.block_schema_checksum ?? "");
    const childStored = visiting.has(checksum) ? undefined : await findFields(checksum);
    if (!childStored) continue;
    const child = await readableSchemaFields(childStored, findFields, new Set([...visiting, checksum]));
    const title = own(child, "title");
    if (title == null) continue;
    const { definitions: childDefinitions, ...childFields } = child;
    nestedDefinitions = {
      ...nestedDefinitions,
      [String(title)]: childFields,
      ...(isJsonObject(childDefinitions) ? childDefinitions : {}),
    };
  }
  const storedDefinitions = own(fields, "definitions");
  if (isTruthy(nestedDefinitions) || isTruthy(storedDefinitions)) {
    fields.definitions = { ...(isJsonObject(storedDefinitions) ? storedDefinitions : {}), ...nestedDefinitions };
  }
  return fields;
}
