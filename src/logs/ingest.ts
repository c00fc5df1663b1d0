/**
 * Writing a client's batch of logs. Batches can be huge (a 100,000-line batch is
 * 20 MB), and SQLite runs a transaction from BEGIN to COMMIT without yielding, so a
 * batch is written in chunks, one transaction each, with a turn of the event loop in
 * between: other requests and writes go on while it is written.
 */
import type { NewLog } from "../db/repos/logs";
import type { Store } from "../db/store";
import type { Micros } from "../lib/time";

/** Logs per transaction: large enough to amortise the commit, small enough to take a few milliseconds. */
export const LOGS_PER_TRANSACTION = 1_000;

/** Lets the event loop serve what is waiting (other requests, timers) before going on. */
export const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export async function createLogs(store: Store, logs: NewLog[], now: Micros): Promise<void> {
  for (let start = 0; start < logs.length; start += LOGS_PER_TRANSACTION) {
    if (start > 0) await nextTurn();
    const chunk = logs.slice(start, start + LOGS_PER_TRANSACTION);
    await store.write((tx) => tx.logs.createMany(chunk, now));
  }
}
