/**
 * Building blocks shared by the TypeBox request models. Action and filter
 * models forbid unknown keys (Prefect answers 422); top-level body parameters
 * accept an explicit null as "absent".
 */
import { FormatRegistry, type TSchema, type TObject, type TProperties, type ObjectOptions } from "@sinclair/typebox";
import { t } from "elysia";
import { parseDateTime } from "../lib/time";
import { canonicalUuid } from "../lib/uuid";

FormatRegistry.Set("prefect-datetime", (value) => parseDateTime(value) !== null);

export const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
FormatRegistry.Set("prefect-uuid", (value) => UUID_RE.test(value));

/** ISO-8601 datetime, `T` or space separated; converted to micros by the service. */
export const DateTime = t.String({ format: "prefect-datetime" });
/** A UUID in any form pydantic accepts, decoded to the canonical lowercase hyphenated form we store. */
export const Uuid = t.Transform(t.String({ format: "prefect-uuid" })).Decode(canonicalUuid).Encode((id) => id);

/** A model that rejects unknown keys. */
export const Strict = <P extends TProperties>(properties: P, options: ObjectOptions = {}): TObject<P> =>
  t.Object(properties, { additionalProperties: false, ...options });

/**
 * A body made of several FastAPI `Body()` parameters (limit, offset, filters...):
 * Prefect ignores unknown top-level keys there, where Elysia would reject them.
 */
export const Lenient = <P extends TProperties>(properties: P): TObject<P> =>
  t.Object(properties, { additionalProperties: true });

/** Optional and nullable: how Prefect declares most fields of its models. */
export const Maybe = <S extends TSchema>(schema: S) => t.Optional(t.Union([schema, t.Null()]));

export const JsonObjectSchema = t.Record(t.String(), t.Any());
export const Tags = t.Array(t.String());
export const Labels = t.Record(t.String(), t.Union([t.String(), t.Number(), t.Boolean()]));

/** `limit`/`offset`/`page` body parameters; range checks happen in `paging()` so the 422 matches Prefect. */
export const LimitOffset = {
  limit: Maybe(t.Integer()),
  offset: Maybe(t.Integer()),
};
export const LimitPage = {
  limit: Maybe(t.Integer()),
  page: Maybe(t.Integer()),
};

/** Path `{id}` parameters: a non-UUID does not match the route in Prefect, so it is a plain 404. */
export const IdParams = t.Object({ id: Uuid });

/** Names may not contain `/ % & > <` (Prefect's `Name` type). */
export const NAME_FORBIDDEN = /[/%&><]/;

/**
 * A string enum. (Elysia fills a missing optional `t.UnionEnum` with its first
 * member, which would silently change defaults; a union of literals is left alone.)
 */
export const Enum = <const V extends readonly string[]>(values: V) =>
  t.Unsafe<V[number]>(t.Union(values.map((v) => t.Literal(v))));
