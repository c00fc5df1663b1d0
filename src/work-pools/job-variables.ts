/**
 * Job variables against a work pool's base job template (Prefect's
 * _validate_work_pool_job_variables in api/validation.py): the template's defaults, then
 * each layer of overrides (deployment, flow run), validated against its `variables` schema.
 */
import type { JsonObject } from "../lib/json";
import { schemaFailures, validateJsonSchema } from "../lib/json-schema";

const isObject = (value: unknown): value is JsonObject => typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * The template's defaults that are valid by its own schema; `invalid` when one is not.
 * (A default that references a block document is left out: Prefect would read the block.)
 */
function templateDefaults(variables: JsonObject): { defaults: JsonObject; invalid: boolean } {
  const defaults: JsonObject = {};
  let invalid = false;
  const properties = isObject(variables.properties) ? variables.properties : {};
  for (const [name, attrs] of Object.entries(properties)) {
    if (!isObject(attrs) || !("default" in attrs)) continue;
    const value = attrs.default!;
    if (isObject(value) && "$ref" in value) continue;
    const check = schemaFailures({ [name]: value }, variables, { preprocess: false, ignoreRequired: true });
    if ("errors" in check && check.errors.length > 0) {
      invalid = true;
      continue;
    }
    defaults[name] = value;
  }
  return { defaults, invalid };
}

/**
 * Null when the variables fit, else Prefect's failure text. `ignoreRequired` for partial
 * values (a deployment's); a flow run's are complete, so its required variables must be
 * there, unless a template default is invalid (its value then cannot satisfy them).
 */
export function jobVariablesFailure(
  baseJobTemplate: JsonObject | null | undefined,
  layers: (JsonObject | null | undefined)[],
  options: { ignoreRequired: boolean },
): string | null {
  const variables = baseJobTemplate?.variables;
  if (!isObject(variables) || Object.keys(variables).length === 0) return null;
  const { defaults, invalid } = templateDefaults(variables);
  const merged = Object.assign({}, defaults, ...layers.filter(isObject)) as JsonObject;
  return validateJsonSchema(merged, variables, { ignoreRequired: options.ignoreRequired || invalid, allowNoneWithDefault: true });
}

/**
 * Null when each default of the template fits its own schema (required keys ignored), else
 * Prefect's failure text (validate_job_variable_defaults_for_work_pool).
 */
export function jobVariableDefaultsFailure(baseJobTemplate: JsonObject): string | null {
  const variables = baseJobTemplate.variables;
  if (!isObject(variables) || Object.keys(variables).length === 0) return null;
  const properties = isObject(variables.properties) ? variables.properties : {};
  const defaults: JsonObject = {};
  for (const [name, attrs] of Object.entries(properties)) {
    if (isObject(attrs) && "default" in attrs && !(isObject(attrs.default) && "$ref" in attrs.default)) defaults[name] = attrs.default!;
  }
  return validateJsonSchema(defaults, variables, { ignoreRequired: true });
}
