/**
 * A 500: one log line naming the request and the error (the stack only at debug level),
 * and Prefect's body. The request id is the client's `x-request-id` when it sent one,
 * and is returned in the same header so a report can be matched to the log.
 */
import type { Logger } from "../logger";

const MAX_ID_LENGTH = 64;

export function unhandledError(logger: Logger, request: Request, error: unknown): Response {
  const given = request.headers.get("x-request-id");
  const requestId = given && given.length <= MAX_ID_LENGTH && /^[\w.-]+$/.test(given) ? given : crypto.randomUUID();
  const described = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  logger.error(`${request.method} ${new URL(request.url).pathname} [request ${requestId}] failed: ${described.split("\n")[0]!.slice(0, 500)}`);
  if (error instanceof Error && error.stack) logger.debug(`[request ${requestId}] ${error.stack}`);
  return new Response(JSON.stringify({ exception_message: "Internal Server Error" }), {
    status: 500,
    headers: { "content-type": "application/json", "x-request-id": requestId },
  });
}
