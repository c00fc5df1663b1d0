/**
 * Prefect's HydrationContext.build(render_jinja=True, render_workspace_variables=True): every
 * workspace variable, and user templates rendered (sandboxed) with an empty context.
 */
import type { AppContext } from "../context";
import { TemplateRenderer } from "../automations/templates";
import { hydrate, HydrationError, type HydrationContext } from "../lib/hydration";
import type { JsonObject, JsonValue } from "../lib/json";

export { HydrationError };

/** Variables are few (Prefect reads them all too); this bounds one read. */
const MAX_VARIABLES = 100_000;
const templates = new TemplateRenderer(null);

async function hydrationContext(ctx: AppContext): Promise<HydrationContext> {
  const rows = await ctx.store.read((q) => q.variables.list(null, "NAME_ASC", MAX_VARIABLES, 0));
  return { variables: new Map(rows.map((row) => [row.name, row.value as JsonValue])), renderJinja: (template) => templates.render(template, {}) };
}

/** Parameters with their `__prefect_kind` placeholders replaced; throws HydrationError. */
export async function hydrateParameters(ctx: AppContext, parameters: JsonObject): Promise<JsonObject> {
  return hydrate(parameters, await hydrationContext(ctx)) as JsonObject;
}
