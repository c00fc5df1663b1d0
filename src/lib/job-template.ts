/**
 * Work-pool base job templates: `{"job_configuration": {...}, "variables": <JSON schema>}`
 * where job_configuration values reference variables as `{{ name }}` (Prefect's templating).
 */
import { isJsonObject, type JsonValue } from "./json";

// Prefect's PLACEHOLDER_CAPTURE_REGEX. Its `\w` is ASCII-only here on purpose: Prefect
// scans json.dumps output, which escapes non-ASCII characters, so such names never match.
const PLACEHOLDER = /{{\s*([\w.\-[\]$]+)\s*}}/g;

/** The placeholder names used in a template value, in order of first appearance. */
export function findPlaceholders(value: JsonValue): string[] {
  const names = new Set<string>();
  for (const match of JSON.stringify(value).matchAll(PLACEHOLDER)) names.add(match[1]!);
  return [...names];
}

/**
 * Prefect's `validate_base_job_template`: null when the template is acceptable, else
 * the validator's message. `{}` is allowed; otherwise both keys must be present (and
 * truthy, as Python tests them) and every placeholder must be a declared variable.
 */
export function baseJobTemplateError(template: Record<string, JsonValue>): string | null {
  if (Object.keys(template).length === 0) return null;
  const jobConfiguration = template.job_configuration;
  const variables = template.variables;
  if (!isTruthy(jobConfiguration) || !isTruthy(variables)) {
    return "The `base_job_template` must contain both a `job_configuration` key and a `variables` key.";
  }
  // Top-level keys are not scanned, only values (Prefect dumps each value separately).
  const values = isJsonObject(jobConfiguration) ? Object.values(jobConfiguration) : [jobConfiguration];
  const used = new Set(values.flatMap(findPlaceholders));
  const properties = isJsonObject(variables) && isJsonObject(variables.properties) ? variables.properties : {};
  const missing = [...used].filter((name) => !(name in properties));
  if (missing.length === 0) return null;
  // " ," is Prefect's separator, verbatim.
  return (
    "The variables specified in the job configuration template must be present as properties in the variables schema. " +
    `Your job configuration uses the following undeclared variable(s): ${missing.join(" ,")}.`
  );
}

/** Python truthiness of a JSON value. */
function isTruthy(value: JsonValue | undefined): boolean {
  if (value == null || value === false || value === 0 || value === "") return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === "object") return Object.keys(value).length > 0;
  return true;
}
