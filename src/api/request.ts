import { detail } from "./errors";

/** X-PREFECT-API-VERSION must be `x.y.z` integers when present (400 otherwise); absent means latest. */
export function requestApiVersion(headers: Record<string, string | undefined>): string | null {
  const value = headers["x-prefect-api-version"];
  if (!value) return null;
  if (!/^\d+\.\d+\.\d+$/.test(value)) {
    throw detail(
      400,
      `Invalid X-PREFECT-API-VERSION header format.Expected header in format 'x.y.z' but received ${value}`,
    );
  }
  return value;
}
