import { afterAll, describe, expect, test } from "bun:test";
import { createTestApi } from "../support/api";

const FLOW_RUN = "0194a2c1-7d3e-7b1a-9c55-2f0e8d1b6a10";
const TASK_RUN = "0194a2c1-7d3e-7b1a-9c55-2f0e8d1b6a11";

interface LogJson {
  id: string;
  name: string;
  level: number;
  message: string;
  timestamp: string;
  flow_run_id: string | null;
  task_run_id: string | null;
}

const entry = (message: string, timestamp: string, extra: Record<string, unknown> = {}) => ({
  name: "prefect.test",
  level: 20,
  message,
  timestamp,
  ...extra,
});

describe("logs: create", () => {
  const api = createTestApi();
  afterAll(() => api.close());
  const all = async () => (await api.post<LogJson[]>("/logs/filter", {})).body;

  test("a batch answers 201 with a JSON null body", async () => {
    const res = await api.post("/logs/", [entry("one", "2024-01-01T00:00:01Z"), entry("two", "2024-01-01T00:00:02Z")]);
    expect(res.status).toBe(201);
    expect(res.text).toBe("null");
    expect((await all()).map((l) => l.message)).toEqual(["one", "two"]);
  });

  test("stored logs come back in Prefect's shape, timestamps in UTC", async () => {
    await api.post("/logs", [
      entry("shaped", "2024-01-01T02:00:03.5+01:00", { level: 40, flow_run_id: FLOW_RUN.toUpperCase(), task_run_id: TASK_RUN }),
    ]);
    const log = (await all()).find((l) => l.message === "shaped");
    expect(log).toEqual({
      id: expect.any(String),
      created: expect.stringMatching(/Z$/),
      updated: expect.stringMatching(/Z$/),
      name: "prefect.test",
      level: 40,
      message: "shaped",
      timestamp: "2024-01-01T01:00:03.500000Z",
      flow_run_id: FLOW_RUN,
      task_run_id: TASK_RUN,
    } as LogJson);
  });

  test("NUL bytes are stripped from name and message", async () => {
    await api.post("/logs/", [{ name: "nul\u0000logger", level: 20, message: "a\u0000b\u0000c", timestamp: "2024-01-02T00:00:00Z" }]);
    const log = (await all()).find((l) => l.message === "abc");
    expect(log?.name).toBe("nullogger");
  });

  test("a batch with one invalid entry is rejected whole and writes nothing", async () => {
    const before = (await all()).length;
    const missing = await api.post("/logs/", [entry("valid", "2024-01-03T00:00:00Z"), { name: "n", level: 20, message: "m" }]);
    expect(missing.status).toBe(422);
    expect(missing.body.exception_detail[0]).toMatchObject({ type: "missing", loc: ["body", 1, "timestamp"] });
    const extra = await api.post("/logs/", [entry("valid", "2024-01-03T00:00:00Z", { extra: 1 })]);
    expect(extra.body.exception_detail[0]).toMatchObject({ type: "extra_forbidden", loc: ["body", 0, "extra"] });
    expect((await api.post("/logs/", [entry("valid", "not a date")])).status).toBe(422);
    expect((await api.post("/logs/", [entry("valid", "2024-01-03T00:00:00Z", { level: 1.5 })])).status).toBe(422);
    expect((await api.post("/logs/", entry("not an array", "2024-01-03T00:00:00Z"))).status).toBe(422);
    expect(await all()).toHaveLength(before);
  });

  test("an empty batch is accepted", async () => {
    expect((await api.post("/logs/", [])).status).toBe(201);
  });

  test("a batch is validated across its slices: an error past the first 1,000 entries is a 422 with its index", async () => {
    const before = (await all()).length;
    const batch = Array.from({ length: 2500 }, (_, i) => entry(`sliced ${i}`, "2030-01-02T00:00:00Z"));
    batch[2345] = entry("bad", "not a date");
    const res = await api.post("/logs/", batch);
    expect(res.status).toBe(422);
    expect(res.body.exception_detail).toEqual([
      { type: "datetime_from_date_parsing", loc: ["body", 2345, "timestamp"], msg: "Input should be a valid datetime", input: "not a date" },
    ]);
    expect(await all()).toHaveLength(before);
  });

  test("values are decoded as Elysia decodes them: a numeric-string level is an integer, ids canonical", async () => {
    await api.post("/logs/", [entry("decoded", "2030-01-03T00:00:00Z", { level: "30", flow_run_id: FLOW_RUN.toUpperCase() })]);
    const log = (await all()).find((l) => l.message === "decoded");
    expect(log).toMatchObject({ level: 30, flow_run_id: FLOW_RUN });
  });

  test("a large batch lands in one request", async () => {
    const batch = Array.from({ length: 5000 }, (_, i) => entry(`bulk ${i}`, "2030-01-01T00:00:00Z", { flow_run_id: TASK_RUN }));
    expect((await api.post("/logs/", batch)).status).toBe(201);
    const stored = await api.context.store.read((q) => q.logs.list({ flow_run_id: { any_: [TASK_RUN] } }, "TIMESTAMP_ASC", 10_000, 0));
    expect(stored).toHaveLength(5000);
  });
});

describe("logs: filter", () => {
  const api = createTestApi();
  afterAll(() => api.close());
  const find = async (body: object) => {
    const res = await api.post<LogJson[]>("/logs/filter", body);
    expect(res.status).toBe(200);
    return res.body.map((l) => l.message);
  };
  const search = (query: string, extra: object = {}) => find({ logs: { text: { query }, ...extra } });

  test("seed", async () => {
    const res = await api.post("/logs/", [
      { name: "prefect.flow_runs", level: 20, message: "Hello World", timestamp: "2024-01-01T00:00:01Z", flow_run_id: FLOW_RUN },
      { name: "prefect.task_runs", level: 40, message: "Connection timeout happened", timestamp: "2024-01-01T00:00:02Z", flow_run_id: FLOW_RUN, task_run_id: TASK_RUN },
      { name: "mylogger", level: 10, message: "debug 100% done_x", timestamp: "2024-01-01T00:00:04Z" },
      { name: "other", level: 30, message: 'say "hi" there', timestamp: "2024-01-01T00:00:03Z" },
    ]);
    expect(res.status).toBe(201);
  });

  test("timestamp ascending by default; TIMESTAMP_DESC reverses; limit/offset page", async () => {
    const ascending = ["Hello World", "Connection timeout happened", 'say "hi" there', "debug 100% done_x"];
    expect(await find({})).toEqual(ascending);
    expect(await find({ sort: "TIMESTAMP_DESC" })).toEqual([...ascending].reverse());
    expect(await find({ limit: 2, offset: 1 })).toEqual(ascending.slice(1, 3));
    expect((await api.post("/logs/filter", { limit: 201 })).status).toBe(422);
    expect((await api.post("/logs/filter", { sort: "LEVEL_ASC" })).status).toBe(422);
  });

  test("level ge_/le_ and timestamp before_/after_ are inclusive", async () => {
    expect(await find({ logs: { level: { ge_: 20, le_: 30 } } })).toEqual(["Hello World", 'say "hi" there']);
    expect(await find({ logs: { timestamp: { after_: "2024-01-01T00:00:02Z", before_: "2024-01-01 01:00:03+01:00" } } })).toEqual([
      "Connection timeout happened",
      'say "hi" there',
    ]);
  });

  test("flow_run_id any_ and task_run_id any_/is_null_", async () => {
    expect(await find({ logs: { flow_run_id: { any_: [FLOW_RUN] } } })).toEqual(["Hello World", "Connection timeout happened"]);
    expect(await find({ logs: { task_run_id: { any_: [TASK_RUN.toUpperCase()] } } })).toEqual(["Connection timeout happened"]);
    expect(await find({ logs: { flow_run_id: { any_: [FLOW_RUN] }, task_run_id: { is_null_: true } } })).toEqual(["Hello World"]);
    expect(await find({ logs: { task_run_id: { is_null_: false } } })).toEqual(["Connection timeout happened"]);
    expect(await find({ logs: { flow_run_id: { any_: [] } } })).toEqual([]);
  });

  test("text search: terms OR-ed, case-insensitive, over message and logger name", async () => {
    expect(await search("WORLD timeout")).toEqual(["Hello World", "Connection timeout happened"]);
    expect(await search("mylogger")).toEqual(["debug 100% done_x"]);
    expect(await search("task_runs")).toEqual(["Connection timeout happened"]);
  });

  test("text search: -term / !term exclude, +term is required", async () => {
    expect(await search("-hello !debug")).toEqual(["Connection timeout happened", 'say "hi" there']);
    expect(await search("+prefect +timeout")).toEqual(["Connection timeout happened"]);
    expect(await search("world -prefect")).toEqual([]);
  });

  test("text search: quoted phrases with escapes; % and _ are literal", async () => {
    expect(await search('"say \\"hi\\""')).toEqual(['say "hi" there']);
    expect(await search('"world connection"')).toEqual([]);
    expect(await search("100%")).toEqual(["debug 100% done_x"]);
    expect(await search("e_x")).toEqual(["debug 100% done_x"]);
    expect(await search("%")).toEqual(["debug 100% done_x"]);
  });

  test("text search: a blank query matches everything; over 200 characters is 422", async () => {
    expect(await search("   ")).toHaveLength(4);
    const long = await api.post("/logs/filter", { logs: { text: { query: "x".repeat(201) } } });
    expect(long.status).toBe(422);
    expect(long.body.exception_detail[0]).toMatchObject({
      type: "string_too_long",
      loc: ["body", "logs", "text", "query"],
      msg: "String should have at most 200 characters",
    });
    expect((await api.post("/logs/filter", { logs: { text: {} } })).status).toBe(422);
  });

  test("operator or_: each text criterion is its own alternative; an empty sub-filter matches all", async () => {
    // or(level >= 40, NOT hello AND NOT timeout)
    expect(await search("-timeout -hello", { operator: "or_", level: { ge_: 40 } })).toEqual([
      "Connection timeout happened",
      'say "hi" there',
      "debug 100% done_x",
    ]);
    expect(await find({ logs: { operator: "or_", level: {}, task_run_id: { is_null_: false } } })).toHaveLength(4);
  });

  test("unknown filter keys are 422 (LogFilter has no `name`)", async () => {
    expect((await api.post("/logs/filter", { logs: { name: { any_: ["other"] } } })).status).toBe(422);
    expect((await api.post("/logs/filter", { logs: { level: { gt_: 1 } } })).status).toBe(422);
  });
});
