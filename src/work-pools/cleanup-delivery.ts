/**
 * Cleanup delivery over the worker channel (Prefect 3.9's worker_communication/cleanup_queue
 * /memory.py and utilities/worker_channel_cleanup.py). When the cancellation clean-up marks
 * a run whose CANCELLING timed out as Cancelled, its infrastructure may still be running:
 * a cleanup message is queued for the run's work pool, and a connected worker that handles
 * that kind reserves it under a lease, tears the infrastructure down and acknowledges it.
 *
 * - Delivery is at least once with one active reservation per message: a lease that expires
 *   or a release makes the message deliverable again, up to `maxDeliveryAttempts`
 *   reservations; then it moves to the dead letters.
 * - Operations are checked against the current reservation's token (`invalid_token`,
 *   `not_current`, `expired`, `not_found`, `unauthorized` for another pool's message).
 * - A worker takes at most its `max_cleanup_concurrency` messages at once, counted per
 *   worker (pool, consumer, name) across reconnections until their leases end; the
 *   worker's own queues are preferred, then any queue of the pool.
 *
 * In memory, as Prefect's default storage is: a message queued on one server process is
 * delivered to the workers connected to that process.
 */
import { randomBytes } from "node:crypto";
import type { WorkerChannelSettings } from "../config";
import type { AppContext } from "../context";
import type { JsonObject } from "../lib/json";
import { MICROS_PER_SECOND, type Micros } from "../lib/time";

export interface CleanupMessage {
  messageId: string;
  idempotencyKey: string;
  workPoolId: string;
  workQueueId: string | null;
  kind: string;
  target: JsonObject;
  data: JsonObject;
  deliveryCount: number;
}

export interface CleanupReservation extends CleanupMessage {
  reservationToken: string;
  leaseExpiresAt: Micros;
}

export type CleanupOperation = "ack" | "release" | "renew";

export interface CleanupOperationResult {
  messageId: string;
  operation: CleanupOperation;
  status: "accepted" | "not_current" | "not_found" | "expired" | "invalid_token" | "unauthorized" | "dead_lettered";
  reason: string | null;
  /** Set on an accepted renew. */
  leaseExpiresAt: Micros | null;
}

export type CleanupPolicy = WorkerChannelSettings;

export interface DeadLetter {
  message: CleanupMessage;
  reason: string;
  releaseReason: string | null;
}

interface Lease {
  token: string;
  expiresAt: Micros;
}

export class WorkerCleanupQueue {
  private readonly messages = new Map<string, CleanupMessage>();
  private readonly leases = new Map<string, Lease>();
  private readonly deadLetters = new Map<string, DeadLetter>();
  private readonly acked = new Map<string, CleanupMessage>();
  /** `${workPoolId} ${idempotencyKey}` → message id: enqueueing the same cleanup twice queues it once. */
  private readonly idempotencyKeys = new Map<string, string>();

  constructor(
    private readonly policy: CleanupPolicy,
    /** Called when a pool has a message that can be reserved. */
    private readonly onAvailable: (workPoolId: string) => void,
  ) {}

  /** Queues the message, or returns the one already queued (or done) under its id or idempotency key. */
  enqueue(input: Omit<CleanupMessage, "deliveryCount">): CleanupMessage {
    const key = `${input.workPoolId} ${input.idempotencyKey}`;
    const existingId = this.idempotencyKeys.get(key) ?? input.messageId;
    const existing = this.messages.get(existingId) ?? this.deadLetters.get(existingId)?.message ?? this.acked.get(existingId);
    if (existing) {
      if (this.messages.has(existing.messageId) && !this.leases.has(existing.messageId)) this.onAvailable(existing.workPoolId);
      return { ...existing };
    }
    const message: CleanupMessage = { ...input, deliveryCount: 0 };
    this.messages.set(message.messageId, message);
    this.idempotencyKeys.set(key, message.messageId);
    this.onAvailable(message.workPoolId);
    return { ...message };
  }

  /**
   * Reserves the first deliverable message of the pool of one of `kinds`, in `queueIds`
   * when given; a message already reserved `maxDeliveryAttempts` times is dead-lettered.
   */
  reserve(workPoolId: string, kinds: readonly string[], queueIds: readonly string[] | null, now: Micros): CleanupReservation | null {
    this.expireLeases(now, workPoolId);
    for (const message of [...this.messages.values()]) {
      if (message.workPoolId !== workPoolId || this.leases.has(message.messageId) || !kinds.includes(message.kind)) continue;
      if (queueIds && (message.workQueueId === null || !queueIds.includes(message.workQueueId))) continue;
      if (message.deliveryCount >= this.policy.maxDeliveryAttempts) {
        this.deadLetter(message.messageId, null);
        continue;
      }
      message.deliveryCount += 1;
      const lease = { token: randomBytes(32).toString("base64url"), expiresAt: now + this.leaseMicros };
      this.leases.set(message.messageId, lease);
      return { ...message, reservationToken: lease.token, leaseExpiresAt: lease.expiresAt };
    }
    return null;
  }

  ack(workPoolId: string, messageId: string, token: string, now: Micros): CleanupOperationResult {
    const refused = this.checkReservation("ack", workPoolId, messageId, token, now);
    if (refused) return refused;
    this.acked.set(messageId, this.messages.get(messageId)!);
    this.messages.delete(messageId);
    this.leases.delete(messageId);
    return accepted(messageId, "ack");
  }

  release(workPoolId: string, messageId: string, token: string, reason: string, now: Micros): CleanupOperationResult {
    const refused = this.checkReservation("release", workPoolId, messageId, token, now);
    if (refused) return refused;
    const message = this.messages.get(messageId)!;
    if (message.deliveryCount >= this.policy.maxDeliveryAttempts) {
      this.deadLetter(messageId, reason);
      return { ...accepted(messageId, "release"), status: "dead_lettered", reason: "max_delivery_attempts_reached" };
    }
    this.leases.delete(messageId);
    this.onAvailable(message.workPoolId);
    return accepted(messageId, "release");
  }

  renew(workPoolId: string, messageId: string, token: string, now: Micros): CleanupOperationResult {
    const refused = this.checkReservation("renew", workPoolId, messageId, token, now);
    if (refused) return refused;
    const lease = this.leases.get(messageId)!;
    lease.expiresAt = now + this.leaseMicros;
    return { ...accepted(messageId, "renew"), leaseExpiresAt: lease.expiresAt };
  }

  /** Ends the leases due by `now` (of one pool, or all): each message is deliverable again, or dead-lettered. */
  expireLeases(now: Micros, workPoolId?: string): void {
    for (const [messageId, lease] of [...this.leases]) {
      const message = this.messages.get(messageId);
      if (lease.expiresAt > now || (workPoolId !== undefined && message?.workPoolId !== workPoolId)) continue;
      if (this.expire(messageId) && message) this.onAvailable(message.workPoolId);
    }
  }

  /** The earliest lease end, for the dispatcher's timer. */
  nextLeaseExpiry(): Micros | null {
    let next: Micros | null = null;
    for (const lease of this.leases.values()) if (next === null || lease.expiresAt < next) next = lease.expiresAt;
    return next;
  }

  readMessage(messageId: string): CleanupMessage | undefined {
    const message = this.messages.get(messageId);
    return message && { ...message };
  }

  readDeadLetter(messageId: string): DeadLetter | undefined {
    return this.deadLetters.get(messageId);
  }

  private get leaseMicros(): Micros {
    return Math.round(this.policy.leaseSeconds * MICROS_PER_SECOND);
  }

  /** Ends a message's lease; true when the message can be delivered again (false when dead-lettered). */
  private expire(messageId: string): boolean {
    const message = this.messages.get(messageId);
    if (message && message.deliveryCount >= this.policy.maxDeliveryAttempts) {
      this.deadLetter(messageId, null);
      return false;
    }
    this.leases.delete(messageId);
    return message !== undefined;
  }

  private deadLetter(messageId: string, releaseReason: string | null): void {
    const message = this.messages.get(messageId)!;
    this.messages.delete(messageId);
    this.leases.delete(messageId);
    this.deadLetters.set(messageId, { message, reason: "max_delivery_attempts_reached", releaseReason });
  }

  private checkReservation(operation: CleanupOperation, workPoolId: string, messageId: string, token: string, now: Micros): CleanupOperationResult | null {
    const refuse = (status: CleanupOperationResult["status"], reason: string): CleanupOperationResult => ({ messageId, operation, status, reason, leaseExpiresAt: null });
    const message = this.messages.get(messageId);
    if (!message) return refuse("not_found", "message_not_found");
    if (message.workPoolId !== workPoolId) return refuse("unauthorized", "work_pool_mismatch");
    const lease = this.leases.get(messageId);
    if (!lease) return refuse("not_current", "no_active_reservation");
    if (lease.token !== token) return refuse("invalid_token", "reservation_token_mismatch");
    if (lease.expiresAt <= now) {
      if (!this.expire(messageId)) return refuse("dead_lettered", "max_delivery_attempts_reached");
      this.onAvailable(workPoolId);
      return refuse("expired", "lease_expired");
    }
    return null;
  }
}

const accepted = (messageId: string, operation: CleanupOperation): CleanupOperationResult => ({ messageId, operation, status: "accepted", reason: null, leaseExpiresAt: null });

/** A worker channel that was granted cleanup delivery. */
export interface CleanupConsumer {
  readonly workPoolId: string;
  /** Pool, consumer id and worker name: what in-flight messages are counted by. */
  readonly workerKey: string;
  readonly kinds: readonly string[];
  readonly workQueueIds: readonly string[];
  readonly maxConcurrency: number;
  /** Sends the reserved message to the worker. */
  deliver(reservation: CleanupReservation): void;
}

/** How often leases are checked while any worker takes cleanup messages (Prefect's dispatcher polls too). */
const LEASE_CHECK_MS = 1000;

export class CleanupDispatcher {
  readonly queue: WorkerCleanupQueue;
  private readonly consumers = new Map<string, Set<CleanupConsumer>>();
  /** workerKey → reservation token → lease end. */
  private readonly inFlight = new Map<string, Map<string, { messageId: string; leaseExpiresAt: Micros }>>();
  private leaseTimer: ReturnType<typeof setInterval> | null = null;
  private readonly scheduled = new Set<string>();

  constructor(
    policy: CleanupPolicy,
    private readonly now: () => Micros,
  ) {
    this.queue = new WorkerCleanupQueue(policy, (workPoolId) => this.wake(workPoolId));
  }

  /** Adds the channel to its pool's consumers and offers it what is waiting; the returned function removes it. */
  register(consumer: CleanupConsumer): () => void {
    let set = this.consumers.get(consumer.workPoolId);
    if (!set) this.consumers.set(consumer.workPoolId, (set = new Set()));
    set.add(consumer);
    this.leaseTimer ??= setInterval(() => this.queue.expireLeases(this.now()), LEASE_CHECK_MS);
    this.wake(consumer.workPoolId);
    return () => {
      set.delete(consumer);
      if (set.size === 0) this.consumers.delete(consumer.workPoolId);
      if (this.consumers.size === 0 && this.leaseTimer) {
        clearInterval(this.leaseTimer);
        this.leaseTimer = null;
      }
    };
  }

  /** After an operation on a reservation: an accepted renew extends the worker's count, anything else ends it. */
  settle(consumer: CleanupConsumer, token: string, result: CleanupOperationResult): void {
    const held = this.inFlight.get(consumer.workerKey);
    const entry = held?.get(token);
    if (!held || !entry || entry.messageId !== result.messageId) return;
    if (result.operation === "renew" && result.status === "accepted") {
      entry.leaseExpiresAt = result.leaseExpiresAt!;
      return;
    }
    held.delete(token);
    if (held.size === 0) this.inFlight.delete(consumer.workerKey);
    this.wake(consumer.workPoolId);
  }

  /** Dispatches once the current turn is done, so a wake from inside the queue never re-enters it. */
  private wake(workPoolId: string): void {
    if (this.scheduled.has(workPoolId)) return;
    this.scheduled.add(workPoolId);
    queueMicrotask(() => {
      this.scheduled.delete(workPoolId);
      this.dispatch(workPoolId);
    });
  }

  /** Hands out messages while some consumer has room: its own queues first, then any queue of the pool. */
  private dispatch(workPoolId: string): void {
    for (;;) {
      const now = this.now();
      const candidates = [...(this.consumers.get(workPoolId) ?? [])].filter((consumer) => this.hasCapacity(consumer, now));
      if (candidates.length === 0) return;
      let reservation: CleanupReservation | null = null;
      let taker: CleanupConsumer | null = null;
      for (const anyQueue of [false, true]) {
        for (const consumer of candidates) {
          if (!anyQueue && consumer.workQueueIds.length === 0) continue;
          reservation = this.queue.reserve(workPoolId, consumer.kinds, anyQueue ? null : consumer.workQueueIds, now);
          if (reservation) {
            taker = consumer;
            break;
          }
        }
        if (reservation) break;
      }
      if (!reservation || !taker) return;
      let held = this.inFlight.get(taker.workerKey);
      if (!held) this.inFlight.set(taker.workerKey, (held = new Map()));
      held.set(reservation.reservationToken, { messageId: reservation.messageId, leaseExpiresAt: reservation.leaseExpiresAt });
      taker.deliver(reservation);
    }
  }

  private hasCapacity(consumer: CleanupConsumer, now: Micros): boolean {
    const held = this.inFlight.get(consumer.workerKey);
    if (!held) return consumer.maxConcurrency > 0;
    for (const [token, entry] of held) if (entry.leaseExpiresAt <= now) held.delete(token);
    return held.size < consumer.maxConcurrency;
  }

  stop(): void {
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    this.leaseTimer = null;
    this.consumers.clear();
  }
}

const perServer = new WeakMap<AppContext, CleanupDispatcher>();

/** The server's one cleanup queue and dispatcher. */
export function cleanupDelivery(ctx: AppContext): CleanupDispatcher {
  let found = perServer.get(ctx);
  if (!found) {
    perServer.set(ctx, (found = new CleanupDispatcher(ctx.config.workerChannel, () => ctx.clock.now())));
    ctx.events.onClose(() => found!.stop());
  }
  return found;
}
