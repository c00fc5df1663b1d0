import { Elysia, t } from "elysia";
import { API_VERSION, PREFECT_VERSION } from "../config";
import type { AppContext } from "../context";
import { detail } from "./errors";

/** Root, health and admin routes (§1.9 of the API reference). */
export function adminRoutes({ store, config }: AppContext) {
  return new Elysia()
    .get("/health", () => true)
    .get("/version", () => API_VERSION)
    .get("/hello", () => "👋")
    .get("/ready", () =>
      store.isReachable()
        ? { message: "OK" }
        : new Response(JSON.stringify({ message: "Database is not available" }), {
            status: 503,
            headers: { "content-type": "application/json" },
          }),
    )
    .get("/admin/version", () => PREFECT_VERSION)
    .get("/admin/settings", () => ({
      server: {
        api: { host: config.host, port: config.port, default_limit: config.defaultLimit },
        database: { connection_url: `sqlite+aiosqlite:///${config.databasePath}` },
        services: { enabled: config.servicesEnabled },
      },
    }))
    // CSRF protection is not offered; this exact answer makes the client stop asking.
    .get(
      "/csrf-token",
      () => {
        throw detail(422, "CSRF protection is disabled.");
      },
      { query: t.Object({ client: t.Optional(t.String()) }) },
    );
}
