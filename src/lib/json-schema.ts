/**
 * JSON Schema validation as Prefect's schema_tools does it (Draft 2020-12, formats not
 * checked), through Ajv: Prefect's schema preprocessing, and the failure Python's
 * jsonschema would report (its `best_match`), in jsonschema's words.
 */
import type Ajv2020 from "ajv/dist/2020";
import type { ErrorObject } from "ajv/dist/2020";
import type { JsonObject, JsonValue } from "./json";
import { pythonRepr } from "./python-repr";

/**
 * An Ajv (Draft 2020-12, formats not checked) created on first use: evaluating Ajv costs
 * more than the rest of start-up, and most servers validate a schema only when a
 * deployment, a paused run or a UI form asks.
 */
export function lazyAjv(options: { allErrors: boolean; verbose?: boolean }): () => Ajv2020 {
  let ajv: Ajv2020 | undefined;
  return () => {
    if (!ajv) {
      const { default: Ajv } = require("ajv/dist/2020") as { default: typeof Ajv2020 };
      ajv = new Ajv({ strict: false, allErrors: options.allErrors, verbose: options.verbose ?? false, validateFormats: false });
    }
    return ajv;
  };
}

const validator = lazyAjv({ allErrors: true, verbose: true });

/** Compiled schemas by their text. Ajv caches by object identity, so each fresh copy would be compiled and kept anew. */
const compiledSchemas = new Map<string, ReturnType<Ajv2020["compile"]>>();
const MAX_COMPILED_SCHEMAS = 256;

function compiled(schema: object): ReturnType<Ajv2020["compile"]> {
  const key = JSON.stringify(schema);
  const cached = compiledSchemas.get(key);
  if (cached) return cached;
  const ajv = validator();
  const validate = ajv.compile(schema);
  if (compiledSchemas.size >= MAX_COMPILED_SCHEMAS) {
    const [oldestKey, oldest] = compiledSchemas.entries().next().value!;
    compiledSchemas.delete(oldestKey);
    ajv.removeSchema(oldest.schema as object);
  }
  compiledSchemas.set(key, validate);
  return validate;
}

const isObject = (value: unknown): value is JsonObject => typeof value === "object" && value !== null && !Array.isArray(value);

/** Python's repr() of a JSON value: `'a'`, `None`, `True`, `[1, 2]`, `{'k': 'v'}`. */
export function pyRepr(value: unknown): string {
  if (typeof value === "string") return pythonRepr(value);
  if (value === null || value === undefined) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(", ")}]`;
  if (typeof value === "object") return `{${Object.entries(value).map(([k, v]) => `${pythonRepr(k)}: ${pyRepr(v)}`).join(", ")}}`;
  return String(value);
}

// ---- Prefect's preprocess_schema (utilities/schema_tools/validation.py) -----------------------

/** Pydantic v1 schemas leave optional fields non-nullable: a property that is not required also takes null. */
function fixNullTyping(key: string, schema: JsonObject, required: JsonValue[], allowNoneWithDefault: boolean): void {
  if (required.includes(key) || !("type" in schema) || schema.type === "null") return;
  if ("default" in schema && !allowNoneWithDefault) return;
  schema.anyOf = [{ type: schema.type }, { type: "null" }];
  delete schema.type;
}

/** Pydantic v1 tuples: `items` as a list is Draft 2020-12's `prefixItems`. */
function fixTupleItems(schema: JsonObject): void {
  if (Array.isArray(schema.items) && schema.items.length > 0 && !schema.prefixItems) {
    schema.prefixItems = schema.items;
    delete schema.items;
  }
}

function processProperties(properties: JsonObject, required: JsonValue[], allowNoneWithDefault: boolean): void {
  for (const [key, schema] of Object.entries(properties)) {
    if (!isObject(schema)) continue;
    fixNullTyping(key, schema, required, allowNoneWithDefault);
    fixTupleItems(schema);
    if (isObject(schema.properties)) processProperties(schema.properties, Array.isArray(schema.required) ? schema.required : [], allowNoneWithDefault);
  }
}

/** Prefect's preprocess_schema: nullable optional fields, tuples, and blocks referable by id. */
export function preprocessSchema(input: JsonObject, allowNoneWithDefault = false): JsonObject {
  const schema = structuredClone(input);
  const required = (s: JsonObject) => (Array.isArray(s.required) ? s.required : []);
  if (isObject(schema.properties)) processProperties(schema.properties, required(schema), allowNoneWithDefault);
  if (isObject(schema.definitions)) {
    const definitions = schema.definitions;
    for (const definition of Object.values(definitions)) {
      if (!isObject(definition)) continue;
      if (isObject(definition.properties)) processProperties(definition.properties, required(definition), allowNoneWithDefault);
      if ("block_type_slug" in definition && typeof definition.title === "string") {
        const byReference: JsonObject = {
          type: "object",
          properties: {
            $ref: { oneOf: [{ type: "string", format: "uuid" }, { type: "object", additionalProperties: { type: "string" }, minProperties: 1 }] },
          },
          required: ["$ref"],
        };
        definitions[definition.title] = { oneOf: [definition, byReference] };
      }
    }
  }
  return schema;
}

/** Drops every `required` list, for Prefect's `ignore_required=True` validations of partial values. */
function withoutRequired(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutRequired);
  if (schema === null || typeof schema !== "object") return schema;
  return Object.fromEntries(
    Object.entries(schema)
      .filter(([key, value]) => !(key === "required" && Array.isArray(value)))
      .map(([key, value]) => [key, withoutRequired(value)]),
  );
}

// ---- jsonschema's errors, rebuilt from Ajv's --------------------------------------------------

type PathPart = string | number;

/** A failure as Python's jsonschema reports it. */
export interface SchemaError {
  keyword: string;
  /** Where in the instance (jsonschema's `error.path`). */
  path: PathPart[];
  message: string;
  /** Whether the instance has the type the failing schema asks for (jsonschema's `_matches_type`). */
  matchesType: boolean;
  /** The branch failures of an anyOf / oneOf. */
  context: SchemaError[];
}

const pointerPath = (pointer: string): PathPart[] =>
  pointer
    .split("/")
    .slice(1)
    .map((seg) => seg.replaceAll("~1", "/").replaceAll("~0", "~"))
    .map((seg) => (/^\d+$/.test(seg) ? Number(seg) : seg));

function isType(value: unknown, type: unknown): boolean {
  switch (type) {
    case "null":
      return value === null;
    case "boolean":
      return typeof value === "boolean";
    case "string":
      return typeof value === "string";
    case "integer":
      return typeof value === "number" && Number.isInteger(value);
    case "number":
      return typeof value === "number";
    case "array":
      return Array.isArray(value);
    case "object":
      return isObject(value);
    default:
      return false;
  }
}

function matchesType(schema: unknown, value: unknown): boolean {
  if (!isObject(schema) || !("type" in schema)) return false;
  const types = Array.isArray(schema.type) ? schema.type : [schema.type];
  return types.some((t) => isType(value, t));
}

/** jsonschema's message for one Ajv failure (its `_keywords.py`). */
function messageOf(error: ErrorObject): string {
  const p = error.params as Record<string, unknown>;
  const instance = pyRepr(error.data);
  const schemaValue = error.schema as unknown;
  const parent = (error.parentSchema ?? {}) as JsonObject;
  switch (error.keyword) {
    case "required":
      return `${pyRepr(p.missingProperty)} is a required property`;
    case "type": {
      const types = Array.isArray(parent.type) ? parent.type : [parent.type ?? p.type];
      return `${instance} is not of type ${types.map(pyRepr).join(", ")}`;
    }
    case "enum":
      return `${instance} is not one of ${pyRepr(schemaValue)}`;
    case "const":
      return `${pyRepr(schemaValue)} was expected`;
    case "minimum":
      return `${instance} is less than the minimum of ${pyRepr(schemaValue)}`;
    case "maximum":
      return `${instance} is greater than the maximum of ${pyRepr(schemaValue)}`;
    case "exclusiveMinimum":
      return `${instance} is less than or equal to the minimum of ${pyRepr(schemaValue)}`;
    case "exclusiveMaximum":
      return `${instance} is greater than or equal to the maximum of ${pyRepr(schemaValue)}`;
    case "multipleOf":
      return `${instance} is not a multiple of ${pyRepr(schemaValue)}`;
    case "minLength":
    case "minItems":
      return `${instance} ${schemaValue === 1 ? "should be non-empty" : "is too short"}`;
    case "maxLength":
    case "maxItems":
      return `${instance} ${schemaValue === 0 ? "is expected to be empty" : "is too long"}`;
    case "minProperties":
      return `${instance} ${schemaValue === 1 ? "should be non-empty" : "does not have enough properties"}`;
    case "maxProperties":
      return `${instance} ${schemaValue === 0 ? "is expected to be empty" : "has too many properties"}`;
    case "uniqueItems":
      return `${instance} has non-unique elements`;
    case "pattern":
      return `${instance} does not match ${pyRepr(schemaValue)}`;
    case "anyOf":
      return `${instance} is not valid under any of the given schemas`;
    case "oneOf":
      return Array.isArray(p.passingSchemas)
        ? `${instance} is valid under each of ${(p.passingSchemas as number[]).map((i) => pyRepr((schemaValue as unknown[])[i])).join(", ")}`
        : `${instance} is not valid under any of the given schemas`;
    case "not":
      return `${instance} should not be valid under ${pyRepr(schemaValue)}`;
    case "dependentRequired":
      return `${pyRepr(p.missingProperty)} is a dependency of ${pyRepr(p.property)}`;
    case "false schema":
      return `False schema does not allow ${instance}`;
    default:
      return error.message ?? "is invalid";
  }
}

/** Ajv's failures regrouped as jsonschema reports them: one error per extra-properties check, branches as context. */
function schemaErrors(errors: ErrorObject[]): SchemaError[] {
  const top: { error: ErrorObject; built: SchemaError }[] = [];
  const extras = new Map<string, { built: SchemaError; names: string[] }>();
  for (const error of errors) {
    // jsonschema reports a failed `then`/`else` branch itself, not the `if`
    if (error.keyword === "if") continue;
    const built: SchemaError = {
      keyword: error.keyword,
      path: pointerPath(error.instancePath),
      message: messageOf(error),
      matchesType: matchesType(error.parentSchema, error.data),
      context: [],
    };
    if (error.keyword === "additionalProperties") {
      const key = `${error.instancePath}|${error.schemaPath}`;
      const name = String((error.params as { additionalProperty: string }).additionalProperty);
      const group = extras.get(key);
      if (group) {
        group.names.push(name);
        continue;
      }
      extras.set(key, { built, names: [name] });
    }
    if (error.keyword === "anyOf" || error.keyword === "oneOf") {
      // Ajv lists a combinator's branch failures before the combinator's own
      const prefix = `${error.schemaPath}/`;
      const branches = top.filter((t) => t.error.schemaPath.startsWith(prefix));
      built.context = branches.map((t) => t.built);
      for (const branch of branches) top.splice(top.indexOf(branch), 1);
    }
    top.push({ error, built });
  }
  for (const { built, names } of extras.values()) {
    const sorted = names.sort();
    built.message = `Additional properties are not allowed (${sorted.map(pyRepr).join(", ")} ${sorted.length === 1 ? "was" : "were"} unexpected)`;
  }
  return top.map((t) => t.built);
}

const WEAK = new Set(["anyOf", "oneOf"]);

function comparePaths(a: PathPart[], b: PathPart[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] === b[i]) continue;
    if (typeof a[i] === typeof b[i]) return a[i]! < b[i]! ? -1 : 1;
    return String(a[i]) < String(b[i]) ? -1 : 1;
  }
  return a.length - b.length;
}

/** jsonschema's `relevance` key: shallower, later sibling, not a weak combinator, not matching the type. */
function compareRelevance(a: SchemaError, b: SchemaError): number {
  return (
    b.path.length - a.path.length ||
    comparePaths(a.path, b.path) ||
    Number(!WEAK.has(a.keyword)) - Number(!WEAK.has(b.keyword)) ||
    Number(!a.matchesType) - Number(!b.matchesType)
  );
}

/** jsonschema's best_match: the most relevant error, descending into a combinator's branches while one stands out. */
export function bestMatch(errors: SchemaError[]): SchemaError | null {
  let best = errors.reduce<SchemaError | null>((top, e) => (top === null || compareRelevance(e, top) > 0 ? e : top), null);
  while (best && best.context.length > 0) {
    const sorted = [...best.context].sort(compareRelevance);
    if (sorted.length >= 2 && compareRelevance(sorted[0]!, sorted[1]!) === 0) return best;
    best = sorted[0]!;
  }
  return best;
}

/** jsonschema's json_path without `$.`: `a.b[0]`. */
const jsonPath = (path: PathPart[]) => path.map((p) => (typeof p === "number" ? `[${p}]` : `.${p}`)).join("").replace(/^\./, "");

export interface ValidationOptions {
  /** Prefect's `ignore_required`: partial values (a deployment's job variables). */
  ignoreRequired?: boolean;
  /** Prefect's `preprocess` (default true): see preprocessSchema. */
  preprocess?: boolean;
  /** With preprocessing, optional fields that have a default take null too. */
  allowNoneWithDefault?: boolean;
}

/** The jsonschema errors of `value` against `schema`, or a schema error when the schema itself does not compile. */
export function schemaFailures(value: unknown, schema: object, options: ValidationOptions = {}): { errors: SchemaError[] } | { invalidSchema: string } {
  let prepared: unknown = options.preprocess === false ? schema : preprocessSchema(schema as JsonObject, options.allowNoneWithDefault ?? false);
  if (options.ignoreRequired) prepared = withoutRequired(prepared);
  let validate;
  try {
    validate = compiled(prepared as object);
  } catch (error) {
    return { invalidSchema: (error as Error).message };
  }
  if (validate(value)) return { errors: [] };
  return { errors: schemaErrors(validate.errors ?? []) };
}

/** Null when `value` is valid, else Prefect's failure text: `Validation failed for field 'x'. Failure reason: ...`. */
export function validateJsonSchema(value: unknown, schema: object, options: ValidationOptions = {}): string | null {
  const result = schemaFailures(value, schema, options);
  if ("invalidSchema" in result) return `Invalid schema: ${result.invalidSchema}`;
  const best = bestMatch(result.errors);
  if (!best) return null;
  const where = best.path.length > 0 ? ` for field ${pythonRepr(jsonPath(best.path))}` : "";
  return `Validation failed${where}. Failure reason: ${best.message}`;
}
