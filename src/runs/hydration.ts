/**
 * Prefect's HydrationContext.build(render_jinja=True, render_workspace_variables=True): every
 * workspace variable, and user templates rendered (sandboxed) with an empty context. The
 * variables are read only when a placeholder names one: most runs carry none.
 */
import type { AppContext } from "../context";
import { TemplateRenderer } from "../lib/user-templates";
import { hydrate, HydrationError, readsWorkspaceVariables, type HydrationContext } from "../lib/hydration";
import type { JsonObject, JsonValue } from "../lib/json";

export { HydrationError };

/** Variables are few (Prefect reads them all too); this bounds one read. */
const MAX_VARIABLES = 100_000;
const templates = new TemplateRenderer(null);

async function workspaceVariables(ctx: AppContext): Promise<Map<string, JsonValue>> {
  const rows = await ctx.store.read((q) => q.variables.list(null, "NAME_ASC", MAX_VARIABLES, 0));
  return new Map(rows.map((row) => [row.name, row.value as JsonValue]));
}

/** Parameters with their `__prefect_kind` placeholders replaced; throws HydrationError. */
export async function hydrateParameters(ctx: AppContext, parameters: JsonObject): Promise<JsonObject> {
  const context: HydrationContext = {
    variables: readsWorkspaceVariables(parameters) ? await workspaceVariables(ctx) : new Map(),
    renderJinja: (template) => templates.render(template, {}),
  };
  return hydrate(parameters, context) as JsonObject;
}
