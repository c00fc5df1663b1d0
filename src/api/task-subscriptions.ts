/**
 * `/task_runs/subscriptions/scheduled` (Prefect's api/task_runs.py): the websocket task
 * workers (`Task.serve()`, `prefect task serve`) hold open. After the auth handshake the
 * worker subscribes to task keys; the server then sends one scheduled task run at a
 * time and waits for its `ack` before the next. A run sent but not acknowledged when
 * the socket closes goes back on its key's retry queue.
 */
import type { AppContext } from "../context";
import { isJsonObject } from "../lib/json";
import type { Take } from "../runs/background-tasks";
import { backgroundTasks } from "../runs/background-tasks";
import type { TaskRunWithState } from "../db/repos/task-runs";
import type { Micros } from "../lib/time";
import type { TaskRunService } from "../runs/task-runs";
import { Handshake, sendJson, WS_GOING_AWAY, type SocketLike } from "./websocket";

/** Prefect closes protocol violations of this socket with 4001. */
const WS_PROTOCOL_VIOLATION = 4001;

export class ScheduledTaskSubscription {
  readonly handshake: Handshake;
  private keys: string[] | null = null;
  private clientId = "";
  private waiting: Take | null = null;
  /** The run sent and not yet acknowledged. */
  private unacked: { id: string; taskKey: string } | null = null;
  private open = true;
  private readonly releaseShutdown: () => void;

  constructor(
    private readonly socket: SocketLike,
    request: Request,
    private readonly ctx: AppContext,
    private readonly taskRuns: TaskRunService,
    /** The TaskRun body Prefect sends (`model_dump(mode="json")`). */
    private readonly json: (run: TaskRunWithState, now: Micros) => unknown,
  ) {
    this.handshake = new Handshake(request, ctx.config.authString);
    this.releaseShutdown = ctx.events.onClose(() => socket.close(WS_GOING_AWAY, "Server shutting down"));
    this.handshake.open(socket);
  }

  private get background() {
    return backgroundTasks(this.ctx);
  }

  /** A message after the handshake: the subscription first, then acknowledgements. */
  message(message: unknown): void {
    if (this.handshake.consume(this.socket, message)) return;
    if (this.keys === null) return this.subscribe(message);
    const type = isJsonObject(message) ? message.type : undefined;
    if (!this.unacked) return; // nothing was sent: an early ack means nothing
    if (type === "quit") return this.socket.close();
    if (type !== "ack") return this.socket.close(WS_PROTOCOL_VIOLATION, "Protocol violation: expected 'ack' message");
    this.background.workers.observe([this.unacked.taskKey], this.clientId, this.ctx.clock.now());
    this.unacked = null;
    void this.next();
  }

  private subscribe(message: unknown): void {
    const body = isJsonObject(message) ? message : {};
    if (body.type !== "subscribe") return this.socket.close(WS_PROTOCOL_VIOLATION, "Protocol violation: expected 'subscribe' message");
    const keys = Array.isArray(body.keys) ? body.keys.filter((key): key is string => typeof key === "string") : [];
    if (keys.length === 0) return this.socket.close(WS_PROTOCOL_VIOLATION, "Protocol violation: expected 'keys' in subscribe message");
    if (typeof body.client_id !== "string" || body.client_id === "") {
      return this.socket.close(WS_PROTOCOL_VIOLATION, "Protocol violation: expected 'client_id' in subscribe message");
    }
    this.keys = keys;
    this.clientId = body.client_id;
    this.background.workers.observe(keys, this.clientId, this.ctx.clock.now());
    this.ctx.logger.info(`Task worker '${this.clientId}' subscribed to task keys ${JSON.stringify(keys)}`);
    void this.next();
  }

  /** Waits for the next queued run of the keys and sends it (a run deleted meanwhile is skipped). */
  private async next(): Promise<void> {
    while (this.open && this.keys) {
      this.waiting = this.background.queues.take(this.keys);
      const id = await this.waiting.promise;
      this.waiting = null;
      const found = await this.taskRuns.get(id);
      if (!found) continue;
      if (!this.open) return this.background.queues.enqueue(found.run.taskKey, id, true);
      this.unacked = { id, taskKey: found.run.taskKey };
      sendJson(this.socket, this.json(found, this.ctx.clock.now()));
      return;
    }
  }

  closed(): void {
    this.open = false;
    this.releaseShutdown();
    this.waiting?.cancel();
    if (this.unacked) this.background.queues.enqueue(this.unacked.taskKey, this.unacked.id, true);
    this.unacked = null;
    if (this.keys) this.background.workers.forget(this.clientId);
  }
}
