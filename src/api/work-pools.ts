/**
 * `/work_pools`: pools, their queues and workers (Prefect's api/workers.py).
 * `POST /work_pools/{name}/get_scheduled_flow_runs` lives with the scheduling code.
 */
import { Elysia, t, type Static } from "elysia";
import type { AppContext } from "../context";
import type {
  SlotHolder,
  WorkerRow,
  WorkPoolPatch,
  WorkPoolRow,
  WorkPoolView,
  WorkQueueInput,
  WorkQueuePatch,
  WorkQueueRow,
  WorkQueueView,
} from "../db/repos/work-pools";
import { AGENT_POOL_TYPE } from "../domain/work-pool-status";
import { baseJobTemplateError } from "../lib/job-template";
import type { JsonObject } from "../lib/json";
import { pythonRepr } from "../lib/python-repr";
import { formatDateTime, formatNullable, microsToSeconds, MICROS_PER_SECOND, parseDateTime, type Micros } from "../lib/time";
import { canonicalUuid } from "../lib/uuid";
import { DateTime, JsonObjectSchema, Lenient, LimitOffset, LimitPage, Maybe, NAME_FORBIDDEN, Strict, Uuid } from "../schemas/common";
import { WorkerFilter, WorkPoolFilter, WorkQueueFilter } from "../schemas/filters";
import { conflict, forbidden, notFound, validationError, type ValidationIssue } from "./errors";
import { pagePaging, paginated, paging } from "./paging";
import { WorkPoolService } from "../work-pools/service";
import { clientVersionAtMost } from "./request";
import { requirePrefectSubprotocol, WorkerChannel } from "./worker-channel";

const NonNegative = t.Integer({ minimum: 0 });
const Priority = t.Integer({ exclusiveMinimum: 0 });

const StorageConfiguration = Strict({
  bundle_upload_step: Maybe(JsonObjectSchema),
  bundle_execution_step: Maybe(JsonObjectSchema),
  default_result_storage_block_id: Maybe(Uuid),
});

const WorkPoolCreate = Strict({
  name: t.String(),
  description: Maybe(t.String()),
  type: t.Optional(t.String()),
  base_job_template: t.Optional(JsonObjectSchema),
  is_paused: t.Optional(t.Boolean()),
  concurrency_limit: Maybe(NonNegative),
  storage_configuration: t.Optional(StorageConfiguration),
});

const WorkPoolUpdate = Strict({
  description: Maybe(t.String()),
  is_paused: Maybe(t.Boolean()),
  base_job_template: Maybe(JsonObjectSchema),
  concurrency_limit: Maybe(NonNegative),
  storage_configuration: Maybe(StorageConfiguration),
});

/** The deprecated tag-based filter; like Prefect's QueueFilter it ignores unknown keys. */
const QueueFilter = Lenient({ tags: Maybe(t.Array(t.String())), deployment_ids: Maybe(t.Array(Uuid)) });

export const WorkQueueCreate = Strict({
  // Prefect's `Name`
  name: t.String({ pattern: "^[^/%&><]+$" }),
  description: Maybe(t.String()),
  is_paused: t.Optional(t.Boolean()),
  concurrency_limit: Maybe(NonNegative),
  priority: Maybe(Priority),
  filter: Maybe(QueueFilter),
});

/** Unlike creation, Prefect does not check the name here. */
export const WorkQueueUpdate = Strict({
  name: Maybe(t.String()),
  description: Maybe(t.String()),
  is_paused: t.Optional(t.Boolean()),
  concurrency_limit: Maybe(NonNegative),
  priority: Maybe(Priority),
  last_polled: Maybe(DateTime),
  filter: Maybe(QueueFilter),
});

/** Workers send Cloud-only keys (`return_id`, `metadata`) too: they are ignored. */
const Heartbeat = Lenient({ name: t.String(), heartbeat_interval_seconds: Maybe(t.Integer()) });

const ConcurrencyStatusBody = Lenient({ ...LimitPage, flow_run_limit: Maybe(t.Integer({ minimum: 0, maximum: 200 })) });

// Prefect's WorkerResponse: ONLINE while the last heartbeat is within 3 intervals (default 30 s).
const DEFAULT_HEARTBEAT_INTERVAL_SECONDS = 30;
const INACTIVITY_HEARTBEAT_MULTIPLE = 3;
const DEFAULT_FLOW_RUN_LIMIT = 10;
// Clients up to this version fail on `storage_configuration.default_result_storage_block_id`.
const LAST_CLIENT_WITHOUT_STORAGE_BLOCK_ID = "3.3.7";

const isReserved = (name: string) => name.toLowerCase().startsWith("prefect");

type WorkQueueCreateBody = Static<typeof WorkQueueCreate>;
type WorkQueueUpdateBody = Static<typeof WorkQueueUpdate>;
type StorageConfigurationBody = Static<typeof StorageConfiguration>;

export function workPoolJson({ row, activeSlots }: WorkPoolView, options: { legacyClient: boolean }) {
  return {
    id: row.id,
    created: formatDateTime(row.created),
    updated: formatDateTime(row.updated),
    name: row.name,
    description: row.description,
    type: row.type,
    base_job_template: row.baseJobTemplate,
    is_paused: row.isPaused,
    concurrency_limit: row.concurrencyLimit,
    status: row.type === AGENT_POOL_TYPE ? null : row.status,
    default_queue_id: row.defaultQueueId,
    storage_configuration: storageConfigurationJson(row, options.legacyClient),
    active_slots: activeSlots,
  };
}

function storageConfigurationJson(row: WorkPoolRow, legacyClient: boolean) {
  const stored = row.storageConfiguration;
  const json = {
    bundle_upload_step: stored.bundle_upload_step ?? null,
    bundle_execution_step: stored.bundle_execution_step ?? null,
    default_result_storage_block_id: stored.default_result_storage_block_id ?? null,
  };
  if (!legacyClient) return json;
  const { default_result_storage_block_id: _, ...supported } = json;
  return supported;
}

/** Prefect's core WorkQueue (what /deployments/{id}/work_queue_check lists). */
export function coreWorkQueueJson(row: WorkQueueRow) {
  return {
    id: row.id,
    created: formatDateTime(row.created),
    updated: formatDateTime(row.updated),
    name: row.name,
    description: row.description,
    is_paused: row.isPaused,
    concurrency_limit: row.concurrencyLimit,
    priority: row.priority,
    work_pool_id: row.workPoolId,
    filter: row.filter,
    last_polled: formatNullable(row.lastPolled),
  };
}

/** WorkQueueResponse: the core queue with its pool's name, status and slot usage. */
export function workQueueJson({ row, poolName, activeSlots }: WorkQueueView) {
  return { ...coreWorkQueueJson(row), work_pool_name: poolName, status: row.status, active_slots: activeSlots };
}

export function workerJson(row: WorkerRow, now: Micros) {
  const interval = row.heartbeatIntervalSeconds ?? DEFAULT_HEARTBEAT_INTERVAL_SECONDS;
  const online = now - row.lastHeartbeatTime < interval * INACTIVITY_HEARTBEAT_MULTIPLE * MICROS_PER_SECOND;
  return {
    id: row.id,
    created: formatDateTime(row.created),
    updated: formatDateTime(row.updated),
    name: row.name,
    work_pool_id: row.workPoolId,
    last_heartbeat_time: formatDateTime(row.lastHeartbeatTime),
    heartbeat_interval_seconds: row.heartbeatIntervalSeconds,
    status: online ? "ONLINE" : "OFFLINE",
  };
}

/** A flow run holding a slot (FlowRunSlotSummary); time in state is float seconds. */
export function slotHolderJson(holder: SlotHolder, now: Micros) {
  return {
    id: holder.id,
    name: holder.name,
    state_type: holder.stateType,
    state_name: holder.stateName,
    start_time: formatNullable(holder.startTime),
    state_timestamp: formatNullable(holder.stateTimestamp),
    time_in_current_state: holder.stateTimestamp == null ? null : microsToSeconds(now - holder.stateTimestamp),
  };
}

/** The stored filter has both keys, as Prefect's QueueFilter dumps it. */
const queueFilter = (filter: NonNullable<WorkQueueCreateBody["filter"]>): JsonObject => ({
  tags: filter.tags ?? null,
  deployment_ids: filter.deployment_ids?.map(canonicalUuid) ?? null,
});

/** WorkQueueCreate with Prefect's defaults (a null description is stored as "", as Prefect's column default does). */
export function queueInput(body: WorkQueueCreateBody): WorkQueueInput {
  return {
    name: body.name,
    description: body.description ?? "",
    isPaused: body.is_paused ?? false,
    concurrencyLimit: body.concurrency_limit ?? null,
    priority: body.priority ?? null,
    filter: body.filter == null ? null : queueFilter(body.filter),
  };
}

/** The keys a WorkQueueUpdate sent. */
export function queuePatch(body: WorkQueueUpdateBody): WorkQueuePatch {
  const { last_polled: lastPolled, filter } = body;
  return {
    name: body.name,
    description: body.description,
    isPaused: body.is_paused,
    concurrencyLimit: body.concurrency_limit,
    priority: body.priority,
    lastPolled: lastPolled == null ? lastPolled : parseDateTime(lastPolled)!,
    filter: filter == null ? filter : queueFilter(filter),
  };
}

/** All three keys, as Prefect stores WorkPoolStorageConfiguration. */
const storageConfiguration = (body: StorageConfigurationBody | undefined): JsonObject => ({
  bundle_upload_step: body?.bundle_upload_step ?? null,
  bundle_execution_step: body?.bundle_execution_step ?? null,
  default_result_storage_block_id: body?.default_result_storage_block_id ?? null,
});

/** Prefect's NonEmptyishName (checked before the pattern) and the base_job_template validator, reported together. */
function workPoolIssues(body: { name?: string; base_job_template?: JsonObject | null }): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const { name, base_job_template: template } = body;
  if (name !== undefined) {
    if (name.replace(/^['" ]+|['" ]+$/g, "") === "") {
      issues.push({ type: "value_error", loc: ["body", "name"], msg: "Value error, name cannot be an empty string", input: name });
    } else if (NAME_FORBIDDEN.test(name)) {
      issues.push({ type: "string_pattern_mismatch", loc: ["body", "name"], msg: "String should match pattern '^[^/%&><]+$'", input: name });
    }
  }
  const templateError = template == null ? null : baseJobTemplateError(template);
  if (templateError) {
    issues.push({ type: "value_error", loc: ["body", "base_job_template"], msg: `Value error, ${templateError}`, input: template });
  }
  return issues;
}

function validateWorkPool(body: { name?: string; base_job_template?: JsonObject | null }): void {
  const issues = workPoolIssues(body);
  if (issues.length > 0) throw validationError(issues, body);
}

const poolNotFound = (name: string) => notFound(`Work pool "${name}" not found.`);
const queueNotFound = (poolName: string, queueName: string) => notFound(`Work pool queue '${poolName}/${queueName}' not found.`);

export function workPoolRoutes(ctx: AppContext) {
  const { store, clock, config } = ctx;
  const workPools = new WorkPoolService(ctx);
  const channels = new WeakMap<object, WorkerChannel>();

  async function requirePool(name: string): Promise<WorkPoolView> {
    const pool = await store.read((q) => q.workPools.getPool(name));
    if (!pool) throw poolNotFound(name);
    return pool;
  }

  async function requireQueue(poolName: string, queueName: string): Promise<WorkQueueView> {
    const queue = await store.read((q) => q.workPools.getQueue(poolName, queueName));
    if (!queue) throw queueNotFound(poolName, queueName);
    return queue;
  }

  const poolJsonFor = (headers: Record<string, string | undefined>) => {
    const legacyClient = clientVersionAtMost(headers, LAST_CLIENT_WITHOUT_STORAGE_BLOCK_ID);
    return (view: WorkPoolView) => workPoolJson(view, { legacyClient });
  };

  return (
    new Elysia({ prefix: "/work_pools" })
      // ------------------------------------------------------------ pools
      .post(
        "/",
        async ({ body, headers, set }) => {
          validateWorkPool(body);
          if (isReserved(body.name)) throw forbidden("Work pools starting with 'Prefect' are reserved for internal use.");
          const view = await workPools.createPool({
            name: body.name,
            description: body.description ?? null,
            type: body.type ?? AGENT_POOL_TYPE,
            baseJobTemplate: body.base_job_template ?? {},
            isPaused: body.is_paused ?? false,
            concurrencyLimit: body.concurrency_limit ?? null,
            storageConfiguration: storageConfiguration(body.storage_configuration),
          });
          set.status = 201;
          return poolJsonFor(headers)(view);
        },
        { body: WorkPoolCreate },
      )
      .post(
        "/filter",
        async ({ body, headers }) => {
          const { limit, offset } = paging(body, config.defaultLimit);
          return (await store.read((q) => q.workPools.listPools(body.work_pools, limit, offset))).map(poolJsonFor(headers));
        },
        { body: Lenient({ work_pools: Maybe(WorkPoolFilter), ...LimitOffset }) },
      )
      .post("/count", ({ body }) => store.read((q) => q.workPools.countPools(body?.work_pools)), { body: t.Optional(Lenient({ work_pools: Maybe(WorkPoolFilter) })) })
      .get("/:name", async ({ params, headers }) => poolJsonFor(headers)(await requirePool(params.name)))
      .patch(
        "/:name",
        async ({ params, body, set }) => {
          validateWorkPool(body);
          // Reserved pools may only be paused or limited.
          if (isReserved(params.name) && Object.keys(body).some((key) => key !== "is_paused" && key !== "concurrency_limit")) {
            throw forbidden(
              "Work pools starting with 'Prefect' are reserved for internal use and can only be updated to set concurrency limits or pause.",
            );
          }
          const pool = await requirePool(params.name);
          await workPools.updatePool(pool.row.id, poolPatch(body));
          set.status = 204;
        },
        { body: WorkPoolUpdate },
      )
      .delete("/:name", async ({ params, set }) => {
        if (isReserved(params.name)) {
          throw forbidden("Work pools starting with 'Prefect' are reserved for internal use and can not be deleted.");
        }
        const pool = await requirePool(params.name);
        await workPools.deletePool(pool.row.id);
        set.status = 204;
      })
      .post(
        "/:name/concurrency_status",
        async ({ params, body }) => {
          const { limit, offset, page } = pagePaging(body, config.defaultLimit);
          const pool = await store.read((q) => q.workPools.getPool(params.name));
          if (!pool) throw notFound(`Work pool ${pythonRepr(params.name)} not found.`);
          const status = await store.read((q) => q.workPools.poolConcurrency(pool.row.id, limit, offset, body.flow_run_limit ?? DEFAULT_FLOW_RUN_LIMIT));
          const now = clock.now();
          const queues = status.queues.map((queue) => {
            const active = status.slotsByQueue.get(queue.id) ?? 0;
            return {
              queue_id: queue.id,
              queue_name: queue.name,
              active_slots: active,
              concurrency_limit: queue.concurrencyLimit,
              flow_runs: status.holders.filter((h) => h.workQueueId === queue.id).map((h) => slotHolderJson(h, now)),
              flow_run_count: active,
            };
          });
          const { results, ...pages } = paginated(queues, status.queueCount, limit, page);
          return { active_slots: status.activeSlots, concurrency_limit: pool.row.concurrencyLimit, queues: results, ...pages };
        },
        { body: ConcurrencyStatusBody },
      )
      // ----------------------------------------------------------- queues
      .post(
        "/:name/queues",
        async ({ params, body, set }) => {
          const pool = await requirePool(params.name);
          const view = await workPools.createQueue(pool.row.id, queueInput(body));
          set.status = 201;
          return workQueueJson(view);
        },
        { body: WorkQueueCreate },
      )
      .post(
        "/:name/queues/filter",
        async ({ params, body }) => {
          const { limit, offset } = paging(body, config.defaultLimit);
          const pool = await requirePool(params.name);
          return (await store.read((q) => q.workPools.listQueues(pool.row.id, body.work_queues, limit, offset))).map(workQueueJson);
        },
        { body: Lenient({ work_queues: Maybe(WorkQueueFilter), ...LimitOffset }) },
      )
      .get("/:name/queues/:queue", async ({ params }) => workQueueJson(await requireQueue(params.name, params.queue)))
      .patch(
        "/:name/queues/:queue",
        async ({ params, body, set }) => {
          await requirePool(params.name);
          const queue = await requireQueue(params.name, params.queue);
          await workPools.updateQueue(queue.row.id, queuePatch(body), `Work pool queue '${params.name}/${params.queue}' not found.`);
          set.status = 204;
        },
        { body: WorkQueueUpdate },
      )
      .delete("/:name/queues/:queue", async ({ params, set }) => {
        await requirePool(params.name);
        const queue = await requireQueue(params.name, params.queue);
        // Prefect's foreign key refuses this, and the route then fails with a 500.
        if ((await workPools.deleteQueue(queue.row.id)) === "default-queue") throw conflict("Can't delete a pool's default queue.");
        set.status = 204;
      })
      // ---------------------------------------------------------- workers
      .ws("/:name/workers/connect", {
        upgrade: requirePrefectSubprotocol,
        open(ws) {
          channels.set(ws.raw, new WorkerChannel(ws, ws.data.request, ws.data.params.name, ctx, workPools));
        },
        message(ws, message) {
          channels.get(ws.raw)?.message(message);
        },
        close(ws) {
          channels.get(ws.raw)?.closed();
          channels.delete(ws.raw);
        },
      })
      .post(
        "/:name/workers/heartbeat",
        async ({ params, body, set }) => {
          const pool = await requirePool(params.name);
          await workPools.heartbeat(pool.row.id, body.name, body.heartbeat_interval_seconds ?? null);
          set.status = 204;
        },
        { body: Heartbeat },
      )
      .post(
        "/:name/workers/filter",
        async ({ params, body }) => {
          const { limit, offset } = paging(body, config.defaultLimit);
          const pool = await requirePool(params.name);
          const now = clock.now();
          return (await store.read((q) => q.workPools.listWorkers(pool.row.id, body.workers, limit, offset))).map((row) => workerJson(row, now));
        },
        { body: Lenient({ workers: Maybe(WorkerFilter), ...LimitOffset }) },
      )
      .delete("/:name/workers/:worker", async ({ params, set }) => {
        const pool = await requirePool(params.name);
        if (!(await store.write((tx) => tx.workPools.deleteWorker(pool.row.id, params.worker)))) throw notFound("Worker not found.");
        set.status = 204;
      })
  );
}

/** The keys a WorkPoolUpdate sent; storage configuration is stored whole. */
function poolPatch(body: Static<typeof WorkPoolUpdate>): WorkPoolPatch {
  const { storage_configuration: storage } = body;
  return {
    description: body.description,
    isPaused: body.is_paused,
    baseJobTemplate: body.base_job_template,
    concurrencyLimit: body.concurrency_limit,
    storageConfiguration: storage == null ? storage : storageConfiguration(storage),
  };
}
