/**
 * `POST /ui/schemas/validate` (prefect/server/api/ui/schemas.py): hydrate the form's values
 * (`__prefect_kind` json / none / workspace_variable; jinja is left unrendered), validate them
 * against the parameter schema with Prefect's preprocessing (optional fields may be null), and
 * answer `build_error_obj`'s tree of errors by property and index.
 */
import type { ErrorObject } from "ajv/dist/2020";
import type { JsonObject, JsonValue as Json } from "../lib/json";
import { lazyAjv } from "../lib/json-schema";
export type ErrorNode = string | { property: string; errors: ErrorNode[] } | { index: number; errors: ErrorNode[] };

const validator = lazyAjv({ allErrors: true });

const isObject = (value: unknown): value is JsonObject => typeof value === "object" && value !== null && !Array.isArray(value);

/** preprocess_schema: a property that is not required also accepts null. */
function allowNullForOptional(schema: JsonObject): JsonObject {
  const out: JsonObject = { ...schema };
  if (isObject(schema.properties)) {
    const required = Array.isArray(schema.required) ? schema.required : [];
    out.properties = Object.fromEntries(
      Object.entries(schema.properties).map(([name, property]) => {
        if (!isObject(property) || required.includes(name)) return [name, property];
        return [name, { anyOf: [property, { type: "null" }] }];
      }),
    );
  }
  for (const key of ["definitions", "$defs"]) {
    const defs = schema[key];
    if (isObject(defs)) out[key] = Object.fromEntries(Object.entries(defs).map(([n, d]) => [n, isObject(d) ? allowNullForOptional(d) : d]));
  }
  return out;
}

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
    try {
      return JSON.parse(value.value) as Json;
    } catch {
      errors.push({ path, message: "Invalid JSON" });
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

const pythonRepr = (value: unknown): string =>
  typeof value === "string" ? `'${value}'` : value === null ? "None" : typeof value === "boolean" ? (value ? "True" : "False") : JSON.stringify(value);

/** jsonschema's messages for the common keywords, so the form shows what Prefect's would. */
function message(error: ErrorObject, data: unknown): string {
  const p = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case "required":
      return `'${String(p.missingProperty)}' is a required property`;
    case "type":
      return `${pythonRepr(data)} is not of type ${(String(p.type).split(",")).map((t) => `'${t}'`).join(", ")}`;
    case "enum":
      return `${pythonRepr(data)} is not one of ${pythonRepr(p.allowedValues)}`;
    case "minimum":
      return `${pythonRepr(data)} is less than the minimum of ${String(p.limit)}`;
    case "maximum":
      return `${pythonRepr(data)} is greater than the maximum of ${String(p.limit)}`;
    default:
      return error.message ?? "is invalid";
  }
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

const pointerPath = (pointer: string): (string | number)[] =>
  pointer
    .split("/")
    .slice(1)
    .map((seg) => seg.replaceAll("~1", "/").replaceAll("~0", "~"))
    .map((seg) => (/^\d+$/.test(seg) ? Number(seg) : seg));

function valueAt(root: unknown, path: (string | number)[]): unknown {
  return path.reduce<unknown>((value, part) => (value as Record<string | number, unknown> | undefined)?.[part], root);
}

export type SchemaValidation = { ok: true; errors: ErrorNode[]; valid: boolean } | { ok: false; detail: string };

export async function validateSchemaValues(schema: JsonObject, values: JsonObject, lookup: VariableLookup): Promise<SchemaValidation> {
  let validate;
  try {
    validate = validator().compile(allowNullForOptional(schema));
  } catch (error) {
    return { ok: false, detail: `Invalid schema: ${(error as Error).message}` };
  }
  const placeholders: Hydrated["errors"] = [];
  const hydrated = (await hydrate(values, [], lookup, placeholders)) ?? {};
  validate(hydrated);
  const tree: ErrorNode[] = [];
  const placed = new Set(placeholders.map((e) => JSON.stringify(e.path)));
  for (const error of placeholders) insert(tree, error.path, error.message);
  // An anyOf wrapper (optional-and-nullable) repeats its branch's errors: keep the branch's.
  for (const error of (validate.errors ?? []).filter((e) => e.keyword !== "anyOf")) {
    const path = pointerPath(error.instancePath);
    if (error.keyword === "required") path.push(String((error.params as { missingProperty: string }).missingProperty));
    if (placed.has(JSON.stringify(path))) continue;
    if (error.keyword === "type" && (error.params as { type: string }).type === "null") continue;
    insert(tree, path, message(error, valueAt(hydrated, pointerPath(error.instancePath))));
  }
  return { ok: true, errors: tree, valid: tree.length === 0 };
}
