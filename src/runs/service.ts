/**
 * What flow runs and task runs share in the domain, as Prefect's models share it:
 * reads through the filter grammar, paging, run history, state history, and set_state.
 * `FlowRunService` and `TaskRunService` add what only their kind of run has.
 */
import type { AppContext } from "../context";
import type { RunRepo } from "../db/repositories";
import type { TransitionOptions } from "../db/repos/transitions";
import type { Repositories } from "../db/store";
import { NotFound } from "../domain/errors";
import type { Micros } from "../lib/time";
import type { OrchestrationResult } from "../orchestration/context";
import { newState, type State, type StateInit, type StateType } from "../orchestration/states";
import type { RunFilterSet } from "../schemas/filters";
import { bucketHistory, historyWindow, type HistoryInterval, type HistoryRequest } from "./history";

/** A state a client proposes: its type and what it carries. */
export interface StateProposal {
  type: StateType;
  init: StateInit;
}

/** What set_state answers: the orchestration result, and whether a new state was written (201) or not (200). */
export interface SetStateOutcome {
  result: OrchestrationResult;
  created: boolean;
}

export interface RunPage<TRun> {
  runs: TRun[];
  count: number;
}

export class RunService<TRun, TSort extends string> {
  constructor(
    protected readonly ctx: AppContext,
    private readonly repository: (q: Repositories) => RunRepo<TRun, TSort>,
    /** "Flow run" / "Task run", as Prefect words its not-found messages. */
    private readonly noun: string,
  ) {}

  protected get store() {
    return this.ctx.store;
  }

  get(id: string): Promise<TRun | undefined> {
    return this.store.read((q) => this.repository(q).get(id));
  }

  list(filters: RunFilterSet, sort: TSort, limit: number, offset: number): Promise<TRun[]> {
    return this.store.read((q) => this.repository(q).list(filters, sort, limit, offset));
  }

  count(filters: RunFilterSet): Promise<number> {
    return this.store.read((q) => this.repository(q).count(filters));
  }

  /** One page of runs and the count of all matching, read from one snapshot. */
  page(filters: RunFilterSet, sort: TSort, limit: number, offset: number): Promise<RunPage<TRun>> {
    const repository = this.repository;
    return this.store.read(function* (q) {
      const runs = repository(q);
      return { runs: yield* runs.list(filters, sort, limit, offset), count: yield* runs.count(filters) };
    });
  }

  async history(request: HistoryRequest, filters: RunFilterSet): Promise<HistoryInterval[]> {
    const window = historyWindow(request);
    if (window.count === 0) return [];
    const rows = await this.store.read((q) => this.repository(q).historyRows(filters, window.start, window.end));
    return bucketHistory(rows, window, this.ctx.clock.now());
  }

  /** The run's states, oldest first. */
  states(runId: string): Promise<State[]> {
    return this.store.read((q) => this.repository(q).states(runId));
  }

  state(stateId: string): Promise<State | null> {
    return this.store.read((q) => this.repository(q).state(stateId));
  }

  /** Orchestrates a proposed state for the run (Prefect's set_state), in one transaction. */
  async setState(id: string, proposal: StateProposal, options: TransitionOptions): Promise<SetStateOutcome> {
    const now = this.ctx.clock.now();
    const proposed = newState(proposal.type, now, proposal.init);
    const result = await this.store.write((tx) => this.repository(tx).setState(id, proposed, options, now));
    if (!result) throw new NotFound(`${this.noun} with id ${id} not found`, "exception_message");
    return this.outcome(result, now);
  }

  protected outcome(result: OrchestrationResult, proposedAt: Micros): SetStateOutcome {
    return { result, created: result.state != null && result.state.timestamp >= proposedAt };
  }
}
