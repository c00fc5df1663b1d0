/**
 * In-process API harness: the real app over a fresh database, no socket. An in-memory
 * SQLite database, or with PREFECT_LITE_TEST_BACKEND=postgres a new PostgreSQL database
 * per harness (dropped on close), opened in the background: the first request waits for it.
 */
import { createApp } from "../../src/app";
import { ManualClock, SystemClock, type Clock } from "../../src/clock";
import { configFromEnv } from "../../src/config";
import type { AppContext } from "../../src/context";
import type { EventRelay } from "../../src/db/event-relay";
import type { Leadership } from "../../src/db/leadership";
import { PgStore } from "../../src/db/postgres/store";
import type { Repositories, Store, WriteTxOf } from "../../src/db/repositories";
import { SqliteStore } from "../../src/db/store";
import { createTestDatabase } from "./postgres";
import type { EventSink, Op } from "../../src/db/unit-of-work";
import { createEventBus } from "../../src/events/bus";
import { createLogger } from "../../src/logger";

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  text: string;
  headers: Headers;
}

/** A PostgreSQL store still connecting: every call waits for it. */
export class OpeningStore implements Store {
  readonly leadership: Leadership = { isLeader: async (name) => (await this.opening).leadership.isLeader(name) };
  readonly eventRelay: EventRelay = {
    send: (events) => void this.opening.then((store) => store.eventRelay.send(events)),
    connect: (receive, logger) => void this.opening.then((store) => store.eventRelay.connect(receive, logger)),
  };

  constructor(private readonly opening: Promise<Store>) {}

  /** The store once open (for tests that reach its rows directly, test/support/rows.ts). */
  opened(): Promise<Store> {
    return this.opening;
  }

  async read<T>(body: (q: Repositories) => Op<T>): Promise<T> {
    return (await this.opening).read(body);
  }

  async write<T>(body: (tx: WriteTxOf<Repositories>) => Op<T>): Promise<T> {
    return (await this.opening).write(body);
  }

  publishTo(sink: EventSink): void {
    void this.opening.then((store) => store.publishTo(sink));
  }

  async isReachable(): Promise<boolean> {
    return (await this.opening).isReachable();
  }

  async close(): Promise<void> {
    await (await this.opening).close();
  }
}

async function openPostgres(): Promise<Store & { dropDatabase(): Promise<void> }> {
  const database = await createTestDatabase();
  const store = await PgStore.open(database.settings());
  return Object.assign(store, {
    async dropDatabase() {
      await store.close();
      await database.drop();
    },
  });
}

/** The backend the in-process API tests run on (CI runs them on both). */
function openTestStore(): { store: Store; close: () => Promise<void> } {
  if (process.env.PREFECT_LITE_TEST_BACKEND !== "postgres") {
    const store = SqliteStore.open(":memory:");
    return { store, close: async () => store.close() };
  }
  const opening = openPostgres();
  return { store: new OpeningStore(opening), close: async () => (await opening).dropDatabase() };
}

/** The harness on whichever backend the run selects. */
export function createTestApi(options: { clock?: Clock } = {}) {
  const { store, close } = openTestStore();
  return harness(store, close, options.clock ?? new SystemClock());
}

/** The harness on SQLite whatever the run selects: for tests that arrange or inspect rows through its handle. */
export function createSqliteTestApi(options: { clock?: Clock } = {}) {
  const store = SqliteStore.open(":memory:");
  return harness(store, async () => store.close(), options.clock ?? new SystemClock());
}

function harness<S extends Store>(store: S, close: () => Promise<void>, clock: Clock) {
  const logger = createLogger("error");
  const context: AppContext<S> = {
    config: { ...configFromEnv({}), databasePath: ":memory:", port: 0 },
    store,
    clock,
    logger,
    events: createEventBus(store, clock, logger),
  };
  const app = createApp(context);

  async function request<T = any>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResponse<T>> {
    const init: RequestInit = { method, headers };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { "content-type": "application/json", ...headers };
    }
    const res = await app.handle(new Request(`http://localhost/api${path}`, init));
    const text = await res.text();
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = text;
    }
    return { status: res.status, body: parsed as T, text, headers: res.headers };
  }

  return {
    context,
    clock,
    request,
    get: <T = any>(path: string) => request<T>("GET", path),
    post: <T = any>(path: string, body?: unknown) => request<T>("POST", path, body ?? {}),
    patch: <T = any>(path: string, body?: unknown) => request<T>("PATCH", path, body ?? {}),
    put: <T = any>(path: string, body?: unknown) => request<T>("PUT", path, body ?? {}),
    delete: <T = any>(path: string) => request<T>("DELETE", path),
    close,
  };
}

export { ManualClock };
