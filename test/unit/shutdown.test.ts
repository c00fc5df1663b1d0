/** Graceful shutdown: what was received is answered; past the grace period, 503 and close. */
import { describe, expect, test } from "bun:test";
import type { Server } from "bun";
import { startServer } from "../../src/server";
import { RequestGate } from "../../src/shutdown";

describe("stop()", () => {
  test("answers every request received while the server was busy", async () => {
    const server = await startServer({ servicesEnabled: false });
    const sent = Array.from({ length: 25 }, (_, i) =>
      fetch(`${server.apiUrl}/flows/`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: `queued-${i}` }),
      }).then(
        (res) => `${res.status} ${res.headers.get("connection")}`,
        (error: Error) => `failed: ${error.message}`,
      ),
    );
    // The requests reach the socket while the event loop is blocked, as behind a busy request.
    Bun.sleepSync(300);
    await server.stop();
    expect(await Promise.all(sent)).toEqual(Array(25).fill("201 close"));
  });

  test("does not wait past the grace period for a request that hangs", async () => {
    const server = await startServer({ servicesEnabled: false, shutdownGraceSeconds: 0.1 });
    const { store } = server.context;
    let release: () => void = () => {};
    // A read that never completes (a database stuck behind another process's lock, say).
    store.read = <T>() => new Promise<T>((resolve) => (release = () => resolve([] as T)));
    const hanging = fetch(`${server.apiUrl}/flows/filter`, { method: "POST" }).then(
      (res) => res.status,
      () => "closed",
    );
    await Bun.sleep(20); // the request is in flight
    await server.stop();
    expect(await hanging).toBe("closed");
    release();
  });
});

describe("RequestGate", () => {
  const fakeServer = (pendingRequests: number) => ({ pendingRequests, stop: () => Promise.resolve() }) as unknown as Server<unknown>;

  test("while draining, responses ask the client to close the connection", async () => {
    const gate = new RequestGate();
    expect(await gate.drain(fakeServer(0), 1000)).toBe(true);
    const headers: Record<string, string> = {};
    expect(gate.admit(headers)).toBeUndefined();
    expect(headers.connection).toBe("close");
  });

  test("past the grace period, requests get Prefect's 503", async () => {
    const gate = new RequestGate();
    expect(await gate.drain(fakeServer(1), 0)).toBe(false);
    const res = gate.admit({})!;
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ exception_message: "Service Unavailable" });
  });
});
