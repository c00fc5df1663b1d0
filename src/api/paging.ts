import { detail, validationError } from "./errors";

export interface Paging {
  limit: number;
  offset: number;
}

interface PagingBody {
  limit?: number | null;
  offset?: number | null;
  page?: number | null;
}

/**
 * SQLite takes OFFSET as a signed 64-bit integer and JSON numbers arrive as doubles: anything past
 * 2^53 is already imprecise. Such an offset is past the end of any table, so it is clamped to the
 * largest exact one and the answer is what Prefect gives past the end: no rows.
 */
export const MAX_OFFSET = Number.MAX_SAFE_INTEGER;

/** Resolves limit/offset (or page) with Prefect's defaults and its exact 422 answers. */
export function paging(body: PagingBody | undefined, defaultLimit: number): Paging & { page: number } {
  // Prefect's LimitBody dependency answers with a plain detail, unlike the other fields' validation.
  const limit = body?.limit ?? defaultLimit;
  if (limit < 0) throw detail(422, "Invalid limit: must be greater than or equal to 0.");
  if (limit > defaultLimit) throw detail(422, `Invalid limit: must be less than or equal to ${defaultLimit}.`);
  const page = body?.page ?? 1;
  if (page < 1) throw rangeError("page", page, body, 1);
  const offset = body?.page != null ? (page - 1) * limit : (body?.offset ?? 0);
  if (offset < 0) throw rangeError("offset", offset, body);
  return { limit, offset: Math.min(offset, MAX_OFFSET), page };
}

/** For the `/paginate` routes, which take `page` and ignore any `offset` (an undeclared key there). */
export function pagePaging(body: Omit<PagingBody, "offset"> | undefined, defaultLimit: number): Paging & { page: number } {
  return paging({ limit: body?.limit, page: body?.page ?? 1 }, defaultLimit);
}

function rangeError(field: string, value: number, body: unknown, min = 0) {
  return validationError(
    [{ type: "greater_than_equal", loc: ["body", field], msg: `Input should be greater than or equal to ${min}`, input: value, ctx: { ge: min } }],
    body,
  );
}

export function paginated<T>(results: T[], count: number, limit: number, page: number) {
  return { results, count, limit, pages: limit === 0 ? 0 : Math.ceil(count / limit), page };
}
