/**
 * Turning deployment schedules into SCHEDULED flow runs (models/deployments.py
 * `_generate_scheduled_flow_runs`). Used by the scheduler services and by
 * `POST /deployments/{id}/schedule`.
 */
import type { ServiceSettings } from "../config";
import type { ScheduledRunInsert } from "../db/repos/flow-runs";
import type { DeploymentView } from "../db/repos/deployments";
import type { Store, WriteTx } from "../db/store";
import type { Op } from "../db/unit-of-work";
import type { Logger } from "../logger";
import type { JsonObject } from "../lib/json";
import { randomRunName } from "../lib/names";
import { MICROS_PER_SECOND, type Micros } from "../lib/time";
import { newState } from "../orchestration/states";
import { getDates } from "../schedules/dates";
import { isCron, isInterval, type ScheduleModel } from "../schedules/schemas";

export interface GenerationWindow {
  start: Micros;
  end: Micros;
  /** Keep generating until at least `start + minTime`... */
  minTime: Micros;
  /** ...and at least this many runs per schedule, */
  minRuns: number;
  /** but never more than this many. */
  maxRuns: number;
}

/** `2025-01-01 09:00:00+00:00`: how Python prints the aware datetime inside the idempotency key. */
function keyDate(instant: Micros): string {
  const iso = new Date(Math.floor(instant / 1000)).toISOString();
  const micros = instant % MICROS_PER_SECOND;
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${micros ? "." + String(micros).padStart(6, "0") : ""}+00:00`;
}

/** Prefect's `created_by.display_value`: the schedule's slug, else its class name. */
function scheduleClassName(schedule: ScheduleModel): string {
  return isInterval(schedule) ? "IntervalSchedule" : isCron(schedule) ? "CronSchedule" : "RRuleSchedule";
}

export class DeploymentScheduling {
  constructor(
    private readonly store: Store,
    private readonly settings: ServiceSettings,
    private readonly logger: Logger,
  ) {}

  /** The window the scheduler services use at `now`. */
  defaultWindow(now: Micros): GenerationWindow {
    const s = this.settings;
    return {
      start: now,
      end: now + s.schedulerMaxScheduledTimeSeconds * MICROS_PER_SECOND,
      minTime: s.schedulerMinScheduledTimeSeconds * MICROS_PER_SECOND,
      minRuns: s.schedulerMinRuns,
      maxRuns: s.schedulerMaxRuns,
    };
  }

  /** The runs a deployment's active schedules call for in the window (nothing is written). */
  generateRuns(view: DeploymentView, window: GenerationWindow, now: Micros, autoScheduled = true): ScheduledRunInsert[] {
    const { row } = view;
    const labels: JsonObject = { ...row.labels, "prefect.flow.id": row.flowId, "prefect.deployment.id": row.id };
    const runs: ScheduledRunInsert[] = [];
    for (const schedule of view.schedules.filter((s) => s.active)) {
      const model = schedule.schedule as unknown as ScheduleModel;
      let dates: Micros[];
      try {
        dates = getDates(model, { n: window.maxRuns, start: window.start, end: window.end });
      } catch (error) {
        // one broken schedule must not stop the others (Prefect logs and moves on)
        this.logger.error(`Error scheduling deployment ${row.id}`, error);
        continue;
      }
      const enough = dates.findIndex((d, i) => i + 1 >= window.minRuns && d >= window.start + window.minTime);
      if (enough >= 0) dates = dates.slice(0, enough + 1);
      for (const date of dates) {
        const state = newState("SCHEDULED", now, { message: "Flow run scheduled", state_details: { scheduled_time: date } });
        runs.push({
          id: Bun.randomUUIDv7(),
          name: randomRunName(),
          flowId: row.flowId,
          deploymentId: row.id,
          deploymentVersion: row.version,
          workQueueName: view.workQueueName,
          workQueueId: row.workQueueId,
          parameters: { ...row.parameters, ...schedule.parameters },
          infrastructureDocumentId: row.infrastructureDocumentId,
          idempotencyKey: `scheduled ${row.id} ${schedule.id} ${keyDate(date)}`,
          tags: autoScheduled ? ["auto-scheduled", ...row.tags] : row.tags,
          labels,
          autoScheduled,
          context: {},
          empiricalPolicy: {},
          jobVariables: {},
          expectedStartTime: date,
          nextScheduledStartTime: date,
          createdBy: { id: schedule.id, type: "SCHEDULE", display_value: schedule.slug ?? scheduleClassName(model) },
          state,
        });
      }
    }
    return runs;
  }

  /** Generates and inserts runs for these deployments in one transaction; returns how many were new. */
  schedule(deploymentIds: string[], window: GenerationWindow, now: Micros): Promise<number> {
    return this.store.write((tx) => this.scheduleIn(tx, deploymentIds, window, now));
  }

  private *scheduleIn(tx: WriteTx, deploymentIds: string[], window: GenerationWindow, now: Micros): Op<number> {
    const runs: ScheduledRunInsert[] = [];
    for (const view of yield* tx.deployments.getMany(deploymentIds)) runs.push(...this.generateRuns(view, window, now));
    return (yield* tx.flowRuns.insertScheduled(runs, now)).length;
  }
}
