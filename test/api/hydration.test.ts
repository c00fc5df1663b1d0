/** Parameter hydration where Prefect hydrates: deployment runs, deployment updates, resume input. */
import { afterAll, describe, expect, test } from "bun:test";
import { createTestApi } from "../support/api";

const api = createTestApi();
afterAll(() => api.close());

describe("__prefect_kind parameters", () => {
  test("a deployment run's parameters are hydrated: workspace variables, JSON, templates, none", async () => {
    await api.post("/variables/", { name: "region", value: "eu" });
    const flow = (await api.post("/flows/", { name: "hydrated" })).body;
    const deployment = (
      await api.post("/deployments/", { name: "d", flow_id: flow.id, parameters: { region: { __prefect_kind: "workspace_variable", variable_name: "region" } } })
    ).body;
    const run = await api.post(`/deployments/${deployment.id}/create_flow_run`, {
      parameters: {
        items: { __prefect_kind: "json", value: "[1, 2]" },
        greeting: { __prefect_kind: "jinja", template: "{{ 1 + 1 }} apples" },
        passthrough: { __prefect_kind: "none", value: { a: 1 } },
        dropped: { __prefect_kind: "json" },
      },
    });
    expect(run.status).toBe(201);
    expect(run.body.parameters).toEqual({ region: "eu", items: [1, 2], greeting: "2 apples", passthrough: { a: 1 } });
  });

  test("a placeholder that cannot be hydrated is Prefect's 400; a deployment update stores hydrated parameters", async () => {
    const flow = (await api.post("/flows/", { name: "hydration-errors" })).body;
    const deployment = (await api.post("/deployments/", { name: "d", flow_id: flow.id })).body;
    const missing = { p: { __prefect_kind: "workspace_variable", variable_name: "nope" } };
    expect(await api.post(`/deployments/${deployment.id}/create_flow_run`, { parameters: missing })).toMatchObject({
      status: 400,
      body: { detail: "Error hydrating flow run parameters: Variable 'nope' not found in workspace." },
    });
    expect(await api.patch(`/deployments/${deployment.id}`, { parameters: { t: { __prefect_kind: "jinja" } } })).toMatchObject({
      status: 400,
      body: { detail: "Error hydrating deployment parameters: Missing 'template' key in __prefect object" },
    });
    // Prefect 3.9.1's answer to the same request: Python's json error, position included
    const badJson = { x: { __prefect_kind: "json", value: '{"a": 1,}' } };
    expect(await api.post(`/deployments/${deployment.id}/create_flow_run`, { parameters: badJson })).toMatchObject({
      status: 400,
      body: { detail: "Error hydrating flow run parameters: Invalid JSON: Expecting property name enclosed in double quotes: line 1 column 9 (char 8)" },
    });
    expect((await api.patch(`/deployments/${deployment.id}`, { parameters: { n: { __prefect_kind: "json", value: "3" } } })).status).toBe(204);
    expect((await api.get(`/deployments/${deployment.id}`)).body.parameters).toEqual({ n: 3 });
  });
});
