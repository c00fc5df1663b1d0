/**
 * Collection registry views (`/collections/views/{view}`). Prefect fetches them from the
 * public prefect-collection-registry and falls back to the copy bundled with the server;
 * prefect-lite never goes online and answers the bundled copy, which exists only for
 * `aggregate-worker-metadata` (what `prefect work-pool create --type X` reads for the
 * default base job template).
 */
import { Elysia } from "elysia";
import aggregateWorkerMetadata from "../collections/aggregate-worker-metadata.json";
import type { JsonObject } from "../lib/json";
import { notFound } from "./errors";

const BUNDLED_VIEWS: Record<string, JsonObject> = {
  "aggregate-worker-metadata": aggregateWorkerMetadata as JsonObject,
};
/** Views Prefect knows but fetches from the registry only. */
const REGISTRY_ONLY_VIEWS = new Set(["aggregate-block-metadata", "aggregate-flow-metadata", "demo-flows"]);

export function collectionRoutes() {
  return new Elysia({ prefix: "/collections" }).get("/views/:view", ({ params }) => {
    const view = BUNDLED_VIEWS[params.view];
    if (view) return view;
    // Prefect would fetch a known view from the registry; offline there is nothing to answer.
    if (REGISTRY_ONLY_VIEWS.has(params.view)) throw notFound(`Requested content missing for view ${params.view}`);
    throw notFound(`View ${params.view} not found in registry`);
  });
}
