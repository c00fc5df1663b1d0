/**
 * API routes the UI needs beside src/api/ui.ts: a task run with its flow run's name, schema
 * validation for the deployment forms, and the observed state names for the state filter.
 */
import { Elysia, t } from "elysia";
import type { AppContext } from "../context";
import { notFound, detail } from "./errors";
import { taskRunJson } from "./task-runs";
import { formatDateTime } from "../lib/time";
import { Enum, IdParams } from "../schemas/common";
import { validateSchemaValues } from "../ui/schema-validation";

const OBSERVED_STATE_SORTS = ["NAME_ASC", "LAST_SEEN_DESC"] as const;

export function uiApiRoutes({ store, clock }: AppContext) {
  return new Elysia()
    .get(
      "/ui/task_runs/:id",
      async ({ params }) => {
        const run = await store.read((q) => q.taskRuns.get(params.id));
        if (!run) throw notFound("Task not found");
        const flowRunId = run.run.flowRunId;
        const flowRun = flowRunId ? await store.read((q) => q.flowRuns.get(flowRunId)) : undefined;
        return { ...taskRunJson(run, clock.now()), flow_run_name: flowRun?.run.name ?? null };
      },
      { params: IdParams },
    )
    .post(
      "/ui/schemas/validate",
      async ({ body }) => {
        const result = await validateSchemaValues(body.schema, body.values, async (name) => {
          const variable = await store.read((q) => q.variables.getByName(name));
          return variable ? (variable.value ?? null) : undefined;
        });
        if (!result.ok) throw detail(422, result.detail);
        return { errors: result.errors, valid: result.valid };
      },
      { body: t.Object({ schema: t.Record(t.String(), t.Any()), values: t.Record(t.String(), t.Any()) }, { additionalProperties: true }) },
    )
    .get(
      "/observed-states",
      async ({ query }) => {
        const prefix = query.query?.trim() || null;
        const rows = await store.read((q) => q.ui.observedStates(prefix, query.order_by ?? "LAST_SEEN_DESC", query.limit ?? 200));
        return rows.map((row) => ({
          state_type: row.stateType,
          state_name: row.stateName,
          first_seen: formatDateTime(row.firstSeen),
          last_seen: formatDateTime(row.lastSeen),
        }));
      },
      {
        query: t.Object({
          query: t.Optional(t.String({ maxLength: 100 })),
          order_by: t.Optional(Enum(OBSERVED_STATE_SORTS)),
          limit: t.Optional(t.Integer({ minimum: 1, maximum: 200 })),
        }),
      },
    );
}
