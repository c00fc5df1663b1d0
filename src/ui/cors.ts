/** Starlette's CORSMiddleware as Prefect configures it (PREFECT_SERVER_CORS_ALLOWED_*; credentials off). */
import type { CorsConfig } from "./config";

const ALL_METHODS = ["DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY"];
const SAFELISTED_HEADERS = ["Accept", "Accept-Language", "Content-Language", "Content-Type"];
const PREFLIGHT_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, Access-Control-Request-Private-Network";

export const isPreflight = (request: Request) =>
  request.method === "OPTIONS" && request.headers.has("origin") && request.headers.has("access-control-request-method");

const allowsAllOrigins = (cors: CorsConfig) => cors.allowOrigins.includes("*");

export function corsPreflight(cors: CorsConfig, request: Request): Response {
  const origin = request.headers.get("origin")!;
  const method = request.headers.get("access-control-request-method")!;
  const requestedHeaders = request.headers.get("access-control-request-headers");
  const methods = cors.allowMethods.includes("*") ? ALL_METHODS : cors.allowMethods;
  const allHeaders = cors.allowHeaders.includes("*");
  const allowedHeaders = [...new Set([...SAFELISTED_HEADERS, ...cors.allowHeaders])].sort();
  const headers: Record<string, string> = { vary: PREFLIGHT_VARY };
  const failures: string[] = [];
  if (allowsAllOrigins(cors)) headers["access-control-allow-origin"] = "*";
  else if (cors.allowOrigins.includes(origin)) headers["access-control-allow-origin"] = origin;
  else failures.push("origin");
  headers["access-control-allow-methods"] = methods.join(", ");
  headers["access-control-max-age"] = "600";
  if (!allHeaders) headers["access-control-allow-headers"] = allowedHeaders.join(", ");
  if (!methods.includes(method)) failures.push("method");
  if (allHeaders && requestedHeaders !== null) headers["access-control-allow-headers"] = requestedHeaders;
  else if (requestedHeaders !== null) {
    const lower = allowedHeaders.map((h) => h.toLowerCase());
    if (requestedHeaders.split(",").some((h) => !lower.includes(h.trim().toLowerCase()))) failures.push("headers");
  }
  if (request.headers.has("access-control-request-private-network")) failures.push("private-network");
  const text = failures.length > 0 ? `Disallowed CORS ${failures.join(", ")}` : "OK";
  return new Response(text, { status: failures.length > 0 ? 400 : 200, headers: { "content-type": "text/plain; charset=utf-8", ...headers } });
}

/** Headers for an ordinary response: the allowed origin when the request came with one, and always `vary: Origin`. */
export function corsSimpleHeaders(cors: CorsConfig, origin: string | null): Record<string, string> {
  if (origin !== null && allowsAllOrigins(cors)) return { "access-control-allow-origin": "*", vary: "Origin" };
  if (origin !== null && cors.allowOrigins.includes(origin)) return { "access-control-allow-origin": origin, vary: "Origin" };
  return { vary: "Origin" };
}
