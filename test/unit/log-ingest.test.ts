/** Big log batches are written in chunks, so other writes go on while one is written. */
import { afterAll, expect, test } from "bun:test";
import { SqliteStore } from "../../src/db/store";
import { createLogs, LOGS_PER_TRANSACTION } from "../../src/logs/ingest";

const T0 = Date.UTC(2025, 0, 1) * 1000;
const store = SqliteStore.open(":memory:");
afterAll(() => store.close());

test("a batch of several chunks is written whole, and a write that arrives meanwhile is not held back until the end", async () => {
  const logs = Array.from({ length: LOGS_PER_TRANSACTION * 3 + 1 }, (_, i) => ({
    name: "bulk",
    level: 20,
    message: `line ${i}`,
    timestamp: T0 + i,
    flowRunId: null,
    taskRunId: null,
  }));
  const finished: string[] = [];
  const batch = createLogs(store, logs, T0).then(() => finished.push("batch"));
  const other = store.write((tx) => tx.flows.upsertByName({ name: "meanwhile", tags: [], labels: {} }, T0)).then(() => finished.push("other"));
  await Promise.all([batch, other]);
  expect(finished).toEqual(["other", "batch"]);
  const written = await store.read((q) => q.logs.list(null, "TIMESTAMP_ASC", logs.length + 1, 0));
  expect(written.map((l) => l.message)).toEqual(logs.map((l) => l.message));
});
