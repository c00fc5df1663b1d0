import { asc, desc, eq, sql, type SQL } from "drizzle-orm";
import type { JsonObject } from "../../lib/json";
import type { Micros } from "../../lib/time";
import type { RunFilterSet } from "../../schemas/filters";
import { countWhere, type SqliteDb } from "../client";
import { flowsWhere } from "../filters";
import { flow } from "../schema";
import type { Op } from "../unit-of-work";

export type FlowRow = typeof flow.$inferSelect;
export type FlowSort = "NAME_ASC" | "NAME_DESC" | "CREATED_DESC" | "UPDATED_DESC";

const ORDER: Record<FlowSort, SQL[]> = {
  NAME_ASC: [asc(flow.name)],
  NAME_DESC: [desc(flow.name)],
  CREATED_DESC: [desc(flow.created), desc(flow.id)],
  UPDATED_DESC: [desc(flow.updated), desc(flow.id)],
};

export class FlowRepository {
  private readonly byId;
  private readonly byName;

  constructor(private readonly db: SqliteDb) {
    this.byId = db.select().from(flow).where(eq(flow.id, sql.placeholder("id"))).prepare();
    this.byName = db.select().from(flow).where(eq(flow.name, sql.placeholder("name"))).prepare();
  }

  /** Inserts a flow unless one with that name exists; returns the row and whether it is new. */
  *upsertByName(input: { name: string; tags: string[]; labels: JsonObject }, now: Micros): Op<{ row: FlowRow; created: boolean }> {
    const existing = this.byName.get({ name: input.name });
    if (existing) return { row: existing, created: false };
    const row: FlowRow = { id: Bun.randomUUIDv7(), created: now, updated: now, ...input };
    this.db.insert(flow).values(row).run();
    return { row, created: true };
  }

  *get(id: string): Op<FlowRow | undefined> {
    return this.byId.get({ id });
  }

  *getByName(name: string): Op<FlowRow | undefined> {
    return this.byName.get({ name });
  }

  /** Returns false when the flow does not exist. */
  *update(id: string, patch: Partial<Pick<FlowRow, "tags" | "labels">>, now: Micros): Op<boolean> {
    return this.db.update(flow).set({ ...patch, updated: now }).where(eq(flow.id, id)).returning({ id: flow.id }).all().length > 0;
  }

  *delete(id: string): Op<boolean> {
    return this.db.delete(flow).where(eq(flow.id, id)).returning({ id: flow.id }).all().length > 0;
  }

  *list(filters: RunFilterSet, sort: FlowSort, limit: number, offset: number): Op<FlowRow[]> {
    return this.db
      .select()
      .from(flow)
      .where(flowsWhere(filters))
      .orderBy(...ORDER[sort])
      .limit(limit)
      .offset(offset)
      .all();
  }

  *count(filters: RunFilterSet): Op<number> {
    return countWhere(this.db, flow, flowsWhere(filters));
  }

  /** Deletes up to `limit` matching flows; returns their ids. */
  *bulkDelete(filters: RunFilterSet, limit: number): Op<string[]> {
    const ids = this.db.select({ id: flow.id }).from(flow).where(flowsWhere(filters)).limit(limit).all().map((r) => r.id);
    for (const id of ids) this.db.delete(flow).where(eq(flow.id, id)).run();
    return ids;
  }
}
