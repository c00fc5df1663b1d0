/**
 * The load generator: plain fetch with keep-alive (Bun pools connections per host),
 * one async loop per simulated client.
 */

export interface Latencies {
  ops: number;
  errors: number;
  /** requests retried as Prefect's client would (503s, closed connections) */
  retries: number;
  seconds: number;
  opsPerSec: number;
  p50: number;
  p99: number;
  firstError?: string;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))]!;
}

export const median = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 50);

export class HttpError extends Error {}

/** Retries done by call() (what a Prefect client would have hidden from its user). */
export const retries = { count: 0, last: "" };
/** No retry is scheduled past this instant (performance.now()); closedLoop sets it so a run ends. */
let retryDeadline = Infinity;

/**
 * What Prefect's own client (prefect.client.base.PrefectHttpxAsyncClient) retries: 429, 502 and
 * 503 responses (the Python server answers 503 when SQLite is locked) and connections the server
 * closed, up to PREFECT_CLIENT_MAX_RETRIES = 5 times, after Retry-After or 2^n seconds with
 * ±20% jitter (PREFECT_CLIENT_RETRY_JITTER_FACTOR). Emulated so both servers meet the client
 * their users run.
 */
const RETRY_CODES = new Set([429, 502, 503]);
const MAX_RETRIES = 5;
const backoff = (attempt: number, retryAfter: string | null) => {
  const header = retryAfter !== null && /^\d+(\.\d+)?$/.test(retryAfter) ? Number(retryAfter) : null;
  const base = header ?? 2 ** attempt;
  return base * 1000 * (1 + (Math.random() * 0.4 - 0.2));
};

export async function call(apiUrl: string, method: string, path: string, body?: unknown): Promise<any> {
  for (let attempt = 1; ; attempt++) {
    let res: Response;
    try {
      res = await fetch(apiUrl + path, {
        method,
        headers: body === undefined ? undefined : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(60_000),
      });
    } catch (e) {
      const msg = String((e as Error).message ?? e);
      const delay = backoff(attempt, null);
      if (attempt > MAX_RETRIES || /timed? ?out|abort/i.test(msg) || performance.now() + delay > retryDeadline)
        throw new HttpError(`${method} ${path}: ${msg}`);
      retries.count++;
      retries.last = msg.slice(0, 80);
      await Bun.sleep(delay);
      continue;
    }
    const text = await res.text();
    const delay = backoff(attempt, res.headers.get("retry-after"));
    if (RETRY_CODES.has(res.status) && attempt <= MAX_RETRIES && performance.now() + delay <= retryDeadline) {
      retries.count++;
      retries.last = `${res.status} ${text.slice(0, 60)}`;
      await Bun.sleep(delay);
      continue;
    }
    if (!res.ok) throw new HttpError(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
    return text ? JSON.parse(text) : null;
  }
}

export const post = (api: string, path: string, body: unknown) => call(api, "POST", path, body);

async function setState(api: string, runId: string, type: string, name: string): Promise<void> {
  const r = await post(api, `/flow_runs/${runId}/set_state`, { state: { type, name } });
  if (r?.status !== "ACCEPT") throw new HttpError(`set_state ${type}: ${r?.status} ${JSON.stringify(r?.details ?? {}).slice(0, 200)}`);
}

/**
 * One flow run's life as a worker and the engine drive it: created SCHEDULED (as a
 * deployment run is), then PENDING -> RUNNING -> COMPLETED through set_state, then read back.
 * Five requests.
 */
export async function lifecycle(api: string, flowId: string, n: number): Promise<void> {
  const run = await post(api, "/flow_runs/", { flow_id: flowId, name: `bench-${n}`, state: { type: "SCHEDULED", name: "Scheduled" } });
  await setState(api, run.id, "PENDING", "Pending");
  await setState(api, run.id, "RUNNING", "Running");
  await setState(api, run.id, "COMPLETED", "Completed");
  const back = await call(api, "GET", `/flow_runs/${run.id}`);
  if (back?.state?.type !== "COMPLETED") throw new HttpError(`read back: state ${back?.state?.type}`);
}

/** What a lifecycle figure measured, for a table's notes. */
export const lifecycleNote = (seconds: number, warmupSeconds: number) =>
  `lifecycle: create a flow run (SCHEDULED), set_state PENDING -> RUNNING -> COMPLETED, read it back (5 requests); each client back to back for ${seconds} s after ${warmupSeconds} s of warm-up; latencies are per whole lifecycle`;

/** `clients` loops doing `op` back to back for `seconds` (after `warmupSeconds` not counted). */
export async function closedLoop(
  clients: number,
  seconds: number,
  warmupSeconds: number,
  op: (n: number) => Promise<void>,
): Promise<Latencies> {
  let counter = 0;
  const retriesBefore = retries.count;
  const lat: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const t0 = performance.now();
  const measureFrom = t0 + warmupSeconds * 1000;
  const end = measureFrom + seconds * 1000;
  retryDeadline = end + 15_000;
  const loop = async () => {
    while (performance.now() < end) {
      const start = performance.now();
      let ok = true;
      try {
        await op(counter++);
      } catch (e) {
        ok = false;
        if (start >= measureFrom) {
          errors++;
          firstError ??= String((e as Error).message ?? e);
        }
      }
      const done = performance.now();
      if (start >= measureFrom && done <= end + 60_000 && ok) lat.push(done - start);
    }
  };
  await Promise.all(Array.from({ length: clients }, loop));
  retryDeadline = Infinity;
  const elapsed = (Math.max(performance.now(), end) - measureFrom) / 1000;
  lat.sort((a, b) => a - b);
  return {
    ops: lat.length,
    errors,
    retries: retries.count - retriesBefore,
    seconds: elapsed,
    opsPerSec: lat.length / elapsed,
    p50: percentile(lat, 50),
    p99: percentile(lat, 99),
    firstError,
  };
}

/** One client, `reps` requests in sequence after `warmup` untimed ones. */
export async function sequential(reps: number, warmup: number, op: (i: number) => Promise<void>): Promise<Latencies> {
  for (let i = 0; i < warmup; i++) await op(-1 - i);
  const retriesBefore = retries.count;
  const lat: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) {
    const start = performance.now();
    try {
      await op(i);
      lat.push(performance.now() - start);
    } catch (e) {
      errors++;
      firstError ??= String((e as Error).message ?? e);
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  return { ops: lat.length, errors, retries: retries.count - retriesBefore, seconds, opsPerSec: lat.length / seconds, p50: percentile(lat, 50), p99: percentile(lat, 99), firstError };
}

export type EventsResult =
  | { available: false; reason: string }
  | { available: true; events: number; sentPerSec: number; persistedPerSec: number; persisted: number; seconds: number };

/**
 * Streams `n` events over one /api/events/in websocket the way Prefect's client does
 * (subprotocol "prefect", then an auth message), then waits until /events/filter counts
 * them all: events per second from the first send to the last event being queryable.
 */
export async function ingestEvents(api: string, n: number, timeoutMs = 120_000): Promise<EventsResult> {
  const wsUrl = api.replace(/^http/, "ws") + "/events/in";
  const name = `bench.ingest.${crypto.randomUUID().slice(0, 8)}`;
  const opened = await new Promise<WebSocket | string>((resolve) => {
    let ws: WebSocket;
    try {
      ws = new WebSocket(wsUrl, ["prefect"]);
    } catch (e) {
      return resolve(String(e));
    }
    const timer = setTimeout(() => resolve("no answer to the websocket handshake in 5 s"), 5000);
    ws.onopen = () => ws.send(JSON.stringify({ type: "auth", token: null }));
    ws.onmessage = (m) => {
      clearTimeout(timer);
      const msg = JSON.parse(String(m.data));
      resolve(msg?.type === "auth_success" ? ws : `unexpected first message ${String(m.data).slice(0, 100)}`);
    };
    ws.onerror = () => {
      clearTimeout(timer);
      resolve(`websocket to ${wsUrl} failed (no /events/in)`);
    };
    ws.onclose = (e) => {
      clearTimeout(timer);
      resolve(`websocket closed: ${e.code} ${e.reason}`);
    };
  });
  if (typeof opened === "string") return { available: false, reason: opened };
  const ws = opened;
  const since = new Date(Date.now() - 60_000).toISOString();
  const count = async (): Promise<number> => {
    const r = await post(api, "/events/filter", {
      filter: { event: { name: [name] }, occurred: { since, until: new Date(Date.now() + 3_600_000).toISOString() } },
      limit: 1,
    });
    return Number(r?.total ?? 0);
  };
  try {
    await count();
  } catch (e) {
    ws.close();
    return { available: false, reason: `/events/filter: ${(e as Error).message}` };
  }
  const resourceId = `bench.resource.${crypto.randomUUID()}`;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    ws.send(
      JSON.stringify({
        id: crypto.randomUUID(),
        occurred: new Date().toISOString(),
        event: name,
        resource: { "prefect.resource.id": resourceId, "prefect.resource.name": "bench" },
        related: [],
        payload: { i },
      }),
    );
    // keep the client's send buffer bounded
    if (i % 200 === 199) while (ws.bufferedAmount > 1 << 20) await Bun.sleep(1);
  }
  while (ws.bufferedAmount > 0) await Bun.sleep(1);
  const sentSeconds = (performance.now() - t0) / 1000;
  let persisted = 0;
  const deadline = t0 + timeoutMs;
  while (performance.now() < deadline) {
    persisted = await count();
    if (persisted >= n) break;
    await Bun.sleep(100);
  }
  const seconds = (performance.now() - t0) / 1000;
  ws.close();
  return { available: true, events: n, sentPerSec: n / sentSeconds, persistedPerSec: persisted / seconds, persisted, seconds };
}
