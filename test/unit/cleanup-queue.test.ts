/**
 * The worker cleanup queue (Prefect 3.9's worker_communication/cleanup_queue/memory.py):
 * idempotent enqueue, reservations under a lease, ack/release/renew checked against the
 * current reservation, redelivery after a release or an expired lease, and the dead letters
 * after `maxDeliveryAttempts` reservations. Time is passed in; nothing sleeps.
 */
import { describe, expect, test } from "bun:test";
import { WorkerCleanupQueue, type CleanupMessage } from "../../src/work-pools/cleanup-delivery";

const S = 1_000_000;
const T0 = 1_000 * S;
const POOL = "pool-1";
const KINDS = ["cancelling_timeout_teardown.v1"];

function message(n: number, overrides: Partial<CleanupMessage> = {}): Omit<CleanupMessage, "deliveryCount"> {
  return {
    messageId: `00000000-0000-5000-8000-${String(n).padStart(12, "0")}`,
    idempotencyKey: `key-${n}`,
    workPoolId: POOL,
    workQueueId: "queue-a",
    kind: KINDS[0]!,
    target: { flow_run_id: `run-${n}` },
    data: {},
    ...overrides,
  };
}

function queue(maxDeliveryAttempts = 3) {
  const woken: string[] = [];
  return { queue: new WorkerCleanupQueue({ leaseSeconds: 30, maxDeliveryAttempts }, (pool) => woken.push(pool)), woken };
}

describe("enqueue", () => {
  test("a message is queued once per id and per idempotency key; each new or waiting one wakes its pool", () => {
    const { queue: q, woken } = queue();
    expect(q.enqueue(message(1)).deliveryCount).toBe(0);
    q.enqueue(message(1));
    q.enqueue({ ...message(2), idempotencyKey: "key-1" });
    expect(woken).toEqual([POOL, POOL, POOL]);
    expect(q.readMessage(message(2).messageId)).toBeUndefined();
    q.reserve(POOL, KINDS, null, T0);
    q.enqueue(message(1)); // reserved: nothing new to hand out
    expect(woken).toHaveLength(3);
  });
});

describe("reserve", () => {
  test("only the pool's messages of a handled kind, in the given queues, one reservation at a time", () => {
    const { queue: q } = queue();
    q.enqueue(message(1, { workPoolId: "other" }));
    q.enqueue(message(2, { kind: "pending_claim_teardown.v1" }));
    q.enqueue(message(3, { workQueueId: "queue-b" }));
    expect(q.reserve(POOL, KINDS, ["queue-a"], T0)).toBeNull();
    const reserved = q.reserve(POOL, KINDS, null, T0)!;
    expect(reserved).toMatchObject({ messageId: message(3).messageId, deliveryCount: 1, leaseExpiresAt: T0 + 30 * S });
    expect(reserved.reservationToken.length).toBeGreaterThanOrEqual(40);
    expect(q.reserve(POOL, KINDS, null, T0)).toBeNull();
  });
});

describe("operations on a reservation", () => {
  const result = (status: string, reason: string | null, leaseExpiresAt: number | null = null) => ({ status, reason, leaseExpiresAt });
  const cases: [string, (q: WorkerCleanupQueue, token: string, id: string) => unknown, unknown][] = [
    ["ack with the token: accepted, the message is gone", (q, token, id) => [q.ack(POOL, id, token, T0 + S), q.readMessage(id)], [result("accepted", null), undefined]],
    ["ack twice: the second is not_found", (q, token, id) => (q.ack(POOL, id, token, T0), q.ack(POOL, id, token, T0)), result("not_found", "message_not_found")],
    ["a wrong token: invalid_token", (q, _, id) => q.ack(POOL, id, "nope", T0), result("invalid_token", "reservation_token_mismatch")],
    ["another pool: unauthorized", (q, token, id) => q.renew("other", id, token, T0), result("unauthorized", "work_pool_mismatch")],
    ["renew: accepted, the lease starts again", (q, token, id) => q.renew(POOL, id, token, T0 + 10 * S), result("accepted", null, T0 + 40 * S)],
    [
      "after the lease ended: expired, and deliverable again",
      (q, token, id) => [q.ack(POOL, id, token, T0 + 30 * S), q.reserve(POOL, KINDS, null, T0 + 30 * S)?.deliveryCount],
      [result("expired", "lease_expired"), 2],
    ],
    ["release: accepted, deliverable again at once", (q, token, id) => [q.release(POOL, id, token, "busy", T0), q.reserve(POOL, KINDS, null, T0)?.deliveryCount], [result("accepted", null), 2]],
    ["release, then ack the old reservation: not_current", (q, token, id) => (q.release(POOL, id, token, "busy", T0), q.ack(POOL, id, token, T0)), result("not_current", "no_active_reservation")],
  ];
  test.each(cases)("%s", (_, act, expected) => {
    const { queue: q } = queue();
    q.enqueue(message(1));
    const { reservationToken, messageId } = q.reserve(POOL, KINDS, null, T0)!;
    expect(act(q, reservationToken, messageId)).toMatchObject(expected as object);
  });
});

describe("redelivery and dead letters", () => {
  test("a release on the last allowed delivery dead-letters the message with the release's reason", () => {
    const { queue: q } = queue(2);
    q.enqueue(message(1));
    const first = q.reserve(POOL, KINDS, null, T0)!;
    q.release(POOL, first.messageId, first.reservationToken, "busy", T0);
    const second = q.reserve(POOL, KINDS, null, T0)!;
    expect(second.deliveryCount).toBe(2);
    expect(q.release(POOL, second.messageId, second.reservationToken, "still busy", T0)).toMatchObject({ status: "dead_lettered", reason: "max_delivery_attempts_reached" });
    expect(q.readDeadLetter(first.messageId)).toMatchObject({ reason: "max_delivery_attempts_reached", releaseReason: "still busy", message: { deliveryCount: 2 } });
    expect(q.reserve(POOL, KINDS, null, T0)).toBeNull();
  });

  test("expired leases: redelivered, then dead-lettered when the attempts are used up; a dead message is not queued again", () => {
    const { queue: q, woken } = queue(2);
    q.enqueue(message(1));
    woken.length = 0;
    q.reserve(POOL, KINDS, null, T0);
    expect(q.nextLeaseExpiry()).toBe(T0 + 30 * S);
    q.expireLeases(T0 + 29 * S);
    expect(woken).toEqual([]);
    q.expireLeases(T0 + 30 * S);
    expect(woken).toEqual([POOL]);
    expect(q.reserve(POOL, KINDS, null, T0 + 31 * S)?.deliveryCount).toBe(2);
    q.expireLeases(T0 + 61 * S);
    expect(q.nextLeaseExpiry()).toBeNull();
    expect(q.readDeadLetter(message(1).messageId)?.releaseReason).toBeNull();
    expect(q.enqueue(message(1)).deliveryCount).toBe(2);
    expect(q.reserve(POOL, KINDS, null, T0 + 62 * S)).toBeNull();
  });
});
