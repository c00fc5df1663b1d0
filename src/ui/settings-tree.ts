/**
 * `GET /admin/settings`: Prefect's whole settings tree (src/ui/prefect-settings.json, generated
 * by scripts/gen-prefect-settings.py) with this server's own values in place of the defaults.
 * Secrets stay obfuscated, as Prefect's SecretStr fields are.
 */
import { prefectHome, type Config } from "../config";
import type { JsonObject, JsonValue } from "../lib/json";
import defaults from "./prefect-settings.json";

const OBFUSCATED = "**********";

function withHome(value: JsonValue, home: string): JsonValue {
  if (typeof value === "string") return value.startsWith("$PREFECT_HOME") ? home + value.slice("$PREFECT_HOME".length) : value;
  if (Array.isArray(value)) return value.map((item) => withHome(item, home));
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, withHome(v, home)]));
  return value;
}

const objectAt = (tree: JsonObject, ...path: string[]): JsonObject =>
  path.reduce((node, key) => {
    const child = node[key];
    if (child === null || typeof child !== "object" || Array.isArray(child)) throw new Error(`settings tree has no ${path.join(".")}`);
    return child as JsonObject;
  }, tree);

export function prefectSettingsTree(config: Config, env: Record<string, string | undefined> = process.env): JsonObject {
  const tree = withHome((defaults as { settings: JsonObject }).settings, prefectHome(env)) as JsonObject;
  const api = objectAt(tree, "server", "api");
  Object.assign(api, {
    host: config.host,
    port: config.port,
    default_limit: config.defaultLimit,
    max_parameter_size: config.maxParameterSize,
    auth_string: config.ui.basicAuth ? OBFUSCATED : null,
    cors_allowed_origins: config.cors.allowOrigins.join(","),
    cors_allowed_methods: config.cors.allowMethods.join(","),
    cors_allowed_headers: config.cors.allowHeaders.join(","),
  });
  objectAt(tree, "server").register_blocks_on_start = config.registerBlocksOnStart;
  Object.assign(objectAt(tree, "server", "ui"), {
    enabled: config.ui.enabled,
    v2_enabled: config.ui.v2Default,
    api_url: config.ui.apiUrl ?? `http://${config.host}:${config.port}/api`,
    serve_base: config.ui.serveBase,
    static_directory: config.ui.staticDirectory,
  });
  for (const service of Object.values(objectAt(tree, "server", "services"))) {
    if (service && typeof service === "object" && !Array.isArray(service) && "enabled" in service) service.enabled = config.servicesEnabled;
  }
  objectAt(tree, "api").url = env.PREFECT_API_URL ?? null;
  return tree;
}
