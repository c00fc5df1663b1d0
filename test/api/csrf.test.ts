/** PREFECT_SERVER_CSRF_PROTECTION_ENABLED: tokens per client with expiry, 403 without a valid pair. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ManualClock } from "../../src/clock";
import { configFromEnv } from "../../src/config";
import { startServer, type RunningServer } from "../../src/server";
import { createTestApi } from "../support/api";

const clock = new ManualClock(Date.parse("2026-01-01T00:00:00Z") * 1000);
let server: RunningServer;
beforeAll(async () => {
  server = await startServer({ clock, servicesEnabled: false, csrfProtectionEnabled: true, csrfTokenExpiration: 60_000_000 });
});
afterAll(() => server.stop());

const call = async (method: string, path: string, headers: Record<string, string> = {}) => {
  const res = await fetch(`${server.apiUrl}${path}`, {
    method,
    headers: { "content-type": "application/json", ...headers },
    body: method === "GET" ? undefined : JSON.stringify(path === "/flows/" ? { name: "csrf-flow" } : {}),
  });
  return { status: res.status, body: (await res.json()) as any, headers: res.headers };
};

const tokenFor = async (client: string) => (await call("GET", `/csrf-token?client=${client}`)).body;

describe("CSRF protection on", () => {
  test("the settings are read from Prefect's variables", () => {
    const config = configFromEnv({ PREFECT_SERVER_CSRF_PROTECTION_ENABLED: "true", PREFECT_SERVER_CSRF_TOKEN_EXPIRATION: "60" });
    expect([config.csrfProtectionEnabled, config.csrfTokenExpiration]).toEqual([true, 60_000_000]);
    expect(configFromEnv({}).csrfProtectionEnabled).toBe(false);
  });

  test("the token endpoint issues a token per client, as Prefect's CsrfToken", async () => {
    const token = await tokenFor("client-a");
    expect(token).toMatchObject({ client: "client-a", created: "2026-01-01T00:00:00Z", expiration: "2026-01-01T00:01:00Z" });
    expect(token.token).toMatch(/^[0-9a-f]{64}$/);
    expect(Object.keys(token).sort()).toEqual(["client", "created", "expiration", "id", "token", "updated"]);
    const renewed = await tokenFor("client-a");
    expect(renewed.id).toBe(token.id);
    expect(renewed.token).not.toBe(token.token);
  });

  test("the client parameter is required (422)", async () => {
    const res = await call("GET", "/csrf-token");
    expect(res.status).toBe(422);
    expect(res.body.exception_detail[0]).toMatchObject({ type: "missing", loc: ["query", "client"], msg: "Field required" });
  });

  test("mutating requests need a valid token and client pair", async () => {
    const { token } = await tokenFor("client-b");
    expect(await call("POST", "/flows/filter")).toMatchObject({ status: 403, body: { detail: "Missing CSRF token." } });
    expect(await call("POST", "/flows/filter", { "prefect-csrf-token": token })).toMatchObject({
      status: 403,
      body: { detail: "Missing client identifier." },
    });
    const wrong = await call("DELETE", "/flows/00000000-0000-0000-0000-000000000000", { "prefect-csrf-token": "nope", "prefect-csrf-client": "client-b" });
    expect(wrong).toMatchObject({ status: 403, body: { detail: "Invalid CSRF token or client identifier." } });
    expect(wrong.headers.get("access-control-allow-origin")).toBe("*");
    const otherClient = await call("POST", "/flows/filter", { "prefect-csrf-token": token, "prefect-csrf-client": "client-a" });
    expect(otherClient.status).toBe(403);
    const ok = await call("POST", "/flows/", { "prefect-csrf-token": token, "prefect-csrf-client": "client-b" });
    expect(ok.status).toBe(201);
  });

  test("reads need no token", async () => {
    expect((await call("GET", "/flows/00000000-0000-0000-0000-000000000000")).status).toBe(404);
  });

  test("an expired token is refused", async () => {
    const { token } = await tokenFor("client-c");
    clock.advance(61 * 1_000_000);
    const res = await call("POST", "/flows/filter", { "prefect-csrf-token": token, "prefect-csrf-client": "client-c" });
    expect(res).toMatchObject({ status: 403, body: { detail: "Invalid CSRF token or client identifier." } });
  });
});

describe("CSRF protection off (the default)", () => {
  const api = createTestApi();
  afterAll(() => api.close());

  test("the token endpoint answers the 422 that makes the client stop asking", async () => {
    expect(await api.get("/csrf-token?client=x")).toMatchObject({ status: 422, body: { detail: "CSRF protection is disabled." } });
  });

  test("mutating requests pass without a token", async () => {
    expect((await api.post("/flows/filter", {})).status).toBe(200);
  });
});
