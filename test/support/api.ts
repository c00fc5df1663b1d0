/** In-process API harness: the real app over an in-memory database, no socket. */
import { createApp } from "../../src/app";
import { ManualClock, SystemClock, type Clock } from "../../src/clock";
import { configFromEnv } from "../../src/config";
import type { AppContext } from "../../src/context";
import { SqliteStore } from "../../src/db/store";
import { createEventBus } from "../../src/events/bus";
import { createLogger } from "../../src/logger";

export interface ApiResponse<T = any> {
  status: number;
  body: T;
  text: string;
  headers: Headers;
}

export function createTestApi(options: { clock?: Clock } = {}) {
  const clock = options.clock ?? new SystemClock();
  const store = SqliteStore.open(":memory:");
  const logger = createLogger("error");
  const context: AppContext<SqliteStore> = {
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
    close: () => context.store.close(),
  };
}

export { ManualClock };
