import { describe, expect, test } from "bun:test";
import { changedState, inPages } from "../../src/services/batches";
import { newState } from "../../src/orchestration/states";

describe("inPages", () => {
  test("walks every page by id cursor, reading the next page only after the current one was handled", async () => {
    const rows = ["a", "b", "c", "d", "e"].map((id) => ({ id }));
    const events: string[] = [];
    const fetch = async (afterId: string | null, limit: number) => {
      events.push(`fetch after ${afterId}`);
      return rows.filter((r) => afterId === null || r.id > afterId).slice(0, limit);
    };
    for await (const row of inPages(2, fetch)) events.push(`handle ${row.id}`);
    expect(events).toEqual([
      "fetch after null", "handle a", "handle b",
      "fetch after b", "handle c", "handle d",
      "fetch after d", "handle e",
    ]);
  });

  test("a full last page costs one more (empty) read", async () => {
    const cursors: (string | null)[] = [];
    const fetch = async (afterId: string | null) => {
      cursors.push(afterId);
      return afterId === null ? [{ id: "a" }, { id: "b" }] : [];
    };
    const seen = [];
    for await (const row of inPages(2, fetch)) seen.push(row.id);
    expect(seen).toEqual(["a", "b"]);
    expect(cursors).toEqual([null, "b"]);
  });
});

describe("changedState", () => {
  const run = { id: "run", stateId: "old" };
  const written = newState("CANCELLED", 0);

  test("true when a new state was written, whatever the status", () => {
    expect(changedState(run, { state: written, status: "ACCEPT", details: { type: "accept_details" } })).toBe(true);
    expect(changedState(run, { state: written, status: "REJECT", details: { type: "reject_details", reason: "replaced" } })).toBe(true);
  });

  test("false when the run kept its state or was skipped", () => {
    const kept = { ...written, id: "old" };
    expect(changedState(run, { state: kept, status: "REJECT", details: { type: "reject_details", reason: "no" } })).toBe(false);
    expect(changedState(run, null)).toBe(false);
  });
});
