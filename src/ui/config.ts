/** The UI and CORS settings, read from Prefect's environment variables (and their aliases). */

type Env = Record<string, string | undefined>;

export interface UiConfig {
  /** PREFECT_SERVER_UI_ENABLED / PREFECT_UI_ENABLED; --no-ui turns it off. */
  enabled: boolean;
  /** PREFECT_SERVER_UI_V2_ENABLED: neutral entry points go to v2 unless false. */
  v2Default: boolean;
  /** PREFECT_SERVER_UI_SERVE_BASE / PREFECT_UI_SERVE_BASE. */
  serveBase: string;
  /** PREFECT_SERVER_UI_STATIC_DIRECTORY / PREFECT_UI_STATIC_DIRECTORY, or --ui-dir: other bundles. */
  staticDirectory: string | null;
  /** PREFECT_SERVER_UI_API_URL / PREFECT_UI_API_URL, else PREFECT_API_URL; null = where the server listens. */
  apiUrl: string | null;
  /** PREFECT_SERVER_API_AUTH_STRING is set: /ui-settings tells the UI to ask for credentials. */
  basicAuth: boolean;
}

export interface CorsConfig {
  allowOrigins: string[];
  allowMethods: string[];
  allowHeaders: string[];
}

/** pydantic's bool parsing. */
function flag(text: string | undefined, fallback: boolean): boolean {
  if (text === undefined) return fallback;
  if (/^(1|true|t|yes|y|on)$/i.test(text.trim())) return true;
  if (/^(0|false|f|no|n|off)$/i.test(text.trim())) return false;
  return fallback;
}

const list = (text: string | undefined) => (text ?? "*").split(",");

export function uiConfigFromEnv(env: Env): UiConfig {
  return {
    enabled: flag(env.PREFECT_SERVER_UI_ENABLED ?? env.PREFECT_UI_ENABLED, true),
    v2Default: flag(env.PREFECT_SERVER_UI_V2_ENABLED, true),
    serveBase: env.PREFECT_SERVER_UI_SERVE_BASE ?? env.PREFECT_UI_SERVE_BASE ?? "/",
    staticDirectory: env.PREFECT_SERVER_UI_STATIC_DIRECTORY || env.PREFECT_UI_STATIC_DIRECTORY || null,
    apiUrl: env.PREFECT_SERVER_UI_API_URL || env.PREFECT_UI_API_URL || env.PREFECT_API_URL || null,
    basicAuth: Boolean(env.PREFECT_SERVER_API_AUTH_STRING),
  };
}

export function corsConfigFromEnv(env: Env): CorsConfig {
  return {
    allowOrigins: list(env.PREFECT_SERVER_API_CORS_ALLOWED_ORIGINS ?? env.PREFECT_SERVER_CORS_ALLOWED_ORIGINS),
    allowMethods: list(env.PREFECT_SERVER_API_CORS_ALLOWED_METHODS ?? env.PREFECT_SERVER_CORS_ALLOWED_METHODS),
    allowHeaders: list(env.PREFECT_SERVER_API_CORS_ALLOWED_HEADERS ?? env.PREFECT_SERVER_CORS_ALLOWED_HEADERS),
  };
}
