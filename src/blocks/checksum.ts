/**
 * Block schema checksums, computed exactly as Prefect's
 * `Block._calculate_schema_checksum` (prefect/blocks/core.py): clients look
 * schemas up by the checksum they compute locally, so ours must be identical.
 */
import { createHash } from "node:crypto";
import { isJsonObject, type JsonObject, type JsonValue } from "../lib/json";
import { pythonJsonDumps } from "./python-json";

const DEFINITION_PREFIX = "#/definitions/";

/** `remove_nested_keys`: drops a key from nested objects; like Prefect, it does not descend into arrays. */
export function removeNestedKey(value: JsonValue, key: string): JsonValue {
  if (!isJsonObject(value)) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([k]) => k !== key)
      .map(([k, v]) => [k, removeNestedKey(v, key)]),
  );
}

/** Every truthy `$ref` value found anywhere in the value, in traversal order. */
export function collectRefs(value: JsonValue): JsonValue[] {
  if (Array.isArray(value)) return value.flatMap(collectRefs);
  if (!isJsonObject(value)) return [];
  const own = value.$ref;
  const nested = Object.values(value).flatMap(collectRefs);
  return isTruthy(own) ? [own, ...nested] : nested;
}

/** Python truthiness of a JSON value. */
export function isTruthy(value: JsonValue | undefined): boolean {
  if (value == null || value === false || value === 0 || value === "") return false;
  if (Array.isArray(value)) return value.length > 0;
  if (isJsonObject(value)) return Object.keys(value).length > 0;
  return true;
}

/** `str.replace("#/definitions/", "")`: Python replaces every occurrence. */
export const definitionKey = (ref: string) => ref.split(DEFINITION_PREFIX).join("");

/**
 * `_get_non_block_reference_definitions`: the definitions referenced from `root`
 * (transitively) that are not blocks (no `block_type_slug`). Prefect recurses
 * without a guard and fails on self-referencing models; `seen` makes that terminate.
 */
export function nonBlockDefinitions(root: JsonValue, definitions: JsonObject, seen = new Set<string>()): JsonObject {
  let found: JsonObject = {};
  for (const ref of collectRefs(root)) {
    if (typeof ref !== "string") continue;
    const key = definitionKey(ref);
    const definition = Object.hasOwn(definitions, key) ? definitions[key] : undefined;
    if (!isJsonObject(definition) || !isTruthy(definition) || definition.block_type_slug != null) continue;
    if (seen.has(key)) {
      found = { ...found, [key]: definition };
      continue;
    }
    seen.add(key);
    found = { ...found, [key]: definition, ...nonBlockDefinitions(definition, definitions, seen) };
  }
  return found;
}

/** The fields Prefect hashes: no `secret_fields` anywhere, and only the non-block definitions in use. */
export function fieldsForChecksum(fields: JsonObject): JsonObject {
  const stripped = removeNestedKey(fields, "secret_fields") as JsonObject;
  const definitions = stripped.definitions;
  // Prefect only prunes truthy definitions, so `"definitions": {}` is hashed as is.
  if (!isTruthy(definitions) || !isJsonObject(definitions)) return stripped;
  const used = nonBlockDefinitions(stripped, definitions);
  if (Object.keys(used).length > 0) return { ...stripped, definitions: used };
  const { definitions: _dropped, ...rest } = stripped;
  return rest;
}

/** `sha256:` + hex digest of Python's `json.dumps(((fields,), {}), sort_keys=True)`. */
export function blockSchemaChecksum(fields: JsonObject): string {
  const text = pythonJsonDumps([[fieldsForChecksum(fields)], {}]);
  return "sha256:" + createHash("sha256").update(text).digest("hex");
}
