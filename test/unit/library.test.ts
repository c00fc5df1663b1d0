// The README's library example, kept as a real test so it cannot go stale.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startServer, type RunningServer } from "prefect-lite";

let server: RunningServer;
beforeAll(async () => {
  server = await startServer({ port: 0 }); // in-memory database, any free port
});
afterAll(() => server.stop());

test("serves the Prefect API on a real socket", async () => {
  const health = await fetch(`${server.apiUrl}/health`);
  expect(await health.json()).toBe(true);

  const created = await fetch(`${server.apiUrl}/flows/`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "my-flow" }),
  });
  expect(created.status).toBe(201);
  expect(await created.json()).toMatchObject({ name: "my-flow" });
});
