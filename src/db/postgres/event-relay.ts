/**
 * The event relay on PostgreSQL: how an event published on one replica reaches the local
 * subscribers (the `/events/out` websockets) of every other replica on the same database.
 *
 * - Sending appends the events to `event_relay` in one transaction, under a transaction-level
 *   advisory lock: sequence numbers are then committed in the order they are taken, so a
 *   reader that has seen N never later finds a smaller one committed (without the lock, two
 *   replicas' inserts could commit out of order and the later-committed, smaller one would be
 *   skipped). The same transaction NOTIFYs the other replicas, at COMMIT. A NOTIFY carries at
 *   most 8000 bytes and events may hold 1.5 MB, so it carries only the sender's id.
 * - Each replica LISTENs on a connection of its own and, woken by another replica's
 *   notification, reads the rows after the last sequence number it has read that another
 *   replica sent, in order, and hands them to the bus. The read position is the only state:
 *   when the listening connection drops, the relay LISTENs again and reads from there, so the
 *   events sent meanwhile arrive once, in order. A poll every POLL_INTERVAL_MS reads too, in
 *   case a connection died without the relay hearing of it.
 * - Senders delete rows older than RETENTION_SECONDS: a replica cut off for longer misses the
 *   events of that time on its websockets (the events table still has them, which a
 *   reconnecting `/events/out` client's backfill reads).
 */
import { and, asc, gt, lt, ne, sql } from "drizzle-orm";
import type { Sql } from "postgres";
import type { ReceivedEvent } from "../../events/model";
import type { Logger } from "../../logger";
import type { EventRelay } from "../event-relay";
import { openListener, type PgDb, type PostgresSettings } from "./client";
import { eventRelay } from "./schema";

const CHANNEL = "prefect_lite_events";
/** Held while appending, so sequence numbers commit in order across replicas. */
const RELAY_LOCK = sql`hashtext('prefect-lite event relay')`;
/** How long relayed events are kept for replicas that are behind. */
const RETENTION_SECONDS = 60;
const SWEEP_INTERVAL_MS = 10_000;
/** The fallback read, for a notification lost with its connection. */
const POLL_INTERVAL_MS = 2_000;
/** Events appended in one transaction, and read in one query. */
const BATCH_SIZE = 500;
/** Events waiting to be sent (as many as the persister queues); beyond this the oldest are dropped. */
const MAX_PENDING = 50_000;
const RETRY_DELAY_MS = 250;

export class PgEventRelay implements EventRelay {
  /** This replica's id, in every row it sends and in its listening connection's name. */
  readonly origin = crypto.randomUUID();
  private readonly listener: Sql;
  private pending: ReceivedEvent[] = [];
  private sending: Promise<void> | null = null;
  private lastSweep = Number.NEGATIVE_INFINITY;
  /** The highest sequence number read (or present when the relay opened). */
  private position = 0;
  private receive: ((events: ReceivedEvent[]) => void) | null = null;
  private logger: Logger | null = null;
  private reading: Promise<void> | null = null;
  private readAgain = false;
  private relistening = false;
  private poll: ReturnType<typeof setInterval> | null = null;
  /** Whether the last append, and the last read, failed: an outage is logged once, not on every try. */
  private sendFailing = false;
  private readFailing = false;
  /** Closing: a failed send is not tried again. */
  private closing = false;
  private closed = false;

  private constructor(
    private readonly db: PgDb,
    settings: PostgresSettings,
  ) {
    this.listener = openListener(
      settings,
      `prefect-lite event relay ${this.origin}`,
      (channel, sender) => {
        if (channel === CHANNEL && sender !== this.origin) this.read();
      },
      () => void this.relisten(),
    );
  }

  /** Listens, then starts reading after the newest event already relayed. */
  static async open(db: PgDb, settings: PostgresSettings): Promise<PgEventRelay> {
    const relay = new PgEventRelay(db, settings);
    try {
      await relay.listen();
      const [newest] = await db.select({ seq: sql<number>`coalesce(max(${eventRelay.seq}), 0)::float8` }).from(eventRelay);
      relay.position = newest!.seq;
    } catch (error) {
      await relay.listener.end({ timeout: 0 });
      throw error;
    }
    return relay;
  }

  send(events: ReceivedEvent[]): void {
    if (this.closing || events.length === 0) return;
    this.pending.push(...events);
    if (this.pending.length > MAX_PENDING) {
      const dropped = this.pending.splice(0, this.pending.length - MAX_PENDING);
      this.logger?.warning(`event relay: more than ${MAX_PENDING} events waiting, ${dropped.length} not relayed to the other replicas`);
    }
    this.sending ??= this.sendPending();
  }

  connect(receive: (events: ReceivedEvent[]) => void, logger: Logger): void {
    this.receive = receive;
    this.logger = logger;
    this.poll ??= setInterval(() => this.read(), POLL_INTERVAL_MS);
    this.read();
  }

  /** Sends what is still pending (one try), then stops listening. */
  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    if (this.poll) clearInterval(this.poll);
    this.poll = null;
    this.receive = null;
    await Promise.all([this.sending, this.reading]);
    this.closed = true;
    await this.listener.end({ timeout: 1 });
  }

  // ------------------------------------------------------------------ sending

  /** One append at a time, so this replica's events are relayed in the order it published them. */
  private async sendPending(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending.slice(0, BATCH_SIZE);
      try {
        await this.append(batch);
        this.pending.splice(0, batch.length);
        this.sendFailing = false;
      } catch (error) {
        if (this.closing) {
          this.logger?.warning(`event relay: ${this.pending.length} event(s) not relayed to the other replicas at shutdown`, error);
          this.pending = [];
          break;
        }
        // an append whose COMMIT succeeded but whose answer was lost is sent twice: the
        // receiving buses drop the second copy as already seen
        if (!this.sendFailing) this.logger?.warning("event relay: relaying events to the other replicas failed, trying again until it works", error);
        this.sendFailing = true;
        await Bun.sleep(RETRY_DELAY_MS);
        continue;
      }
      if (performance.now() - this.lastSweep > SWEEP_INTERVAL_MS) await this.sweep();
    }
    this.sending = null;
  }

  private append(batch: ReceivedEvent[]): Promise<void> {
    return this.db.transaction(async (tx) => {
      await tx.execute(sql`SELECT pg_advisory_xact_lock(${RELAY_LOCK})`);
      await tx.insert(eventRelay).values(batch.map((event) => ({ origin: this.origin, event: JSON.stringify(event) })));
      await tx.execute(sql`SELECT pg_notify(${CHANNEL}, ${this.origin})`);
    });
  }

  private async sweep(): Promise<void> {
    this.lastSweep = performance.now();
    try {
      await this.db.delete(eventRelay).where(lt(eventRelay.relayed, sql`now() - make_interval(secs => ${RETENTION_SECONDS})`));
    } catch (error) {
      this.logger?.warning("event relay: sweeping old relayed events failed", error);
    }
  }

  // ------------------------------------------------------------------ receiving

  private async listen(): Promise<void> {
    await this.listener.unsafe(`LISTEN ${CHANNEL}`);
  }

  /** The listening connection was lost: LISTEN again until it works, then read what was missed. */
  private async relisten(): Promise<void> {
    if (this.relistening || this.closed) return;
    this.relistening = true;
    while (!this.closed) {
      try {
        await this.listen();
        break;
      } catch {
        await Bun.sleep(RETRY_DELAY_MS);
      }
    }
    this.relistening = false;
    this.read();
  }

  /** Reads every event relayed since the last read; a call during a read makes it read once more. */
  private read(): void {
    if (!this.receive || this.closed) return;
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = this.readAll().finally(() => {
      this.reading = null;
    });
  }

  private async readAll(): Promise<void> {
    do {
      this.readAgain = false;
      try {
        while (await this.readBatch());
        this.readFailing = false;
      } catch (error) {
        // the position is unchanged: the next notification or poll reads the same rows again
        if (this.receive && !this.readFailing) this.logger?.warning("event relay: reading the other replicas' events failed, trying again", error);
        this.readFailing = true;
        return;
      }
    } while (this.readAgain && this.receive);
  }

  /** Hands the next batch to the bus; true when there may be more. */
  private async readBatch(): Promise<boolean> {
    const rows = await this.db
      .select({ seq: eventRelay.seq, event: eventRelay.event })
      .from(eventRelay)
      .where(and(gt(eventRelay.seq, this.position), ne(eventRelay.origin, this.origin)))
      .orderBy(asc(eventRelay.seq))
      .limit(BATCH_SIZE);
    const receive = this.receive;
    if (rows.length === 0 || !receive) return false;
    this.position = rows[rows.length - 1]!.seq;
    receive(rows.map((row) => JSON.parse(row.event) as ReceivedEvent));
    return rows.length === BATCH_SIZE;
  }
}
