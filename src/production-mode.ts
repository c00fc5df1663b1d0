/**
 * Imported first by the executable: Elysia reads NODE_ENV when it loads and, unless it is
 * "production", pretty-prints every rejected body and builds an example value into each
 * validation error's message. prefect-lite never sends that message (src/app.ts shapes 422s
 * itself), so the work would be wasted on every bad request, and large on a large body.
 */
process.env.NODE_ENV ??= "production";
