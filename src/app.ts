/**
 * The Elysia root: mounts every resource module under /api and turns errors into
 * Prefect's response shapes. Nothing resource-specific lives here.
 */
import { Elysia, ValidationError } from "elysia";
import { SQLiteError } from "bun:sqlite";
import type { AppContext } from "./context";
import { HttpError, INTEGRITY_CONFLICT, type ValidationIssue } from "./api/errors";
import { adminRoutes } from "./api/admin";
import { flowRoutes } from "./api/flows";

/** TypeBox ValueErrorType numbers -> pydantic-style error type names, for the 422 body. */
function issueType(message: string): string {
  if (/required/i.test(message)) return "missing";
  if (/additional/i.test(message) || /Unexpected property/i.test(message)) return "extra_forbidden";
  return "value_error";
}

function valueAt(root: unknown, segments: string[]): unknown {
  let value = root;
  for (const s of segments) value = value != null && typeof value === "object" ? (value as Record<string, unknown>)[s] : undefined;
  return value;
}

function validationIssues(error: ValidationError, source: "body" | "query" | "path", body: unknown): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const seen = new Set<string>();
  for (const e of error.all) {
    if (!("path" in e)) continue;
    const path = String(e.path);
    if (seen.has(path)) continue; // TypeBox reports unions once per branch; one entry per location is enough
    seen.add(path);
    const segments = path.split("/").filter(Boolean);
    const loc: (string | number)[] = [source, ...segments.map((p) => (/^\d+$/.test(p) ? Number(p) : p))];
    const type = issueType(e.message);
    // pydantic reports the enclosing object as the input of a missing field
    const input = type === "missing" ? valueAt(body, segments.slice(0, -1)) : e.value;
    issues.push({ type, loc, msg: type === "missing" ? "Field required" : type === "extra_forbidden" ? "Extra inputs are not permitted" : e.message, input: input ?? null });
  }
  return issues;
}

const rawBodies = new WeakMap<Request, string>();

function requestBody(request: Request): unknown {
  const text = rawBodies.get(request);
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });

export function createApp(ctx: AppContext) {
  return (
    new Elysia({ prefix: "/api", normalize: false })
      // Older clients send JSON without a Content-Type.
      // Bodies are parsed here so the raw text can be echoed in a 422 (validation mutates the parsed value).
      .onParse(async ({ request, contentType }) => {
        if (contentType && !contentType.startsWith("application/json")) return;
        const text = await request.text();
        rawBodies.set(request, text);
        return text === "" ? undefined : JSON.parse(text);
      })
      .onError(({ code, error, request }) => {
        const body = requestBody(request);
        if (error instanceof HttpError) return json(error.status, error.body, error.headers);
        if (code === "VALIDATION" && error instanceof ValidationError) {
          // A malformed `{id}` means the route does not match in Prefect.
          if (error.type === "params") return json(404, { detail: "Not Found" });
          const source = error.type === "query" ? "query" : "body";
          return json(422, {
            exception_message: "Invalid request received.",
            exception_detail: validationIssues(error, source, body),
            request_body: body ?? null,
          });
        }
        if (code === "PARSE") {
          return json(422, {
            exception_message: "Invalid request received.",
            exception_detail: [{ type: "json_invalid", loc: ["body"], msg: "JSON decode error", input: {} }],
            request_body: null,
          });
        }
        if (code === "NOT_FOUND") return json(404, { detail: "Not Found" });
        if (error instanceof SQLiteError) {
          if (error.code?.startsWith("SQLITE_CONSTRAINT")) return json(409, { detail: INTEGRITY_CONFLICT });
          if (error.code === "SQLITE_BUSY" || error.code === "SQLITE_LOCKED") {
            return json(503, { exception_message: "Service Unavailable" });
          }
        }
        ctx.logger.error("unhandled error", error);
        return json(500, { exception_message: "Internal Server Error" });
      })
      // Prefect returns bare JSON primitives (counts, `true`, `null`); Elysia would send them as text.
      .mapResponse(({ response, set }) => {
        if (response instanceof Response) return response;
        if (set.status === 204) return new Response(null, { status: 204 });
        return new Response(JSON.stringify(response ?? null), {
          status: typeof set.status === "number" ? set.status : 200,
          headers: { "content-type": "application/json" },
        });
      })
      .use(adminRoutes(ctx))
      .use(flowRoutes(ctx))
  );
}

export type App = ReturnType<typeof createApp>;
