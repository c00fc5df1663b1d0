/**
 * API routes the UI needs beside src/api/ui.ts: a task run with its flow run's name, schema
 * validation for the deployment forms, and the observed state names for the state filter.
 */
import { Elysia, t } from "elysia";
import { sql } from "drizzle-orm";
import type { AppContext } from "../context";
import { notFound, detail } from "../api/errors";
import { taskRunJson } from "../api/task-runs";
import { formatDateTime } from "../lib/time";
import { Enum, IdParams } from "../schemas/common";
import { flowRunState, taskRunState } from "../db/schema";
import { validateSchemaValues } from "./schema-validation";

const OBSERVED_STATE_SORTS = ["NAME_ASC", "LAST_SEEN_DESC"] as const;

export function uiApiRoutes({ store, clock }: AppContext) {
  return new Elysia()
    .get(
      "/ui/task_runs/:id",
      async ({ params }) => {
        const run = await store.taskRuns.get(params.id);
        if (!run) throw notFound("Task not found");
        const flowRun = run.run.flowRunId ? await store.flowRuns.get(run.run.flowRunId) : undefined;
        return { ...taskRunJson(run, clock.now()), flow_run_name: flowRun?.run.name ?? null };
      },
      { params: IdParams },
    )
    .post(
      "/ui/schemas/validate",
      async ({ body }) => {
        const result = await validateSchemaValues(body.schema, body.values, async (name) => {
          const variable = await store.variables.getByName(name);
          return variable ? (variable.value ?? null) : undefined;
        });
        if (!result.ok) throw detail(422, result.detail);
        return { errors: result.errors, valid: result.valid };
      },
      { body: t.Object({ schema: t.Record(t.String(), t.Any()), values: t.Record(t.String(), t.Any()) }, { additionalProperties: true }) },
    )
    .get(
      "/observed-states",
      ({ query }) => {
        const prefix = query.query?.trim();
        const pattern = prefix ? `${prefix.replace(/[\\%_]/g, (c) => `\\${c}`)}%` : null;
        const order = (query.order_by ?? "LAST_SEEN_DESC") === "LAST_SEEN_DESC" ? sql`last_seen DESC, state_type, state_name` : sql`state_type, state_name`;
        // One group per history, then combined: only distinct pairs reach the union, as in Prefect.
        const rows = store.db.all<{ state_type: string; state_name: string; first_seen: number; last_seen: number }>(sql`
          SELECT type AS state_type, name AS state_name, min(first_seen) AS first_seen, max(last_seen) AS last_seen FROM (
            SELECT ${flowRunState.type} AS type, ${flowRunState.name} AS name, min(${flowRunState.timestamp}) AS first_seen, max(${flowRunState.timestamp}) AS last_seen
              FROM ${flowRunState} GROUP BY 1, 2
            UNION ALL
            SELECT ${taskRunState.type}, ${taskRunState.name}, min(${taskRunState.timestamp}), max(${taskRunState.timestamp})
              FROM ${taskRunState} GROUP BY 1, 2
          )
          WHERE ${pattern} IS NULL OR state_type LIKE ${pattern} ESCAPE '\\' OR state_name LIKE ${pattern} ESCAPE '\\'
          GROUP BY 1, 2 ORDER BY ${order} LIMIT ${query.limit ?? 200}`);
        return rows.map((row) => ({
          state_type: row.state_type,
          state_name: row.state_name,
          first_seen: formatDateTime(row.first_seen),
          last_seen: formatDateTime(row.last_seen),
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
