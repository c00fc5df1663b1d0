/** JSON Schema validation (Draft 2020-12, as Prefect's schema_tools) through Ajv. */
import Ajv2020 from "ajv/dist/2020";

const ajv = new Ajv2020({ strict: false, allErrors: false, validateFormats: false });

/** Returns null when `value` is valid, else Prefect-style failure text. */
export function validateJsonSchema(value: unknown, schema: object): string | null {
  let validate;
  try {
    validate = ajv.compile(schema);
  } catch (error) {
    return `Invalid schema: ${(error as Error).message}`;
  }
  if (validate(value)) return null;
  const e = validate.errors?.[0];
  const where = e?.instancePath ? ` at '${e.instancePath.slice(1).replaceAll("/", ".")}'` : "";
  return `Validation failed${where}. Failure reason: ${e?.message ?? "invalid"}`;
}
