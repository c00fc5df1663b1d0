/**
 * The unit of work: how code outside the data layer reads and writes.
 *
 * A repository method is an `Op`: a generator that returns its result. Domain code
 * composes operations with `yield*` inside one `store.write(function* (tx) { ... })`
 * (or `store.read`), and the data layer runs the whole body as one transaction.
 *
 * Why generators and not async callbacks: a generator body cannot `await`, and `Op`'s
 * yield type admits nothing a caller could produce, so a transaction body can only do
 * database work: no network call, timer or other request can run in the middle of a
 * transaction holding the write lock. SQLite's driver is synchronous, so its operations
 * complete without yielding and a body runs from BEGIN to COMMIT in one stretch; an
 * asynchronous driver's operations would yield their pending queries to the runner,
 * with the same bodies unchanged.
 */
import type { Event } from "../events/model";

/** A database operation returning `T`. Compose with `yield*`. */
export type Op<T> = Generator<never, T, unknown>;

/** Runs an operation of a synchronous driver to completion. */
export function complete<T>(op: Op<T>): T {
  const step = op.next();
  if (!step.done) throw new Error("a synchronous database operation yielded");
  return step.value;
}

/** Events a write stages: published after its transaction commits, dropped if it rolls back. */
export interface EventStaging {
  stage(...events: Event[]): void;
}

export type EventSink = (events: Event[]) => void;

/** The staged events of the one open transaction of a connection. */
export class TransactionEvents implements EventStaging {
  private staged: Event[] | null = null;

  begin(): void {
    this.staged = [];
  }

  stage(...events: Event[]): void {
    if (!this.staged) throw new Error("events can only be staged inside store.write");
    this.staged.push(...events);
  }

  /** Ends the transaction; returns what it staged (empty after a rollback). */
  end(committed: boolean): Event[] {
    const staged = this.staged ?? [];
    this.staged = null;
    return committed ? staged : [];
  }
}

/** One holder at a time, first come first served. */
export class AsyncLock {
  private held = false;
  private readonly waiting: (() => void)[] = [];

  /** Takes the lock if it is free, without waiting. */
  tryAcquire(): boolean {
    if (this.held) return false;
    this.held = true;
    return true;
  }

  acquire(): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Hands the lock to the next waiter, or frees it. */
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.held = false;
  }
}
