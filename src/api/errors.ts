/**
 * Errors raised by services and routes, shaped the way Prefect's server shapes them.
 * Routes never build error bodies by hand: they throw one of these.
 */
import type { ValidationIssue } from "../domain/errors";

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(typeof body === "object" && body && "detail" in body ? String((body as { detail: unknown }).detail) : `HTTP ${status}`);
  }
}

/** `{"detail": message}` with the given status (404/409/403/400/...). */
export const detail = (status: number, message: string) => new HttpError(status, { detail: message });

export const notFound = (message: string) => detail(404, message);
export const conflict = (message: string) => detail(409, message);
export const forbidden = (message: string) => detail(403, message);

/** Prefect raises ObjectNotFoundError deep in its model layer for some lookups; its body uses `exception_message`. */
export const objectNotFound = (message: string) => new HttpError(404, { exception_message: message });

export type { ValidationIssue } from "../domain/errors";

/** A 422 in FastAPI's request-validation shape. */
export function validationError(issues: ValidationIssue[], requestBody: unknown): HttpError {
  return new HttpError(422, {
    exception_message: "Invalid request received.",
    exception_detail: issues,
    request_body: requestBody ?? null,
  });
}

/** A 422 for a single body field, for checks TypeBox cannot express. */
export function invalidField(loc: (string | number)[], msg: string, input: unknown, requestBody: unknown): HttpError {
  return validationError([{ type: "value_error", loc: ["body", ...loc], msg, input }], requestBody);
}

export { INTEGRITY_CONFLICT } from "../domain/errors";
