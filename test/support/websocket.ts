/** A websocket client for tests on a real port: messages are read in order, each within 2 s. */

export type Message = Record<string, any>;

export interface TestSocket {
  ws: WebSocket;
  next(): Promise<Message>;
  /** True when nothing arrives within `ms`. */
  quiet(ms: number): Promise<boolean>;
  closed: Promise<{ code: number; reason: string }>;
  send(message: unknown): void;
  close(): void;
}

/** Opens `url` offering `protocols`; rejects when the upgrade is refused. */
export async function connect(url: string, protocols: string[] = ["prefect"]): Promise<TestSocket> {
  const ws = new WebSocket(url, protocols);
  const inbox: Message[] = [];
  const waiting: ((m: Message) => void)[] = [];
  ws.onmessage = (m) => {
    const message = JSON.parse(String(m.data)) as Message;
    const waiter = waiting.shift();
    if (waiter) waiter(message);
    else inbox.push(message);
  };
  const closed = new Promise<{ code: number; reason: string }>((resolve) => (ws.onclose = (e) => resolve({ code: e.code, reason: e.reason })));
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  return {
    ws,
    closed,
    send: (message) => ws.send(typeof message === "string" ? message : JSON.stringify(message)),
    close: () => ws.close(),
    quiet: async (ms) => {
      await Bun.sleep(ms);
      return inbox.length === 0;
    },
    next: () =>
      inbox.length > 0
        ? Promise.resolve(inbox.shift()!)
        : new Promise((resolve, reject) => {
            waiting.push(resolve);
            setTimeout(() => reject(new Error("no message within 2 s")), 2000);
          }),
  };
}
