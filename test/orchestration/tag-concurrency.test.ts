/** Task-run tag concurrency (SecureTaskConcurrencySlots, ReleaseTaskConcurrencySlots) over the tag-slot ledger. */
import { describe, expect, test } from "bun:test";
import { OrchestrationContext, type TagLimitView } from "../../src/orchestration/context";
import { orchestrate } from "../../src/orchestration/engine";
import { CoreTaskPolicy, MinimalTaskPolicy } from "../../src/orchestration/policies";
import { TagSlotLedger } from "../../src/orchestration/tag-slots";
import { TAG_CONCURRENCY_SLOT_WAIT_SECONDS, tagSlotWaitSeconds } from "../../src/orchestration/rules/tag-concurrency";
import { newState, type StateType } from "../../src/orchestration/states";
import { GlobalTaskPolicy } from "../../src/orchestration/transforms";
import { NOW, TASK_RUN_ID, outcome, parentFlow, seconds, taskRun } from "./fixtures";

const limit = (tag: string, fields: Partial<TagLimitView> = {}): TagLimitView => ({
  id: `limit-${tag}`,
  tag,
  limit: 1,
  active: true,
  activeSlots: 0,
  avgSlotOccupancySeconds: 0,
  ...fields,
});

function propose(from: StateType | null, to: StateType, limits: TagLimitView[], opts: { force?: boolean; cacheHit?: boolean } = {}) {
  const ledger = new TagSlotLedger(limits);
  const initial = from ? newState(from, NOW - seconds(60)) : null;
  const proposed = newState(to, NOW, opts.cacheHit ? { state_details: { cache_key: "k" } } : {});
  const ctx = new OrchestrationContext(taskRun({ tags: limits.map((l) => l.tag) }), initial, proposed, NOW, {
    tagConcurrency: ledger,
    parentFlowRun: parentFlow(),
    cachedState: opts.cacheHit ? newState("COMPLETED", NOW - seconds(3600)) : null,
  });
  orchestrate(ctx, opts.force ? MinimalTaskPolicy : CoreTaskPolicy, GlobalTaskPolicy);
  return { ctx, effects: ledger.effects };
}

const ZERO_REASON = (tag: string) => `The concurrency limit on tag "${tag}" is 0 and will deadlock if the task tries to run again.`;

describe("SecureTaskConcurrencySlots", () => {
  test.each([
    { name: "free slots on every limit", limits: [limit("a"), limit("b", { limit: 3, activeSlots: 2 })], status: "ACCEPT", takes: ["limit-a", "limit-b"] },
    { name: "an inactive limit is not counted", limits: [limit("a"), limit("off", { active: false, activeSlots: 9 })], status: "ACCEPT", takes: ["limit-a"] },
    { name: "only inactive limits", limits: [limit("off", { active: false })], status: "ACCEPT", takes: null },
    { name: "an inactive zero limit does not deadlock", limits: [limit("off", { active: false, limit: 0 })], status: "ACCEPT", takes: null },
  ] as { name: string; limits: TagLimitView[]; status: string; takes: string[] | null }[])("PENDING → RUNNING with $name", ({ limits, status, takes }) => {
    const { ctx, effects } = propose("PENDING", "RUNNING", limits);
    expect(ctx.status).toBe(status as "ACCEPT");
    expect(effects).toEqual(takes ? [{ kind: "acquire", leaseId: expect.any(String), limitIds: takes, holderRunId: TASK_RUN_ID }] : []);
  });

  test.each([
    { name: "a zero limit", limits: [limit("a"), limit("zero", { limit: 0 })], reason: ZERO_REASON("zero") },
    { name: "two zero limits (the last names the reason)", limits: [limit("z1", { limit: 0 }), limit("z2", { limit: 0 })], reason: ZERO_REASON("z2") },
  ] as { name: string; limits: TagLimitView[]; reason: string }[])("ABORTs with $name, taking nothing", ({ limits, reason }) => {
    const { ctx, effects } = propose("PENDING", "RUNNING", limits);
    expect(outcome(ctx)).toEqual({ status: "ABORT", reason, result: "PENDING/Pending", written: false });
    expect(effects).toEqual([]);
  });

  test("a full limit answers WAIT naming every active tag, and takes nothing", () => {
    const { ctx, effects } = propose("PENDING", "RUNNING", [limit("a"), limit("full", { activeSlots: 1 })]);
    expect(ctx.status).toBe("WAIT");
    expect(ctx.details).toEqual({ type: "wait_details", delay_seconds: expect.any(Number), reason: "Concurrency limit reached for tags: a, full" });
    expect(ctx.validatedState).toBeNull();
    expect(effects).toEqual([]);
  });

  test("a cached state is retrieved even when the limit is full", () => {
    const { ctx, effects } = propose("PENDING", "RUNNING", [limit("full", { activeSlots: 1 })], { cacheHit: true });
    expect(outcome(ctx)).toMatchObject({ status: "REJECT", result: "COMPLETED/Cached" });
    // Leaving for COMPLETED gives back whatever the run held.
    expect(effects).toEqual([{ kind: "release_held", limitIds: ["limit-full"], holderRunId: TASK_RUN_ID }]);
  });

  test("another rule changing the transition gives the taken slots back", () => {
    // A stopped flow run: PreventRunningTasksFromStoppedFlows runs before, so reject after with a later rule:
    // the WaitForScheduledTime rule governs SCHEDULED → RUNNING and delays a future scheduled time.
    const ledger = new TagSlotLedger([limit("a")]);
    const initial = newState("SCHEDULED", NOW - seconds(60), { state_details: { scheduled_time: NOW + seconds(30) } });
    const ctx = new OrchestrationContext(taskRun({ tags: ["a"] }), initial, newState("RUNNING", NOW), NOW, {
      tagConcurrency: ledger,
      parentFlowRun: parentFlow(),
    });
    orchestrate(ctx, CoreTaskPolicy, GlobalTaskPolicy);
    expect(ctx.status).toBe("WAIT");
    const [acquire, release] = ledger.effects;
    expect(acquire).toMatchObject({ kind: "acquire", limitIds: ["limit-a"] });
    expect(release).toEqual({ kind: "release_lease", leaseId: (acquire as { leaseId: string }).leaseId });
  });
});

describe("ReleaseTaskConcurrencySlots", () => {
  test.each([
    { from: "RUNNING", to: "COMPLETED", releases: true },
    { from: "RUNNING", to: "FAILED", releases: true },
    { from: "PENDING", to: "CANCELLED", releases: true },
    { from: "RUNNING", to: "CANCELLING", releases: false },
    { from: "PENDING", to: "RUNNING", releases: false },
  ] as { from: StateType; to: StateType; releases: boolean }[])("$from → $to releases: $releases", ({ from, to, releases }) => {
    const { effects } = propose(from, to, [limit("a", { activeSlots: 1, limit: 2 })]);
    const released = effects.filter((e) => e.kind === "release_held");
    expect(released).toEqual(releases ? [{ kind: "release_held", limitIds: ["limit-a"], holderRunId: TASK_RUN_ID }] : []);
  });

  test("a forced transition (MinimalTaskPolicy) releases too", () => {
    const { effects } = propose("RUNNING", "COMPLETED", [limit("a", { activeSlots: 1 })], { force: true });
    expect(effects).toEqual([{ kind: "release_held", limitIds: ["limit-a"], holderRunId: TASK_RUN_ID }]);
  });
});

describe("tagSlotWaitSeconds", () => {
  test.each([
    { name: "no occupancy history: around the setting", limits: [limit("a", { activeSlots: 1 })], average: TAG_CONCURRENCY_SLOT_WAIT_SECONDS },
    { name: "a short average occupancy", limits: [limit("a", { activeSlots: 1, avgSlotOccupancySeconds: 4 })], average: 4 },
    { name: "a long one is capped at the setting", limits: [limit("a", { activeSlots: 1, avgSlotOccupancySeconds: 100 })], average: 10 },
    {
      name: "the most contended limit decides",
      limits: [limit("half", { limit: 2, activeSlots: 1, avgSlotOccupancySeconds: 2 }), limit("full", { activeSlots: 1, avgSlotOccupancySeconds: 6 })],
      average: 6,
    },
  ])("$name", ({ limits, average }) => {
    // Clamped to [lower, average × 1.3]; the median draw sits at about the average's ln 2 point.
    expect(tagSlotWaitSeconds(limits, () => 1)).toBe(Math.round(average * 1.3));
    expect(tagSlotWaitSeconds(limits, () => 0)).toBeLessThanOrEqual(Math.round(average));
  });
});

describe("TagSlotLedger", () => {
  test("all or nothing, counting what it took", () => {
    const ledger = new TagSlotLedger([limit("a", { limit: 2 }), limit("b")]);
    expect(ledger.tryAcquire(["limit-a", "limit-b"], "r1")).toEqual(expect.any(String));
    expect(ledger.tryAcquire(["limit-a", "limit-b"], "r2")).toBeNull(); // b is full now
    expect(ledger.tryAcquire(["limit-a"], "r2")).toEqual(expect.any(String));
    expect(ledger.tryAcquire(["limit-missing"], "r3")).toBeNull();
    expect(ledger.effects.map((e) => e.kind)).toEqual(["acquire", "acquire"]);
  });
});
