import { asc, desc, eq, sql, type SQL } from "drizzle-orm";
import type { JsonObject } from "../../lib/json";
import type { Micros } from "../../lib/time";
import type { RunFilterSet } from "../../schemas/filters";
import type { SqliteDb } from "../client";
import { flowsWhere } from "../filters";
import { flow } from "../schema";

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
  async upsertByName(input: { name: string; tags: string[]; labels: JsonObject }, now: Micros) {
    return this.db.transaction((tx) => {
      const existing = this.byName.get({ name: input.name });
      if (existing) return { row: existing, created: false };
      const row: FlowRow = { id: Bun.randomUUIDv7(), created: now, updated: now, ...input };
      tx.insert(flow).values(row).run();
      return { row, created: true };
    });
  }

  async get(id: string): Promise<FlowRow | undefined> {
    return this.byId.get({ id });
  }

  async getByName(name: string): Promise<FlowRow | undefined> {
    return this.byName.get({ name });
  }

  /** Returns false when the flow does not exist. */
  async update(id: string, patch: Partial<Pick<FlowRow, "tags" | "labels">>, now: Micros): Promise<boolean> {
    return this.db.update(flow).set({ ...patch, updated: now }).where(eq(flow.id, id)).returning({ id: flow.id }).all().length > 0;
  }

  async delete(id: string): Promise<boolean> {
    return this.db.delete(flow).where(eq(flow.id, id)).returning({ id: flow.id }).all().length > 0;
  }

  async list(filters: RunFilterSet, sort: FlowSort, limit: number, offset: number): Promise<FlowRow[]> {
    return this.db
      .select()
      .from(flow)
      .where(flowsWhere(filters))
      .orderBy(...ORDER[sort])
      .limit(limit)
      .offset(offset)
      .all();
  }

  async count(filters: RunFilterSet): Promise<number> {
    return this.db.$count(flow, flowsWhere(filters));
  }

  /** Deletes up to `limit` matching flows; returns their ids. */
  async bulkDelete(filters: RunFilterSet, limit: number): Promise<string[]> {
    return this.db.transaction((tx) => {
      const ids = tx.select({ id: flow.id }).from(flow).where(flowsWhere(filters)).limit(limit).all().map((r) => r.id);
      for (const id of ids) tx.delete(flow).where(eq(flow.id, id)).run();
      return ids;
    });
  }
}
