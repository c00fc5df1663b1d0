/**
 * A background service fed by the event bus: it queues the events it wants, writes
 * a batch as soon as one is full (after the publisher's call returns) and the rest
 * on every flush interval, and writes what is left when it stops.
 */
import type { AppContext } from "../context";
import type { Micros } from "../lib/time";
import { PeriodicService } from "./service";
import type { ReceivedEvent } from "../events/model";

export abstract class EventConsumer<Entry> extends PeriodicService {
  protected queue: Entry[] = [];
  private unsubscribe: (() => void) | null = null;
  private flushScheduled = false;
  /** The writes started so far, in order (see `inTurn`). */
  private writing: Promise<unknown> = Promise.resolve();
  protected readonly batchSize: number;

  constructor(
    protected readonly ctx: AppContext,
    flushIntervalSeconds: number,
    batchSize: number,
  ) {
    super(ctx.clock, ctx.logger, flushIntervalSeconds);
    this.batchSize = Math.max(1, Math.floor(batchSize));
  }

  /** Queues what this consumer keeps of `event`; false when it keeps nothing. */
  protected abstract enqueue(event: ReceivedEvent): boolean;
  /** Writes the full batches queued so far (a partial one waits for the interval). */
  protected abstract flushFullBatches(): unknown;
  /** Writes everything queued. */
  abstract flush(): unknown;

  override start(): void {
    // Each replica consumes the events it received itself, so across replicas each is consumed
    // once. A consumer run on one leader replica instead would need the relayed ones too.
    this.unsubscribe ??= this.ctx.events.subscribe((event) => this.receive(event), { relayed: false });
    super.start();
  }

  /** Stops listening and writes what is still queued. */
  override async stop(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    await super.stop();
    await this.flush();
  }

  async tick(_now: Micros): Promise<void> {
    await this.flush();
  }

  /** Resolves once the writes started so far are done. */
  async settled(): Promise<void> {
    await this.writing;
  }

  /**
   * Runs `write` after the writes already started. A flush takes its batch off the queue
   * before its transaction commits; without this, a second flush meanwhile would find the
   * queue empty and return before the first batch is stored (on PostgreSQL a write spans
   * several turns of the event loop).
   */
  protected inTurn<T>(write: () => Promise<T>): Promise<T> {
    const run = this.writing.then(write, write);
    this.writing = run.catch(() => {});
    return run;
  }

  /** When a full batch is written: by default as soon as the publisher's call returns. */
  protected scheduleFlush(flush: () => void): void {
    queueMicrotask(flush);
  }

  private receive(event: ReceivedEvent): void {
    if (!this.enqueue(event)) return;
    if (this.queue.length >= this.batchSize && !this.flushScheduled) {
      this.flushScheduled = true;
      this.scheduleFlush(() => {
        this.flushScheduled = false;
        void this.flushFullBatches();
      });
    }
  }
}
