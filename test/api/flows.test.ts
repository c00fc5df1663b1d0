import { afterAll, describe, expect, test } from "bun:test";
import { createTestApi } from "../support/api";

const api = createTestApi();
afterAll(() => api.close());

describe("flows", () => {
  test("create is an upsert by name: 201 then 200 with the same row", async () => {
    const first = await api.post("/flows/", { name: "etl", tags: ["a"] });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ name: "etl", tags: ["a"], labels: {} });
    const again = await api.post("/flows", { name: "etl", tags: ["other"] });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(first.body.id);
    expect(again.body.tags).toEqual(["a"]);
  });

  test("read by id and by name; unknown and malformed ids are 404", async () => {
    const { body: flow } = await api.post("/flows/", { name: "reader" });
    expect((await api.get(`/flows/${flow.id}`)).body.name).toBe("reader");
    expect((await api.get("/flows/name/reader")).body.id).toBe(flow.id);
    const missing = await api.get(`/flows/${crypto.randomUUID()}`);
    expect(missing).toMatchObject({ status: 404, body: { detail: "Flow not found" } });
    expect(await api.get("/flows/not-a-uuid")).toMatchObject({ status: 404, body: { detail: "Not Found" } });
  });

  test("unknown keys and missing names are 422 in Prefect's shape", async () => {
    const extra = await api.post("/flows/", { name: "x", nope: 1 });
    expect(extra.status).toBe(422);
    expect(extra.body.exception_message).toBe("Invalid request received.");
    expect(extra.body.exception_detail[0]).toMatchObject({ type: "extra_forbidden", loc: ["body", "nope"] });
    expect(extra.body.request_body).toEqual({ name: "x", nope: 1 });
    const missing = await api.post("/flows/", {});
    expect(missing.body.exception_detail[0]).toMatchObject({ type: "missing", loc: ["body", "name"] });
    const badName = await api.post("/flows/", { name: "a/b" });
    expect(badName.status).toBe(422);
  });

  test("update, filter, count, paginate and delete", async () => {
    const { body: flow } = await api.post("/flows/", { name: "zeta-flow" });
    expect((await api.patch(`/flows/${flow.id}`, { tags: ["t1"] })).status).toBe(204);
    const filtered = await api.post("/flows/filter", { flows: { tags: { all_: ["t1"] } }, sort: null, limit: null });
    expect(filtered.body.map((f: { name: string }) => f.name)).toEqual(["zeta-flow"]);
    expect((await api.post("/flows/count", { flows: { name: { like_: "ZETA" } } })).body).toBe(1);
    const page = await api.post("/flows/paginate", { limit: 1, page: 1 });
    expect(page.body).toMatchObject({ limit: 1, page: 1 });
    expect(page.body.pages).toBe(page.body.count);
    expect((await api.post("/flows/filter", { limit: 201 })).body).toEqual({
      detail: "Invalid limit: must be less than or equal to 200.",
    });
    expect((await api.delete(`/flows/${flow.id}`)).status).toBe(204);
    expect((await api.delete(`/flows/${flow.id}`)).status).toBe(404);
  });

  test("an empty flow_runs filter restricts to flows that have runs", async () => {
    const res = await api.post("/flows/filter", { flow_runs: {} });
    expect(res.status).toBe(200);
    expect(res.body).toEqual([]);
  });
});
