/** The work pool and queue status machine, table-driven: no database, no HTTP. */
import { describe, expect, test } from "bun:test";
import {
  AGENT_POOL_TYPE,
  initialPoolStatus,
  poolStatusAfterPauseChange,
  queueStatusAfterPauseChange,
  QUEUE_POLL_FRESHNESS,
} from "../../src/domain/work-pool-status";

const NOW = Date.UTC(2025, 0, 1) * 1000;

describe("initialPoolStatus", () => {
  test.each([
    ["process", false, "NOT_READY"],
    ["process", true, "PAUSED"],
    [AGENT_POOL_TYPE, false, null],
    [AGENT_POOL_TYPE, true, null],
  ] as const)("%s pool, paused=%p -> %p", (type, paused, expected) => {
    expect(initialPoolStatus(type, paused)).toBe(expected);
  });
});

describe("poolStatusAfterPauseChange", () => {
  test.each([
    { name: "pausing", type: "process", isPaused: true, online: false, expected: "PAUSED" },
    { name: "unpausing with an ONLINE worker", type: "process", isPaused: false, online: true, expected: "READY" },
    { name: "unpausing without one", type: "process", isPaused: false, online: false, expected: "NOT_READY" },
    { name: "no pause sent", type: "process", isPaused: undefined, online: true, expected: undefined },
    { name: "an agent pool", type: AGENT_POOL_TYPE, isPaused: true, online: false, expected: undefined },
  ])("$name", ({ type, isPaused, online, expected }) => {
    expect(poolStatusAfterPauseChange(type, isPaused, () => online)).toBe(expected);
  });
});

describe("queueStatusAfterPauseChange", () => {
  test.each([
    { name: "pausing a READY queue", status: "READY", isPaused: true, polledAgo: 0, expected: "PAUSED" },
    { name: "re-pausing a PAUSED queue", status: "PAUSED", isPaused: true, polledAgo: 0, expected: undefined },
    { name: "unpausing, polled within the freshness window", status: "PAUSED", isPaused: false, polledAgo: QUEUE_POLL_FRESHNESS, expected: "READY" },
    { name: "unpausing, polled too long ago", status: "PAUSED", isPaused: false, polledAgo: QUEUE_POLL_FRESHNESS + 1, expected: "NOT_READY" },
    { name: "unpausing a queue that is not paused", status: "NOT_READY", isPaused: false, polledAgo: 0, expected: undefined },
  ])("$name", ({ status, isPaused, polledAgo, expected }) => {
    expect(queueStatusAfterPauseChange(status, isPaused, NOW - polledAgo, NOW)).toBe(expected);
  });

  test("a queue never polled comes back NOT_READY", () => {
    expect(queueStatusAfterPauseChange("PAUSED", false, null, NOW)).toBe("NOT_READY");
  });
});
