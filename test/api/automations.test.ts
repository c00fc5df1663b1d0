import { afterAll, describe, expect, test } from "bun:test";
import { createTestApi, ManualClock } from "../support/api";

const T0 = Date.UTC(2025, 0, 1) * 1000;
const BLOCK = "9474400c-21a0-4358-9b26-0b0dbec0b566";

const reactive = { type: "event", posture: "Reactive", expect: ["prefect.flow-run.Failed"], match: { "prefect.resource.id": "prefect.flow-run.*" } };
const body = (extra: Record<string, unknown> = {}) => ({ name: "on-failure", trigger: reactive, actions: [{ type: "do-nothing" }], ...extra });

function freshApi() {
  const clock = new ManualClock(T0);
  return { api: createTestApi({ clock }), clock };
}

describe("automations: create and read", () => {
  const { api } = freshApi();
  afterAll(() => api.close());

  test("create answers 201 with Prefect's defaults filled in (trigger and actions included)", async () => {
    const res = await api.post("/automations/", {
      name: "a1",
      trigger: { posture: "Reactive", expect: ["prefect.flow-run.Failed", "prefect.flow-run.Failed"], within: "PT1M", extra: "ignored" },
      actions: [
        { type: "do-nothing" },
        { type: "run-deployment", source: "inferred" },
        { type: "change-flow-run-state", state: "FAILED" },
        { type: "send-notification", block_document_id: BLOCK, body: "{{ flow_run.name }} failed" },
        { type: "call-webhook", block_document_id: BLOCK, payload: { message: "x" } },
        { type: "pause-work-pool", source: "inferred" },
        { type: "cancel-flow-run" },
      ],
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(String),
      created: "2025-01-01T00:00:00Z",
      updated: "2025-01-01T00:00:00Z",
      name: "a1",
      description: "",
      enabled: true,
      tags: [],
      trigger: {
        type: "event",
        id: expect.any(String),
        match: {},
        match_related: {},
        after: [],
        expect: ["prefect.flow-run.Failed"],
        for_each: [],
        posture: "Reactive",
        threshold: 1,
        within: 60,
      },
      actions: [
        { type: "do-nothing" },
        { type: "run-deployment", source: "inferred", deployment_id: null, parameters: null, job_variables: null, schedule_after: 0 },
        { type: "change-flow-run-state", name: null, state: "FAILED", message: null, force: false },
        { type: "send-notification", block_document_id: BLOCK, subject: "Prefect automated notification", body: "{{ flow_run.name }} failed" },
        { type: "call-webhook", block_document_id: BLOCK, payload: '{\n  "message": "x"\n}' },
        { type: "pause-work-pool", source: "inferred", work_pool_id: null },
        { type: "cancel-flow-run" },
      ],
      actions_on_trigger: [],
      actions_on_resolve: [],
    });
    expect((await api.get(`/automations/${res.body.id}`)).body).toEqual(res.body);
  });

  test("trigger ids are always the server's", async () => {
    const id = crypto.randomUUID();
    const res = await api.post("/automations/", body({ trigger: { ...reactive, id } }));
    expect(res.body.trigger.id).not.toBe(id);
  });

  test("compound and sequence triggers nest; proactive triggers get a 10 s window by default", async () => {
    const proactive = { posture: "Proactive", expect: ["prefect.flow-run.Completed"] };
    const res = await api.post(
      "/automations/",
      body({ trigger: { type: "compound", require: "all", within: 30, triggers: [proactive, { type: "sequence", within: null, triggers: [reactive] }] } }),
    );
    expect(res.status).toBe(201);
    const { trigger } = res.body;
    expect(trigger).toMatchObject({ type: "compound", require: "all", within: 30 });
    expect(trigger.triggers[0]).toMatchObject({ type: "event", posture: "Proactive", within: 10 });
    expect(trigger.triggers[1]).toMatchObject({ type: "sequence", within: null, triggers: [{ type: "event", posture: "Reactive" }] });
  });

  test("misses are 404 with Prefect's body; a malformed id does not match", async () => {
    expect(await api.get(`/automations/${crypto.randomUUID()}`)).toMatchObject({ status: 404, body: { exception_message: "Automation not found" } });
    expect((await api.get("/automations/nope")).status).toBe(404);
  });
});

describe("automations: validation", () => {
  const { api } = freshApi();
  afterAll(() => api.close());

  const issues = async (payload: Record<string, unknown>) => {
    const res = await api.post("/automations/", payload);
    expect(res.status).toBe(422);
    return res.body.exception_detail.map(({ type, loc, msg }: { type: string; loc: unknown[]; msg: string }) => ({ type, loc, msg }));
  };

  test("a trigger without posture", async () => {
    expect(await issues(body({ trigger: { type: "event" } }))).toEqual([
      { type: "missing", loc: ["body", "trigger", "EventTrigger", "posture"], msg: "Field required" },
    ]);
  });

  test("a proactive window under 10 seconds", async () => {
    expect(await issues(body({ trigger: { posture: "Proactive", within: 5 } }))).toEqual([
      {
        type: "value_error",
        loc: ["body", "trigger", "EventTrigger"],
        msg: "Value error, `within` for Proactive triggers must be greater than or equal to 10 seconds",
      },
    ]);
  });

  test("a compound trigger requiring more triggers than it has", async () => {
    const [issue] = await issues(body({ trigger: { type: "compound", triggers: [], within: null, require: 2 } }));
    expect(issue.msg).toBe("Value error, require must be less than or equal to the number of triggers");
  });

  test("selected targets need their id, inferred ones must not have one", async () => {
    expect(await issues(body({ actions: [{ type: "run-deployment" }] }))).toEqual([
      {
        type: "value_error",
        loc: ["body", "actions", 0, "function-after[selected_deployment_requires_id(), RunDeployment]"],
        msg: "Value error, deployment_id is required",
      },
    ]);
    const [issue] = await issues(body({ actions: [{ type: "pause-work-queue", source: "inferred", work_queue_id: BLOCK }] }));
    expect(issue.msg).toBe("Value error, work_queue_id is not allowed");
  });

  test("an action that needs a block document refuses a null id", async () => {
    for (const [type, model] of [["send-notification", "SendNotification"], ["call-webhook", "CallWebhook"]] as const) {
      expect(await issues(body({ actions: [{ type, block_document_id: null, body: "x" }] }))).toEqual([
        { type: "uuid_type", loc: ["body", "actions", 0, model, "block_document_id"], msg: "UUID input should be a string, bytes or UUID object" },
      ]);
    }
  });

  test("unknown action types and bad states", async () => {
    const [unknown] = await issues(body({ actions: [{ type: "nope" }] }));
    expect(unknown).toMatchObject({ type: "union_tag_invalid", loc: ["body", "actions", 0] });
    const [state] = await issues(body({ actions_on_trigger: [{ type: "change-flow-run-state", state: "DONE" }] }));
    expect(state).toMatchObject({ type: "enum", loc: ["body", "actions_on_trigger", 0, "ChangeFlowRunState", "state"] });
  });

  test("notification and webhook templates must parse", async () => {
    expect(await issues(body({ actions: [{ type: "send-notification", block_document_id: BLOCK, body: "{{ x" }] }))).toEqual([
      {
        type: "value_error",
        loc: ["body", "actions", 0, "SendNotification", "body"],
        msg: "Value error, 'body' is not a valid template: unexpected end of template, expected 'end of print statement'.",
      },
    ]);
    const [webhook] = await issues(body({ actions: [{ type: "call-webhook", block_document_id: BLOCK, payload: "{% if %}" }] }));
    expect(webhook.loc).toEqual(["body", "actions", 0, "CallWebhook", "payload"]);
  });

  test("running an inferred deployment on flow-run state changes would loop", async () => {
    const trigger = { posture: "Reactive", expect: ["prefect.flow-run.Running"] };
    const [issue] = await issues(body({ trigger, actions: [{ type: "run-deployment", source: "inferred" }] }));
    expect(issue).toMatchObject({ type: "value_error", loc: ["body"] });
    expect(issue.msg).toStartWith("Value error, Running an inferred deployment from a flow run state change event will lead to an infinite loop");
    // A disabled automation cannot loop.
    expect((await api.post("/automations/", body({ trigger, enabled: false, actions: [{ type: "run-deployment", source: "inferred" }] }))).status).toBe(201);
  });

  test("unknown top-level fields are 422", async () => {
    expect(await issues(body({ bogus: 1 }))).toEqual([{ type: "extra_forbidden", loc: ["body", "bogus"], msg: "Extra inputs are not permitted" }]);
  });

  test("run-deployment job variables are checked against the deployment's work pool", async () => {
    const pool = (
      await api.post("/work_pools/", {
        name: "pool",
        type: "process",
        base_job_template: {
          job_configuration: { command: "{{ command }}" },
          variables: { type: "object", properties: { command: { type: "string" }, cpu: { type: "integer", default: 1 } } },
        },
      })
    ).body;
    const flow = (await api.post("/flows/", { name: "f" })).body;
    const deployment = (await api.post("/deployments/", { flow_id: flow.id, name: "d", work_pool_name: pool.name })).body;
    const action = (job_variables: Record<string, unknown>) => ({ type: "run-deployment", deployment_id: deployment.id, job_variables });
    expect((await api.post("/automations/", body({ actions: [action({ cpu: 2 })] }))).status).toBe(201);
    const bad = await api.post("/automations/", body({ actions: [action({ cpu: "many" })] }));
    expect(bad.status).toBe(422);
    expect(bad.body.detail).toStartWith("Error creating automation: Validation failed for field 'cpu'.");
    const missing = await api.post("/automations/", body({ actions: [{ ...action({ cpu: 2 }), deployment_id: crypto.randomUUID() }] }));
    expect(missing).toMatchObject({ status: 404, body: { detail: "Deployment not found." } });
  });
});

describe("automations: update, enable, delete", () => {
  const { api, clock } = freshApi();
  afterAll(() => api.close());

  test("PUT replaces the fields sent (204) and moves `updated`", async () => {
    const created = (await api.post("/automations/", body({ description: "keep", tags: ["t"] }))).body;
    clock.set(T0 + 1_000_000);
    const res = await api.put(`/automations/${created.id}`, { name: "renamed", trigger: reactive, actions: [], tags: ["u"] });
    expect(res.status).toBe(204);
    const read = (await api.get(`/automations/${created.id}`)).body;
    expect(read).toMatchObject({ name: "renamed", actions: [], tags: ["u"], description: "keep", updated: "2025-01-01T00:00:01Z" });
    expect(read.trigger.id).not.toBe(created.trigger.id);
    expect(await api.put(`/automations/${crypto.randomUUID()}`, body())).toMatchObject({ status: 404, body: { exception_message: "Automation not found" } });
    expect((await api.put(`/automations/${created.id}`, body({ owner_resource: "x" }))).status).toBe(422);
  });

  test("PATCH sets `enabled` (204); 404 for a miss; only `enabled` is accepted", async () => {
    const created = (await api.post("/automations/", body())).body;
    expect((await api.patch(`/automations/${created.id}`, { enabled: false })).status).toBe(204);
    expect((await api.get(`/automations/${created.id}`)).body.enabled).toBe(false);
    expect((await api.patch(`/automations/${created.id}`, { enabled: true })).status).toBe(204);
    expect((await api.get(`/automations/${created.id}`)).body.enabled).toBe(true);
    expect((await api.patch(`/automations/${crypto.randomUUID()}`, { enabled: true })).status).toBe(404);
    expect((await api.patch(`/automations/${created.id}`, { name: "x" })).status).toBe(422);
  });

  test("PATCH refuses to enable an automation that would loop", async () => {
    const looping = body({ enabled: false, trigger: { posture: "Reactive", expect: ["prefect.flow-run.*"] }, actions: [{ type: "run-deployment", source: "inferred" }] });
    const created = (await api.post("/automations/", looping)).body;
    const res = await api.patch(`/automations/${created.id}`, { enabled: true });
    expect(res.status).toBe(422);
    expect((await api.get(`/automations/${created.id}`)).body.enabled).toBe(false);
  });

  test("DELETE answers 204, then 404", async () => {
    const created = (await api.post("/automations/", body())).body;
    expect((await api.delete(`/automations/${created.id}`)).status).toBe(204);
    expect((await api.delete(`/automations/${created.id}`)).status).toBe(404);
    expect((await api.get(`/automations/${created.id}`)).status).toBe(404);
  });
});

describe("automations: lists, relations, owners", () => {
  const { api, clock } = freshApi();
  afterAll(() => api.close());
  const deploymentId = crypto.randomUUID();
  const owner = `prefect.deployment.${deploymentId}`;

  test("setup", async () => {
    for (const [name, tags, extra] of [
      ["b-owned", ["x"], { owner_resource: owner }],
      ["a-runs", ["x", "y"], { actions: [{ type: "run-deployment", deployment_id: deploymentId }] }],
      ["c-plain", [], {}],
    ] as const) {
      clock.advance(1_000_000);
      expect((await api.post("/automations/", body({ name, tags, ...extra }))).status).toBe(201);
    }
  });

  const names = async (payload: Record<string, unknown>) => (await api.post("/automations/filter", payload)).body.map((a: { name: string }) => a.name);

  test("filter sorts by name by default; other sorts, filters and paging", async () => {
    expect(await names({})).toEqual(["a-runs", "b-owned", "c-plain"]);
    expect(await names({ sort: "NAME_DESC" })).toEqual(["c-plain", "b-owned", "a-runs"]);
    expect(await names({ sort: "CREATED_DESC", limit: 2 })).toEqual(["c-plain", "a-runs"]);
    expect(await names({ automations: { tags: { all_: ["x", "y"] } } })).toEqual(["a-runs"]);
    expect(await names({ automations: { tags: { is_null_: true } } })).toEqual(["c-plain"]);
    expect(await names({ automations: { name: { any_: ["c-plain", "b-owned"] } } })).toEqual(["b-owned", "c-plain"]);
    expect(await names({ automations: { created: { before_: "2025-01-01T00:00:02Z" } } })).toEqual(["a-runs", "b-owned"]);
    expect(await names({ automations: { operator: "or_", name: { any_: ["c-plain"] }, tags: { any_: ["y"] } } })).toEqual(["a-runs", "c-plain"]);
    expect((await api.post("/automations/filter", { automations: { bogus: 1 } })).status).toBe(422);
  });

  test("count, with or without a body", async () => {
    expect((await api.post("/automations/count")).body).toBe(3);
    expect((await api.request("POST", "/automations/count")).body).toBe(3);
    expect((await api.post("/automations/count", { automations: { tags: { any_: ["x"] } } })).body).toBe(2);
  });

  test("related-to: the owner and the automations running a selected deployment", async () => {
    const related = (await api.get(`/automations/related-to/${owner}`)).body.map((a: { name: string }) => a.name);
    expect(related).toEqual(["b-owned", "a-runs"]);
    expect((await api.get("/automations/related-to/prefect.flow.x")).body).toEqual([]);
  });

  test("owned-by delete answers 202 and removes only what the resource owns", async () => {
    const res = await api.delete(`/automations/owned-by/${owner}`);
    expect(res).toMatchObject({ status: 202, body: null });
    expect(await names({})).toEqual(["a-runs", "c-plain"]);
    expect((await api.delete("/automations/owned-by/prefect.deployment.none")).status).toBe(202);
  });
});

describe("templates and collections", () => {
  const { api } = freshApi();
  afterAll(() => api.close());

  test.each(["/templates/validate", "/automations/templates/validate"])("%s: 204 for a valid template, 422 with the error otherwise", async (path) => {
    expect((await api.post(path, "Hello {{ flow_run.name }}")).status).toBe(204);
    expect((await api.request("POST", path)).status).toBe(204);
    const res = await api.post(path, "line\n{% for x in y %}");
    expect(res.status).toBe(422);
    expect(res.body).toEqual({
      error: {
        line: 2,
        message:
          "Unexpected end of template. Jinja was looking for the following tags: 'endfor' or 'else'. The innermost block that needs to be closed is 'for'.",
        source: "line\n{% for x in y %}",
      },
    });
    expect((await api.post(path, { not: "a string" })).body.exception_detail[0]).toMatchObject({ type: "string_type", loc: ["body"] });
  });

  test("the worker metadata view is Prefect's bundled copy", async () => {
    const res = await api.get("/collections/views/aggregate-worker-metadata");
    expect(res.status).toBe(200);
    expect(res.body.prefect.process).toMatchObject({ type: "process", default_base_job_configuration: { job_configuration: expect.any(Object) } });
    expect(Object.keys(res.body)).toContain("prefect-kubernetes");
  });

  test("other views are 404", async () => {
    expect(await api.get("/collections/views/demo-flows")).toMatchObject({ status: 404, body: { detail: "Requested content missing for view demo-flows" } });
    expect(await api.get("/collections/views/nope")).toMatchObject({ status: 404, body: { detail: "View nope not found in registry" } });
  });
});
