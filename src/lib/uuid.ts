/**
 * Prefect parses every UUID it receives, so `0194A2C1...` and the unhyphenated
 * form name the same row. Ids are stored in canonical form (lowercase,
 * hyphenated); incoming ids that passed the `prefect-uuid` format are brought
 * to that form before they reach SQL.
 */
export function canonicalUuid(value: string): string {
  const hex = value.replaceAll("-", "").toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function canonicalUuids(values: string[] | null | undefined): string[] | null | undefined {
  return values?.map(canonicalUuid);
}

/** RFC 4122's URL namespace (Python's uuid.NAMESPACE_URL). */
export const NAMESPACE_URL = "6ba7b811-9dad-11d1-80b4-00c04fd430c8";

/** A name-based (SHA-1) UUID, as Python's uuid.uuid5: the same name in a namespace always gives the same id. */
export function uuid5(namespace: string, name: string): string {
  const hash = new Bun.CryptoHasher("sha1");
  hash.update(Buffer.from(namespace.replaceAll("-", ""), "hex"));
  hash.update(name);
  const bytes = hash.digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  return canonicalUuid(bytes.toString("hex"));
}
