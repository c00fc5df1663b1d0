import { describe, expect, test } from "bun:test";
import { firstFreePriority, rebalancePriorities, type RankedQueue } from "../../src/domain/queue-priorities";

const ranked = (priorities: Record<string, number>): RankedQueue[] =>
  Object.entries(priorities)
    .map(([id, priority]) => ({ id, priority }))
    .sort((a, b) => a.priority - b.priority);

const rebalance = (priorities: Record<string, number>, targets: Record<string, number>) =>
  Object.fromEntries(rebalancePriorities(ranked(priorities), new Map(Object.entries(targets))));

describe("firstFreePriority", () => {
  test.each([
    [[], 1],
    [[1], 2],
    [[1, 2, 3], 4],
    [[2, 3], 1],
    [[1, 3, 4], 2],
    [[3, 1, 7], 2],
  ])("%p -> %p", (taken, expected) => {
    expect(firstFreePriority(taken)).toBe(expected);
  });
});

describe("rebalancePriorities (Prefect's bulk_update_work_queue_priorities)", () => {
  test("a free target is taken without moving anyone", () => {
    expect(rebalance({ a: 1, b: 3, moved: 2 }, { moved: 2 })).toEqual({ a: 1, b: 3, moved: 2 });
  });

  test("a taken target pushes the queues from there on down just enough", () => {
    expect(rebalance({ a: 1, b: 2, c: 3, d: 5, n: 1 }, { n: 1 })).toEqual({ n: 1, a: 2, b: 3, c: 4, d: 5 });
  });

  test("moving a queue up or down keeps the others in order", () => {
    expect(rebalance({ a: 1, b: 2, c: 3, d: 4 }, { d: 2 })).toEqual({ a: 1, d: 2, b: 3, c: 4 });
    expect(rebalance({ a: 1, b: 2, c: 3, d: 4 }, { a: 3 })).toEqual({ b: 2, a: 3, c: 4, d: 5 });
  });

  test("a target past every other queue is kept as is, gap included", () => {
    expect(rebalance({ a: 1, b: 2, n: 10 }, { n: 10 })).toEqual({ a: 1, b: 2, n: 10 });
  });

  test("with no targets, duplicates are separated and gaps kept", () => {
    expect(rebalance({ a: 1, b: 1, c: 4 }, {})).toEqual({ a: 1, b: 2, c: 4 });
  });
});
