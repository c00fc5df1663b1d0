import { afterAll, describe, expect, test } from "bun:test";
import { createTestApi, ManualClock } from "../support/api";

const T0 = Date.UTC(2025, 0, 1) * 1000;

describe("saved searches", () => {
  const clock = new ManualClock(T0);
  const api = createTestApi({ clock });
  afterAll(() => api.close());

  const filter = { object: "flow_run", property: "state", type: "string", operation: "equals", value: "FAILED" };

  test("PUT creates (201); filters keep only their five fields", async () => {
    const res = await api.put("/saved_searches/", { name: "failed", filters: [{ ...filter, extra: 1 }] });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(String),
      created: "2025-01-01T00:00:00Z",
      updated: "2025-01-01T00:00:00Z",
      name: "failed",
      filters: [filter],
    });
    expect((await api.get(`/saved_searches/${res.body.id}`)).body).toEqual(res.body);
  });

  test("PUT with a taken name replaces the filters only (200): same id, timestamps as Prefect leaves them", async () => {
    const [existing] = (await api.post("/saved_searches/filter", {})).body;
    clock.set(T0 + 60_000_000);
    const res = await api.put("/saved_searches/", { name: "failed" });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ...existing, filters: [] });
  });

  test("filters default to []; value may be any JSON but is required, as are the other fields", async () => {
    const ok = await api.put("/saved_searches/", { name: "any-value", filters: [{ ...filter, value: null }, { ...filter, value: [1, { a: 2 }] }] });
    expect(ok.status).toBe(201);
    expect(ok.body.filters.map((f: { value: unknown }) => f.value)).toEqual([null, [1, { a: 2 }]]);
    const missing = await api.put("/saved_searches/", { name: "bad", filters: [{ object: "flow" }] });
    expect(missing.status).toBe(422);
    expect(missing.body.exception_detail.map((d: { loc: unknown[] }) => d.loc)).toEqual([
      ["body", "filters", 0, "property"],
      ["body", "filters", 0, "type"],
      ["body", "filters", 0, "operation"],
      ["body", "filters", 0, "value"],
    ]);
    expect((await api.put("/saved_searches/", { name: "x", bogus: 1 })).status).toBe(422);
  });

  test("filter lists by name with limit/offset", async () => {
    await api.put("/saved_searches/", { name: "b-search" });
    const names = async (body: Record<string, unknown>) => (await api.post("/saved_searches/filter", body)).body.map((s: { name: string }) => s.name);
    expect(await names({})).toEqual(["any-value", "b-search", "failed"]);
    expect(await names({ limit: 1, offset: 1 })).toEqual(["b-search"]);
  });

  test("delete answers 204, then the search is gone; misses are 404", async () => {
    const { body } = await api.put("/saved_searches/", { name: "doomed" });
    expect((await api.delete(`/saved_searches/${body.id}`)).status).toBe(204);
    expect(await api.get(`/saved_searches/${body.id}`)).toMatchObject({ status: 404, body: { detail: "Saved search not found" } });
    expect(await api.delete(`/saved_searches/${body.id}`)).toMatchObject({ status: 404, body: { detail: "Saved search not found" } });
    expect((await api.get("/saved_searches/not-a-uuid")).status).toBe(404);
  });
});
