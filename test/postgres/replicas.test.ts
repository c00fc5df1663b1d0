/**
 * Two replicas of the executable on one PostgreSQL database, behind a round-robin TCP proxy
 * (test/support/tcp-proxy.ts), driven over HTTP as clients would: the races the issue names
 * are decided by the database's row locks, whichever replica a request lands on.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ensureBinary } from "../support/binary";
import { createTestDatabase, type TestDatabase } from "../support/postgres";
import { startServerProcess, type ServerProcess } from "../support/server-process";
import { startTcpProxy, type TcpProxy } from "../support/tcp-proxy";

let database: TestDatabase;
let replicas: ServerProcess[] = [];
let proxy: TcpProxy;
/** Each replica's API, and the proxy's. */
let direct: string[] = [];
let viaProxy = "";

beforeAll(async () => {
  const binary = await ensureBinary();
  database = await createTestDatabase();
  // Started one after the other: the second finds the schema migrated and migrates nothing.
  for (let i = 0; i < 2; i++) replicas.push(await startServerProcess([binary, "--no-ui"], { dbPath: database.url }));
  direct = replicas.map((r) => r.apiUrl);
  proxy = startTcpProxy(replicas.map((r) => Number(new URL(r.apiUrl).port)));
  viaProxy = `http://127.0.0.1:${proxy.port}/api`;
}, 60_000);

afterAll(async () => {
  proxy?.stop();
  const stopped = await Promise.all(replicas.map((r) => r.stop()));
  await database?.drop();
  for (const { exitCode, stderr } of stopped) if (exitCode !== 0) throw new Error(`a replica exited ${exitCode}:\n${stderr}`);
});

async function call(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  // a new connection per request, so the proxy spreads them over both replicas
  const res = await fetch(`${base}${path}`, { method, headers: { "content-type": "application/json", connection: "close" }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function flowRun(extra: Record<string, unknown> = {}) {
  const flow = await call(viaProxy, "POST", "/flows/", { name: `replica-flow-${crypto.randomUUID().slice(0, 8)}` });
  const run = await call(viaProxy, "POST", "/flow_runs/", { flow_id: flow.body.id, state: { type: "SCHEDULED" }, ...extra });
  expect(run.status).toBe(201);
  return run.body as { id: string };
}

describe("two replicas on one database", () => {
  test("both serve the same data: what one writes, the other reads at once", async () => {
    const flow = await call(direct[0]!, "POST", "/flows/", { name: "written-on-a" });
    expect((await call(direct[1]!, "GET", `/flows/${flow.body.id}`)).body.name).toBe("written-on-a");
  });

  test("100 clients racing PENDING on one run, spread over both replicas: exactly one ACCEPT, no errors", async () => {
    const run = await flowRun();
    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, i) => call(direct[i % 2]!, "POST", `/flow_runs/${run.id}/set_state`, { state: { type: "PENDING" } })),
    );
    expect(answers.filter((a) => a.status >= 500)).toEqual([]);
    const statuses = answers.map((a) => a.body.status);
    expect(statuses.filter((s) => s === "ACCEPT")).toHaveLength(1);
    expect(statuses.filter((s) => s !== "ACCEPT").every((s) => s === "ABORT" || s === "REJECT")).toBe(true);
    const states = await call(viaProxy, "GET", `/flow_run_states/?flow_run_id=${run.id}`);
    expect(states.body.map((s: { type: string }) => s.type)).toEqual(["SCHEDULED", "PENDING"]);
  });

  test("a 1-slot global concurrency limit taken by 50 clients over both replicas: exactly one holder", async () => {
    const name = `one-slot-${crypto.randomUUID().slice(0, 8)}`;
    expect((await call(viaProxy, "POST", "/v2/concurrency_limits/", { name, limit: 1 })).status).toBe(201);
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => call(direct[i % 2]!, "POST", "/v2/concurrency_limits/increment", { names: [name], slots: 1, mode: "concurrency" })),
    );
    expect(answers.filter((a) => a.status >= 500)).toEqual([]);
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    expect(answers.filter((a) => a.status !== 200).every((a) => a.status === 423)).toBe(true);
    expect((await call(viaProxy, "GET", `/v2/concurrency_limits/${name}`)).body.active_slots).toBe(1);
  });

  test("no 'database is locked': 400 concurrent writes of runs, states and logs over both replicas all succeed", async () => {
    const runs = await Promise.all(Array.from({ length: 20 }, () => flowRun()));
    const writes = runs.flatMap((run, i) => [
      ...["PENDING", "RUNNING"].map((type) => () => call(direct[i % 2]!, "POST", `/flow_runs/${run.id}/set_state`, { state: { type } })),
      ...Array.from({ length: 18 }, (_, j) => () =>
        call(direct[(i + j) % 2]!, "POST", "/logs/", [{ name: "replica", level: 20, message: `line ${j}`, timestamp: new Date().toISOString(), flow_run_id: run.id }]),
      ),
    ]);
    const answers = await Promise.all(writes.map((write) => write()));
    expect(answers.filter((a) => a.status >= 400)).toEqual([]);
    const perRun = await Promise.all(runs.map((run) => call(viaProxy, "POST", "/logs/filter", { logs: { flow_run_id: { any_: [run.id] } } })));
    expect(perRun.map((logs) => logs.body.length)).toEqual(runs.map(() => 18));
  });

  test("the proxy really spread the work over both replicas", () => {
    expect(proxy.connections.every((n) => n > 10)).toBe(true);
  });
});
