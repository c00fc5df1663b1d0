/**
 * `POST /ui/schemas/validate` (prefect/server/api/ui/schemas.py): hydrate the form's values
 * (`__prefect_kind` json / none / workspace_variable; jinja is left unrendered), validate them
 * against the parameter schema with Prefect's preprocessing (optional fields may be null), and
 * answer `build_error_obj`'s tree of errors by property and index.
 */
import type { JsonObject, JsonValue as Json } from "../lib/json";
import { schemaFailures } from "../lib/json-schema";
import { pythonJsonError } from "../lib/python-json";
export type ErrorNode = string | { property: string; errors: ErrorNode[] } | { index: number; errors: ErrorNode[] };

const isObject = (value: unknown): value is JsonObject => typeof value === "object" && value !== null && !Array.isArray(value);

/** Placeholder errors from hydration, by JSON path. */
interface Hydrated {
  value: Json | undefined;
  errors: { path: (string | number)[]; message: string }[];
}

type VariableLookup = (name: string) => Promise<Json | undefined>;

async function hydrate(value: Json, path: (string | number)[], lookup: VariableLookup, errors: Hydrated["errors"]): Promise<Json | undefined> {
  if (Array.isArray(value)) return Promise.all(value.map((item, i) => hydrate(item, [...path, i], lookup, errors))) as Promise<Json[]>;
  if (!isObject(value)) return value;
  const kind = value.__prefect_kind;
  if (kind === "none") return null;
  if (kind === "json") {
    if (typeof value.value !== "string") return undefined;
    const refused = pythonJsonError(value.value);
    if (refused) {
      errors.push({ path, message: `Invalid JSON: ${refused}` });
      return undefined;
    }
    try {
      return JSON.parse(value.value) as Json;
    } catch (error) {
      errors.push({ path, message: `Invalid JSON: ${(error as Error).message}` });
      return undefined;
    }
  }
  if (kind === "workspace_variable") {
    const name = value.variable_name;
    const found = typeof name === "string" ? await lookup(name) : undefined;
    if (found === undefined) errors.push({ path, message: `Variable '${String(name)}' not found in workspace.` });
    return found;
  }
  if (kind === "jinja") return value;
  const entries = await Promise.all(Object.entries(value).map(async ([k, v]) => [k, await hydrate(v, [...path, k], lookup, errors)] as const));
  return Object.fromEntries(entries.filter(([, v]) => v !== undefined)) as JsonObject;
}

function insert(tree: ErrorNode[], path: (string | number)[], text: string): void {
  let current = tree;
  if (path.length === 0) current.push(text);
  path.forEach((part, i) => {
    const last = i === path.length - 1;
    const match = current.find((n) => typeof n !== "string" && ("index" in n ? n.index === part : n.property === part));
    if (last) {
      if (match && typeof match !== "string") match.errors.push(text);
      else current.push(typeof part === "number" ? { index: part, errors: [text] } : { property: part, errors: [text] });
    } else if (match && typeof match !== "string") current = match.errors;
    else {
      const node: ErrorNode = typeof part === "number" ? { index: part, errors: [] } : { property: part, errors: [] };
      current.push(node);
      current = node.errors;
    }
  });
}

export type SchemaValidation = { ok: true; errors: ErrorNode[]; valid: boolean } | { ok: false; detail: string };

/**
 * Prefect's validate(..., raise_on_error=False) and build_error_obj: every top-level jsonschema
 * error (messages worded as jsonschema words them, src/lib/json-schema.ts) at its path, a
 * `required` error one level down at its property, and a placeholder's error instead of the
 * schema's where both are at one path.
 */
export async function validateSchemaValues(schema: JsonObject, values: JsonObject, lookup: VariableLookup): Promise<SchemaValidation> {
  const placeholders: Hydrated["errors"] = [];
  const hydrated = (await hydrate(values, [], lookup, placeholders)) ?? {};
  const result = schemaFailures(hydrated, schema);
  if ("invalidSchema" in result) return { ok: false, detail: `Invalid schema: ${result.invalidSchema}` };
  const tree: ErrorNode[] = [];
  const placed = new Set(placeholders.map((e) => JSON.stringify(e.path)));
  for (const error of placeholders) insert(tree, error.path, error.message);
  for (const error of result.errors) {
    const path = error.keyword === "required" ? [...error.path, error.message.split(" ")[0]!.replace(/^'|'$/g, "")] : error.path;
    if (!placed.has(JSON.stringify(path))) insert(tree, path, error.message);
  }
  return { ok: true, errors: tree, valid: tree.length === 0 };
}
