/**
 * What can go wrong in the domain, said without HTTP. Domain code (deployments,
 * work pools, blocks, ...) throws these; `src/app.ts` maps each one to the status
 * and body Prefect's server answers with, in one place.
 */

/** One pydantic-style validation issue (FastAPI's request-validation item). */
export interface ValidationIssue {
  type: string;
  loc: (string | number)[];
  msg: string;
  input: unknown;
  /** pydantic's constraint context, e.g. `{ ge: 0 }`. */
  ctx?: Record<string, unknown>;
}

export abstract class DomainError extends Error {}

/** Something named does not exist (404). Prefect's model layer words some as `exception_message`, not `detail`. */
export class NotFound extends DomainError {
  constructor(
    message: string,
    readonly wording: "detail" | "exception_message" = "detail",
  ) {
    super(message);
  }
}

/** The request contradicts what is stored (409). */
export class Conflict extends DomainError {}

/** The request is malformed in a way the schema cannot say (400). */
export class BadRequest extends DomainError {}

/** The request is well-formed but cannot be done as asked (422 with a `detail` message). */
export class Unprocessable extends DomainError {}

/** Field-level validation failures, as FastAPI reports them (422 with `exception_detail`). */
export class InvalidInput extends DomainError {
  constructor(
    readonly issues: ValidationIssue[],
    readonly requestBody: unknown,
  ) {
    super(issues.map((i) => i.msg).join("; "));
  }
}

/** A concurrency limit has no room (423); `retryAfterSeconds` is the wait Prefect suggests, when it suggests one. */
export class Locked extends DomainError {
  constructor(
    message: string,
    readonly retryAfterSeconds: number | null = null,
  ) {
    super(message);
  }
}

/** What the request names existed but is gone for good (410), e.g. an expired lease. */
export class Gone extends DomainError {}

/** Prefect's answer when a write breaks a unique or foreign key constraint (409). */
export const INTEGRITY_CONFLICT =
  "Data integrity conflict. This usually means a unique or foreign key constraint was violated. See server logs for details.";
