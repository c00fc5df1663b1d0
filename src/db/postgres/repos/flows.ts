import { asc, count, desc, eq, inArray, type SQL } from "drizzle-orm";
import type { JsonObject } from "../../../lib/json";
import type { Micros } from "../../../lib/time";
import type { RunFilterSet } from "../../../schemas/filters";
import type { FlowRepo } from "../../repositories";
import type { FlowRow, FlowSort } from "../../repos/flows";
import type { Op } from "../../unit-of-work";
import { byCodePoint, flowsWhere } from "../filters";
import { query } from "../query";
import { flow } from "../schema";

const ORDER: Record<FlowSort, SQL[]> = {
  NAME_ASC: [asc(byCodePoint(flow.name))],
  NAME_DESC: [desc(byCodePoint(flow.name))],
  CREATED_DESC: [desc(flow.created), desc(flow.id)],
  UPDATED_DESC: [desc(flow.updated), desc(flow.id)],
};

/** src/db/repos/flows.ts on PostgreSQL. */
export class PgFlowRepository implements FlowRepo {
  /**
   * Inserts a flow unless one with that name exists; returns the row and whether it is new.
   * ON CONFLICT, not look-then-insert: two replicas (or two transactions of one) creating the
   * same flow at once must both get the one row, not a unique violation.
   */
  *upsertByName(input: { name: string; tags: string[]; labels: JsonObject }, now: Micros): Op<{ row: FlowRow; created: boolean }> {
    const row: FlowRow = { id: Bun.randomUUIDv7(), created: now, updated: now, ...input };
    const inserted = yield* query((db) => db.insert(flow).values(row).onConflictDoNothing({ target: flow.name }).returning({ id: flow.id }));
    if (inserted.length > 0) return { row, created: true };
    const existing = yield* this.getByName(input.name);
    return { row: existing!, created: false };
  }

  *get(id: string): Op<FlowRow | undefined> {
    return (yield* query((db) => db.select().from(flow).where(eq(flow.id, id))))[0];
  }

  *getByName(name: string): Op<FlowRow | undefined> {
    return (yield* query((db) => db.select().from(flow).where(eq(flow.name, name))))[0];
  }

  *update(id: string, patch: Partial<Pick<FlowRow, "tags" | "labels">>, now: Micros): Op<boolean> {
    return (yield* query((db) => db.update(flow).set({ ...patch, updated: now }).where(eq(flow.id, id)).returning({ id: flow.id }))).length > 0;
  }

  *delete(id: string): Op<boolean> {
    return (yield* query((db) => db.delete(flow).where(eq(flow.id, id)).returning({ id: flow.id }))).length > 0;
  }

  *list(filters: RunFilterSet, sort: FlowSort, limit: number, offset: number): Op<FlowRow[]> {
    return yield* query((db) =>
      db
        .select()
        .from(flow)
        .where(flowsWhere(filters))
        .orderBy(...ORDER[sort])
        .limit(limit)
        .offset(offset),
    );
  }

  *count(filters: RunFilterSet): Op<number> {
    const [row] = yield* query((db) => db.select({ n: count() }).from(flow).where(flowsWhere(filters)));
    return row!.n;
  }

  *bulkDelete(filters: RunFilterSet, limit: number): Op<string[]> {
    const ids = (yield* query((db) => db.select({ id: flow.id }).from(flow).where(flowsWhere(filters)).limit(limit))).map((r) => r.id);
    if (ids.length > 0) yield* query((db) => db.delete(flow).where(inArray(flow.id, ids)));
    return ids;
  }
}
