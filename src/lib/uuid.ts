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
