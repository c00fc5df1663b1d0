/**
 * Global concurrency limits (`/v2/concurrency_limits`): CRUD, slot increments and
 * decrements (all-or-nothing across the named limits) and slot leases, as
 * prefect/server/api/concurrency_limits_v2.py.
 */
import { Elysia, t } from "elysia";
import type { AppContext } from "../context";
import type { ConcurrencyLimitPatch, ConcurrencyLimitRow, LimitRef } from "../db/repos/concurrency-limits";
import { ConcurrencyLimitService, type SlotMode, type SlotRequest } from "../concurrency/limits";
import { activeSlotsAt } from "../domain/concurrency-slots";
import { formatDateTime, type Micros } from "../lib/time";
import { canonicalUuid } from "../lib/uuid";
import { Enum, Lenient, LimitOffset, Maybe, Strict, UUID_RE, Uuid } from "../schemas/common";
import { validationError, type ValidationIssue } from "./errors";
import { paging } from "./paging";

/** Prefect's `Name` type on limits: non-empty, without `/ % & > <`. */
const NAME_PATTERN = "^[^/%&><]+$";
const NAME_RE = new RegExp(NAME_PATTERN);
const LEASE_SECONDS = { default: 300, min: 60, max: 86_400 };

const LimitCreate = Strict({
  active: t.Optional(t.Boolean()),
  name: t.String(),
  limit: t.Integer(),
  active_slots: t.Optional(t.Integer()),
  denied_slots: t.Optional(t.Integer()),
  slot_decay_per_second: t.Optional(t.Number()),
});
const LimitUpdate = Strict({
  active: Maybe(t.Boolean()),
  name: Maybe(t.String()),
  limit: Maybe(t.Integer()),
  active_slots: Maybe(t.Integer()),
  denied_slots: Maybe(t.Integer()),
  slot_decay_per_second: Maybe(t.Number()),
});
type LimitFields = typeof LimitUpdate.static;

const Mode = Enum(["concurrency", "rate_limit"]);
const Holder = Strict({ type: Enum(["flow_run", "task_run", "deployment"]), id: Uuid });
const SlotRequest = { slots: t.Integer(), names: t.Array(t.String()) };
// `create_if_missing` is deprecated and ignored: limits must be created before slots are taken.
const IncrementBody = Lenient({ ...SlotRequest, mode: t.Optional(Mode), create_if_missing: Maybe(t.Boolean()) });
const IncrementWithLeaseBody = Lenient({
  ...SlotRequest,
  mode: t.Optional(Mode),
  lease_duration: t.Optional(t.Number()),
  holder: Maybe(Holder),
});
const DecrementBody = Lenient({ ...SlotRequest, occupancy_seconds: Maybe(t.Number()), create_if_missing: Maybe(t.Boolean()) });

export function globalConcurrencyLimitJson(row: ConcurrencyLimitRow, now: Micros) {
  return {
    id: row.id,
    created: formatDateTime(row.created),
    updated: formatDateTime(row.updated),
    active: row.active,
    name: row.name,
    limit: row.limit,
    active_slots: activeSlotsAt(row, now),
    slot_decay_per_second: row.slotDecayPerSecond,
  };
}

/** The full model, answered on create (stored counts, no decay). */
function concurrencyLimitJson(row: ConcurrencyLimitRow) {
  return {
    id: row.id,
    created: formatDateTime(row.created),
    updated: formatDateTime(row.updated),
    active: row.active,
    name: row.name,
    limit: row.limit,
    active_slots: row.activeSlots,
    denied_slots: row.deniedSlots,
    slot_decay_per_second: row.slotDecayPerSecond,
    avg_slot_occupancy_seconds: row.avgSlotOccupancySeconds,
  };
}

const minimalJson = (row: ConcurrencyLimitRow) => ({ id: row.id, name: row.name, limit: row.limit });

// ---- pydantic's constraint errors (TypeBox checks only the types) ----------------------------

const issue = (field: string, type: string, msg: string, input: unknown): ValidationIssue => ({ type, loc: ["body", field], msg, input });

function bound(field: string, value: number | null | undefined, b: { gt?: number; ge?: number; le?: number }): ValidationIssue | null {
  if (value == null) return null;
  if (b.gt !== undefined && !(value > b.gt)) return issue(field, "greater_than", `Input should be greater than ${b.gt}`, value);
  if (b.ge !== undefined && value < b.ge) return issue(field, "greater_than_equal", `Input should be greater than or equal to ${b.ge}`, value);
  if (b.le !== undefined && value > b.le) return issue(field, "less_than_equal", `Input should be less than or equal to ${b.le}`, value);
  return null;
}

function nameIssue(name: string | null | undefined): ValidationIssue | null {
  if (name == null || NAME_RE.test(name)) return null;
  return issue("name", "string_pattern_mismatch", `String should match pattern '${NAME_PATTERN}'`, name);
}

function namesIssue(names: string[]): ValidationIssue | null {
  if (names.length > 0) return null;
  return issue("names", "too_short", "List should have at least 1 item after validation, not 0", names);
}

/** Throws a 422 listing every issue found, in field order as pydantic does. */
function check(body: unknown, issues: (ValidationIssue | null)[]): void {
  const found = issues.filter((i): i is ValidationIssue => i !== null);
  if (found.length > 0) throw validationError(found, body);
}

const checkLimitFields = (body: LimitFields) =>
  check(body, [
    nameIssue(body.name),
    bound("limit", body.limit, { ge: 0 }),
    bound("active_slots", body.active_slots, { ge: 0 }),
    bound("denied_slots", body.denied_slots, { ge: 0 }),
    bound("slot_decay_per_second", body.slot_decay_per_second, { ge: 0 }),
  ]);

const leaseDurationIssue = (seconds: number | undefined) =>
  bound("lease_duration", seconds, { ge: LEASE_SECONDS.min, le: LEASE_SECONDS.max });

// ---- requests -> repository values --------------------------------------------------------

/** Prefect types `{id_or_name}` as UUID-or-string: anything that parses as a UUID is an id. */
const limitRef = (idOrName: string): LimitRef => (UUID_RE.test(idOrName) ? { id: canonicalUuid(idOrName) } : { name: idOrName });

function limitPatch(body: LimitFields): ConcurrencyLimitPatch {
  const patch: ConcurrencyLimitPatch = {
    active: body.active,
    name: body.name,
    limit: body.limit,
    activeSlots: body.active_slots,
    deniedSlots: body.denied_slots,
    slotDecayPerSecond: body.slot_decay_per_second,
  };
  // Only the keys sent are written (pydantic's exclude_unset), an explicit null included.
  return Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined));
}

export function concurrencyLimitV2Routes(ctx: AppContext) {
  const { clock, config } = ctx;
  const limits = new ConcurrencyLimitService(ctx);
  const slotRequest = (body: { names: string[]; slots: number; mode?: SlotMode }, leaseDuration?: number): SlotRequest => {
    check(body, [bound("slots", body.slots, { gt: 0 }), namesIssue(body.names), leaseDurationIssue(leaseDuration)]);
    return { names: body.names, slots: body.slots, mode: body.mode ?? "concurrency" };
  };

  return new Elysia({ prefix: "/v2/concurrency_limits" })
    .post(
      "/",
      async ({ body, set }) => {
        checkLimitFields(body);
        const row = await limits.create({
          name: body.name,
          limit: body.limit,
          active: body.active ?? true,
          activeSlots: body.active_slots ?? 0,
          deniedSlots: body.denied_slots ?? 0,
          slotDecayPerSecond: body.slot_decay_per_second ?? 0,
        });
        set.status = 201;
        return concurrencyLimitJson(row);
      },
      { body: LimitCreate },
    )
    .post(
      "/filter",
      async ({ body }) => {
        const { limit, offset } = paging(body, config.defaultLimit);
        const now = clock.now();
        return (await limits.list(limit, offset)).map((row) => globalConcurrencyLimitJson(row, now));
      },
      { body: Lenient(LimitOffset) },
    )
    .post("/increment", async ({ body }) => (await limits.increment(slotRequest(body))).map(minimalJson), { body: IncrementBody })
    .post(
      "/increment-with-lease",
      async ({ body }) => {
        const request = slotRequest(body, body.lease_duration);
        const { lease, limits: named } = await limits.incrementWithLease(request, body.lease_duration ?? LEASE_SECONDS.default, body.holder ?? null);
        return { lease_id: lease.id, limits: named.map(minimalJson) };
      },
      { body: IncrementWithLeaseBody },
    )
    .post(
      "/decrement",
      async ({ body }) => {
        check(body, [
          bound("slots", body.slots, { gt: 0 }),
          namesIssue(body.names),
          bound("occupancy_seconds", body.occupancy_seconds, { gt: 0 }),
        ]);
        return (await limits.decrement(body.names, body.slots, body.occupancy_seconds ?? null)).map(minimalJson);
      },
      { body: DecrementBody },
    )
    .post(
      "/decrement-with-lease",
      async ({ body, set }) => {
        await limits.releaseLease(body.lease_id);
        set.status = 204;
      },
      { body: Lenient({ lease_id: Uuid }) },
    )
    .post(
      "/leases/:lease_id/renew",
      async ({ params, body, set }) => {
        // Prefect's path parameter is a plain UUID (no route converter), so a malformed one is a 422, not a 404.
        const badId = UUID_RE.test(params.lease_id)
          ? null
          : { type: "uuid_parsing", loc: ["path", "lease_id"], msg: "Input should be a valid UUID", input: params.lease_id };
        check(body, [badId, leaseDurationIssue(body?.lease_duration)]);
        await limits.renewLease(canonicalUuid(params.lease_id), body?.lease_duration ?? LEASE_SECONDS.default);
        set.status = 204;
      },
      // The body may be left out altogether: every field has a default.
      { body: t.Optional(Lenient({ lease_duration: t.Optional(t.Number()) })) },
    )
    .get("/:id_or_name", async ({ params }) => globalConcurrencyLimitJson(await limits.get(limitRef(params.id_or_name)), clock.now()))
    .patch(
      "/:id_or_name",
      async ({ params, body, set }) => {
        checkLimitFields(body);
        await limits.update(limitRef(params.id_or_name), limitPatch(body));
        set.status = 204;
      },
      { body: LimitUpdate },
    )
    .delete("/:id_or_name", async ({ params, set }) => {
      await limits.delete(limitRef(params.id_or_name));
      set.status = 204;
    });
}
