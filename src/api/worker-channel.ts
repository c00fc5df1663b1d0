/**
 * `/work_pools/{name}/workers/connect` (Prefect 3.9's worker channel, api/workers.py and
 * utilities/worker_channel.py): the websocket a worker opens before falling back to REST.
 * After the `prefect` auth handshake the worker says hello; the server answers with the
 * ready frame (capabilities, the queues it serves, a first snapshot of the pool) and from
 * then on records the worker's heartbeats and pushes a new pool snapshot whenever a field a
 * worker depends on changes. While the channel is healthy the worker sends no REST
 * heartbeats and reads no pool over REST.
 *
 * A worker that handles cleanup kinds is granted cleanup delivery (`cleanup_delivery.v1`):
 * the cleanup messages of its pool (src/work-pools/cleanup-delivery.ts) are sent to it, and
 * it acknowledges, releases or renews them on the channel.
 */
import type { AppContext } from "../context";
import type { WorkPoolView, WorkQueueRow } from "../db/repos/work-pools";
import { NotFound } from "../domain/errors";
import { formatDateTime, type Micros } from "../lib/time";
import { workerChannelHub, type SnapshotInvalidation } from "../work-pools/channel-hub";
import { cleanupDelivery, type CleanupConsumer, type CleanupOperationResult, type CleanupReservation } from "../work-pools/cleanup-delivery";
import type { WorkPoolService } from "../work-pools/service";
import {
  capabilityDecision,
  CLOSE_CODES,
  parseHello,
  parseWorkerFrame,
  selectChannelVersion,
  WorkerChannelSetupError,
  type CapabilityDecision,
  type CleanupOperationFrame,
  type CloseReason,
  type WorkerHeartbeat,
  type WorkerHello,
} from "../work-pools/worker-channel";
import { Handshake, offersPrefect, sendJson, WS_GOING_AWAY, type SocketLike } from "./websocket";
import { workPoolJson } from "./work-pools";
import { forbidden } from "./errors";

/** Prefect waits this long after an invalidation, so a burst of changes sends one snapshot. */
const SNAPSHOT_COALESCE_MS = 50;

/** The `upgrade` hook: this socket requires the `prefect` subprotocol (Prefect answers 403 without it). */
export function requirePrefectSubprotocol({ request, set }: { request: Request; set: { headers: Record<string, string | number> } }): void {
  if (!offersPrefect(request)) throw forbidden("'prefect' subprotocol required");
  set.headers["sec-websocket-protocol"] = "prefect";
}

export class WorkerChannel {
  readonly handshake: Handshake;
  private phase: "hello" | "setup" | "ready" | "closed" = "hello";
  /** Frames that arrived while the hello was being set up, handled once the ready frame is sent. */
  private early: unknown[] = [];
  /** Frames are handled, and snapshots sent, one at a time in arrival order. */
  private work: Promise<void> = Promise.resolve();
  private hello: WorkerHello | null = null;
  private poolId = "";
  /** The pool's `updated` in the last snapshot sent. */
  private poolUpdated: Micros = 0;
  private nextSequence = 2;
  private pendingInvalidation: SnapshotInvalidation | null = null;
  private coalesceTimer: ReturnType<typeof setTimeout> | null = null;
  private unsubscribe: () => void = () => {};
  /** Set when the worker was granted cleanup delivery. */
  private cleanup: CleanupConsumer | null = null;
  private unregisterCleanup: () => void = () => {};
  private readonly releaseShutdown: () => void;

  constructor(
    private readonly socket: SocketLike,
    request: Request,
    private readonly poolName: string,
    private readonly ctx: AppContext,
    private readonly workPools: WorkPoolService,
  ) {
    this.handshake = new Handshake(request, ctx.config.authString, "authentication_failed");
    this.releaseShutdown = ctx.events.onClose(() => socket.close(WS_GOING_AWAY, "Server shutting down"));
  }

  message(message: unknown): void {
    if (this.phase === "closed" || this.handshake.consume(this.socket, message)) return;
    if (this.phase === "hello") {
      this.phase = "setup";
      this.work = this.work.then(() => this.setUp(message));
    } else if (this.phase === "setup") {
      this.early.push(message);
    } else {
      this.work = this.work.then(() => this.handle(message));
    }
  }

  private async setUp(message: unknown): Promise<void> {
    let ready: unknown;
    try {
      const hello = parseHello(message);
      const version = selectChannelVersion(hello);
      const setup = await this.workPools.connectWorker(this.poolName, hello);
      if (this.phase === "closed") return;
      this.hello = hello;
      this.poolId = setup.pool.row.id;
      this.poolUpdated = setup.pool.row.updated;
      const capabilities = capabilityDecision(hello);
      if (capabilities.maxCleanupConcurrency > 0) this.cleanup = this.cleanupConsumer(hello, capabilities.maxCleanupConcurrency, setup.queues);
      ready = this.readyFrame(hello, version, capabilities, setup.pool, setup.queues);
    } catch (error) {
      if (error instanceof WorkerChannelSetupError) return this.close(error.reason);
      this.ctx.logger.error(`Worker channel setup failed due to a transient server error: work_pool=${this.poolName}: ${String(error)}`);
      return this.close("transient_server_error");
    }
    this.unsubscribe = workerChannelHub(this.ctx).subscribe(this.poolId, (invalidation) => this.invalidate(invalidation));
    sendJson(this.socket, ready);
    this.phase = "ready";
    if (this.cleanup) this.unregisterCleanup = cleanupDelivery(this.ctx).register(this.cleanup);
    for (const early of this.early.splice(0)) await this.handle(early);
  }

  private readyFrame(hello: WorkerHello, version: string, capabilities: CapabilityDecision, pool: WorkPoolView, queues: WorkQueueRow[]) {
    const { accepted, rejected, maxCleanupConcurrency } = capabilities;
    return this.frame("worker.ready.v1", {
      consumer_id: hello.consumerId,
      worker_id: null,
      selected_channel_version: version,
      effective_heartbeat_interval_seconds: hello.heartbeatIntervalSeconds,
      accepted_capabilities: accepted,
      rejected_capabilities: rejected,
      effective_max_cleanup_concurrency: maxCleanupConcurrency,
      resolved_work_queues: queues.map((queue) => ({ id: queue.id, name: queue.name })),
      initial_snapshot: { snapshot_sequence: 1, reason: "initial", work_pool: snapshotJson(pool) },
    });
  }

  private frame(type: string, payload: Record<string, unknown>) {
    return { type, id: Bun.randomUUIDv7(), sent_at: formatDateTime(this.ctx.clock.now()), payload };
  }

  private async handle(message: unknown): Promise<void> {
    if (this.phase !== "ready") return;
    const frame = parseWorkerFrame(message);
    if (frame?.type === "heartbeat") return this.heartbeat(frame.heartbeat);
    if (frame?.type === "cleanup") return this.cleanupOperation(frame.operation);
    this.close("protocol_error");
  }

  private async heartbeat(heartbeat: WorkerHeartbeat): Promise<void> {
    const hello = this.hello!;
    if (heartbeat.consumerId !== hello.consumerId || heartbeat.workerName !== hello.workerName) return this.close("protocol_error");
    let poolUpdated: Micros;
    try {
      poolUpdated = await this.workPools.channelHeartbeat(this.poolName, heartbeat.workerName, heartbeat.heartbeatIntervalSeconds);
    } catch (error) {
      if (!(error instanceof NotFound)) this.ctx.logger.error(`Worker channel heartbeat persistence failed: work_pool=${this.poolName}: ${String(error)}`);
      return this.close("heartbeat_persistence_failed");
    }
    // The pool changed without an invalidation reaching this channel: resend it.
    if (poolUpdated !== this.poolUpdated) this.invalidate({ workPoolId: this.poolId, reason: "heartbeat_reconciliation", deleted: false });
  }

  private cleanupConsumer(hello: WorkerHello, maxConcurrency: number, queues: WorkQueueRow[]): CleanupConsumer {
    return {
      workPoolId: this.poolId,
      workerKey: `${this.poolId} ${hello.consumerId} ${hello.workerName}`,
      kinds: hello.handledCleanupKinds,
      workQueueIds: queues.map((queue) => queue.id),
      maxConcurrency,
      deliver: (reservation) => this.deliverCleanup(reservation),
    };
  }

  private deliverCleanup(reservation: CleanupReservation): void {
    sendJson(
      this.socket,
      this.frame("cleanup.message.v1", {
        message_id: reservation.messageId,
        reservation_token: reservation.reservationToken,
        lease_expires_at: formatDateTime(reservation.leaseExpiresAt),
        delivery_count: reservation.deliveryCount,
        work_queue_id: reservation.workQueueId,
        data: reservation.data,
        kind: reservation.kind,
        target: reservation.target,
      }),
    );
  }

  /** An ack, release or renew; on a channel without cleanup delivery Prefect answers `unauthorized`. */
  private cleanupOperation(operation: CleanupOperationFrame): void {
    const now = this.ctx.clock.now();
    let result: CleanupOperationResult;
    if (!this.cleanup) {
      result = { messageId: operation.messageId, operation: operation.operation, status: "unauthorized", reason: "cleanup_delivery_not_accepted", leaseExpiresAt: null };
    } else {
      const delivery = cleanupDelivery(this.ctx);
      const { messageId, reservationToken: token } = operation;
      if (operation.operation === "ack") result = delivery.queue.ack(this.poolId, messageId, token, now);
      else if (operation.operation === "renew") result = delivery.queue.renew(this.poolId, messageId, token, now);
      else result = delivery.queue.release(this.poolId, messageId, token, operation.reason!, now);
      delivery.settle(this.cleanup, token, result);
    }
    sendJson(
      this.socket,
      this.frame("cleanup.operation_result.v1", {
        request_frame_id: operation.id,
        message_id: result.messageId,
        operation: result.operation,
        status: result.status,
        lease_expires_at: result.leaseExpiresAt === null ? null : formatDateTime(result.leaseExpiresAt),
        reason: result.reason,
        detail: null,
      }),
    );
  }

  /** Keeps only the latest invalidation of a burst and sends one snapshot for it. */
  private invalidate(invalidation: SnapshotInvalidation): void {
    if (this.phase !== "ready") return;
    this.pendingInvalidation = invalidation;
    this.coalesceTimer ??= setTimeout(() => {
      this.coalesceTimer = null;
      const latest = this.pendingInvalidation!;
      this.pendingInvalidation = null;
      this.work = this.work.then(() => this.sendSnapshot(latest));
    }, SNAPSHOT_COALESCE_MS);
  }

  private async sendSnapshot(invalidation: SnapshotInvalidation): Promise<void> {
    if (this.phase !== "ready") return;
    if (invalidation.deleted) return this.close("authorization_failed");
    const pool = await this.ctx.store.read((q) => q.workPools.getPool(this.poolName));
    if (this.phase !== "ready") return;
    if (pool?.row.id !== this.poolId) return this.close("authorization_failed");
    this.poolUpdated = pool.row.updated;
    const frame = this.frame("work_pool.snapshot.v1", { snapshot_sequence: this.nextSequence++, reason: invalidation.reason, work_pool: snapshotJson(pool) });
    sendJson(this.socket, frame);
  }

  private close(reason: CloseReason): void {
    if (this.phase === "closed") return;
    this.socket.close(CLOSE_CODES[reason], reason);
    this.closed();
  }

  closed(): void {
    this.phase = "closed";
    this.early = [];
    if (this.coalesceTimer) clearTimeout(this.coalesceTimer);
    this.coalesceTimer = null;
    this.unsubscribe();
    this.unregisterCleanup();
    this.releaseShutdown();
  }
}

/** Prefect's WorkPoolSnapshot: the pool as `GET /work_pools/{name}` answers it. */
const snapshotJson = (pool: WorkPoolView) => workPoolJson(pool, { legacyClient: false });
