/**
 * TypeBox validation errors -> FastAPI/pydantic-style 422 details
 * (`{type, loc, msg, input}`), so clients and people see Prefect's wording.
 */
import type { TSchema } from "@sinclair/typebox";
import { Value, ValueErrorType, type ValueError } from "@sinclair/typebox/value";
import type { ValidationIssue } from "./errors";

type Loc = (string | number)[];

const FORMAT_MESSAGES: Record<string, [string, string]> = {
  "prefect-uuid": ["uuid_parsing", "Input should be a valid UUID"],
  "prefect-datetime": ["datetime_from_date_parsing", "Input should be a valid datetime"],
};

function describe(error: ValueError): [type: string, msg: string] {
  switch (error.type) {
    case ValueErrorType.ObjectRequiredProperty:
      return ["missing", "Field required"];
    case ValueErrorType.ObjectAdditionalProperties:
      return ["extra_forbidden", "Extra inputs are not permitted"];
    case ValueErrorType.String:
      return ["string_type", "Input should be a valid string"];
    case ValueErrorType.Integer:
      return ["int_type", "Input should be a valid integer"];
    case ValueErrorType.Number:
      return ["float_type", "Input should be a valid number"];
    case ValueErrorType.Boolean:
      return ["bool_type", "Input should be a valid boolean"];
    case ValueErrorType.Array:
      return ["list_type", "Input should be a valid list"];
    case ValueErrorType.Object:
      return ["dict_type", "Input should be a valid dictionary"];
    case ValueErrorType.StringFormat:
      return FORMAT_MESSAGES[String(error.schema.format)] ?? ["value_error", error.message];
    case ValueErrorType.Literal:
      return ["literal_error", `Input should be ${JSON.stringify(error.schema.const)}`];
    case ValueErrorType.Union: {
      const literals = stringLiterals(error.schema);
      return literals ? ["enum", `Input should be ${pythonAlternatives(literals)}`] : ["value_error", error.message];
    }
    case ValueErrorType.IntegerMinimum:
    case ValueErrorType.NumberMinimum:
      return ["greater_than_equal", `Input should be greater than or equal to ${error.schema.minimum}`];
    case ValueErrorType.IntegerExclusiveMinimum:
    case ValueErrorType.NumberExclusiveMinimum:
      return ["greater_than", `Input should be greater than ${error.schema.exclusiveMinimum}`];
    case ValueErrorType.IntegerMaximum:
    case ValueErrorType.NumberMaximum:
      return ["less_than_equal", `Input should be less than or equal to ${error.schema.maximum}`];
    case ValueErrorType.StringPattern:
      return ["string_pattern_mismatch", `String should match pattern '${error.schema.pattern}'`];
    default:
      return ["value_error", error.message];
  }
}

/** The values of a union of string literals (how Python enums are declared here), else null. */
function stringLiterals(schema: TSchema): string[] | null {
  const branches = schema.anyOf as TSchema[] | undefined;
  if (!branches?.length || !branches.every((b) => typeof b.const === "string")) return null;
  return branches.map((b) => b.const as string);
}

/** pydantic's list of expected values: 'A', 'B' or 'C'. */
function pythonAlternatives(values: string[]): string {
  const quoted = values.map((v) => `'${v}'`);
  return quoted.length === 1 ? quoted[0]! : `${quoted.slice(0, -1).join(", ")} or ${quoted.at(-1)}`;
}

const segmentsOf = (path: string): Loc => path.split("/").filter(Boolean).map((p) => (/^\d+$/.test(p) ? Number(p) : p));

function valueAt(root: unknown, loc: Loc): unknown {
  let value = root;
  for (const s of loc) value = value != null && typeof value === "object" ? (value as Record<string | number, unknown>)[s] : undefined;
  return value;
}

/**
 * A failed `X | null` union says only "Expected union value"; for a non-null input
 * the useful errors are those of the branch that matches the input's JSON kind.
 */
function unionBranch(error: ValueError): TSchema | undefined {
  if (stringLiterals(error.schema)) return undefined; // an enum: reported whole
  const branches = (error.schema.anyOf as TSchema[] | undefined) ?? [];
  const candidates = branches.filter((b) => b.type !== "null");
  if (candidates.length === 1) return candidates[0];
  const kind = Array.isArray(error.value) ? "array" : typeof error.value;
  // a JSON number is a candidate for an integer branch too (t.Integer is integer | numeric string)
  return candidates.find((b) => b.type === kind || (kind === "number" && b.type === "integer"));
}

function collect(errors: Iterable<ValueError>, prefix: Loc, root: unknown, out: ValidationIssue[], seen: Set<string>): void {
  for (const error of errors) {
    const loc = [...prefix, ...segmentsOf(error.path)];
    const key = loc.join("/");
    if (seen.has(key)) continue; // TypeBox reports a location once per union branch: keep the first
    if (error.type === ValueErrorType.Union && error.value != null) {
      const branch = unionBranch(error);
      if (branch) {
        const before = out.length;
        collect(Value.Errors(branch, error.value), loc, root, out, seen);
        if (out.length > before) continue;
      }
    }
    seen.add(key);
    const [type, msg] = describe(error);
    // pydantic reports the enclosing object as the input of a missing field
    const input = type === "missing" ? valueAt(root, loc.slice(1, -1)) : error.value;
    out.push({ type, loc, msg, input: input ?? null });
  }
}

export function validationIssues(errors: ValueError[], source: "body" | "query" | "path", body: unknown): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  collect(errors, [source], body, out, new Set());
  return out;
}
