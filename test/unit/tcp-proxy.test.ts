/** The round-robin proxy the replica tests put in front of several servers. */
import { afterAll, expect, test } from "bun:test";
import { startTcpProxy } from "../support/tcp-proxy";

const servers = ["a", "b"].map((name) =>
  Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(req, server) {
      if (server.upgrade(req)) return;
      return new Response(`${name}:${"x".repeat(Number(new URL(req.url).searchParams.get("size") ?? 0))}`);
    },
    websocket: {
      message(ws, message) {
        ws.send(`${name} heard ${message}`);
      },
    },
  }),
);
const proxy = startTcpProxy(servers.map((s) => s.port!));
afterAll(() => {
  proxy.stop();
  for (const server of servers) server.stop(true);
});

test("new connections alternate between upstreams; large answers arrive whole", async () => {
  const seen = [];
  for (let i = 0; i < 4; i++) {
    const res = await fetch(`http://127.0.0.1:${proxy.port}/?size=2000000`, { headers: { connection: "close" } });
    const text = await res.text();
    expect(text.length).toBe(2_000_002);
    seen.push(text[0]);
  }
  expect(seen).toEqual(["a", "b", "a", "b"]);
  expect(proxy.connections).toEqual([2, 2]);
});

test("a websocket stays on its upstream", async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${proxy.port}/`);
  await new Promise((resolve) => (ws.onopen = resolve));
  const answers: string[] = [];
  const done = new Promise((resolve) => (ws.onmessage = (m) => answers.push(String(m.data)) === 2 && resolve(null)));
  ws.send("one");
  ws.send("two");
  await done;
  expect(new Set(answers.map((a) => a[0])).size).toBe(1);
  expect(answers.map((a) => a.slice(1))).toEqual([" heard one", " heard two"]);
  ws.close();
});
