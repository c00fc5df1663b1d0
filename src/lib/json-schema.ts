/** JSON Schema validation (Draft 2020-12, as Prefect's schema_tools) through Ajv. */
import type Ajv2020 from "ajv/dist/2020";

/**
 * An Ajv (Draft 2020-12, formats not checked) created on first use: evaluating Ajv costs
 * more than the rest of start-up, and most servers validate a schema only when a
 * deployment, a paused run or a UI form asks.
 */
export function lazyAjv(options: { allErrors: boolean }): () => Ajv2020 {
  let ajv: Ajv2020 | undefined;
  return () => {
    if (!ajv) {
      const { default: Ajv } = require("ajv/dist/2020") as { default: typeof Ajv2020 };
      ajv = new Ajv({ strict: false, allErrors: options.allErrors, validateFormats: false });
    }
    return ajv;
  };
}

const validator = lazyAjv({ allErrors: false });

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

/** Returns null when `value` is valid, else Prefect-style failure text. */
export function validateJsonSchema(value: unknown, schema: object, options: { ignoreRequired?: boolean } = {}): string | null {
  let validate;
  try {
    validate = validator().compile((options.ignoreRequired ? withoutRequired(schema) : schema) as object);
  } catch (error) {
    return `Invalid schema: ${(error as Error).message}`;
  }
  if (validate(value)) return null;
  const e = validate.errors?.[0];
  // jsonschema's json_path without `$.`, as Prefect quotes it: `a.b[0]`
  const path = (e?.instancePath ?? "")
    .split("/")
    .slice(1)
    .map((seg) => (/^\d+$/.test(seg) ? `[${seg}]` : `.${seg.replaceAll("~1", "/").replaceAll("~0", "~")}`))
    .join("")
    .replace(/^\./, "");
  const where = path ? ` for field '${path}'` : "";
  return `Validation failed${where}. Failure reason: ${e?.message ?? "invalid"}`;
}
