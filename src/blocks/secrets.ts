/**
 * Secret handling of block document data, mirroring Prefect's
 * `BlockDocument.from_orm_model` (obfuscation on read) and
 * `update_block_document` (obfuscated values posted back keep the stored secret).
 * Both work on Prefect's "flat dict": every leaf keyed by its path, where a leaf is
 * anything but a non-empty object (arrays and `{}` are leaves).
 */
import { isJsonObject, type JsonObject, type JsonValue } from "../lib/json";

/** What Prefect's `obfuscate()` returns for any value when the tail is not shown. */
export const OBFUSCATED = "********";

interface FlatEntry {
  path: string[];
  value: JsonValue;
}

export function flatten(data: JsonObject, parent: string[] = []): FlatEntry[] {
  return Object.entries(data).flatMap(([key, value]) =>
    isJsonObject(value) && Object.keys(value).length > 0
      ? flatten(value, [...parent, key])
      : [{ path: [...parent, key], value }],
  );
}

export function unflatten(entries: FlatEntry[]): JsonObject {
  const root: JsonObject = {};
  for (const { path, value } of entries) {
    let node = root;
    for (const key of path.slice(0, -1)) {
      const child = Object.hasOwn(node, key) ? node[key] : undefined;
      node = isJsonObject(child) ? child : setOwnKey(node, key, {});
    }
    setOwnKey(node, path[path.length - 1]!, value);
  }
  return root;
}

/** Assignment would treat a `__proto__` key as the prototype; data keys are plain keys. */
export function setOwnKey<V extends JsonValue>(node: JsonObject, key: string, value: V): V {
  Object.defineProperty(node, key, { value, writable: true, enumerable: true, configurable: true });
  return value;
}

const samePath = (a: string[], b: string[]) => a.length === b.length && a.every((k, i) => k === b[i]);

/** The schema's `secret_fields` as key paths; non-string entries are ignored. */
export function secretPaths(fields: JsonObject): string[][] {
  const declared = fields.secret_fields;
  if (!Array.isArray(declared)) return [];
  return declared.filter((s): s is string => typeof s === "string").map((s) => s.split("."));
}

/** Paths under a wildcard secret: everything whose path starts with the part before `*`. */
function underWildcard(secret: string[], path: string[]): boolean {
  const star = secret.indexOf("*");
  return star >= 0 && path.length >= star && samePath(path.slice(0, star), secret.slice(0, star));
}

/**
 * Replaces secret values with `********`. As in Prefect, an exact path is only
 * obfuscated when its value is a non-null leaf, and a wildcard path applies only
 * when the exact lookup found nothing.
 */
export function obfuscateSecrets(data: JsonObject, schemaFields: JsonObject): JsonObject {
  const secrets = secretPaths(schemaFields);
  if (secrets.length === 0) return data;
  const entries = flatten(data);
  for (const secret of secrets) {
    const exact = entries.find((e) => samePath(e.path, secret));
    if (exact && exact.value !== null) exact.value = OBFUSCATED;
    else for (const e of entries) if (underWildcard(secret, e.path)) e.value = OBFUSCATED;
  }
  return unflatten(entries);
}

/**
 * Puts the stored secret back wherever an update posts `********` for it, so a
 * client saving back the data it read (obfuscated) does not overwrite secrets.
 */
export function restoreObfuscatedSecrets(update: JsonObject, current: JsonObject, schemaFields: JsonObject): JsonObject {
  const secrets = secretPaths(schemaFields);
  if (secrets.length === 0) return update;
  const updates = flatten(update);
  const stored = flatten(current);
  const storedAt = (path: string[]) => stored.find((e) => samePath(e.path, path));
  for (const secret of secrets) {
    const currentSecret = storedAt(secret);
    if (currentSecret && currentSecret.value !== null) {
      const posted = updates.find((e) => samePath(e.path, secret));
      if (posted?.value === OBFUSCATED) posted.value = currentSecret.value;
      continue;
    }
    for (const e of updates) {
      // Prefect raises (a 500) when the stored data lacks the key; keeping the posted value is kinder.
      const original = e.value === OBFUSCATED && underWildcard(secret, e.path) ? storedAt(e.path) : undefined;
      if (original) e.value = original.value;
    }
  }
  return unflatten(updates);
}
