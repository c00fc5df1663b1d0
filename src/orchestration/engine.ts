/**
 * The orchestration engine: Prefect's rule/transform mechanics
 * (orchestration/rules.py) without I/O. A policy is an ordered list of rules and
 * transforms; `orchestrate` enters the applicable ones, validates the proposal
 * and exits them in reverse order.
 */
import { STATE_TYPES, type State, type StateType } from "./states";
import type { OrchestrationContext, RunSnapshot } from "./context";

export type FromTo = ReadonlySet<StateType | null>;

export const ALL_STATES: FromTo = new Set<StateType | null>([...STATE_TYPES, null]);
export const states = (...types: (StateType | null)[]): FromTo => new Set(types);
export const allExcept = (...types: StateType[]): FromTo =>
  new Set([...ALL_STATES].filter((t) => t === null || !types.includes(t)));

/**
 * A rule governs transitions from FROM_STATES to TO_STATES. It is "invalid" (does
 * nothing) if the transition changed before it was entered, and "fizzles" (runs
 * cleanup instead of after) if another rule changed the transition after it.
 * A rule that itself rejects, waits or aborts does not fizzle; like Prefect's
 * `invalid()` on exit, it runs its after-hook only if the type it moved the
 * proposal to (none, for a rejection without a state) is still in TO_STATES.
 */
export abstract class OrchestrationRule<R extends RunSnapshot = RunSnapshot> {
  static readonly FROM_STATES: FromTo;
  static readonly TO_STATES: FromTo;

  private invalidOnEntry = false;

  constructor(
    protected readonly ctx: OrchestrationContext<R>,
    private fromType: StateType | null,
    private toType: StateType | null,
  ) {}

  before(_initial: State | null, _proposed: State | null): void {}
  after(_initial: State | null, _validated: State | null): void {}
  cleanup(_initial: State | null, _validated: State | null): void {}

  /** Reject with a replacement state (written instead), or with none (nothing written). */
  protected reject(state: State | null, reason: string): void {
    if (state === null && this.fromType === null) {
      throw new Error("The current run has no state; this transition cannot be rejected without providing a new state.");
    }
    this.toType = state?.type ?? null;
    this.ctx.proposedState = state;
    this.ctx.status = "REJECT";
    this.ctx.details = { type: "reject_details", reason };
  }

  protected delay(delaySeconds: number, reason: string): void {
    this.toType = null;
    this.ctx.proposedState = null;
    this.ctx.status = "WAIT";
    this.ctx.details = { type: "wait_details", delay_seconds: delaySeconds, reason };
  }

  protected abort(reason: string): void {
    this.toType = null;
    this.ctx.proposedState = null;
    this.ctx.status = "ABORT";
    this.ctx.details = { type: "abort_details", reason };
  }

  /** Changes only the proposed state's name; never invalidates other rules. */
  protected rename(name: string): void {
    if (this.ctx.proposedState) this.ctx.proposedState.name = name;
  }

  private transitionChanged(): boolean {
    return this.fromType !== this.ctx.initialType || this.toType !== this.ctx.proposedType;
  }

  /** @internal engine entry */
  enter(): void {
    this.invalidOnEntry = this.transitionChanged();
    if (this.invalidOnEntry) return;
    try {
      this.before(this.ctx.initialState, this.ctx.proposedState);
    } catch (error) {
      this.ctx.proposedState = null;
      this.ctx.status = "ABORT";
      this.ctx.details = {
        type: "abort_details",
        reason: `Aborting orchestration due to error in ${this.constructor.name}: !${String(error)}`,
      };
      this.ctx.error = error;
    }
  }

  private governsTransition(): boolean {
    const { FROM_STATES, TO_STATES } = this.constructor as typeof OrchestrationRule;
    return FROM_STATES.has(this.fromType) && TO_STATES.has(this.toType);
  }

  /** @internal engine exit */
  exit(): void {
    if (this.invalidOnEntry || !this.governsTransition()) return;
    if (this.transitionChanged()) this.cleanup(this.ctx.initialState, this.ctx.validatedState);
    else this.after(this.ctx.initialState, this.ctx.validatedState);
  }
}

/**
 * Bookkeeping that runs on every transition unless the proposal was nullified
 * (Prefect's BaseUniversalTransform).
 */
export interface UniversalTransform<R extends RunSnapshot = RunSnapshot> {
  readonly name: string;
  before?(ctx: OrchestrationContext<R>, proposed: State): void;
  after?(ctx: OrchestrationContext<R>, validated: State): void;
}

export type RuleClass<R extends RunSnapshot> = (abstract new (
  ctx: OrchestrationContext<R>,
  from: StateType | null,
  to: StateType | null,
) => OrchestrationRule<R>) & { FROM_STATES: FromTo; TO_STATES: FromTo };

export type PolicyEntry<R extends RunSnapshot> = RuleClass<R> | UniversalTransform<R>;

export interface Policy<R extends RunSnapshot> {
  readonly name: string;
  readonly entries: readonly PolicyEntry<R>[];
}

const isRule = <R extends RunSnapshot>(e: PolicyEntry<R>): e is RuleClass<R> => typeof e === "function";

interface Entered {
  exit(): void;
}

function enterTransform<R extends RunSnapshot>(ctx: OrchestrationContext<R>, t: UniversalTransform<R>): Entered {
  if (ctx.proposedState) t.before?.(ctx, ctx.proposedState);
  return {
    exit() {
      if (ctx.error === null && ctx.validatedState && ctx.proposedState) t.after?.(ctx, ctx.validatedState);
    },
  };
}

/** Runs `policy` then `globals` over the context; the validated state is the surviving proposal. */
export function orchestrate<R extends RunSnapshot>(
  ctx: OrchestrationContext<R>,
  policy: Policy<R>,
  globals: readonly UniversalTransform<R>[],
): void {
  const from = ctx.initialType;
  const to = ctx.proposedType;
  const stack: Entered[] = [];
  for (const entry of policy.entries) {
    if (isRule(entry)) {
      if (!entry.FROM_STATES.has(from) || !entry.TO_STATES.has(to)) continue;
      const Rule = entry as unknown as new (c: OrchestrationContext<R>, f: StateType | null, t: StateType | null) => OrchestrationRule<R>;
      const rule = new Rule(ctx, from, to);
      rule.enter();
      stack.push(rule);
    } else {
      stack.push(enterTransform(ctx, entry));
    }
  }
  for (const transform of globals) stack.push(enterTransform(ctx, transform));
  ctx.validatedState = ctx.proposedState;
  for (let i = stack.length - 1; i >= 0; i--) stack[i]!.exit();
}
