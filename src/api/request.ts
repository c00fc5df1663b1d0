import type { Provenance } from "../domain/provenance";
import { canonicalUuid } from "../lib/uuid";
import { UUID_RE } from "../schemas/common";
import { detail, validationError } from "./errors";

/** Prefect's minimum API version: clients that send an older X-PREFECT-API-VERSION are refused. */
const MINIMUM_API_VERSION = [0, 8, 0] as const;
/** A part as Python's int() reads it: optional sign, digits with single underscores between. */
const VERSION_PART = /^[+-]?\d+(_\d+)*$/;

/**
 * Prefect's EnforceMinimumAPIVersion, which guards every API route but /health and
 * /version: X-PREFECT-API-VERSION, when present, must be three integers `x.y.z`, at
 * least 0.8.0 (400 otherwise); absent means latest.
 */
export function checkApiVersion(headers: Record<string, string | undefined>): void {
  const value = headers["x-prefect-api-version"];
  if (!value) return;
  const parts = value.split(".");
  if (parts.length !== 3 || !parts.every((part) => VERSION_PART.test(part.trim()))) {
    throw detail(400, `Invalid X-PREFECT-API-VERSION header format.Expected header in format 'x.y.z' but received ${value}`);
  }
  const version = parts.map((part) => Number(part.trim().replaceAll("_", "")));
  for (let i = 0; i < 3; i++) {
    if (version[i] === MINIMUM_API_VERSION[i]) continue;
    if (version[i]! > MINIMUM_API_VERSION[i]) return;
    throw detail(400, `The request specified API version ${value} but this server requires version ${MINIMUM_API_VERSION.join(".")} or higher.`);
  }
}

/** The request's X-PREFECT-API-VERSION (checked by checkApiVersion before any route runs); null means latest. */
export function requestApiVersion(headers: Record<string, string | undefined>): string | null {
  return headers["x-prefect-api-version"] || null;
}

// The Python client's User-Agent: `prefect/<version> (API <api version>)` (Prefect's PREFECT_CLIENT_USER_AGENT_PATTERN).
const CLIENT_USER_AGENT = /^prefect\/(\d+)\.(\d+)\.(\d+)([a-z.+0-9]+)? \(API \S+\)$/;

/**
 * True when the request comes from a Prefect client whose version is at most `max`
 * (`x.y.z`); false for other or unknown clients. A pre-release (`3.3.7rc1`, `.dev2`)
 * counts as below its release, a post or local version (`.post1`, `+abc`) as above.
 */
export function clientVersionAtMost(headers: Record<string, string | undefined>, max: string): boolean {
  const match = CLIENT_USER_AGENT.exec(headers["user-agent"] ?? "");
  if (!match) return false;
  const [major, minor, patch, suffix] = match.slice(1, 5);
  const version = [Number(major), Number(minor), Number(patch)];
  const limit = max.split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    if (version[i] !== limit[i]) return version[i]! < limit[i]!;
  }
  return !suffix || !/^(\.post|\+)/.test(suffix);
}

/** The Prefect client's version from its User-Agent (`3.4.11`, `3.0.0rc20`), or null for other clients. */
export function requestClientVersion(headers: Record<string, string | undefined>): string | null {
  const match = CLIENT_USER_AGENT.exec(headers["user-agent"] ?? "");
  return match ? `${match[1]}.${match[2]}.${match[3]}${match[4] ?? ""}` : null;
}

/** What orchestration needs to know about the caller. */
export function requestVersions(headers: Record<string, string | undefined>) {
  return { apiVersion: requestApiVersion(headers), clientVersion: requestClientVersion(headers) };
}

/**
 * An automation acting through the API names itself with Prefect-Automation-Id and
 * Prefect-Automation-Name (base64). Both present and the name decodable: the write is
 * created by that AUTOMATION (updated_by keeps the name as sent); otherwise by nobody.
 * (Prefect's get_created_by / get_updated_by dependencies.)
 */
export function requestProvenance(headers: Record<string, string | undefined>): Provenance {
  const id = headers["prefect-automation-id"];
  const name = headers["prefect-automation-name"];
  if (id && !UUID_RE.test(id)) {
    const issue = { type: "uuid_parsing", loc: ["header", "prefect-automation-id"], msg: "Input should be a valid UUID", input: id };
    throw validationError([issue], null);
  }
  const displayValue = id && name ? decodeBase64Text(name) : null;
  if (!id || !name || !displayValue) return { createdBy: null, updatedBy: null };
  const automation = canonicalUuid(id);
  return {
    createdBy: { id: automation, type: "AUTOMATION", display_value: displayValue },
    updatedBy: { id: automation, type: "AUTOMATION", display_value: name },
  };
}

/** Python's b64decode(...).decode(): characters outside the alphabet are dropped, padding is required, UTF-8 strict. */
function decodeBase64Text(value: string): string | null {
  const cleaned = value.replace(/[^A-Za-z0-9+/=]/g, "");
  if (cleaned.length % 4 !== 0) return null;
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(Buffer.from(cleaned, "base64"));
  } catch {
    return null;
  }
}
