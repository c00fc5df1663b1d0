/**
 * Parameter hydration (Prefect's utilities/schema_tools/hydration.py, with `raise_on_error`):
 * values of the form `{"__prefect_kind": ..., ...}` are replaced by what they stand for —
 * `none` (its value, hydrated), `json` (its value parsed), `jinja` (its template, checked and
 * rendered), `workspace_variable` (the variable's value). A kind-object missing its key is
 * dropped from its parent (`json`, `workspace_variable`) or an error; unknown kinds give
 * their `value`.
 */
import type { JsonObject, JsonValue } from "./json";
import { validateTemplate } from "./jinja-syntax";
import { pythonJsonError } from "./python-json";

/** What hydration may read and do. */
export interface HydrationContext {
  /** Workspace variables by name. */
  variables: ReadonlyMap<string, JsonValue>;
  /** Renders a (syntactically valid) template with an empty context. */
  renderJinja: (template: string) => string;
}

/** Prefect's HydrationError subclasses: what failed. */
export type HydrationFailure = "ValueNotFound" | "TemplateNotFound" | "InvalidJSON" | "InvalidJinja" | "WorkspaceVariableNotFound";

/** A placeholder that cannot be hydrated; its message is Prefect's. */
export class HydrationError extends Error {
  constructor(
    readonly failure: HydrationFailure,
    message: string,
  ) {
    super(message);
  }

  /** Python's repr() of Prefect's exception, which shows none of its detail: `InvalidJSON()`. */
  get pythonRepr(): string {
    return `${this.failure}()`;
  }
}

/** Marks a kind-object that disappears from its parent. */
const REMOVE = Symbol("remove");
type Hydrated = JsonValue | typeof REMOVE;

const isObject = (value: unknown): value is JsonObject => typeof value === "object" && value !== null && !Array.isArray(value);

/** True when some placeholder in `value` reads a workspace variable (only then are variables needed). */
export function readsWorkspaceVariables(value: JsonValue): boolean {
  if (Array.isArray(value)) return value.some(readsWorkspaceVariables);
  if (!isObject(value)) return false;
  return value.__prefect_kind === "workspace_variable" || Object.values(value).some(readsWorkspaceVariables);
}

/** Hydrates a parameters object; a top-level placeholder that vanishes leaves `{}`. */
export function hydrate(parameters: JsonObject, ctx: HydrationContext): JsonValue {
  const result = hydrateValue(parameters, ctx);
  return result === REMOVE ? {} : result;
}

function hydrateValue(value: JsonValue, ctx: HydrationContext): Hydrated {
  if (Array.isArray(value)) return value.map((item) => hydrateValue(item, ctx)).filter((item): item is JsonValue => item !== REMOVE);
  if (!isObject(value)) return value;
  if ("__prefect_kind" in value) return hydrateKind(value, ctx);
  const out: JsonObject = {};
  for (const [key, item] of Object.entries(value)) {
    const hydrated = hydrateValue(item, ctx);
    if (hydrated !== REMOVE) out[key] = hydrated;
  }
  return out;
}

const missingKey = (key: "value" | "template") => new HydrationError(key === "value" ? "ValueNotFound" : "TemplateNotFound", `Missing '${key}' key in __prefect object`);

/** A kind-object's nested value: objects are hydrated first (and may themselves vanish). */
function operand(value: JsonValue, ctx: HydrationContext): Hydrated {
  return isObject(value) ? hydrateValue(value, ctx) : value;
}

function hydrateKind(obj: JsonObject, ctx: HydrationContext): Hydrated {
  switch (obj.__prefect_kind) {
    case "none":
      if (!("value" in obj)) throw missingKey("value");
      return hydrateValue(obj.value!, ctx);
    case "json": {
      if (!("value" in obj)) return REMOVE;
      const text = operand(obj.value!, ctx);
      if (typeof text !== "string") return text;
      const refused = pythonJsonError(text);
      if (refused) throw new HydrationError("InvalidJSON", `Invalid JSON: ${refused}`);
      try {
        return JSON.parse(text) as JsonValue;
      } catch (error) {
        // NaN and Infinity: Python reads them, a JSON document cannot hold them
        throw new HydrationError("InvalidJSON", `Invalid JSON: ${(error as Error).message}`);
      }
    }
    case "jinja": {
      if (!("template" in obj)) throw missingKey("template");
      const template = operand(obj.template!, ctx);
      if (typeof template !== "string") return template;
      const invalid = validateTemplate(template);
      if (invalid) throw new HydrationError("InvalidJinja", `Invalid jinja: ${invalid.message}`);
      try {
        return ctx.renderJinja(template);
      } catch (error) {
        throw new HydrationError("InvalidJinja", `Invalid jinja: ${(error as Error).message}`);
      }
    }
    case "workspace_variable": {
      if (!("variable_name" in obj)) return REMOVE;
      const name = operand(obj.variable_name!, ctx);
      if (typeof name !== "string") return name;
      if (!ctx.variables.has(name)) throw new HydrationError("WorkspaceVariableNotFound", `Variable '${name}' not found in workspace.`);
      return ctx.variables.get(name)!;
    }
    default:
      return obj.value ?? null;
  }
}
