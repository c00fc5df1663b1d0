/**
 * CSRF protection as Prefect 3.9 offers it (PREFECT_SERVER_CSRF_PROTECTION_ENABLED):
 * `GET /csrf-token?client=...` issues a token per client, valid for
 * PREFECT_SERVER_CSRF_TOKEN_EXPIRATION, and every POST/PUT/PATCH/DELETE must carry a
 * valid `Prefect-Csrf-Token` / `Prefect-Csrf-Client` pair (prefect/server/api/middleware.py),
 * else 403. The Prefect client fetches tokens itself and retries once on "Invalid CSRF token".
 *
 * Tokens live in this process's memory, not the database: a restart or a second process on
 * the same file means clients fetch a new token (which the Prefect client does on that 403).
 */
import { randomBytes } from "node:crypto";
import { Elysia, t } from "elysia";
import type { Clock } from "../clock";
import type { Config } from "../config";
import { formatDateTime, type Micros } from "../lib/time";
import { secretMatches } from "./auth";
import { detail } from "./errors";

const PROTECTED_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);
/** Tokens kept at most (the oldest issued go first): a client id is whatever the caller sends. */
const MAX_CLIENTS = 10_000;

interface CsrfToken {
  id: string;
  created: Micros;
  updated: Micros;
  token: string;
  client: string;
  expiration: Micros;
}

const forbidden = (message: string, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify({ detail: message }), {
    status: 403,
    headers: { "content-type": "application/json", ...headers },
  });

export class CsrfTokens {
  private readonly byClient = new Map<string, CsrfToken>();

  constructor(
    private readonly clock: Clock,
    private readonly lifetime: Micros,
  ) {}

  /** Creates or renews the client's token, as Prefect's create_or_update_csrf_token, and drops expired ones. */
  issue(client: string): CsrfToken {
    const now = this.clock.now();
    for (const [key, token] of this.byClient) if (token.expiration <= now) this.byClient.delete(key);
    const previous = this.byClient.get(client);
    this.byClient.delete(client); // re-inserted last: the map's order is the order of issue
    const token: CsrfToken = {
      id: previous?.id ?? crypto.randomUUID(),
      created: previous?.created ?? now,
      updated: now,
      token: randomBytes(32).toString("hex"),
      client,
      expiration: now + this.lifetime,
    };
    this.byClient.set(client, token);
    if (this.byClient.size > MAX_CLIENTS) this.byClient.delete(this.byClient.keys().next().value!);
    return token;
  }

  /** The request hook: a 403 for a mutating request without a valid token, else undefined. */
  check(request: Request): Response | undefined {
    if (!PROTECTED_METHODS.has(request.method)) return undefined;
    const token = request.headers.get("prefect-csrf-token");
    const client = request.headers.get("prefect-csrf-client");
    if (token === null) return forbidden("Missing CSRF token.");
    if (client === null) return forbidden("Missing client identifier.");
    const stored = this.byClient.get(client);
    if (!stored || stored.expiration <= this.clock.now() || !secretMatches(token, stored.token)) {
      return forbidden("Invalid CSRF token or client identifier.", { "access-control-allow-origin": "*" });
    }
    return undefined;
  }
}

const tokenJson = (token: CsrfToken) => ({
  id: token.id,
  created: formatDateTime(token.created),
  updated: formatDateTime(token.updated),
  token: token.token,
  client: token.client,
  expiration: formatDateTime(token.expiration),
});

/** `GET /csrf-token`; with protection off, the exact 422 that makes the Prefect client stop asking. */
export function csrfRoutes(config: Config, tokens: CsrfTokens | null) {
  return new Elysia().get(
    "/csrf-token",
    ({ query }) => {
      if (!config.csrfProtectionEnabled || tokens === null) throw detail(422, "CSRF protection is disabled.");
      return tokenJson(tokens.issue(query.client));
    },
    { query: t.Object({ client: t.String() }) },
  );
}
