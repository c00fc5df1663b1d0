/** Slot accounting of v2 concurrency limits, table-driven: decay of held and denied slots, the occupancy average. */
import { describe, expect, test } from "bun:test";
import { activeSlotsAt, deniedSlotsAt, occupancyAverage, settled, slotWaitCapSeconds, type SlotCounts } from "../../src/domain/concurrency-slots";

const T0 = Date.UTC(2025, 0, 1) * 1000;
const SECOND = 1_000_000;
const limit = (fields: Partial<SlotCounts> = {}): SlotCounts => ({
  name: "limit",
  limit: 10,
  activeSlots: 0,
  deniedSlots: 0,
  slotDecayPerSecond: 0,
  avgSlotOccupancySeconds: 2,
  updated: T0,
  ...fields,
});

describe("activeSlotsAt", () => {
  test.each([
    { name: "no decay keeps every held slot", row: limit({ activeSlots: 5 }), after: 100, expected: 5 },
    { name: "a rate limit frees floor(decay × seconds)", row: limit({ activeSlots: 5, slotDecayPerSecond: 0.5 }), after: 5, expected: 3 },
    { name: "never below zero", row: limit({ activeSlots: 2, slotDecayPerSecond: 1 }), after: 60, expected: 0 },
    { name: "a clock set back adds nothing", row: limit({ activeSlots: 2, slotDecayPerSecond: 1 }), after: -30, expected: 2 },
  ])("$name", ({ row, after, expected }) => {
    expect(activeSlotsAt(row, T0 + after * SECOND)).toBe(expected);
  });
});

describe("deniedSlotsAt", () => {
  test.each([
    { name: "a rate limit forgets denials at its own rate", row: limit({ deniedSlots: 4, slotDecayPerSecond: 2 }), after: 1, expected: 2 },
    { name: "otherwise one per average occupancy", row: limit({ deniedSlots: 4, avgSlotOccupancySeconds: 2 }), after: 5, expected: 2 },
    { name: "the occupancy is capped at the slot wait cap (30 s)", row: limit({ deniedSlots: 4, avgSlotOccupancySeconds: 600 }), after: 60, expected: 2 },
    { name: "tag limits cap at 10 s", row: limit({ name: "tag:db", deniedSlots: 4, avgSlotOccupancySeconds: 600 }), after: 20, expected: 2 },
  ])("$name", ({ row, after, expected }) => {
    expect(deniedSlotsAt(row, T0 + after * SECOND)).toBe(expected);
  });
});

test("slot wait caps: tag limits use the task setting, others the server-wide cap", () => {
  expect(slotWaitCapSeconds("tag:db")).toBe(10);
  expect(slotWaitCapSeconds("deployment:x")).toBe(30);
});

test("the occupancy average moves one sample (of limit × 2) toward the release; a zero limit keeps it", () => {
  expect(occupancyAverage(limit({ limit: 1, avgSlotOccupancySeconds: 2 }), 1, 10)).toBe(2 + 10 / 2 - 2 / 2);
  expect(occupancyAverage(limit({ limit: 2, avgSlotOccupancySeconds: 2 }), 2, 0)).toBeCloseTo(2 + 0.1 / 4 - 2 / 4, 12);
  expect(occupancyAverage(limit({ limit: 0, avgSlotOccupancySeconds: 7 }), 1, 10)).toBe(7);
});

test("settling writes the decayed counts as of now", () => {
  expect(settled(limit({ activeSlots: 5, deniedSlots: 3, slotDecayPerSecond: 1 }), T0 + 2 * SECOND)).toEqual({ activeSlots: 3, deniedSlots: 1, updated: T0 + 2 * SECOND });
});
