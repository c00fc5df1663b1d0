import { afterAll, describe, expect, test } from "bun:test";
import { createTestApi, ManualClock } from "../support/api";

const T0 = Date.UTC(2025, 0, 1) * 1000;
const BASE = "/concurrency_limits";

function freshApi() {
  const clock = new ManualClock(T0);
  const api = createTestApi({ clock });
  /** The v2 limit behind a tag, as `/v2/concurrency_limits` shows it. */
  const v2 = async (tag: string) => (await api.get(`/v2/concurrency_limits/${encodeURIComponent(`tag:${tag}`)}`)).body;
  const increment = (names: string[], taskRunId: string) => api.post(`${BASE}/increment`, { names, task_run_id: taskRunId });
  return { api, clock, v2, increment };
}

describe("v1 concurrency limits: create, read, list, delete", () => {
  const { api, v2 } = freshApi();
  afterAll(() => api.close());

  test("create makes a `tag:` v2 limit and answers the v1 view (201)", async () => {
    const res = await api.post(`${BASE}/`, { tag: "db", concurrency_limit: 2 });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(String),
      created: "2025-01-01T00:00:00Z",
      updated: "2025-01-01T00:00:00Z",
      tag: "db",
      concurrency_limit: 2,
      active_slots: [],
    });
    expect(await v2("db")).toMatchObject({ id: res.body.id, name: "tag:db", limit: 2, active: true, active_slots: 0 });
  });

  test("create with an existing tag updates the limit (200), same id", async () => {
    const first = (await api.get(`${BASE}/tag/db`)).body;
    const res = await api.post(`${BASE}/`, { tag: "db", concurrency_limit: 5 });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: first.id, tag: "db", concurrency_limit: 5 });
    expect((await v2("db")).limit).toBe(5);
  });

  test("read by id and by tag; misses are 404; v2 limits of other kinds are not v1 limits", async () => {
    const byTag = (await api.get(`${BASE}/tag/db`)).body;
    expect((await api.get(`${BASE}/${byTag.id}`)).body).toEqual(byTag);
    expect(await api.get(`${BASE}/tag/nope`)).toMatchObject({ status: 404, body: { detail: "Concurrency limit not found" } });
    expect(await api.get(`${BASE}/${crypto.randomUUID()}`)).toMatchObject({ status: 404, body: { detail: "Concurrency limit not found" } });
    const global = (await api.post("/v2/concurrency_limits/", { name: "global", limit: 1 })).body;
    expect((await api.get(`${BASE}/${global.id}`)).status).toBe(404);
  });

  test("unknown fields and missing ones are 422", async () => {
    expect((await api.post(`${BASE}/`, { tag: "x" })).status).toBe(422);
    expect((await api.post(`${BASE}/`, { tag: "x", concurrency_limit: 1, extra: true })).status).toBe(422);
  });

  test("filter lists only tag limits, by tag, with limit/offset", async () => {
    await api.post(`${BASE}/`, { tag: "api", concurrency_limit: 1 });
    await api.post("/v2/concurrency_limits/", { name: "deployment:x", limit: 1 });
    const tags = async (body: Record<string, unknown>) => (await api.post(`${BASE}/filter`, body)).body.map((l: { tag: string }) => l.tag);
    expect(await tags({})).toEqual(["api", "db"]);
    expect(await tags({ offset: 1 })).toEqual(["db"]);
    expect(await tags({ limit: 1 })).toEqual(["api"]);
  });

  test("delete by tag and by id answer 200 null; misses 404", async () => {
    const res = await api.delete(`${BASE}/tag/api`);
    expect(res).toMatchObject({ status: 200, body: null });
    expect((await api.get(`${BASE}/tag/api`)).status).toBe(404);
    expect(await api.delete(`${BASE}/tag/api`)).toMatchObject({ status: 404, body: { detail: "Concurrency limit not found" } });
    const db = (await api.get(`${BASE}/tag/db`)).body;
    expect(await api.delete(`${BASE}/${db.id}`)).toMatchObject({ status: 200, body: null });
    expect((await api.get("/v2/concurrency_limits/tag:db")).status).toBe(404);
    expect((await api.delete(`${BASE}/${db.id}`)).status).toBe(404);
  });
});

describe("v1 concurrency limits: slots", () => {
  const { api, v2, increment } = freshApi();
  afterAll(() => api.close());
  const run1 = crypto.randomUUID();
  const run2 = crypto.randomUUID();
  const run3 = crypto.randomUUID();

  test("increment takes a slot on each active tag limit under a lease held by the task run", async () => {
    await api.post(`${BASE}/`, { tag: "a", concurrency_limit: 2 });
    await api.post(`${BASE}/`, { tag: "b", concurrency_limit: 1 });
    const res = await increment(["b", "a", "unlimited"], run1);
    expect(res.status).toBe(200);
    // In the order asked for, with the tag as the name; tags without a limit are skipped.
    expect(res.body).toEqual([
      { id: expect.any(String), name: "b", limit: 1 },
      { id: expect.any(String), name: "a", limit: 2 },
    ]);
    expect((await v2("a")).active_slots).toBe(1);
    expect((await api.get(`${BASE}/tag/a`)).body.active_slots).toEqual([run1]);
    expect((await api.get(`${BASE}/tag/b`)).body.active_slots).toEqual([run1]);
  });

  test("a full limit refuses all of them: 423 naming it, Retry-After 10, nothing taken", async () => {
    const res = await increment(["a", "b"], run2);
    expect(res.status).toBe(423);
    expect(res.body).toEqual({ detail: "Concurrency limit for the b tag has been reached" });
    expect(res.headers.get("retry-after")).toBe("10");
    expect((await v2("a")).active_slots).toBe(1);
  });

  test("a zero limit is 423 before anything is taken, without Retry-After", async () => {
    await api.post(`${BASE}/`, { tag: "zero", concurrency_limit: 0 });
    const res = await increment(["a", "zero"], run2);
    expect(res.status).toBe(423);
    expect(res.body).toEqual({ detail: 'The concurrency limit on tag "zero" is 0 and will deadlock if the task tries to run again.' });
    expect(res.headers.get("retry-after")).toBeNull();
    expect((await v2("a")).active_slots).toBe(1);
  });

  test("inactive limits are skipped", async () => {
    await api.post(`${BASE}/`, { tag: "off", concurrency_limit: 1 });
    await api.patch("/v2/concurrency_limits/tag:off", { active: false });
    expect((await increment(["off"], run2)).body).toEqual([]);
    expect((await v2("off")).active_slots).toBe(0);
  });

  test("decrement releases the task run's lease on every limit it holds (answers the full names)", async () => {
    const res = await api.post(`${BASE}/decrement`, { names: ["a"], task_run_id: run1, occupancy_seconds: 1.5 });
    expect(res.status).toBe(200);
    expect(res.body).toEqual([{ id: expect.any(String), name: "tag:a", limit: 2 }]);
    // The lease covered both tags, so both slots come back.
    expect((await v2("a")).active_slots).toBe(0);
    expect((await v2("b")).active_slots).toBe(0);
    expect((await api.get(`${BASE}/tag/b`)).body.active_slots).toEqual([]);
    // Decrementing again (or for a run without a lease) changes nothing.
    expect((await api.post(`${BASE}/decrement`, { names: ["a", "b"], task_run_id: run1 })).status).toBe(200);
    expect((await v2("a")).active_slots).toBe(0);
  });

  test("holders taken through the v2 lease API count as active slots when they are task runs", async () => {
    await api.post("/v2/concurrency_limits/increment-with-lease", { names: ["tag:a"], slots: 1, holder: { type: "task_run", id: run2 } });
    await api.post("/v2/concurrency_limits/increment-with-lease", { names: ["tag:a"], slots: 1, holder: { type: "flow_run", id: run3 } });
    expect((await api.get(`${BASE}/tag/a`)).body.active_slots).toEqual([run2]);
    expect((await v2("a")).active_slots).toBe(2);
  });

  test("reset gives back the limit's held slots and hands slots to the override task runs, while there is room", async () => {
    const override = [run3, crypto.randomUUID(), crypto.randomUUID()];
    const res = await api.post(`${BASE}/tag/a/reset`, { slot_override: override });
    expect(res).toMatchObject({ status: 200, body: null });
    expect((await api.get(`${BASE}/tag/a`)).body.active_slots).toEqual(override.slice(0, 2));
    expect((await v2("a")).active_slots).toBe(2);
    expect((await api.post(`${BASE}/tag/a/reset`)).status).toBe(200);
    expect((await api.get(`${BASE}/tag/a`)).body.active_slots).toEqual([]);
    expect((await v2("a")).active_slots).toBe(0);
    expect(await api.post(`${BASE}/tag/nope/reset`, {})).toMatchObject({ status: 404, body: { detail: "Concurrency limit not found" } });
  });

  test("reset keeps a lease's other limits held", async () => {
    const run = crypto.randomUUID();
    await increment(["a", "b"], run);
    await api.post(`${BASE}/tag/a/reset`, {});
    expect((await v2("a")).active_slots).toBe(0);
    expect((await v2("b")).active_slots).toBe(1);
    expect((await api.get(`${BASE}/tag/b`)).body.active_slots).toEqual([run]);
    await api.post(`${BASE}/decrement`, { names: ["b"], task_run_id: run });
    expect((await v2("b")).active_slots).toBe(0);
  });

  test("increment and decrement bodies need names and a task run id", async () => {
    expect((await api.post(`${BASE}/increment`, { names: ["a"] })).status).toBe(422);
    expect((await api.post(`${BASE}/decrement`, { task_run_id: run1 })).status).toBe(422);
  });
});
