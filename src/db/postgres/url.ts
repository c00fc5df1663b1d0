/** PostgreSQL connection URLs; kept apart from the driver so reading the configuration does not load it. */

/** Accepts `postgresql://`, `postgres://` and SQLAlchemy's `postgresql+asyncpg://` (Prefect's setting). */
export function isPostgresUrl(url: string): boolean {
  return /^postgres(?:ql)?(?:\+\w+)?:\/\//i.test(url);
}

export function normalisePostgresUrl(url: string): string {
  return url.replace(/^postgres(?:ql)?(?:\+\w+)?:\/\//i, "postgresql://");
}

/** `host:port` of a URL, for messages (never the password). */
export function postgresAddress(url: string): string {
  const parsed = new URL(normalisePostgresUrl(url));
  return `${parsed.hostname || "localhost"}:${parsed.port || "5432"}`;
}

/** The URL as a start-up banner shows it: without the password. */
export function postgresLabel(url: string): string {
  const parsed = new URL(normalisePostgresUrl(url));
  parsed.password = "";
  return parsed.toString();
}
