/**
 * Prefect treats a missing body as `{}` on every route whose body is optional (its OpenAPI
 * says `requestBody.required: false`): the UI sends several such requests with no body.
 */
import { afterAll, expect, test } from "bun:test";
import openapi from "../../../shared/reference/prefect-openapi.json" with { type: "json" };
import { createTestApi } from "../support/api";

const api = createTestApi();
afterAll(() => api.close());

type Operation = { requestBody?: { required?: boolean } };
const optionalBodyRoutes = Object.entries(openapi.paths as Record<string, Record<string, Operation>>).flatMap(([path, operations]) =>
  Object.entries(operations)
    .filter(([, operation]) => operation.requestBody && !operation.requestBody.required)
    .map(([method]) => ({ method: method.toUpperCase(), path })),
);

test("the OpenAPI lists the optional-body routes", () => {
  expect(optionalBodyRoutes.length).toBeGreaterThan(40);
});

for (const { method, path } of optionalBodyRoutes) {
  test(`${method} ${path} with no body is not a validation error`, async () => {
    const concrete = path.replace(/\{(id|lease_id)\}/g, "00000000-0000-0000-0000-000000000000").replace(/\{\w+\}/g, "x");
    const res = await api.request(method, concrete);
    // The route and Prefect-shaped error are shown when this fails.
    expect(res.status === 422 ? { route: `${method} ${path}`, body: res.body } : null).toBeNull();
  });
}
