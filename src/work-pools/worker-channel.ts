/**
 * The worker channel's protocol (Prefect 3.9's client/schemas/worker_channel.py): the
 * frames a worker sends on `/work_pools/{name}/workers/connect`, checked as strictly as
 * Prefect's pydantic models check them (unknown keys are errors), and how each way of
 * closing the channel is signalled. Pure: no socket, no database.
 */
import { isJsonObject, type JsonObject, type JsonValue } from "../lib/json";
import { parseDateTime } from "../lib/time";

export const WORKER_CHANNEL_VERSION = "work_pool_worker_channel.v1";
export const WORKER_HEARTBEAT_CAPABILITY = "worker_heartbeat.v1";
export const WORK_POOL_SNAPSHOT_CAPABILITY = "work_pool_snapshot.v1";
export const CLEANUP_DELIVERY_CAPABILITY = "cleanup_delivery.v1";
const REQUIRED_CAPABILITIES = [WORKER_HEARTBEAT_CAPABILITY, WORK_POOL_SNAPSHOT_CAPABILITY];
const CLEANUP_KINDS = ["cancelling_timeout_teardown.v1", "pending_claim_teardown.v1"];

/** Prefect's WorkerChannelCloseReason with its WORKER_CHANNEL_CLOSE_POLICIES websocket code. */
export const CLOSE_CODES = {
  authentication_failed: 1008,
  authorization_failed: 1008,
  unsupported_version: 1008,
  protocol_error: 1002,
  heartbeat_persistence_failed: 1011,
  transient_server_error: 1011,
} as const;
export type CloseReason = keyof typeof CLOSE_CODES;

/** A reason the channel cannot be set up; the socket closes with it. */
export class WorkerChannelSetupError extends Error {
  constructor(
    readonly reason: CloseReason,
    detail: string,
  ) {
    super(detail);
  }
}

export interface WorkerHello {
  consumerId: string;
  workerName: string;
  workerType: string;
  heartbeatIntervalSeconds: number;
  supportedChannelVersions: string[];
  requestedCapabilities: string[];
  workQueueNames: string[];
  handledCleanupKinds: string[];
  maxCleanupConcurrency: number;
  createPoolIfNotFound: boolean;
  defaultBaseJobTemplate: JsonObject;
}

export interface WorkerHeartbeat {
  consumerId: string;
  workerName: string;
  heartbeatIntervalSeconds: number;
}

export interface CleanupOperationFrame {
  id: string;
  operation: "ack" | "release" | "renew";
  messageId: string;
  reservationToken: string;
  /** A release's reason. */
  reason?: string;
}

export interface CapabilityDecision {
  accepted: string[];
  rejected: string[];
  /** 0 unless cleanup delivery was accepted. */
  maxCleanupConcurrency: number;
}

/** What a worker may send once the channel is ready. */
export type WorkerFrame = { type: "heartbeat"; heartbeat: WorkerHeartbeat } | { type: "cleanup"; operation: CleanupOperationFrame } | { type: "other" };

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** Thrown by the field checks below; turned into `protocol_error`. */
class Malformed extends Error {}

const fail = (why: string): never => {
  throw new Malformed(why);
};

function only(object: JsonObject, allowed: readonly string[], where: string): void {
  for (const key of Object.keys(object)) if (!allowed.includes(key)) fail(`${where}: unexpected key ${key}`);
}

const object = (value: JsonValue | undefined, where: string): JsonObject => (isJsonObject(value) ? value : fail(`${where} is not an object`));
const uuid = (value: JsonValue | undefined, where: string): string => (typeof value === "string" && UUID.test(value) ? value.toLowerCase() : fail(`${where} is not a UUID`));
const nonEmpty = (value: JsonValue | undefined, where: string): string => (typeof value === "string" && value.length > 0 ? value : fail(`${where} is not a non-empty string`));

function integer(value: JsonValue | undefined, where: string, minimum: number): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < minimum) fail(`${where} is not an integer ≥ ${minimum}`);
  return value as number;
}

function strings(value: JsonValue | undefined, where: string, minItems = 0): string[] {
  if (!Array.isArray(value) || value.length < minItems) fail(`${where} is not a list of at least ${minItems}`);
  return (value as JsonValue[]).map((item, i) => nonEmpty(item, `${where}[${i}]`));
}

/** The envelope every frame shares; returns its type and payload. */
function envelope(message: unknown): { type: string; id: string; payload: JsonObject } {
  const frame = isJsonObject(message) ? message : fail("the frame is not an object");
  only(frame, ["type", "id", "sent_at", "payload"], "frame");
  const type = typeof frame.type === "string" ? frame.type : fail("frame.type is missing");
  const id = uuid(frame.id, "frame.id");
  if (typeof frame.sent_at !== "string" || parseDateTime(frame.sent_at) === null) fail("frame.sent_at is not a datetime");
  return { type, id, payload: object(frame.payload, "payload") };
}

/** The first frame after authentication: `worker.hello.v1`, or a protocol error. */
export function parseHello(message: unknown): WorkerHello {
  try {
    const { type, payload } = envelope(message);
    if (type !== "worker.hello.v1") fail("Expected worker.hello.v1 during worker channel setup");
    only(
      payload,
      [
        "consumer_id",
        "worker_name",
        "worker_type",
        "heartbeat_interval_seconds",
        "supported_channel_versions",
        "requested_capabilities",
        "work_queue_names",
        "handled_cleanup_kinds",
        "max_cleanup_concurrency",
        "create_pool_if_not_found",
        "default_base_job_template",
        "worker_metadata",
      ],
      "payload",
    );
    const requested = strings(payload.requested_capabilities, "requested_capabilities", 1);
    const kinds = payload.handled_cleanup_kinds === undefined ? [] : strings(payload.handled_cleanup_kinds, "handled_cleanup_kinds");
    for (const kind of kinds) if (!CLEANUP_KINDS.includes(kind)) fail(`unknown cleanup kind ${kind}`);
    const cleanupRequested = requested.includes(CLEANUP_DELIVERY_CAPABILITY);
    // Prefect's default: one cleanup at a time when cleanup is asked for with kinds to handle.
    const maxCleanup =
      payload.max_cleanup_concurrency === undefined ? (cleanupRequested && kinds.length > 0 ? 1 : 0) : integer(payload.max_cleanup_concurrency, "max_cleanup_concurrency", 0);
    const missing = REQUIRED_CAPABILITIES.filter((capability) => !requested.includes(capability));
    if (missing.length > 0) fail(`Missing required channel capabilities: ${missing.join(", ")}`);
    if (!cleanupRequested && (kinds.length > 0 || maxCleanup > 0)) fail("cleanup fields require cleanup_delivery.v1");
    const create = payload.create_pool_if_not_found ?? false;
    if (typeof create !== "boolean") fail("create_pool_if_not_found is not a boolean");
    if (payload.worker_metadata != null) object(payload.worker_metadata, "worker_metadata");
    return {
      consumerId: uuid(payload.consumer_id, "consumer_id"),
      workerName: nonEmpty(payload.worker_name, "worker_name"),
      workerType: nonEmpty(payload.worker_type, "worker_type"),
      heartbeatIntervalSeconds: integer(payload.heartbeat_interval_seconds, "heartbeat_interval_seconds", 1),
      supportedChannelVersions: strings(payload.supported_channel_versions, "supported_channel_versions", 1),
      requestedCapabilities: requested,
      workQueueNames: payload.work_queue_names === undefined ? [] : strings(payload.work_queue_names, "work_queue_names"),
      handledCleanupKinds: kinds,
      maxCleanupConcurrency: maxCleanup,
      createPoolIfNotFound: create as boolean,
      defaultBaseJobTemplate: payload.default_base_job_template === undefined ? {} : object(payload.default_base_job_template, "default_base_job_template"),
    };
  } catch (error) {
    if (error instanceof Malformed) throw new WorkerChannelSetupError("protocol_error", error.message);
    throw error;
  }
}

/** A frame after setup; null when it is malformed (the channel then closes with `protocol_error`). */
export function parseWorkerFrame(message: unknown): WorkerFrame | null {
  try {
    const { type, id, payload } = envelope(message);
    if (type === "worker.heartbeat.v1") {
      only(payload, ["consumer_id", "worker_name", "heartbeat_interval_seconds"], "payload");
      return {
        type: "heartbeat",
        heartbeat: {
          consumerId: uuid(payload.consumer_id, "consumer_id"),
          workerName: nonEmpty(payload.worker_name, "worker_name"),
          heartbeatIntervalSeconds: integer(payload.heartbeat_interval_seconds, "heartbeat_interval_seconds", 1),
        },
      };
    }
    const operation = ({ "cleanup.ack.v1": "ack", "cleanup.release.v1": "release", "cleanup.renew.v1": "renew" } as const)[type];
    if (operation) {
      only(payload, operation === "release" ? ["message_id", "reservation_token", "reason"] : ["message_id", "reservation_token"], "payload");
      const reason = operation === "release" ? nonEmpty(payload.reason, "reason") : undefined;
      return { type: "cleanup", operation: { id, operation, messageId: uuid(payload.message_id, "message_id"), reservationToken: nonEmpty(payload.reservation_token, "reservation_token"), reason } };
    }
    return { type: "other" };
  } catch (error) {
    if (error instanceof Malformed) return null;
    throw error;
  }
}

/** The channel version both sides speak, or `unsupported_version`. */
export function selectChannelVersion(hello: WorkerHello): typeof WORKER_CHANNEL_VERSION {
  if (hello.supportedChannelVersions.includes(WORKER_CHANNEL_VERSION)) return WORKER_CHANNEL_VERSION;
  throw new WorkerChannelSetupError("unsupported_version", "No mutually supported worker channel version");
}

/**
 * The capabilities granted: the required two always; cleanup delivery when asked for with
 * kinds and concurrency. Every other one asked for is rejected.
 */
export function capabilityDecision(hello: WorkerHello): CapabilityDecision {
  const accepted = [...REQUIRED_CAPABILITIES];
  const wantsCleanup = hello.requestedCapabilities.includes(CLEANUP_DELIVERY_CAPABILITY) && hello.handledCleanupKinds.length > 0 && hello.maxCleanupConcurrency > 0;
  if (wantsCleanup) accepted.push(CLEANUP_DELIVERY_CAPABILITY);
  const rejected = [...new Set(hello.requestedCapabilities)].filter((capability) => !accepted.includes(capability));
  return { accepted, rejected, maxCleanupConcurrency: accepted.includes(CLEANUP_DELIVERY_CAPABILITY) ? hello.maxCleanupConcurrency : 0 };
}

/** The pool fields whose change is pushed to connected workers as a new snapshot. */
export const SNAPSHOT_FIELDS = ["baseJobTemplate", "concurrencyLimit", "isPaused", "storageConfiguration"] as const;
