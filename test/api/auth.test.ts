/** PREFECT_SERVER_API_AUTH_STRING: HTTP Basic on every route but the probes, and the websocket auth message. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { secretMatches } from "../../src/api/auth";
import { configFromEnv } from "../../src/config";
import { startServer, type RunningServer } from "../../src/server";

const AUTH = "admin:s3cr3t";
const basic = (credentials: string) => `Basic ${Buffer.from(credentials).toString("base64")}`;

let server: RunningServer;
beforeAll(async () => {
  server = await startServer({ authString: AUTH, servicesEnabled: false });
});
afterAll(() => server.stop());

const call = (path: string, init: RequestInit = {}) => fetch(`${server.apiUrl}${path}`, init);

describe("HTTP", () => {
  test("the setting is read from PREFECT_SERVER_API_AUTH_STRING", () => {
    expect(configFromEnv({ PREFECT_SERVER_API_AUTH_STRING: AUTH }).authString).toBe(AUTH);
    expect(configFromEnv({}).authString).toBeNull();
  });

  test("GET /health and /ready stay open", async () => {
    expect((await call("/health")).status).toBe(200);
    expect((await call("/ready")).status).toBe(200);
  });

  test("every other route answers 401 with Prefect's body", async () => {
    for (const [method, path] of [
      ["POST", "/flows/bulk_delete"],
      ["POST", "/flows/filter"],
      ["GET", "/version"],
      ["POST", "/health"], // only GET is open
      ["GET", "/health/"], // exact paths only
      ["GET", "/no/such/route"],
    ] as const) {
      const res = await call(path, { method, headers: { "content-type": "application/json" }, body: method === "GET" ? undefined : "{}" });
      expect({ path, method, status: res.status, body: await res.json() }).toEqual({
        path,
        method,
        status: 401,
        body: { exception_message: "Unauthorized" },
      });
    }
  });

  test("a wrong, malformed or non-Basic header is refused", async () => {
    for (const header of [basic("admin:wrong"), basic(`${AUTH}x`), `Bearer ${AUTH}`, "Basic", `Basic ${AUTH}`, `basic ${btoa(AUTH)}`]) {
      expect((await call("/flows/filter", { method: "POST", headers: { authorization: header } })).status).toBe(401);
    }
  });

  test("the right credentials pass", async () => {
    const res = await call("/flows/", {
      method: "POST",
      headers: { authorization: basic(AUTH), "content-type": "application/json" },
      body: JSON.stringify({ name: "authed" }),
    });
    expect(res.status).toBe(201);
  });

  test("the comparison is on the whole secret", () => {
    expect(secretMatches(AUTH, AUTH)).toBe(true);
    expect(secretMatches("admin:s3cr3", AUTH)).toBe(false);
    expect(secretMatches("", AUTH)).toBe(false);
  });
});

/** Opens a websocket and resolves with its first message or its close. */
async function firstAnswer(path: string, protocols: string[], send?: unknown) {
  const ws = new WebSocket(`${server.url.replace("http", "ws")}/api${path}`, protocols);
  return new Promise<{ message?: unknown; code?: number; reason?: string }>((resolve, reject) => {
    ws.onopen = () => send !== undefined && ws.send(JSON.stringify(send));
    ws.onmessage = (m) => {
      resolve({ message: JSON.parse(String(m.data)) });
      ws.close();
    };
    ws.onclose = (e) => resolve({ code: e.code, reason: e.reason });
    ws.onerror = () => reject(new Error("websocket error"));
  });
}

describe("websockets", () => {
  for (const path of ["/events/in", "/events/out"]) {
    test(`${path}: the auth string as token succeeds`, async () => {
      expect(await firstAnswer(path, ["prefect"], { type: "auth", token: AUTH })).toEqual({ message: { type: "auth_success" } });
    });

    test(`${path}: a wrong token closes with 1008`, async () => {
      expect(await firstAnswer(path, ["prefect"], { type: "auth", token: "admin:nope" })).toEqual({ code: 1008, reason: "Invalid token" });
    });

    test(`${path}: no token closes with 1008`, async () => {
      expect(await firstAnswer(path, ["prefect"], { type: "auth" })).toEqual({ code: 1008, reason: "Auth required but no token provided" });
    });

    test(`${path}: a client without the prefect subprotocol is refused`, async () => {
      expect((await firstAnswer(path, [])).code).toBe(1002);
    });
  }
});
