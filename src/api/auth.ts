/**
 * PREFECT_SERVER_API_AUTH_STRING, as Prefect 3.9's `token_validation` middleware checks it
 * (prefect/server/api/server.py): every HTTP request carries `Authorization: Basic
 * base64(user:password)` except `GET /api/health` and `GET /api/ready` (exact paths, for
 * probes); otherwise 401 `{"exception_message": "Unauthorized"}`. Websockets are not
 * HTTP requests there: they authenticate through the `prefect` subprotocol's auth
 * message (./websocket.ts).
 */
import { createHash, timingSafeEqual } from "node:crypto";

const OPEN_PATHS = new Set(["/api/health", "/api/ready"]);

const unauthorized = () =>
  new Response(JSON.stringify({ exception_message: "Unauthorized" }), {
    status: 401,
    headers: { "content-type": "application/json" },
  });

/** Equal strings in time that depends on neither their contents nor their lengths (both are hashed first). */
export function secretMatches(given: string, secret: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text, "utf8").digest();
  return timingSafeEqual(digest(given), digest(secret));
}

/** The `user:password` of a Basic Authorization header, or null when it is absent or malformed. */
function basicCredentials(header: string | null): string | null {
  if (header === null) return null;
  const parts = header.trim().split(/\s+/);
  if (parts.length !== 2 || parts[0] !== "Basic") return null;
  const decoded = Buffer.from(parts[1]!, "base64");
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(decoded);
  } catch {
    return null;
  }
}

const isWebsocketUpgrade = (request: Request) => request.headers.get("upgrade")?.toLowerCase() === "websocket";

/**
 * The request hook: a 401 response for a request that lacks the auth string, undefined to let it
 * through. With no auth string configured every request passes.
 */
export function authGuard(authString: string | null): (request: Request) => Response | undefined {
  if (authString === null) return () => undefined;
  return (request) => {
    if (isWebsocketUpgrade(request)) return undefined;
    if (request.method === "GET" && OPEN_PATHS.has(new URL(request.url).pathname)) return undefined;
    const credentials = basicCredentials(request.headers.get("authorization"));
    if (credentials === null || !secretMatches(credentials, authString)) return unauthorized();
    return undefined;
  };
}
