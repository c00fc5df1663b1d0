/** Job variables against the work pool's base job template, and the parameter-size bound, on every route Prefect applies them. */
import { afterAll, describe, expect, test } from "bun:test";
import { createTestApi } from "../support/api";

const api = createTestApi();
afterAll(() => api.close());

const TEMPLATE = {
  job_configuration: { x: "{{ x }}", req: "{{ req }}" },
  variables: { type: "object", properties: { x: { type: "integer", default: 1 }, req: { type: "string" } }, required: ["req"] },
};

async function setup(name: string) {
  const pool = (await api.post("/work_pools/", { name, type: "process", base_job_template: TEMPLATE })).body;
  const flow = (await api.post("/flows/", { name })).body;
  const deployment = (await api.post("/deployments/", { name: "d", flow_id: flow.id, work_pool_name: pool.name })).body;
  return { flow, deployment };
}

describe("job variables (validate_job_variables_for_deployment_flow_run)", () => {
  test("a deployment run's variables must be complete and fit the template, in jsonschema's words", async () => {
    const { deployment } = await setup("jv-create");
    expect(await api.post(`/deployments/${deployment.id}/create_flow_run`, {})).toMatchObject({
      status: 422,
      body: { detail: "Error creating flow run: Validation failed. Failure reason: 'req' is a required property" },
    });
    expect(await api.post(`/deployments/${deployment.id}/create_flow_run`, { job_variables: { req: "a", x: "nope" } })).toMatchObject({
      status: 422,
      body: { detail: "Error creating flow run: Validation failed for field 'x'. Failure reason: 'nope' is not valid under any of the given schemas" },
    });
    expect((await api.post(`/deployments/${deployment.id}/create_flow_run`, { job_variables: { req: "a" } })).status).toBe(201);
  });

  test("PATCH stores a scheduled deployment run's job variables, validated over the deployment's", async () => {
    const { deployment } = await setup("jv-patch");
    const run = (await api.post(`/deployments/${deployment.id}/create_flow_run`, { job_variables: { req: "a" } })).body;
    // the run's earlier variables are not part of the check: the deployment's and these are
    expect(await api.patch(`/flow_runs/${run.id}`, { job_variables: { x: 2 } })).toMatchObject({
      status: 422,
      body: { detail: "Error updating flow run: Validation failed. Failure reason: 'req' is a required property" },
    });
    expect((await api.patch(`/flow_runs/${run.id}`, { job_variables: { req: "b", x: 5 } })).status).toBe(204);
    expect((await api.get(`/flow_runs/${run.id}`)).body.job_variables).toEqual({ req: "b", x: 5 });
  });
});

describe("PREFECT_SERVER_API_MAX_PARAMETER_SIZE on every route that takes parameters", () => {
  test("deployment create and update, deployment runs and flow-run updates answer Prefect's 422", async () => {
    const { flow, deployment } = await setup("jv-size");
    const run = (await api.post(`/deployments/${deployment.id}/create_flow_run`, { job_variables: { req: "a" } })).body;
    const parameters = { p: "x".repeat(600_000) };
    const msg = "Value error, Flow run parameters must be less than 524,288 bytes when serialized (got 600,008 bytes).";
    const requests = [
      api.post("/deployments/", { name: "big", flow_id: flow.id, parameters }),
      api.patch(`/deployments/${deployment.id}`, { parameters }),
      api.post(`/deployments/${deployment.id}/create_flow_run`, { parameters, job_variables: { req: "a" } }),
      api.patch(`/flow_runs/${run.id}`, { parameters }),
      api.post("/flow_runs/", { flow_id: flow.id, parameters }),
    ];
    for (const res of await Promise.all(requests)) {
      expect(res.status).toBe(422);
      expect(res.body.exception_detail).toEqual([{ type: "value_error", loc: ["body", "parameters"], msg, input: parameters }]);
    }
  });
});
