/**
 * Prefect's TaskRunRecorder (services/task_run_recorder.py). Task runs of ordinary
 * `@task` calls are orchestrated by the client, which reports each state change as
 * a `prefect.task-run.<state>` event; this service turns those events into task_run
 * and task_run_state rows, with no orchestration rules. Events are recorded in
 * batches (PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE, 1 by default) as
 * they arrive and on every flush interval; a batch that fails is retried up to five
 * times before its events are dropped.
 */
import type { AppContext } from "../context";
import type { ReportedTaskRun } from "../db/repos/task-runs";
import { taskRunPolicy } from "../domain/run-policies";
import { prefectObjectId, RESOURCE_ID, RESOURCE_ROLE, type ReceivedEvent } from "../events/model";
import type { JsonObject, JsonValue } from "../lib/json";
import { parseDateTime, secondsToMicros, type Micros } from "../lib/time";
import { canonicalUuid } from "../lib/uuid";
import { defaultStateName, emptyStateDetails, type StateDetails } from "../orchestration/states";
import { UUID_RE } from "../schemas/common";
import { decoder, TaskRunStatePayload } from "../schemas/events";
import { stateDetailsFromJson } from "../schemas/states";
import { EventConsumer } from "./event-consumer";

/** DEFAULT_PERSIST_MAX_RETRIES: a failed event is retried this many times, then dropped. */
const MAX_RETRIES = 5;

const decodePayload = decoder(TaskRunStatePayload);

/** The UUID of a `prefect.<kind>.<uuid>` resource id, or null. */
function objectId(resourceId: string, kind: string): string | null {
  const id = prefectObjectId(resourceId, kind);
  return id !== null && UUID_RE.test(id) ? canonicalUuid(id) : null;
}

const instant = (value: string | null | undefined): Micros | null => (value == null ? null : parseDateTime(value));

/** Is this an event the recorder handles: a task-run state reported by a client-orchestrated run? */
const isClientTaskRunEvent = (event: ReceivedEvent): boolean =>
  event.event.startsWith("prefect.task-run") && event.resource["prefect.orchestration"] === "client";

/**
 * The task run and state an event reports (task_run_from_event): the run's id from the
 * resource, its flow run from the first related resource in role `flow-run`, the state
 * from `payload.validated_state` with the event's id and time. A string says why the
 * event cannot be recorded.
 */
export function reportFromEvent(event: ReceivedEvent, now: Micros): ReportedTaskRun | string {
  const id = objectId(event.resource[RESOURCE_ID]!, "prefect.task-run");
  if (!id) return `resource ${event.resource[RESOURCE_ID]} is not a task run`;
  const flowRunResource = event.related.find((r) => r[RESOURCE_ROLE] === "flow-run");
  const flowRunId = flowRunResource ? objectId(flowRunResource[RESOURCE_ID]!, "prefect.flow-run") : null;
  if (flowRunResource && !flowRunId) return `related flow run ${flowRunResource[RESOURCE_ID]} is not a flow run`;
  const decoded = decodePayload(event.payload);
  if (!decoded.ok) return `invalid payload: ${decoded.error}`;
  const { validated_state: reported, task_run: run } = decoded.value;

  const details: StateDetails = { ...emptyStateDetails(), ...stateDetailsFromJson(reported.state_details) };
  // a Scheduled state without a time is scheduled for now (State.default_scheduled_start_time)
  if (reported.type === "SCHEDULED" && details.scheduled_time == null) details.scheduled_time = now;

  // only what the client sent: a key it left out keeps the stored value (exclude_unset)
  const has = (key: keyof typeof run) => key in run;
  const columns: ReportedTaskRun["columns"] = {};
  if (run.name != null) columns.name = run.name;
  if (has("cache_key")) columns.cacheKey = run.cache_key ?? null;
  if (has("cache_expiration")) columns.cacheExpiration = instant(run.cache_expiration);
  if (has("task_version")) columns.taskVersion = run.task_version ?? null;
  if (has("empirical_policy")) columns.empiricalPolicy = taskRunPolicy(run.empirical_policy as JsonObject) as unknown as JsonObject;
  if (has("tags")) columns.tags = run.tags;
  if (has("labels")) columns.labels = (run.labels ?? {}) as JsonObject;
  if (has("task_inputs")) columns.taskInputs = run.task_inputs as JsonObject;
  if (has("run_count")) columns.runCount = run.run_count;
  if (has("flow_run_run_count")) columns.flowRunRunCount = run.flow_run_run_count;
  if (has("expected_start_time")) columns.expectedStartTime = instant(run.expected_start_time);
  if (has("next_scheduled_start_time")) columns.nextScheduledStartTime = instant(run.next_scheduled_start_time);
  if (has("start_time")) columns.startTime = instant(run.start_time);
  if (has("end_time")) columns.endTime = instant(run.end_time);
  if (run.total_run_time !== undefined) columns.totalRunTime = secondsToMicros(run.total_run_time);

  return {
    id,
    flowRunId,
    taskKey: run.task_key,
    dynamicKey: run.dynamic_key,
    columns,
    state: {
      id: event.id,
      type: reported.type,
      name: reported.name ?? defaultStateName(reported.type),
      timestamp: event.occurred,
      message: reported.message ?? null,
      data: (reported.data ?? null) as JsonValue,
      state_details: details,
    },
  };
}

interface Pending {
  event: ReceivedEvent;
  attempts: number;
}

export class TaskRunRecorder extends EventConsumer<Pending> {
  readonly name = "TaskRunRecorder";

  constructor(ctx: AppContext) {
    super(ctx, ctx.config.services.taskRunRecorderFlushInterval, ctx.config.services.taskRunRecorderBatchSize);
  }

  protected enqueue(event: ReceivedEvent): boolean {
    if (!isClientTaskRunEvent(event)) return false;
    this.queue.push({ event, attempts: 0 });
    return true;
  }

  protected flushFullBatches(): Promise<void> {
    return this.flush({ fullBatchesOnly: true });
  }

  /** Records what is queued, a batch per transaction; a partial batch waits for the next interval unless `fullBatchesOnly` is off. */
  flush({ fullBatchesOnly = false } = {}): Promise<void> {
    return this.inTurn(async () => {
      while (this.queue.length >= (fullBatchesOnly ? this.batchSize : 1)) {
        const batch = this.queue.splice(0, this.batchSize);
        if (!(await this.recordBatch(batch))) return; // retried on the next flush
      }
    });
  }

  /** False when the batch failed and was queued again. */
  private async recordBatch(batch: Pending[]): Promise<boolean> {
    const now = this.clock.now();
    const reports: ReportedTaskRun[] = [];
    for (const { event } of batch) {
      const report = reportFromEvent(event, now);
      if (typeof report === "string") this.logger.warning(`TaskRunRecorder dropped event ${event.id} (${event.event}): ${report}`);
      else reports.push(report);
    }
    try {
      const outcomes = await this.ctx.store.write((tx) => tx.taskRuns.record(reports, now));
      outcomes.forEach((outcome, i) => {
        if (outcome === "missing_flow_run") {
          this.logger.warning(`TaskRunRecorder dropped task run ${reports[i]!.id}: flow run ${reports[i]!.flowRunId} does not exist`);
        }
      });
      return true;
    } catch (error) {
      const retry = batch.filter((p) => ++p.attempts <= MAX_RETRIES);
      const dropped = batch.length - retry.length;
      this.logger.error(`TaskRunRecorder failed to record ${batch.length} event(s) (${retry.length} to retry, ${dropped} dropped)`, error);
      this.queue.unshift(...retry);
      return false;
    }
  }
}
