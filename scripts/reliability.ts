#!/usr/bin/env bun
/**
 * prefect-lite's reliability suite (`npm run reliability [-- --quick | --soak MINUTES]`): the
 * compiled executable (dist/prefect-lite, built when missing) on loopback, attacked as a careless
 * or hostile client would. Sections: state races, kill -9 under write load with acknowledged-write
 * accounting and PRAGMA integrity_check, hostile inputs, auth, shutdown with queued requests, a
 * bounded schemathesis fuzz of every operation in ../shared/reference/prefect-openapi.json
 * (schemathesis from PyPI, installed into scripts/.venv when missing) and, with --soak, RSS and
 * p99 per 30 s window. Every loop is bounded in count and time. It prints one table; the exit
 * status is 1 when a check fails.
 */
import { Database } from "bun:sqlite";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Subprocess } from "bun";
import { freePort } from "../test/support/server-process";

const { values: flags } = parseArgs({
  args: process.argv.slice(2),
  options: { quick: { type: "boolean" }, soak: { type: "string" }, "no-fuzz": { type: "boolean" } },
});
const QUICK = flags.quick === true;
/** The whole run, soak excluded, is stopped (and fails) past this. */
const TIME_LIMIT_SECONDS = QUICK ? 170 : 1200;
const SOAK_MINUTES = flags.soak === undefined ? 0 : Number(flags.soak);
if (!Number.isFinite(SOAK_MINUTES) || SOAK_MINUTES < 0) throw new Error(`--soak takes minutes, got ${flags.soak}`);

const PLAN = QUICK
  ? { raceRepeats: 5, raceClients: 100, kills: 3, writers: 8, fuzzExamples: 3, fuzzSeconds: 90, bigLogLines: 20_000 }
  : { raceRepeats: 20, raceClients: 100, kills: 10, writers: 8, fuzzExamples: 20, fuzzSeconds: 600, bigLogLines: 100_000 };

const root = join(import.meta.dir, "..");
const binary = join(root, "dist/prefect-lite");
const spec = join(root, "../shared/reference/prefect-openapi.json");
const work = mkdtempSync(join(tmpdir(), "prefect-lite-reliability-"));
const started = performance.now();

// ------------------------------------------------------------------ the table

interface Row {
  section: string;
  check: string;
  figure: string;
  /** null: a figure without a pass/fail target */
  ok: boolean | null;
}
const rows: Row[] = [];
const record = (section: string, check: string, figure: string, ok: boolean | null) => {
  rows.push({ section, check, figure, ok });
  console.error(`  ${ok === false ? "FAIL" : ok ? "ok  " : "    "} ${section}: ${check}: ${figure}`);
};

function printTable(): void {
  const head = ["section", "check", "figure", "result"];
  const body = rows.map((r) => [r.section, r.check, r.figure, r.ok === null ? "–" : r.ok ? "ok" : "FAILED"]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  console.log(line(head));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const b of body) console.log(line(b));
}

// ------------------------------------------------------------------ the server

interface Server {
  api: string;
  process: Subprocess<"ignore", "ignore", "pipe">;
  log: Promise<string>;
}

/** Every server started, so the watchdog can kill what is left. */
const children = new Set<Subprocess>();

async function startServer(dbPath: string, env: Record<string, string> = {}, extra: string[] = []): Promise<Server> {
  const port = freePort();
  const child = Bun.spawn([binary, "--host", "127.0.0.1", "--port", String(port), "--db", dbPath, "--log-level", "warning", ...extra], {
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "", HOME: work, PREFECT_HOME: work, ...env },
  });
  children.add(child);
  void child.exited.then(() => children.delete(child));
  const server = { api: `http://127.0.0.1:${port}/api`, process: child, log: new Response(child.stderr).text() };
  const deadline = performance.now() + 15_000;
  while (performance.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`prefect-lite exited ${child.exitCode} at start:\n${await server.log}`);
    if (await fetch(`${server.api}/health`).then((r) => r.ok, () => false)) return server;
    await Bun.sleep(10);
  }
  child.kill("SIGKILL");
  throw new Error("prefect-lite was not healthy within 15 s");
}

async function stopServer(server: Server, signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
  server.process.kill(signal);
  return server.process.exited;
}

interface Answer {
  status: number;
  // eslint-disable-next-line -- answers are read field by field
  body: any;
}

async function call(api: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const res = await fetch(`${api}${path}`, {
    method,
    headers: { "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: kept as text
  }
  return { status: res.status, body: parsed };
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]! : NaN;
};

// ------------------------------------------------------------------ 1. state races

async function races(api: string): Promise<void> {
  const flow = (await call(api, "POST", "/flows/", { name: "race" })).body;
  const deployment = (await call(api, "POST", "/deployments/", { name: "race", flow_id: flow.id })).body;
  const newRun = async (withDeployment: boolean) =>
    withDeployment
      ? (await call(api, "POST", `/deployments/${deployment.id}/create_flow_run`, { state: { type: "SCHEDULED" } })).body.id
      : (await call(api, "POST", "/flow_runs/", { flow_id: flow.id, state: { type: "SCHEDULED" } })).body.id;
  const propose = (runId: string, transitionId?: string) =>
    call(api, "POST", `/flow_runs/${runId}/set_state`, {
      state: { type: "PENDING", state_details: transitionId ? { transition_id: transitionId } : {} },
    }).then((a) => a.body?.status ?? `HTTP ${a.status}`);

  for (const [label, withDeployment, sameTransition] of [
    ["PENDING race, no deployment", false, false],
    ["PENDING race, with deployment", true, false],
    ["PENDING race, one transition_id", false, true],
  ] as const) {
    let exact = 0;
    let worst = "";
    for (let i = 0; i < PLAN.raceRepeats; i++) {
      const runId = await newRun(withDeployment);
      const transitionId = sameTransition ? crypto.randomUUID() : undefined;
      const outcomes = await Promise.all(Array.from({ length: PLAN.raceClients }, () => propose(runId, transitionId)));
      const accepts = outcomes.filter((o) => o === "ACCEPT").length;
      const states = (await call(api, "GET", `/flow_run_states/?flow_run_id=${runId}`)).body as { type: string }[];
      const pendings = states.filter((s) => s.type === "PENDING").length;
      if (accepts === 1 && pendings === 1) exact++;
      else worst = `${accepts} ACCEPT, ${pendings} PENDING states`;
    }
    record("races", `${label} (${PLAN.raceClients} clients)`, `exactly one ACCEPT in ${exact}/${PLAN.raceRepeats}${worst ? ` (${worst})` : ""}`, exact === PLAN.raceRepeats);
  }

  let exact = 0;
  for (let i = 0; i < PLAN.raceRepeats; i++) {
    const name = `race-limit-${i}`;
    await call(api, "POST", "/v2/concurrency_limits/", { name, limit: 1 });
    const outcomes = await Promise.all(
      Array.from({ length: PLAN.raceClients }, () => call(api, "POST", "/v2/concurrency_limits/increment", { names: [name], slots: 1, mode: "concurrency" })),
    );
    const granted = outcomes.filter((o) => o.status === 200).length;
    const refused = outcomes.filter((o) => o.status === 423).length;
    if (granted === 1 && refused === PLAN.raceClients - 1) exact++;
  }
  record("races", `1-slot v2 limit (${PLAN.raceClients} clients)`, `exactly one slot granted in ${exact}/${PLAN.raceRepeats}`, exact === PLAN.raceRepeats);
}

// ------------------------------------------------------------------ 2. kill -9 under write load

async function killUnderLoad(): Promise<void> {
  let acknowledged = 0;
  let lost = 0;
  let intact = 0;
  for (let k = 0; k < PLAN.kills; k++) {
    const dbPath = join(work, `kill-${k}.db`);
    let server = await startServer(dbPath, {}, ["--no-services"]);
    const flowId = (await call(server.api, "POST", "/flows/", { name: "kill" })).body.id as string;
    const runs = new Set<string>();
    const pending = new Set<string>();
    const logs = new Set<string>();
    let stop = false;
    const writer = async (w: number) => {
      for (let i = 0; !stop && i < 100_000; i++) {
        try {
          const run = await call(server.api, "POST", "/flow_runs/", { flow_id: flowId, state: { type: "SCHEDULED" } });
          if (run.status !== 201) continue;
          runs.add(run.body.id);
          const state = await call(server.api, "POST", `/flow_runs/${run.body.id}/set_state`, { state: { type: "PENDING" } });
          if (state.body?.status === "ACCEPT") pending.add(run.body.id);
          const message = `w${w}-${i}`;
          const log = await call(server.api, "POST", "/logs/", [{ name: "kill", level: 20, message, timestamp: new Date().toISOString(), flow_run_id: run.body.id }]);
          if (log.status === 201) logs.add(message);
        } catch {
          return; // the server is gone: what was acknowledged so far is what counts
        }
      }
    };
    const writers = Array.from({ length: PLAN.writers }, (_, w) => writer(w));
    await Bun.sleep(300 + Math.random() * 900);
    server.process.kill("SIGKILL");
    stop = true;
    await server.process.exited;
    await Promise.all(writers);

    server = await startServer(dbPath, {}, ["--no-services"]);
    const ids = [...runs];
    let foundRuns = 0;
    let foundPending = 0;
    for (let i = 0; i < ids.length; i += 200) {
      const found = (await call(server.api, "POST", "/flow_runs/filter", { flow_runs: { id: { any_: ids.slice(i, i + 200) } }, limit: 200 })).body as { id: string; state_type: string }[];
      foundRuns += found.length;
      foundPending += found.filter((r) => pending.has(r.id) && r.state_type === "PENDING").length;
    }
    const storedLogs = new Set<string>();
    for (let offset = 0; ; offset += 200) {
      const page = (await call(server.api, "POST", "/logs/filter", { logs: { level: { ge_: 0 } }, limit: 200, offset })).body as { message: string }[];
      for (const l of page) storedLogs.add(l.message);
      if (page.length < 200) break;
    }
    await stopServer(server);
    acknowledged += runs.size + pending.size + logs.size;
    lost += runs.size - foundRuns + (pending.size - foundPending) + [...logs].filter((m) => !storedLogs.has(m)).length;
    const db = new Database(dbPath, { readonly: true });
    const integrity = db.query("PRAGMA integrity_check").all() as { integrity_check: string }[];
    db.close();
    if (integrity.length === 1 && integrity[0]!.integrity_check === "ok") intact++;
  }
  record("kill -9", `${PLAN.kills} kills under ${PLAN.writers} writers`, `${lost} of ${acknowledged} acknowledged runs, states and logs lost`, lost === 0);
  record("kill -9", "PRAGMA integrity_check after restart", `ok in ${intact}/${PLAN.kills}`, intact === PLAN.kills);
}

// ------------------------------------------------------------------ 3. hostile inputs

const SQL_LOOKING = `x' OR '1'='1'; DROP TABLE flow; --`;

/** A request body for an OpenAPI operation with the SQL-looking string in every string field it can reach. */
function hostileBody(schema: unknown, components: Record<string, unknown>, depth = 0): unknown {
  if (depth > 8 || schema === null || typeof schema !== "object") return null;
  const s = schema as Record<string, unknown>;
  if (typeof s.$ref === "string") return hostileBody(components[s.$ref.split("/").pop()!], components, depth + 1);
  const branches = (s.anyOf ?? s.oneOf ?? s.allOf) as unknown[] | undefined;
  if (branches) return hostileBody(branches.find((b) => (b as { type?: string }).type !== "null"), components, depth + 1);
  if (s.type === "string") return s.format || s.enum ? null : SQL_LOOKING;
  if (s.type === "array") return [hostileBody(s.items, components, depth + 1)].filter((v) => v !== null);
  if (s.type === "object" || s.properties) {
    const out: Record<string, unknown> = {};
    for (const [key, value] of Object.entries((s.properties ?? {}) as Record<string, unknown>)) {
      if (key === "limit" || key === "offset" || key === "page" || key === "sort") continue;
      const v = hostileBody(value, components, depth + 1);
      if (v !== null) out[key] = v;
    }
    return out;
  }
  return null;
}

interface Case {
  name: string;
  run: () => Promise<Answer | Answer[]>;
  expect: (a: Answer) => boolean;
  want: string;
}

async function hostileInputs(api: string): Promise<void> {
  const flow = (await call(api, "POST", "/flows/", { name: "hostile", tags: ["a"] })).body;
  const deep = (n: number) => `{"name": ${"[".repeat(n)}1${"]".repeat(n)}}`;
  const deepParameters = (n: number) => `{"flow_id": "${flow.id}", "parameters": ${'{"a":'.repeat(n)}1${"}".repeat(n)}}`;
  const utf8 = (text: string, bad: number[]) => {
    const [before, after] = text.split("|");
    return new Uint8Array([...new TextEncoder().encode(before), ...bad, ...new TextEncoder().encode(after)]);
  };
  const lists = ["/flows/filter", "/flow_runs/filter", "/task_runs/filter", "/deployments/filter", "/logs/filter", "/variables/filter", "/artifacts/filter", "/block_documents/filter", "/work_pools/filter", "/saved_searches/filter"];
  const many = Array.from({ length: 2000 }, (_, i) => `tag-${i}`);
  const is = (...statuses: number[]) => (a: Answer) => statuses.includes(a.status);
  const cases: Case[] = [
    { name: "JSON nested 30,000 deep", run: () => call(api, "POST", "/flows/", deep(30_000)), expect: is(400), want: "400" },
    { name: "4 such bodies at once", run: () => Promise.all(Array.from({ length: 4 }, () => call(api, "POST", "/flows/", deep(30_000)))), expect: is(400), want: "400" },
    { name: "parameters nested 10,000 deep", run: () => call(api, "POST", "/flow_runs/", deepParameters(10_000)), expect: is(400), want: "400" },
    { name: "invalid UTF-8", run: () => call(api, "POST", "/flows/", utf8('{"name": "x|"}', [0xff, 0xfe])), expect: is(400), want: "400" },
    { name: "overlong UTF-8 (C0 AF)", run: () => call(api, "POST", "/flows/", utf8('{"name": "x|"}', [0xc0, 0xaf])), expect: is(400), want: "400" },
    { name: "malformed JSON", run: () => call(api, "POST", "/flows/", '{"name": "x",'), expect: is(422), want: "422" },
    { name: "offset 2^63, 1e20, 1e308 on 10 lists", run: () => Promise.all(lists.flatMap((p) => [2 ** 63, 1e20, 1e308].map((offset) => call(api, "POST", p, { offset })))), expect: is(200), want: "200" },
    { name: "/paginate with offset \"abc\"", run: () => call(api, "POST", "/flows/paginate", { offset: "abc" }), expect: is(200), want: "200" },
    { name: "page 1e300", run: () => call(api, "POST", "/flow_runs/paginate", { page: 1e300 }), expect: is(200), want: "200" },
    { name: "limit 1e308", run: () => call(api, "POST", "/flows/filter", { limit: 1e308 }), expect: is(422), want: "422" },
    { name: "2,000 tags in any_ and all_", run: () => Promise.all(["any_", "all_"].map((op) => call(api, "POST", "/flow_runs/filter", { flow_runs: { tags: { [op]: many } } }))), expect: is(200), want: "200" },
    {
      name: "automation block_document_id null",
      run: () =>
        call(api, "POST", "/automations/", {
          name: "a",
          trigger: { posture: "Reactive", expect: ["x"] },
          actions: [{ type: "call-webhook", block_document_id: null }],
        }),
      expect: is(422),
      want: "422",
    },
    { name: "20 MB body (over the 16 MiB maximum)", run: () => call(api, "POST", "/flows/", JSON.stringify({ name: "x".repeat(20_000_000) })), expect: is(413), want: "413" },
    { name: "15 MB log batch (under it)", run: () => call(api, "POST", "/logs/", Array.from({ length: 40_000 }, (_, i) => ({ name: "big", level: 20, message: `${i}`.padEnd(280, "."), timestamp: new Date().toISOString() }))), expect: is(201), want: "201" },
  ];
  let passed = 0;
  for (const c of cases) {
    const t0 = performance.now();
    const answers = [await c.run()].flat();
    const ms = performance.now() - t0;
    const bad = answers.filter((a) => !c.expect(a));
    if (bad.length === 0) passed++;
    else record("hostile", c.name, `${bad.length}/${answers.length} answered ${[...new Set(bad.map((a) => a.status))].join(",")}, want ${c.want}`, false);
    if (c.name.startsWith("4 such")) record("hostile", "4 bodies nested 30,000 deep at once", `answered in ${ms.toFixed(0)} ms`, null);
  }
  record("hostile", `${cases.length} malformed, deep, invalid-UTF-8, huge-number, long-list cases`, `${passed}/${cases.length} answered as Prefect does`, passed === cases.length);

  // SQL-looking strings in every string field of every filter, count and paginate body
  if (!existsSync(spec)) return record("hostile", "SQL-looking strings in every filter field", `skipped: no ${spec}`, null);
  const openapi = JSON.parse(readFileSync(spec, "utf8"));
  const components = openapi.components.schemas as Record<string, unknown>;
  const before = (await call(api, "POST", "/flows/count", {})).body;
  let sent = 0;
  let serverErrors = 0;
  for (const [path, ops] of Object.entries(openapi.paths as Record<string, Record<string, { requestBody?: { content?: Record<string, { schema: unknown }> } }>>)) {
    if (!/\/(filter|count|paginate)$/.test(path) || path.includes("{")) continue;
    const schema = ops.post?.requestBody?.content?.["application/json"]?.schema;
    if (!schema) continue;
    const answer = await call(api, "POST", path, hostileBody(schema, components) ?? {});
    sent++;
    if (answer.status >= 500) serverErrors++;
  }
  const after = (await call(api, "POST", "/flows/count", {})).body;
  record("hostile", `SQL-looking strings in every string field of ${sent} filter/count/paginate bodies`, `${serverErrors} 5xx; flows ${before} before, ${after} after`, serverErrors === 0 && before === after);
}

// ------------------------------------------------------------------ 4. auth

async function auth(): Promise<void> {
  const secret = "reliability:s3cret";
  const server = await startServer(join(work, "auth.db"), { PREFECT_SERVER_API_AUTH_STRING: secret }, ["--no-services"]);
  const basic = `Basic ${btoa(secret)}`;
  const checks = [
    (await call(server.api, "POST", "/flows/bulk_delete", {})).status === 401,
    (await call(server.api, "POST", "/flows/filter", {}, { authorization: `Basic ${btoa("reliability:wrong")}` })).status === 401,
    (await call(server.api, "GET", "/health")).status === 200,
    (await call(server.api, "POST", "/flows/filter", {}, { authorization: basic })).status === 200,
  ];
  const socketClose = await new Promise<number>((resolve) => {
    const ws = new WebSocket(`${server.api.replace("http", "ws")}/events/out`, ["prefect"]);
    const timer = setTimeout(() => (ws.close(), resolve(0)), 5000); // still open: the wrong token was accepted
    ws.onopen = () => ws.send(JSON.stringify({ type: "auth", token: "wrong" }));
    ws.onclose = (e) => (clearTimeout(timer), resolve(e.code));
    ws.onerror = () => (clearTimeout(timer), resolve(-1));
  });
  await stopServer(server);
  const ok = checks.filter(Boolean).length + (socketClose === 1008 ? 1 : 0);
  record("auth", "auth string: 401 without, probes open, websocket 1008 on a wrong token", `${ok}/5 as Prefect`, ok === 5);
}

// ------------------------------------------------------------------ 5. shutdown

async function shutdown(): Promise<void> {
  let answered = 0;
  let sent = 0;
  const exitCodes: (number | null)[] = [];
  const tries = QUICK ? 2 : 5;
  for (let t = 0; t < tries; t++) {
    const server = await startServer(join(work, `shutdown-${t}.db`), {}, ["--no-services"]);
    const flowId = (await call(server.api, "POST", "/flows/", { name: "shutdown" })).body.id;
    const run = (await call(server.api, "POST", "/flow_runs/", { flow_id: flowId })).body.id;
    const batch = Array.from({ length: PLAN.bigLogLines }, (_, i) => ({ name: "x", level: 20, message: `line ${i}`, timestamp: new Date().toISOString(), flow_run_id: run }));
    const busy = call(server.api, "POST", "/logs/", batch).catch(() => null);
    await Bun.sleep(5);
    const queued = Array.from({ length: 25 }, (_, i) => call(server.api, "POST", "/flows/", { name: `queued-${i}` }).then((a) => a.status, () => 0));
    await Bun.sleep(5);
    server.process.kill("SIGTERM");
    const statuses = await Promise.all(queued);
    await busy;
    const exited = await Promise.race([server.process.exited, Bun.sleep(30_000).then(() => "hung" as const)]);
    if (exited === "hung") server.process.kill("SIGKILL");
    exitCodes.push(exited === "hung" ? null : exited);
    sent += statuses.length;
    answered += statuses.filter((s) => s === 201).length;
  }
  record("shutdown", `SIGTERM with 25 requests queued behind a ${PLAN.bigLogLines.toLocaleString("en")}-line log batch, ${tries} tries`, `${answered}/${sent} answered, exit codes ${[...new Set(exitCodes)].join(",")}`, answered === sent && exitCodes.every((c) => c === 0));
}

// ------------------------------------------------------------------ 6. fuzz

async function schemathesis(): Promise<string | null> {
  const exe = join(root, "scripts/.venv/bin/schemathesis");
  if (existsSync(exe)) return exe;
  console.error("installing schemathesis==4.32.5 into scripts/.venv (PyPI)");
  const steps = [
    ["python3", "-m", "venv", join(root, "scripts/.venv")],
    [join(root, "scripts/.venv/bin/pip"), "install", "--quiet", "--disable-pip-version-check", "schemathesis==4.32.5"],
  ];
  for (const step of steps) {
    const proc = Bun.spawn(step, { stdout: "ignore", stderr: "inherit" });
    if ((await proc.exited) !== 0) return null;
  }
  return existsSync(exe) ? exe : null;
}

async function fuzz(api: string): Promise<void> {
  if (!existsSync(spec)) return record("fuzz", "schemathesis", `skipped: no ${spec}`, null);
  const exe = await schemathesis();
  if (!exe) return record("fuzz", "schemathesis", "could not install schemathesis from PyPI", false);
  const report = join(work, "fuzz.xml");
  const proc = Bun.spawn(
    [
      exe, "run", spec, "--url", api, "--checks", "not_a_server_error", "--phases", QUICK ? "examples,fuzzing" : "examples,coverage,fuzzing",
      "--max-examples", String(PLAN.fuzzExamples), "--workers", "2", "--seed", "1", "--no-shrink", "--generation-database", "none",
      "--suppress-health-check", "all", "--request-timeout", "30", "--report", "junit", "--report-junit-path", report, "--no-color",
    ],
    // cwd: schemathesis keeps a .schemathesis/ cache in its working directory
    { cwd: work, stdout: "pipe", stderr: "pipe", timeout: PLAN.fuzzSeconds * 1000, killSignal: "SIGKILL" },
  );
  const [out] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  await proc.exited;
  const cases = /(\d+) generated/.exec(out)?.[1] ?? "?";
  if (!existsSync(report)) return record("fuzz", "schemathesis", `no report (exit ${proc.exitCode}); ${out.split("\n").slice(-5).join(" ")}`, false);
  const xml = readFileSync(report, "utf8");
  const attr = (name: string) => Number(new RegExp(`<testsuites[^>]* ${name}="(\\d+)"`).exec(xml)?.[1] ?? NaN);
  const failing = attr("failures") + attr("errors");
  const failed = [...xml.matchAll(/<testcase name="([^"]+)"[^/]*?>\s*<(failure|error)/g)].map((m) => m[1]).slice(0, 5);
  record("fuzz", `schemathesis not_a_server_error over ${attr("tests")} operations`, `${cases} cases, ${failing} operations failing${failed.length ? ` (${failed.join("; ")})` : ""}`, failing === 0);
}

// ------------------------------------------------------------------ 7. soak

async function soak(api: string, pid: number): Promise<void> {
  const flowId = (await call(api, "POST", "/flows/", { name: "soak" })).body.id;
  const deadline = performance.now() + SOAK_MINUTES * 60_000;
  const rss = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? NaN) / 1024;
  let window: number[] = [];
  let errors = 0;
  const windows: string[] = [];
  const firstRss = rss();
  let lastRss = firstRss;
  const timed = async (method: string, path: string, body: unknown) => {
    const t0 = performance.now();
    const answer = await call(api, method, path, body);
    window.push(performance.now() - t0);
    if (answer.status >= 500) errors++;
    return answer;
  };
  const client = async () => {
    while (performance.now() < deadline) {
      try {
        const run = await timed("POST", "/flow_runs/", { flow_id: flowId, state: { type: "SCHEDULED" } });
        await timed("POST", `/flow_runs/${run.body.id}/set_state`, { state: { type: "PENDING" } });
        await timed("POST", "/flow_runs/filter", { limit: 20 });
        await timed("POST", "/logs/", [{ name: "soak", level: 20, message: "m", timestamp: new Date().toISOString(), flow_run_id: run.body.id }]);
      } catch {
        errors++;
      }
    }
  };
  const sampler = (async () => {
    for (let w = 1; performance.now() < deadline; w++) {
      await Bun.sleep(Math.min(30_000, deadline - performance.now()));
      lastRss = rss();
      windows.push(`${w}: ${lastRss.toFixed(0)} MiB, p99 ${percentile(window, 99).toFixed(1)} ms`);
      window = [];
    }
  })();
  await Promise.all([...Array.from({ length: 4 }, client), sampler]);
  for (const w of windows) record("soak", "30 s window (RSS, request p99)", w, null);
  record("soak", `${SOAK_MINUTES} min, 4 clients`, `RSS ${firstRss.toFixed(0)} → ${lastRss.toFixed(0)} MiB, ${errors} errors`, errors === 0);
}

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  if (!existsSync(binary)) {
    console.error("building dist/prefect-lite");
    const build = Bun.spawn([process.execPath, join(root, "build.ts")], { cwd: root, stdout: "ignore", stderr: "inherit" });
    if ((await build.exited) !== 0) throw new Error("npm run build failed");
  }
  console.error(`prefect-lite reliability (${QUICK ? "quick" : "full"}${SOAK_MINUTES ? `, soak ${SOAK_MINUTES} min` : ""})`);
  const main = await startServer(join(work, "main.db"));
  try {
    await races(main.api);
    await hostileInputs(main.api);
    if (!flags["no-fuzz"]) await fuzz(main.api);
    if (SOAK_MINUTES > 0) await soak(main.api, main.process.pid);
    const alive = (await call(main.api, "GET", "/health")).status === 200;
    record("server", "alive after races, hostile inputs and fuzz", alive ? "healthy" : "not healthy", alive);
  } finally {
    const code = await stopServer(main);
    if (code !== 0) record("server", "SIGTERM exit code", String(code), false);
  }
  await killUnderLoad();
  await auth();
  await shutdown();
}

const watchdog = setTimeout(() => {
  record("suite", "finished within its time limit", `stopped after ${TIME_LIMIT_SECONDS + SOAK_MINUTES * 60} s`, false);
  report();
}, (TIME_LIMIT_SECONDS + SOAK_MINUTES * 60) * 1000);

try {
  await main();
} catch (error) {
  record("suite", "ran to the end", error instanceof Error ? error.message.split("\n")[0]! : String(error), false);
}
clearTimeout(watchdog);
report();

function report(): never {
  for (const child of children) child.kill("SIGKILL"); // left running by a failed section
  const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  const mode = `${QUICK ? "--quick" : "full"}${SOAK_MINUTES ? ` --soak ${SOAK_MINUTES}` : ""}`;
  console.log(`\nprefect-lite reliability, ${mode}: ${((performance.now() - started) / 1000).toFixed(0)} s, load average ${load}\n`);
  printTable();
  const failures = rows.filter((r) => r.ok === false).length;
  console.log(`\n${failures === 0 ? "all checks passed" : `${failures} check(s) FAILED`}`);
  rmSync(work, { recursive: true, force: true });
  process.exit(failures === 0 ? 0 : 1);
}
