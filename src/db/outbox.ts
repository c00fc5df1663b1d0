/**
 * Events the data layer announces (a flow run changed state, a deployment was
 * created, ...) must reach subscribers only once the write that caused them is
 * durable: a runner told "Cancelling" for a state that was rolled back would
 * cancel a run that is still Running. Writes stage their events here; the
 * outermost transaction hands them on after it commits and drops them if it
 * rolls back. An event staged outside any transaction follows a write that has
 * already committed, so it is handed on at once.
 */
import type { Event } from "../events/model";

export type EventSink = (events: Event[]) => void;

export class Outbox {
  private staged: Event[] = [];
  private depth = 0;
  private sink: EventSink = () => {};

  /** Where committed events go (the event bus). Until connected they are dropped: nobody is listening. */
  drainTo(sink: EventSink): void {
    this.sink = sink;
  }

  stage(...events: Event[]): void {
    if (events.length === 0) return;
    if (this.depth > 0) this.staged.push(...events);
    else this.sink(events);
  }

  /**
   * Runs one transaction (begin, body, commit), as the SQLite client calls it. A nested
   * transaction is a savepoint: if it rolls back, the events it staged go with it.
   */
  runTransaction<T>(transaction: () => T): T {
    const mark = this.staged.length;
    this.depth++;
    let result: T;
    try {
      result = transaction();
    } catch (error) {
      this.staged.length = mark;
      throw error;
    } finally {
      this.depth--;
    }
    if (this.depth === 0 && this.staged.length > 0) {
      const committed = this.staged;
      this.staged = [];
      this.sink(committed);
    }
    return result;
  }
}
