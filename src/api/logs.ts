import { TypeCompiler, type TypeCheck } from "@sinclair/typebox/compiler";
import { Value, type ValueError } from "@sinclair/typebox/value";
import { Elysia, t, type DocumentDecoration, type Static } from "elysia";
import type { AppContext } from "../context";
import type { LogRow, NewLog } from "../db/repos/logs";
import { formatDateTime, parseDateTime, type Micros } from "../lib/time";
import { canonicalUuid } from "../lib/uuid";
import { createLogs, nextTurn } from "../logs/ingest";
import { DateTime, Enum, Lenient, LimitOffset, Maybe, Strict, Uuid } from "../schemas/common";
import { LogFilter } from "../schemas/filters";
import { validationError } from "./errors";
import { validationIssues } from "./validation";
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

const LogBatch = t.Array(LogCreate);
// A TypeBox schema is JSON Schema; TypeBox's types and the OpenAPI ones just do not meet.
const LOG_BATCH_BODY = { required: true, content: { "application/json": { schema: LogBatch } } } as unknown as NonNullable<DocumentDecoration["requestBody"]>;
/** Entries validated per turn of the event loop, a few milliseconds' work. */
const LOGS_PER_SLICE = 1_000;
let checkLog: TypeCheck<typeof LogCreate> | undefined;

/**
 * POST /logs/'s body, validated and decoded as Elysia would do it for `LogBatch` (the same 422),
 * but in slices with a turn of the event loop between them: a 100,000-line batch must not hold
 * up other clients for the whole of its validation. Every entry is checked before any is
 * decoded, so a 422 echoes the body as it was sent.
 */
async function logBatch(body: unknown): Promise<NewLog[]> {
  if (!Array.isArray(body)) throw validationError(validationIssues([...Value.Errors(LogBatch, body)], "body", body), body);
  const check = (checkLog ??= TypeCompiler.Compile(LogCreate));
  const errors: ValueError[] = [];
  await inSlices(body.length, (i) => {
    if (!check.Check(body[i])) for (const error of check.Errors(body[i])) errors.push({ ...error, path: `/${i}${error.path}` });
  });
  if (errors.length > 0) throw validationError(validationIssues(errors, "body", body), body);
  const logs: NewLog[] = [];
  await inSlices(body.length, (i) => logs.push(toNewLog(check.Decode(body[i]))));
  return logs;
}

async function inSlices(count: number, step: (index: number) => void): Promise<void> {
  for (let start = 0; start < count; start += LOGS_PER_SLICE) {
    if (start > 0) await nextTurn();
    for (let i = start; i < Math.min(count, start + LOGS_PER_SLICE); i++) step(i);
  }
}

export function logRoutes({ store, clock, config }: AppContext) {
  return new Elysia({ prefix: "/logs" })
    .post(
      "/",
      async ({ body, set }) => {
        await createLogs(store, await logBatch(body), clock.now());
        set.status = 201;
        return null;
      },
      // Validated by logBatch(); the schema is still the documented one.
      { detail: { requestBody: LOG_BATCH_BODY } },
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
