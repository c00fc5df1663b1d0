/**
 * Engine mechanics (Prefect's orchestration/rules.py): which rules run, the
 * invalid/fizzle life cycle, errors in hooks, universal transforms and what
 * counts as the validated and the returned state.
 */
import { beforeEach, describe, expect, test } from "bun:test";
import { OrchestrationContext, type FlowRunSnapshot } from "../../src/orchestration/context";
import {
  ALL_STATES,
  OrchestrationRule,
  allExcept,
  orchestrate,
  states,
  type FromTo,
  type PolicyEntry,
  type RuleClass,
  type UniversalTransform,
} from "../../src/orchestration/engine";
import { newState, type State, type StateType } from "../../src/orchestration/states";
import { NOW, aborted, expectOutcome, flowRun, label, only, outcome, rejected, rejectedTo, seconds, waited, type Outcome } from "./fixtures";

/** Every hook that fires, in order: `A.before`, `T.after(RUNNING/Running)`, ... */
let log: string[] = [];
beforeEach(() => {
  log = [];
});

interface Decide {
  reject(state: State | null, reason: string): void;
  delay(seconds: number, reason: string): void;
  abort(reason: string): void;
  rename(name: string): void;
}
type Decision = (rule: Decide) => void;

/** A rule named `name` that logs its hooks and makes `decision` in its before-hook. */
function probe(name: string, from: FromTo, to: FromTo, decision?: Decision): RuleClass<FlowRunSnapshot> {
  const Probe = class extends OrchestrationRule<FlowRunSnapshot> {
    static readonly FROM_STATES = from;
    static readonly TO_STATES = to;
    override before(): void {
      log.push(`${name}.before`);
      decision?.({
        reject: (state, reason) => this.reject(state, reason),
        delay: (secs, reason) => this.delay(secs, reason),
        abort: (reason) => this.abort(reason),
        rename: (newName) => this.rename(newName),
      });
    }
    override after(): void {
      log.push(`${name}.after`);
    }
    override cleanup(): void {
      log.push(`${name}.cleanup`);
    }
  };
  Object.defineProperty(Probe, "name", { value: name });
  return Probe;
}

/** A universal transform that logs which state each hook saw. */
function recorder(name: string): UniversalTransform<FlowRunSnapshot> {
  return {
    name,
    before: (_ctx, proposed) => void log.push(`${name}.before(${label(proposed)})`),
    after: (_ctx, validated) => void log.push(`${name}.after(${label(validated)})`),
  };
}

const retryLater: Decision = (r) => r.reject(newState("SCHEDULED", NOW, { name: "AwaitingRetry" }), "Retrying");
const rejectNoState: Decision = (r) => r.reject(null, "no");
const waitFive: Decision = (r) => r.delay(5, "later");
const abortIt: Decision = (r) => r.abort("stop");
const explode: Decision = () => {
  throw new Error("boom");
};

const RUNNING_TO_FAILED = { from: states("RUNNING"), to: states("FAILED") };

function decide(
  entries: PolicyEntry<FlowRunSnapshot>[],
  initial: StateType | null = "RUNNING",
  proposed: StateType = "FAILED",
  globals: UniversalTransform<FlowRunSnapshot>[] = [],
): OrchestrationContext<FlowRunSnapshot> {
  const ctx = new OrchestrationContext(
    flowRun(),
    initial && newState(initial, NOW - seconds(60)),
    newState(proposed, NOW),
    NOW,
  );
  orchestrate(ctx, only(...entries), globals);
  return ctx;
}

describe("rule selection by FROM_STATES / TO_STATES", () => {
  const rows: { name: string; from: FromTo; to: FromTo; initial: StateType | null; proposed: StateType; selected: boolean }[] = [
    { name: "any -> any includes the first state", from: ALL_STATES, to: ALL_STATES, initial: null, proposed: "PENDING", selected: true },
    { name: "null in FROM matches a run with no state", from: states(null), to: states("PENDING"), initial: null, proposed: "PENDING", selected: true },
    { name: "initial type outside FROM", from: states("PENDING"), to: states("RUNNING"), initial: "SCHEDULED", proposed: "RUNNING", selected: false },
    { name: "proposed type outside TO", from: states("PENDING"), to: states("RUNNING"), initial: "PENDING", proposed: "COMPLETED", selected: false },
    { name: "no state, FROM without null", from: states("PENDING"), to: ALL_STATES, initial: null, proposed: "PENDING", selected: false },
    { name: "allExcept excludes the named type", from: ALL_STATES, to: allExcept("CANCELLED"), initial: "CANCELLING", proposed: "CANCELLED", selected: false },
    { name: "allExcept keeps the others", from: ALL_STATES, to: allExcept("CANCELLED"), initial: "CANCELLING", proposed: "FAILED", selected: true },
  ];
  test.each(rows)("$name", ({ from, to, initial, proposed, selected }) => {
    decide([probe("R", from, to)], initial, proposed);
    expect(log).toEqual(selected ? ["R.before", "R.after"] : []);
  });
});

describe("rule life cycle: invalid, fizzled, after", () => {
  const { from, to } = RUNNING_TO_FAILED;
  const rows: { name: string; entries: PolicyEntry<FlowRunSnapshot>[]; log: string[]; result: string }[] = [
    {
      name: "rules run before-hooks in order and after-hooks in reverse",
      entries: [probe("A", from, to), probe("B", from, to)],
      log: ["A.before", "B.before", "B.after", "A.after"],
      result: "FAILED/Failed",
    },
    {
      name: "a rule entered after an earlier rule changed the transition is invalid: no hook fires",
      entries: [probe("A", ALL_STATES, ALL_STATES, retryLater), probe("B", from, to)],
      log: ["A.before", "A.after"],
      result: "SCHEDULED/AwaitingRetry",
    },
    {
      name: "a rule whose transition a later rule changes fizzles: cleanup instead of after",
      entries: [probe("A", from, to), probe("B", ALL_STATES, ALL_STATES, retryLater)],
      log: ["A.before", "B.before", "B.after", "A.cleanup"],
      result: "SCHEDULED/AwaitingRetry",
    },
    {
      name: "renaming the proposal invalidates nobody",
      entries: [probe("A", ALL_STATES, ALL_STATES, (r) => r.rename("Renamed")), probe("B", from, to)],
      log: ["A.before", "B.before", "B.after", "A.after"],
      result: "FAILED/Renamed",
    },
  ];
  test.each(rows)("$name", ({ entries, log: expected, result }) => {
    const ctx = decide(entries);
    expect(log).toEqual(expected);
    expect(label(ctx.resultState)).toBe(result);
  });

  const own: { name: string; decision: Decision; outcome: Outcome }[] = [
    { name: "rejects with a state", decision: retryLater, outcome: rejectedTo("SCHEDULED/AwaitingRetry", "Retrying") },
    { name: "rejects without a state", decision: rejectNoState, outcome: rejected("RUNNING/Running", "no") },
    { name: "waits", decision: waitFive, outcome: waited("RUNNING/Running", 5, "later") },
    { name: "aborts", decision: abortIt, outcome: aborted("RUNNING/Running", "stop") },
  ];
  test.each(own)("a rule that itself $name does not fizzle (TO_STATES = all): after runs; earlier rules fizzle", ({ decision, outcome }) => {
    const ctx = decide([probe("P", from, to), probe("X", ALL_STATES, ALL_STATES, decision)]);
    expect(log).toEqual(["P.before", "X.before", "X.after", "P.cleanup"]);
    expectOutcome(ctx, outcome);
  });

  test.each(own)("a rule that itself $name outside its TO_STATES runs neither after nor cleanup", ({ decision }) => {
    decide([probe("X", from, to, decision)]);
    expect(log).toEqual(["X.before"]);
  });

  test("a rule that rejects with a state of a type still in its TO_STATES runs its after-hook", () => {
    const ctx = decide([probe("X", from, to, (r) => r.reject(newState("FAILED", NOW, { name: "Replaced" }), "swap"))]);
    expect(log).toEqual(["X.before", "X.after"]);
    expectOutcome(ctx, rejectedTo("FAILED/Replaced", "swap"));
  });
});

describe("errors in before-hooks", () => {
  test("an exception aborts, names the rule, fizzles the rules already entered and skips transforms", () => {
    const { from, to } = RUNNING_TO_FAILED;
    const ctx = decide([probe("P", from, to), probe("Exploding", from, to, explode), probe("Q", from, to)], "RUNNING", "FAILED", [
      recorder("G"),
    ]);
    const { status, reason } = outcome(ctx);
    expect(status).toBe("ABORT");
    expect(reason).toStartWith("Aborting orchestration due to error in Exploding: !");
    expect(reason).toContain("boom");
    expect(ctx.error).toBeInstanceOf(Error);
    expect(log).toEqual(["P.before", "Exploding.before", "Exploding.cleanup", "P.cleanup"]);
    expect(ctx.validatedState).toBeNull();
    expect(label(ctx.resultState)).toBe("RUNNING/Running");
  });

  test("rejecting without a state when the run has no state is an error, so an ABORT", () => {
    const ctx = decide([probe("X", ALL_STATES, ALL_STATES, rejectNoState)], null, "PENDING");
    const { status, reason } = outcome(ctx);
    expect(status).toBe("ABORT");
    expect(reason).toStartWith("Aborting orchestration due to error in X: !");
    expect(reason).toContain("cannot be rejected without providing a new state");
    expect(ctx.resultState).toBeNull();
  });
});

describe("universal transforms", () => {
  const rows: { name: string; decision?: Decision; log: string[] }[] = [
    { name: "an accepted proposal", log: ["T.before(FAILED/Failed)", "T.after(FAILED/Failed)"] },
    {
      name: "a replacement state",
      decision: retryLater,
      log: ["T.before(SCHEDULED/AwaitingRetry)", "T.after(SCHEDULED/AwaitingRetry)"],
    },
    { name: "a rejection without a state", decision: rejectNoState, log: [] },
    { name: "a WAIT", decision: waitFive, log: [] },
    { name: "an ABORT", decision: abortIt, log: [] },
    { name: "an error", decision: explode, log: [] },
  ];
  test.each(rows)("see $name (and skip a nullified one)", ({ decision, log: expected }) => {
    decide([probe("X", ALL_STATES, ALL_STATES, decision)], "RUNNING", "FAILED", [recorder("T")]);
    expect(log.filter((line) => line.startsWith("T."))).toEqual(expected);
  });

  test("policy transforms interleave with rules, global transforms come last and exit first", () => {
    const { from, to } = RUNNING_TO_FAILED;
    decide([probe("A", from, to), recorder("P"), probe("B", from, to)], "RUNNING", "FAILED", [recorder("G")]);
    expect(log).toEqual([
      "A.before",
      "P.before(FAILED/Failed)",
      "B.before",
      "G.before(FAILED/Failed)",
      "G.after(FAILED/Failed)",
      "B.after",
      "P.after(FAILED/Failed)",
      "A.after",
    ]);
  });

  test("a transform entered before a rule nullifies the proposal skips its after-hook", () => {
    decide([recorder("P"), probe("X", ALL_STATES, ALL_STATES, waitFive)]);
    expect(log).toEqual(["P.before(FAILED/Failed)", "X.before", "X.after"]);
  });
});

describe("validated and returned state", () => {
  function withDecision(decision?: Decision) {
    const initial = newState("RUNNING", NOW - seconds(60));
    const proposed = newState("FAILED", NOW);
    const ctx = new OrchestrationContext(flowRun(), initial, proposed, NOW);
    orchestrate(ctx, only(probe("X", ALL_STATES, ALL_STATES, decision)), []);
    return { ctx, initial, proposed };
  }

  test("accepted: the proposal itself is validated and returned", () => {
    const { ctx, proposed } = withDecision();
    expect(ctx.validatedState).toBe(proposed);
    expect(ctx.resultState).toBe(proposed);
  });

  test("rejected with a state: the replacement is validated and returned", () => {
    const replacement = newState("SCHEDULED", NOW, { name: "AwaitingRetry" });
    const { ctx } = withDecision((r) => r.reject(replacement, "Retrying"));
    expect(ctx.validatedState).toBe(replacement);
    expect(ctx.resultState).toBe(replacement);
  });

  test.each([
    { name: "rejected without a state", decision: rejectNoState },
    { name: "waiting", decision: waitFive },
    { name: "aborted", decision: abortIt },
  ])("$name: nothing is validated, the initial state is returned", ({ decision }) => {
    const { ctx, initial } = withDecision(decision);
    expect(ctx.validatedState).toBeNull();
    expect(ctx.resultState).toBe(initial);
  });
});
