import { Elysia } from "elysia";
import { API_VERSION, PREFECT_VERSION } from "../config";
import type { AppContext } from "../context";
import { Strict, Uuid } from "../schemas/common";
import { detail, notFound } from "./errors";
import { prefectSettingsTree } from "../ui/settings-tree";

/** Root, health and admin routes (§1.9 of the API reference). */
const STORAGE_KEY = "server-default-result-storage";

export function adminRoutes({ store, config, clock }: AppContext) {
  const readStorage = async () => ({
    default_result_storage_block_id: (await store.read((q) => q.configuration.read(STORAGE_KEY)))?.default_result_storage_block_id ?? null,
  });

  return new Elysia()
    .get("/health", () => true)
    .get("/version", () => API_VERSION)
    .get("/hello", () => "👋")
    .get("/ready", async () =>
      (await store.isReachable())
        ? { message: "OK" }
        : new Response(JSON.stringify({ message: "Database is not available" }), {
            status: 503,
            headers: { "content-type": "application/json" },
          }),
    )
    .get("/admin/version", () => PREFECT_VERSION)
    .get("/admin/settings", () => prefectSettingsTree(config))
    .get("/admin/storage", readStorage)
    .put(
      "/admin/storage",
      async ({ body }) => {
        const id = body.default_result_storage_block_id;
        const capabilities = await store.read((q) => q.configuration.blockDocumentCapabilities(id));
        if (capabilities === null) throw notFound(`Block document ${id} not found.`);
        if (!capabilities.includes("write-path")) throw detail(422, `Block document ${id} cannot be used for result storage.`);
        await store.write((tx) => tx.configuration.write(STORAGE_KEY, { default_result_storage_block_id: id }, clock.now()));
        return readStorage();
      },
      { body: Strict({ default_result_storage_block_id: Uuid }) },
    )
    .delete("/admin/storage", async ({ set }) => {
      await store.write((tx) => tx.configuration.delete(STORAGE_KEY));
      set.status = 204;
    });
}
