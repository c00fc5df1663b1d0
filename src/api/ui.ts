/**
 * The UI's helper routes (`/ui/...`, prefect/server/api/ui/*.py): per-flow deployment
 * counts and next runs, per-run task counts, flow-run history points and task-run
 * counts by state and over time.
 */
import { Elysia, t } from "elysia";
import type { AppContext } from "../context";
import type { FlowRunSort } from "../db/repos/flow-runs";
import { formatNullable, MICROS_PER_SECOND, parseDateTime, type Micros } from "../lib/time";
import { TERMINAL_STATES, type StateType } from "../orchestration/states";
import { Enum, Lenient, Maybe, Uuid } from "../schemas/common";
import { DeploymentFilter, FlowFilter, FlowRunFilter, TaskRunFilter, WorkPoolFilter, WorkQueueFilter } from "../schemas/filters";
import { FLOW_RUN_SORTS } from "../schemas/runs";
import { detail, validationError, type ValidationIssue } from "./errors";
import { estimatedRunTime, estimatedStartTimeDelta } from "../runs/estimates";
import { MAX_OFFSET } from "./paging";

/** The most ids one request may name (`max_length=200`). */
const MAX_IDS = 200;
const MAX_HISTORY_LIMIT = 1000;
const DASHBOARD_BUCKETS = 20;
/** CountByState's fields, in Prefect's order. */
const COUNTED_STATES = ["COMPLETED", "PENDING", "RUNNING", "FAILED", "CANCELLED", "CRASHED", "PAUSED", "CANCELLING", "SCHEDULED"] as const;
const FAILED_STATES = new Set(["FAILED", "CRASHED"]);
const MINUTE = 60 * MICROS_PER_SECOND;

function checkIdCount(field: string, ids: string[], body: unknown): void {
  if (ids.length <= MAX_IDS) return;
  const issue: ValidationIssue = {
    type: "too_long",
    loc: ["body", field],
    msg: `List should have at most ${MAX_IDS} items after validation, not ${ids.length}`,
    input: ids,
  };
  throw validationError([issue], body);
}

/** One key per distinct id, in the order given (a Python dict built from the list). */
const byId = <V>(ids: string[], value: (id: string) => V): Record<string, V> => Object.fromEntries(ids.map((id) => [id, value(id)]));

export function uiRoutes({ store, clock }: AppContext) {

  return new Elysia({ prefix: "/ui" })
    .post(
      "/flows/count-deployments",
      async ({ body }) => {
        checkIdCount("flow_ids", body.flow_ids, body);
        const counts = await store.read((q) => q.ui.deploymentCounts(body.flow_ids));
        return byId(body.flow_ids, (id) => counts.get(id) ?? 0);
      },
      { body: Lenient({ flow_ids: t.Array(Uuid) }) },
    )
    .post(
      "/flows/next-runs",
      async ({ body }) => {
        checkIdCount("flow_ids", body.flow_ids, body);
        const runs = await store.read((q) => q.ui.nextScheduledRuns(body.flow_ids));
        return byId(body.flow_ids, (id) => {
          const run = runs.get(id);
          if (!run) return null;
          return {
            id: run.id,
            flow_id: run.flowId,
            name: run.name,
            state_name: run.stateName,
            state_type: run.stateType,
            next_scheduled_start_time: formatNullable(run.nextScheduledStartTime),
          };
        });
      },
      { body: Lenient({ flow_ids: t.Array(Uuid) }) },
    )
    .post(
      "/flow_runs/history",
      async ({ body }) => {
        const limit = body.limit ?? MAX_HISTORY_LIMIT;
        const offset = body.offset ?? 0;
        const issues: ValidationIssue[] = [];
        if (limit > MAX_HISTORY_LIMIT) {
          issues.push({ type: "less_than_equal", loc: ["body", "limit"], msg: `Input should be less than or equal to ${MAX_HISTORY_LIMIT}`, input: limit });
        }
        if (offset < 0) issues.push({ type: "greater_than_equal", loc: ["body", "offset"], msg: "Input should be greater than or equal to 0", input: offset });
        if (issues.length > 0) throw validationError(issues, body);
        const sort: FlowRunSort = body.sort ?? "EXPECTED_START_TIME_DESC";
        const now = clock.now();
        const runs = await store.read((q) => q.flowRuns.list(body, sort, limit, Math.min(offset, MAX_OFFSET)));
        return runs.map(({ run }) => ({
          id: run.id,
          state_type: run.stateType,
          timestamp: formatNullable(run.startTime ?? run.expectedStartTime),
          duration: estimatedRunTime(run, now),
          lateness: estimatedStartTimeDelta(run, now),
        }));
      },
      {
        body: Lenient({
          sort: Maybe(Enum(FLOW_RUN_SORTS)),
          limit: Maybe(t.Integer()),
          offset: Maybe(t.Integer()),
          flows: Maybe(FlowFilter),
          flow_runs: Maybe(FlowRunFilter),
          task_runs: Maybe(TaskRunFilter),
          deployments: Maybe(DeploymentFilter),
          work_pools: Maybe(WorkPoolFilter),
        }),
      },
    )
    .post(
      "/flow_runs/count-task-runs",
      async ({ body }) => {
        checkIdCount("flow_run_ids", body.flow_run_ids, body);
        const counts = await store.read((q) => q.ui.taskRunCounts(body.flow_run_ids));
        return byId(body.flow_run_ids, (id) => counts.get(id) ?? 0);
      },
      { body: Lenient({ flow_run_ids: t.Array(Uuid) }) },
    )
    .post(
      "/task_runs/count",
      async ({ body }) => {
        const counts = await store.read((q) => q.ui.taskRunCountsByState(body ?? {}));
        return Object.fromEntries(COUNTED_STATES.map((state) => [state, counts.get(state) ?? 0]));
      },
      {
        body: t.Optional(
          Lenient({
            flows: Maybe(FlowFilter),
            flow_runs: Maybe(FlowRunFilter),
            task_runs: Maybe(TaskRunFilter),
            deployments: Maybe(DeploymentFilter),
          }),
        ),
      },
    )
    .post(
      "/task_runs/dashboard/counts",
      async ({ body }) => {
        const after = body.task_runs.start_time?.after_;
        if (after == null) throw detail(422, "task_runs.start_time.after_ is required");
        const before = body.task_runs.start_time?.before_;
        // Twenty equal buckets from the start of `after_`'s minute to the end of `before_`'s (or now's).
        const start = floorToMinute(parseDateTime(after)!);
        const end = floorToMinute(before != null ? parseDateTime(before)! : clock.now()) + MINUTE - 1;
        const width = (end - start) / DASHBOARD_BUCKETS;
        const buckets = Array.from({ length: DASHBOARD_BUCKETS }, () => ({ completed: 0, failed: 0 }));
        const starts = await store.read((q) => q.ui.taskRunStarts({
          flows: body.flows,
          flow_runs: body.flow_runs,
          deployments: body.deployments,
          work_pools: body.work_pools,
          work_pool_queues: body.work_queues,
          // Only finished task runs count, whatever state filter was sent.
          task_runs: { ...body.task_runs, state: { type: { any_: [...TERMINAL_STATES] } } },
        }));
        for (const { startTime, stateType } of starts) {
          const bucket = buckets[Math.floor((startTime - start) / width)];
          if (!bucket) continue;
          if (FAILED_STATES.has(stateType as StateType)) bucket.failed++;
          else bucket.completed++;
        }
        return buckets;
      },
      {
        body: Lenient({
          task_runs: TaskRunFilter,
          flows: Maybe(FlowFilter),
          flow_runs: Maybe(FlowRunFilter),
          deployments: Maybe(DeploymentFilter),
          work_pools: Maybe(WorkPoolFilter),
          work_queues: Maybe(WorkQueueFilter),
        }),
      },
    );
}

const floorToMinute = (instant: Micros): Micros => Math.floor(instant / MINUTE) * MINUTE;

