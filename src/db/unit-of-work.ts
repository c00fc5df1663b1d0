/**
 * The unit of work: how code outside the data layer reads and writes.
 *
 * A repository method is an `Op`: a generator that returns its result. Domain code
 * composes operations with `yield*` inside one `store.write(function* (tx) { ... })`
 * (or `store.read`), and the data layer runs the whole body as one transaction.
 *
 * Why generators and not async callbacks: a generator body cannot `await`, and the only
 * thing an `Op` may yield is a `PendingQuery`, which only the data layer can make, so a
 * transaction body can only do database work: no network call, timer or other request
 * can run in the middle of a transaction holding its locks. SQLite's driver is
 * synchronous, so its operations complete without yielding and a body runs from BEGIN to
 * COMMIT in one stretch; PostgreSQL's operations yield their queries to the runner
 * (src/db/postgres/store.ts), which awaits each on the transaction's connection and hands
 * back its result, with the same bodies unchanged.
 */
import type { Event } from "../events/model";

declare const pendingQuery: unique symbol;

/**
 * A query an asynchronous driver's operation hands to the runner, opaque to everyone else.
 * The brand's symbol is not exported, so nothing outside the data layer can produce one
 * (src/db/postgres/query.ts makes them; test/unit/architecture.test.ts keeps its imports
 * inside src/db).
 */
export interface PendingQuery {
  readonly [pendingQuery]: true;
}

/** A database operation returning `T`. Compose with `yield*`. */
export type Op<T> = Generator<PendingQuery, T, unknown>;

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
