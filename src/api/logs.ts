import { Elysia, t, type Static } from "elysia";
import type { AppContext } from "../context";
import type { LogRow, NewLog } from "../db/repos/logs";
import { formatDateTime, parseDateTime, type Micros } from "../lib/time";
import { canonicalUuid } from "../lib/uuid";
import { createLogs } from "../logs/ingest";
import { DateTime, Enum, Lenient, LimitOffset, Maybe, Strict, Uuid } from "../schemas/common";
import { LogFilter } from "../schemas/filters";
import { validationError } from "./errors";
import { paging } from "./paging";

const MAX_QUERY_LENGTH = 200;

const LogCreate = Strict({
  name: t.String(),
  level: t.Integer(),
  message: t.String(),
  timestamp: DateTime,
  flow_run_id: Maybe(Uuid),
  task_run_id: Maybe(Uuid),
});
type LogCreate = Static<typeof LogCreate>;
const LogSortSchema = Maybe(Enum(["TIMESTAMP_ASC", "TIMESTAMP_DESC"]));

export function logJson(row: LogRow) {
  return {
    id: row.id,
    created: formatDateTime(row.created),
    updated: formatDateTime(row.updated),
    name: row.name,
    level: row.level,
    message: row.message,
    timestamp: formatDateTime(row.timestamp),
    flow_run_id: row.flowRunId,
    task_run_id: row.taskRunId,
  };
}

// PostgreSQL rejects NUL in text; Prefect strips it from name and message rather than drop the log.
const stripNul = (text: string) => text.replaceAll("\0", "");

function toNewLog(entry: LogCreate): NewLog {
  return {
    name: stripNul(entry.name),
    level: entry.level,
    message: stripNul(entry.message),
    // The `prefect-datetime` format already guaranteed this parses.
    timestamp: parseDateTime(entry.timestamp) as Micros,
    flowRunId: entry.flow_run_id == null ? null : canonicalUuid(entry.flow_run_id),
    taskRunId: entry.task_run_id == null ? null : canonicalUuid(entry.task_run_id),
  };
}

/** pydantic's max_length counts code points, where TypeBox's would count UTF-16 units. */
function checkQueryLength(body: { logs?: LogFilter | null }): void {
  const query = body.logs?.text?.query;
  if (query == null || [...query].length <= MAX_QUERY_LENGTH) return;
  throw validationError(
    [
      {
        type: "string_too_long",
        loc: ["body", "logs", "text", "query"],
        msg: `String should have at most ${MAX_QUERY_LENGTH} characters`,
        input: query,
      },
    ],
    body,
  );
}

export function logRoutes({ store, clock, config }: AppContext) {
  return new Elysia({ prefix: "/logs" })
    .post(
      "/",
      async ({ body, set }) => {
        await createLogs(store, body.map(toNewLog), clock.now());
        set.status = 201;
        return null;
      },
      { body: t.Array(LogCreate) },
    )
    .post(
      "/filter",
      async ({ body }) => {
        checkQueryLength(body);
        const { limit, offset } = paging(body, config.defaultLimit);
        const rows = await store.read((q) => q.logs.list(body.logs, body.sort ?? "TIMESTAMP_ASC", limit, offset));
        return rows.map(logJson);
      },
      { body: Lenient({ logs: Maybe(LogFilter), ...LimitOffset, sort: LogSortSchema }) },
    );
}
