/**
 * `POST /templates/validate` (and its deprecated alias under `/automations`): checks a
 * Jinja template for automation actions the way Prefect's api/templates.py does.
 */
import { Elysia, t } from "elysia";
import { validateTemplate } from "../lib/jinja-syntax";

function validate(template: string | null | undefined): Response {
  const source = template ?? "";
  const error = validateTemplate(source);
  if (!error) return new Response(null, { status: 204 });
  return new Response(JSON.stringify({ error: { line: error.line, message: error.message, source } }), {
    status: 422,
    headers: { "content-type": "application/json" },
  });
}

/** The body is the template itself, a JSON string; none at all is the empty template. */
const TemplateBody = t.Optional(t.String());

export function templateRoutes() {
  return new Elysia()
    .post("/templates/validate", ({ body }) => validate(body), { body: TemplateBody })
    .post("/automations/templates/validate", ({ body }) => validate(body), { body: TemplateBody });
}
