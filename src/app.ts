/**
 * The Elysia root: mounts every resource module under /api and turns errors into
 * Prefect's response shapes. Nothing resource-specific lives here.
 */
import { Elysia, ValidationError } from "elysia";
import type { AppContext } from "./context";
import { StoreBusyError, StoreConflictError, StoreUnavailableError } from "./db/errors";
import { BadRequest, Conflict, DomainError, Gone, InvalidInput, Locked, NotFound, Unprocessable } from "./domain/errors";
import { HttpError, INTEGRITY_CONFLICT } from "./api/errors";
import { validationIssues } from "./api/validation";
import { adminRoutes } from "./api/admin";
import { flowRoutes } from "./api/flows";
import { deploymentRoutes } from "./api/deployments";
import { flowRunRoutes } from "./api/flow-runs";
import { pollingRoutes } from "./api/polling";
import { runStateRoutes } from "./api/run-states";
import { taskRunRoutes } from "./api/task-runs";
import { taskWorkerRoutes } from "./api/task-workers";
import { logRoutes } from "./api/logs";
import { variableRoutes } from "./api/variables";
import { blockTypeRoutes } from "./api/block-types";
import { blockCapabilityRoutes, blockSchemaRoutes } from "./api/block-schemas";
import { blockDocumentRoutes } from "./api/block-documents";
import { workPoolRoutes } from "./api/work-pools";
import { workQueueRoutes } from "./api/work-queues";
import { concurrencyLimitV2Routes } from "./api/concurrency-limits-v2";
import { eventRoutes } from "./api/events";
import { concurrencyLimitV1Routes } from "./api/concurrency-limits-v1";
import { artifactRoutes } from "./api/artifacts";
import { savedSearchRoutes } from "./api/saved-searches";
import { collectionRoutes } from "./api/collections";
import { automationRoutes } from "./api/automations";
import { templateRoutes } from "./api/templates";
import { uiRoutes } from "./api/ui";
import { apiDocsRoutes } from "./api/docs";
import { mountUi, uiRoutesAndCors, type UiMount } from "./ui/routes";
import { uiApiRoutes } from "./api/ui-pages";
import { authGuard } from "./api/auth";
import { readJsonText } from "./api/body";
import { checkApiVersion } from "./api/request";
import { unhandledError } from "./api/unhandled";
import { csrfRoutes, CsrfTokens } from "./api/csrf";
import type { RequestGate } from "./shutdown";

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

/** Prefect mounts these on the API app itself, outside the routers its version check guards. */
const VERSION_EXEMPT_PATHS = new Set(["/api/health", "/api/version"]);

/** Prefect's status and body for each domain error. */
function domainErrorResponse(error: DomainError): Response {
  if (error instanceof NotFound) return json(404, { [error.wording]: error.message });
  if (error instanceof InvalidInput) {
    return json(422, { exception_message: "Invalid request received.", exception_detail: error.issues, request_body: error.requestBody ?? null });
  }
  if (error instanceof Locked) {
    return json(423, { detail: error.message }, error.retryAfterSeconds == null ? {} : { "Retry-After": String(error.retryAfterSeconds) });
  }
  const status =
    error instanceof Conflict ? 409 : error instanceof BadRequest ? 400 : error instanceof Gone ? 410 : error instanceof Unprocessable ? 422 : 500;
  return json(status, { detail: error.message });
}

/** `gate`: the server's shutdown gate (src/shutdown.ts); absent in in-process tests. */
export function createApp(ctx: AppContext, gate?: RequestGate, ui: UiMount = mountUi(ctx)) {
  const authenticate = authGuard(ctx.config.authString);
  const csrf = ctx.config.csrfProtectionEnabled ? new CsrfTokens(ctx.clock, ctx.config.csrfTokenExpiration) : null;
  return (
    new Elysia({ prefix: "/api", normalize: false })
      .onRequest(({ set }) => gate?.admit(set.headers))
      // Prefect checks CSRF in an outer middleware, before the API app checks the auth string.
      .onRequest(({ request }) => csrf?.check(request))
      .onRequest(({ request }) => authenticate(request))
      // Before body validation, as Prefect's router dependency runs before FastAPI validates the body.
      .onTransform(({ headers, path }) => {
        if (!VERSION_EXEMPT_PATHS.has(path)) checkApiVersion(headers);
      })
      // Older clients send JSON without a Content-Type.
      // Bodies are parsed here so the raw text can be echoed in a 422 (validation mutates the parsed value).
      .onParse(async ({ request, contentType }) => {
        if (contentType && !contentType.startsWith("application/json")) return;
        const text = await readJsonText(request);
        rawBodies.set(request, text);
        return text === "" ? undefined : JSON.parse(text);
      })
      .onError(({ code, error, request }) => {
        const body = requestBody(request);
        // The body checks of ./api/body.ts answer from inside the parser, which wraps what it throws.
        const thrown = code === "PARSE" && error.cause instanceof HttpError ? error.cause : error;
        if (thrown instanceof HttpError) return json(thrown.status, thrown.body, thrown.headers);
        if (thrown instanceof DomainError) return domainErrorResponse(thrown);
        if (code === "VALIDATION" && error instanceof ValidationError) {
          // A malformed `{id}` means the route does not match in Prefect.
          if (error.type === "params") return json(404, { detail: "Not Found" });
          const source = error.type === "query" ? "query" : "body";
          return json(422, {
            exception_message: "Invalid request received.",
            exception_detail: validationIssues(error.all.filter((e) => "path" in e), source, body),
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
        if (error instanceof StoreConflictError) return json(409, { detail: INTEGRITY_CONFLICT });
        // Prefect answers retryable database errors with 503; the client retries, honouring Retry-After.
        if (error instanceof StoreBusyError) {
          return json(503, { exception_message: "Service Unavailable" }, { "retry-after": String(error.retryAfterSeconds) });
        }
        if (error instanceof StoreUnavailableError) return json(503, { exception_message: "Service Unavailable" });
        return unhandledError(ctx.logger, request, error);
      })
      // Prefect returns bare JSON primitives (counts, `true`, `null`); Elysia would send them as text.
      .mapResponse(({ response, set }) => {
        if (response instanceof Response) return response;
        // A route whose handler is a prebuilt Response (the /docs page) arrives here as a function: Elysia sends it.
        if (typeof response === "function") return;
        if (set.status === 204) return new Response(null, { status: 204 });
        return new Response(JSON.stringify(response ?? null), {
          status: typeof set.status === "number" ? set.status : 200,
          headers: { "content-type": "application/json" },
        });
      })
      .use(adminRoutes(ctx))
      .use(flowRoutes(ctx))
      .use(flowRunRoutes(ctx))
      .use(deploymentRoutes(ctx))
      .use(pollingRoutes(ctx))
      .use(taskRunRoutes(ctx))
      .use(taskWorkerRoutes(ctx))
      .use(runStateRoutes(ctx))
      .use(variableRoutes(ctx))
      .use(logRoutes(ctx))
      .use(blockTypeRoutes(ctx))
      .use(blockSchemaRoutes(ctx))
      .use(blockCapabilityRoutes(ctx))
      .use(blockDocumentRoutes(ctx))
      .use(workPoolRoutes(ctx))
      .use(workQueueRoutes(ctx))
      .use(concurrencyLimitV2Routes(ctx))
      .use(eventRoutes(ctx))
      .use(concurrencyLimitV1Routes(ctx))
      .use(artifactRoutes(ctx))
      .use(savedSearchRoutes(ctx))
      .use(collectionRoutes())
      .use(automationRoutes(ctx))
      .use(templateRoutes())
      .use(uiRoutes(ctx))
      .use(apiDocsRoutes())
      .use(uiApiRoutes(ctx))
      .use(uiRoutesAndCors(ctx, ui))
      .use(csrfRoutes(ctx.config, csrf))
  );
}

export type App = ReturnType<typeof createApp>;
