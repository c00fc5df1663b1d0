/** Values that used to reach SQLite unchecked: huge offsets and pages, long tag lists; and how a 500 is logged. */
import { afterAll, describe, expect, test } from "bun:test";
import { unhandledError } from "../../src/api/unhandled";
import type { Logger } from "../../src/logger";
import { createTestApi } from "../support/api";

const api = createTestApi();
afterAll(() => api.close());

const flow = (await api.post("/flows/", { name: "values", tags: ["a", "b"] })).body;
await api.post("/flow_runs/", { flow_id: flow.id, tags: ["t-1", "t-2"] });

describe("offset, limit and page", () => {
  for (const offset of [2 ** 63, 1e20, 1e308, Number.MAX_SAFE_INTEGER + 1]) {
    test(`offset ${offset} is past the end: no rows, not a 500`, async () => {
      for (const path of ["/flows/filter", "/flow_runs/filter", "/task_runs/filter", "/logs/filter", "/variables/filter", "/deployments/filter"]) {
        const res = await api.post(path, { offset });
        expect({ path, status: res.status, body: res.body }).toEqual({ path, status: 200, body: [] });
      }
    });
  }

  test("a huge page is an empty page", async () => {
    for (const path of ["/flows/paginate", "/flow_runs/paginate", "/deployments/paginate", "/task_runs/paginate"]) {
      const res = await api.post(path, { page: 1e300, limit: 10 });
      expect({ path, status: res.status, results: res.body.results }).toEqual({ path, status: 200, results: [] });
    }
  });

  test("/paginate ignores an undeclared offset, as Prefect does", async () => {
    const res = await api.post("/flows/paginate", { offset: "abc" });
    expect(res.status).toBe(200);
    expect(res.body.results.map((f: { id: string }) => f.id)).toEqual([flow.id]);
    expect((await api.post("/flow_runs/paginate", { offset: 5 })).body.count).toBe(1);
    expect((await api.post("/flow_runs/paginate", { offset: 5 })).body.results).toHaveLength(1);
  });

  test("a non-integer offset is a 422", async () => {
    const res = await api.post("/flows/filter", { offset: "abc" });
    expect(res.status).toBe(422);
    expect(res.body.exception_detail[0].loc).toEqual(["body", "offset"]);
  });
});

describe("tag filters", () => {
  const many = (n: number, extra: string[] = []) => [...Array.from({ length: n }, (_, i) => `tag-${i}`), ...extra];

  test("any_ with 5,000 tags matches and stays one condition", async () => {
    const res = await api.post("/flow_runs/filter", { flow_runs: { tags: { any_: many(5000, ["t-2"]) } } });
    expect(res.status).toBe(200);
    expect(res.body).toHaveLength(1);
    expect((await api.post("/flow_runs/filter", { flow_runs: { tags: { any_: many(5000) } } })).body).toEqual([]);
  });

  test("all_ with 5,000 tags requires every one of them", async () => {
    expect((await api.post("/flow_runs/filter", { flow_runs: { tags: { all_: many(5000, ["t-1"]) } } })).body).toEqual([]);
    expect((await api.post("/flow_runs/filter", { flow_runs: { tags: { all_: ["t-1", "t-2", "t-1"] } } })).body).toHaveLength(1);
    expect((await api.post("/flow_runs/filter", { flow_runs: { tags: { all_: ["t-1", "t-3"] } } })).body).toEqual([]);
    expect((await api.post("/flows/filter", { flows: { tags: { all_: [] } } })).body).toHaveLength(1);
  });
});

describe("an unhandled error", () => {
  test("is one log line with the request id; the stack only at debug", async () => {
    const lines: [string, string][] = [];
    const record = (level: string) => (message: string) => void lines.push([level, message]);
    const logger: Logger = { debug: record("debug"), info: record("info"), warning: record("warning"), error: record("error") };
    const request = new Request("http://localhost/api/flows/filter", { method: "POST", headers: { "x-request-id": "req-42" } });
    const res = unhandledError(logger, request, new TypeError("boom\nsecond line"));
    expect(res.status).toBe(500);
    expect(res.headers.get("x-request-id")).toBe("req-42");
    expect(await res.json()).toEqual({ exception_message: "Internal Server Error" });
    expect(lines.filter(([level]) => level === "error")).toEqual([["error", "POST /api/flows/filter [request req-42] failed: TypeError: boom"]]);
    expect(lines.filter(([level]) => level === "debug")[0]![1]).toContain("[request req-42] TypeError: boom");
  });
});

describe("run history", () => {
  const history = (history_interval_seconds: number, history_end = "3182-04-09T07:26:29Z") =>
    api.post("/flow_runs/history", { history_start: "0758-10-09T13:54:55Z", history_end, history_interval_seconds });

  test("an interval past timedelta's maximum is a 422, not a 500", async () => {
    const res = await history(1.2e146);
    expect(res.status).toBe(422);
    expect(res.body.exception_detail[0]).toMatchObject({ type: "time_delta_parsing", loc: ["body", "history_interval_seconds"] });
  });

  test("buckets never end past the largest datetime", async () => {
    const res = await history(999_999_999 * 86_400, "9999-12-31T00:00:00Z");
    expect(res.status).toBe(200);
    expect(res.body).toHaveLength(1);
    expect(res.body[0].interval_end).toStartWith("9999-12-31T23:59:59");
  });
});
