import { afterAll, describe, expect, test } from "bun:test";
import { INTEGRITY_CONFLICT } from "../../src/api/errors";
import { createTestApi, ManualClock } from "../support/api";

const T0 = Date.UTC(2025, 0, 1) * 1000;

function freshApi() {
  const clock = new ManualClock(T0);
  return { api: createTestApi({ clock }), clock };
}

const names = (body: { name: string }[]) => body.map((v) => v.name);

describe("variables: create and read", () => {
  const { api } = freshApi();
  afterAll(() => api.close());

  test("create answers 201 with the full variable; tags default to []", async () => {
    const res = await api.post("/variables/", { name: "my_var-1", value: { nested: "object", count: 42 } });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id: expect.any(String),
      created: "2025-01-01T00:00:00Z",
      updated: "2025-01-01T00:00:00Z",
      name: "my_var-1",
      value: { nested: "object", count: 42 },
      tags: [],
    });
  });

  test.each([
    ["null", null],
    ["int", 7],
    ["float", 1.5],
    ["bool", false],
    ["string", "text"],
    ["array", [1, "two", null, { three: 3 }]],
  ])("any JSON value round-trips (%s)", async (kind, value) => {
    const created = await api.post("/variables/", { name: `value-${kind}`, value, tags: ["t"] });
    expect(created.status).toBe(201);
    const read = await api.get(`/variables/${created.body.id}`);
    expect(read.body).toMatchObject({ value, tags: ["t"] });
  });

  test("a taken name is 409 with Prefect's message", async () => {
    await api.post("/variables/", { name: "dupe", value: 1 });
    const again = await api.post("/variables/", { name: "dupe", value: "other" });
    expect(again).toMatchObject({ status: 409, body: { detail: "A variable with the name 'dupe' already exists." } });
    expect((await api.get("/variables/name/dupe")).body.value).toBe(1);
  });

  test("read by id (any UUID spelling) and by name; misses are 404", async () => {
    const { body: created } = await api.post("/variables/", { name: "reader", value: "x" });
    expect((await api.get(`/variables/${created.id}`)).body.name).toBe("reader");
    expect((await api.get(`/variables/${created.id.toUpperCase()}`)).body.name).toBe("reader");
    expect((await api.get("/variables/name/reader")).body.id).toBe(created.id);
    expect(await api.get(`/variables/${crypto.randomUUID()}`)).toMatchObject({ status: 404, body: { detail: "Variable not found." } });
    expect(await api.get("/variables/name/nope")).toMatchObject({ status: 404, body: { detail: "Variable not found." } });
    expect(await api.get("/variables/not-a-uuid")).toMatchObject({ status: 404, body: { detail: "Not Found" } });
  });
});

describe("variables: validation", () => {
  const { api } = freshApi();
  afterAll(() => api.close());

  test("names allow only lowercase letters, digits, dashes and underscores", async () => {
    const res = await api.post("/variables/", { name: "Bad Name", value: 1 });
    expect(res.status).toBe(422);
    expect(res.body.exception_detail).toEqual([
      {
        type: "value_error",
        loc: ["body", "name"],
        msg: "Value error, Variable name must only contain lowercase letters, numbers, and dashes or underscores.",
        input: "Bad Name",
      },
    ]);
    expect((await api.post("/variables/", { name: "", value: 1 })).status).toBe(201);
    // Prefect's re.match(...$) lets one trailing newline through
    expect((await api.post("/variables/", { name: "trailing\n", value: 1 })).status).toBe(201);
    expect((await api.post("/variables/", { name: "two\n\n", value: 1 })).status).toBe(422);
  });

  test("names longer than 255 characters are rejected after the pattern check", async () => {
    expect((await api.post("/variables/", { name: "a".repeat(255), value: 1 })).status).toBe(201);
    const res = await api.post("/variables/", { name: "a".repeat(256), value: 1 });
    expect(res.body.exception_detail[0]).toMatchObject({
      type: "too_long",
      msg: "Value should have at most 255 items after validation, not 256",
    });
    const both = await api.post("/variables/", { name: "A".repeat(256), value: 1 });
    expect(both.body.exception_detail[0].type).toBe("value_error");
  });

  test("values are limited to 5000 bytes of JSON", async () => {
    expect((await api.post("/variables/", { name: "fits", value: "é".repeat(2499) })).status).toBe(201); // 4998 + 2 quotes
    const res = await api.post("/variables/", { name: "too-big", value: "é".repeat(2500) });
    expect(res.status).toBe(422);
    expect(res.body.exception_detail[0]).toMatchObject({
      type: "value_error",
      loc: ["body", "value"],
      msg: "Value error, Variable value must be less than 5000 characters",
    });
    expect((await api.get("/variables/name/too-big")).status).toBe(404);
  });

  test("missing value, unknown keys and null or non-string tags are 422", async () => {
    const missing = await api.post("/variables/", { name: "no-value" });
    expect(missing.body.exception_detail[0]).toMatchObject({ type: "missing", loc: ["body", "value"] });
    const extra = await api.post("/variables/", { name: "extra", value: 1, nope: true });
    expect(extra.body.exception_detail[0]).toMatchObject({ type: "extra_forbidden", loc: ["body", "nope"] });
    expect((await api.post("/variables/", { name: "t1", value: 1, tags: null })).status).toBe(422);
    expect((await api.post("/variables/", { name: "t2", value: 1, tags: [1] })).status).toBe(422);
  });
});

describe("variables: update and delete", () => {
  const { api, clock } = freshApi();
  afterAll(() => api.close());

  test("PATCH by name and by id write only the keys sent and bump updated", async () => {
    const { body: created } = await api.post("/variables/", { name: "patched", value: 1, tags: ["a"] });
    clock.set(T0 + 5_000_000);
    const byName = await api.patch("/variables/name/patched", { value: "updated" });
    expect(byName).toMatchObject({ status: 204, text: "" });
    expect((await api.get(`/variables/${created.id}`)).body).toMatchObject({
      value: "updated",
      tags: ["a"],
      updated: "2025-01-01T00:00:05Z",
    });
    expect((await api.patch(`/variables/${created.id}`, { name: "renamed", value: null, tags: [] })).status).toBe(204);
    expect((await api.get(`/variables/${created.id}`)).body).toMatchObject({ name: "renamed", value: null, tags: [] });
  });

  test("PATCH of a missing variable is 404; renaming onto a taken name is 409", async () => {
    expect(await api.patch(`/variables/${crypto.randomUUID()}`, { value: 1 })).toMatchObject({
      status: 404,
      body: { detail: "Variable not found." },
    });
    expect((await api.patch("/variables/name/ghost", {})).status).toBe(404);
    await api.post("/variables/", { name: "first", value: 1 });
    await api.post("/variables/", { name: "second", value: 2 });
    const clash = await api.patch("/variables/name/second", { name: "first" });
    expect(clash).toMatchObject({ status: 409, body: { detail: INTEGRITY_CONFLICT } });
    expect((await api.get("/variables/name/second")).body.value).toBe(2);
  });

  test("explicit null name or tags hit the NOT NULL constraint (409) and change nothing, as in Prefect", async () => {
    const { body: created } = await api.post("/variables/", { name: "nullable", value: 1, tags: ["keep"] });
    expect((await api.patch(`/variables/${created.id}`, { name: null })).status).toBe(409);
    expect((await api.patch(`/variables/${created.id}`, { tags: null, value: 2 })).status).toBe(409);
    expect((await api.get(`/variables/${created.id}`)).body).toMatchObject({ name: "nullable", value: 1, tags: ["keep"] });
  });

  test("PATCH validates names and rejects unknown keys", async () => {
    await api.post("/variables/", { name: "strict", value: 1 });
    expect((await api.patch("/variables/name/strict", { name: "Not-Valid" })).status).toBe(422);
    expect((await api.patch("/variables/name/strict", { bogus: 1 })).body.exception_detail[0].type).toBe("extra_forbidden");
  });

  test("DELETE by id and by name: 204, then 404", async () => {
    const { body: a } = await api.post("/variables/", { name: "del-a", value: 1 });
    await api.post("/variables/", { name: "del-b", value: 1 });
    expect((await api.delete(`/variables/${a.id}`)).status).toBe(204);
    expect((await api.delete(`/variables/${a.id}`)).body).toEqual({ detail: "Variable not found." });
    expect((await api.delete("/variables/name/del-b")).status).toBe(204);
    expect((await api.delete("/variables/name/del-b")).status).toBe(404);
    expect((await api.get("/variables/name/del-b")).status).toBe(404);
  });
});

describe("variables: filter, sort and count", () => {
  const { api, clock } = freshApi();
  afterAll(() => api.close());

  // created in this order, one second apart: b, c, a, a_b, a-b
  const seed = [
    { name: "b", value: 1, tags: ["x"] },
    { name: "c", value: 1, tags: ["x", "y"] },
    { name: "a", value: 1, tags: [] },
    { name: "a_b", value: 1, tags: ["y"] },
    { name: "a-b", value: 1, tags: [] },
  ];
  const ids: Record<string, string> = {};

  test("seed", async () => {
    for (const [i, v] of seed.entries()) {
      clock.set(T0 + i * 1_000_000);
      ids[v.name] = (await api.post("/variables/", v)).body.id;
    }
    clock.set(T0 + 10_000_000);
    await api.patch("/variables/name/b", { value: 2 });
  });

  test("sorts: NAME_ASC by default, NAME_DESC, CREATED_DESC, UPDATED_DESC", async () => {
    expect(names((await api.post("/variables/filter", {})).body)).toEqual(["a", "a-b", "a_b", "b", "c"]);
    expect(names((await api.post("/variables/filter", { sort: null })).body)).toEqual(["a", "a-b", "a_b", "b", "c"]);
    expect(names((await api.post("/variables/filter", { sort: "NAME_DESC" })).body)).toEqual(["c", "b", "a_b", "a-b", "a"]);
    expect(names((await api.post("/variables/filter", { sort: "CREATED_DESC" })).body)).toEqual(["a-b", "a_b", "a", "c", "b"]);
    expect(names((await api.post("/variables/filter", { sort: "UPDATED_DESC" })).body)[0]).toBe("b");
    expect((await api.post("/variables/filter", { sort: "NOPE" })).status).toBe(422);
  });

  test("limit and offset page through the sorted list", async () => {
    expect(names((await api.post("/variables/filter", { limit: 2, offset: 1 })).body)).toEqual(["a-b", "a_b"]);
    expect((await api.post("/variables/filter", { limit: 0 })).body).toEqual([]);
    expect((await api.post("/variables/filter", { limit: 201 })).body).toEqual({ detail: "Invalid limit: must be less than or equal to 200." });
    expect((await api.post("/variables/filter", { offset: -1 })).status).toBe(422);
  });

  test("name any_ and like_ (case-insensitive; `_` is a LIKE wildcard, as in Prefect)", async () => {
    const filter = (variables: object) => api.post("/variables/filter", { variables });
    expect(names((await filter({ name: { any_: ["a", "c", "zzz"] } })).body)).toEqual(["a", "c"]);
    expect(names((await filter({ name: { like_: "A_B" } })).body)).toEqual(["a-b", "a_b"]);
    expect((await filter({ name: { any_: [] } })).body).toEqual([]);
  });

  test("id any_ and tags all_ / is_null_", async () => {
    const filter = (variables: object) => api.post("/variables/filter", { variables });
    expect(names((await filter({ id: { any_: [ids.a, ids.c] } })).body)).toEqual(["a", "c"]);
    expect((await filter({ id: { any_: ["nope"] } })).status).toBe(422);
    expect(names((await filter({ tags: { all_: ["x", "y"] } })).body)).toEqual(["c"]);
    expect(names((await filter({ tags: { all_: ["y"] } })).body)).toEqual(["a_b", "c"]);
    expect(names((await filter({ tags: { is_null_: true } })).body)).toEqual(["a", "a-b"]);
    expect(names((await filter({ tags: { is_null_: false } })).body)).toEqual(["a_b", "b", "c"]);
    expect((await filter({ tags: { any_: ["x"] } })).status).toBe(422);
  });

  test("operator or_ combines criteria; a present but empty criterion matches everything", async () => {
    const filter = (variables: object) => api.post("/variables/filter", { variables });
    expect(names((await filter({ operator: "or_", name: { any_: ["a"] }, tags: { all_: ["y"] } })).body)).toEqual(["a", "a_b", "c"]);
    expect((await filter({ operator: "or_", name: {}, tags: { all_: ["y"] } })).body).toHaveLength(5);
    // an empty all_ is ignored rather than read as "matches everything"
    expect(names((await filter({ tags: { operator: "or_", all_: [], is_null_: true } })).body)).toEqual(["a", "a-b"]);
  });

  test("count takes the filter under `variables` and ignores unknown top-level keys", async () => {
    expect((await api.post("/variables/count", {})).body).toBe(5);
    expect((await api.post("/variables/count", { variables: { name: { like_: "a" } } })).body).toBe(3);
    expect((await api.post("/variables/count", { name: { like_: "a" } })).body).toBe(5);
    expect((await api.post("/variables/count", { variables: { nope: 1 } })).status).toBe(422);
  });
});
