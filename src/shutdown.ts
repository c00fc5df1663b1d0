/**
 * Graceful shutdown of the HTTP side. Requests a client has already sent may still sit in the
 * listen backlog or unread on an accepted connection while the server is busy: closing the
 * listener at once resets them. So the server first keeps serving until no new request has
 * started for a moment (answering with `Connection: close`), then stops listening and waits
 * for the requests in flight, all within the grace period; past it, whatever still arrives
 * gets 503 and the connections left are closed.
 */
import type { Server } from "bun";

/** No request started for this long: whatever had been received has been dispatched. */
const SETTLE_MS = 25;
const POLL_MS = 5;
/** After the grace period, how long queued requests get to receive their 503. */
const REFUSE_MS = 50;

const serviceUnavailable = () =>
  new Response(JSON.stringify({ exception_message: "Service Unavailable" }), {
    status: 503,
    headers: { "content-type": "application/json", connection: "close" },
  });

export class RequestGate {
  private started = 0;
  private draining = false;
  private refusing = false;

  /** The app's request hook: counts arrivals; while draining asks clients to close, past the grace period refuses. */
  admit(headers: Record<string, string | number>): Response | undefined {
    this.started++;
    if (this.refusing) return serviceUnavailable();
    if (this.draining) headers.connection = "close";
    return undefined;
  }

  /**
   * Answers what was received, then stops listening (websockets excepted: the caller closes
   * them). True when every request was answered within `graceMs`.
   */
  async drain(server: Server<unknown>, graceMs: number): Promise<boolean> {
    const deadline = performance.now() + graceMs;
    const remaining = () => deadline - performance.now();
    this.draining = true;
    let seen: number;
    do {
      seen = this.started;
      await Bun.sleep(Math.max(0, Math.min(SETTLE_MS, remaining())));
    } while (this.started !== seen && remaining() > 0);
    void server.stop(false); // stops listening; open connections keep being served
    while (server.pendingRequests > 0 && remaining() > 0) await Bun.sleep(POLL_MS);
    if (server.pendingRequests === 0) return true;
    this.refusing = true;
    await Bun.sleep(REFUSE_MS);
    return false;
  }
}
