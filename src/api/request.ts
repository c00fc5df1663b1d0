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
