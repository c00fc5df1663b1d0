/**
 * Automations, stored as documents (trigger and actions are JSON). An automation is
 * related to its owner resource and to each deployment a `run-deployment` action of
 * it selects; both relations are read from the row itself rather than from a
 * separate table (Prefect's automation_related_resource).
 */
import { and, asc, desc, eq, lte, sql, type SQL } from "drizzle-orm";
import type { JsonObject } from "../../lib/json";
import type { Micros } from "../../lib/time";
import type { AutomationFilter } from "../../schemas/filters";
import { countWhere, type SqliteDb } from "../client";
import { automationCond } from "../filters";
import { automation } from "../schema";
import type { Op } from "../unit-of-work";

export type AutomationRow = typeof automation.$inferSelect;
export type AutomationSort = "CREATED_DESC" | "UPDATED_DESC" | "NAME_ASC" | "NAME_DESC";

export interface AutomationFields {
  name: string;
  description: string;
  enabled: boolean;
  tags: string[];
  trigger: JsonObject;
  actions: JsonObject[];
  actionsOnTrigger: JsonObject[];
  actionsOnResolve: JsonObject[];
}

const ORDER: Record<AutomationSort, SQL[]> = {
  CREATED_DESC: [desc(automation.created), desc(automation.id)],
  UPDATED_DESC: [desc(automation.updated), desc(automation.id)],
  NAME_ASC: [asc(automation.name), asc(automation.id)],
  NAME_DESC: [desc(automation.name), desc(automation.id)],
};

/** The deployment prefix of resource ids (`prefect.deployment.<id>`). */
const DEPLOYMENT_RESOURCE = "prefect.deployment.";

/** True for automations with a `run-deployment` action on the selected deployment `resourceId` names. */
const runsDeployment = (resourceId: string): SQL => sql`EXISTS (
  SELECT 1 FROM json_each(${automation.actions}) AS action
  WHERE json_extract(action.value, '$.type') = 'run-deployment'
    AND json_extract(action.value, '$.source') = 'selected'
    AND ${DEPLOYMENT_RESOURCE} || json_extract(action.value, '$.deployment_id') = ${resourceId}
)`;

/** How many automation writes this process has made (rolled-back ones included: they only cause a reload). */
export interface AutomationChanges {
  count: number;
}

export class AutomationRepository {
  private readonly byId;

  constructor(
    private readonly db: SqliteDb,
    private readonly changes: AutomationChanges = { count: 0 },
  ) {
    this.byId = db.select().from(automation).where(eq(automation.id, sql.placeholder("id"))).prepare();
  }

  /** Changes with every automation write of this process; another process's writes show in `snapshot`. */
  *revision(): Op<number> {
    return this.changes.count;
  }

  *create(input: AutomationFields & { ownerResource: string | null }, now: Micros): Op<AutomationRow> {
    this.changes.count++;
    const row: AutomationRow = { id: Bun.randomUUIDv7(), created: now, updated: now, ...input };
    this.db.insert(automation).values(row).run();
    return row;
  }

  /** Every enabled automation, for the triggers service to load. */
  *enabled(): Op<AutomationRow[]> {
    return this.db.select().from(automation).where(eq(automation.enabled, true)).orderBy(asc(automation.id)).all();
  }

  /** Prefect's automation state snapshot: the latest `updated` and the count; a change means "reload". */
  *snapshot(): Op<string> {
    const row = this.db.select({ latest: sql<number | null>`max(${automation.updated})`, n: sql<number>`count(*)` }).from(automation).get()!;
    return `${row.latest ?? ""}/${row.n}`;
  }

  *get(id: string): Op<AutomationRow | undefined> {
    return this.byId.get({ id });
  }

  /** Writes the fields given (and `updated`); false when the automation does not exist. */
  *update(id: string, patch: Partial<AutomationFields>, now: Micros): Op<boolean> {
    this.changes.count++;
    return this.db.update(automation).set({ ...patch, updated: now }).where(eq(automation.id, id)).returning({ id: automation.id }).all().length > 0;
  }

  *delete(id: string): Op<boolean> {
    this.changes.count++;
    return this.db.delete(automation).where(eq(automation.id, id)).returning({ id: automation.id }).all().length > 0;
  }

  *list(filter: AutomationFilter | null | undefined, sort: AutomationSort, limit: number, offset: number): Op<AutomationRow[]> {
    return this.db
      .select()
      .from(automation)
      .where(automationCond(filter))
      .orderBy(...ORDER[sort])
      .limit(limit)
      .offset(offset)
      .all();
  }

  *count(filter: AutomationFilter | null | undefined): Op<number> {
    return countWhere(this.db, automation, automationCond(filter));
  }

  /** Automations owned by the resource or, for a deployment, running it; oldest first. */
  *relatedTo(resourceId: string): Op<AutomationRow[]> {
    const related = resourceId.startsWith(DEPLOYMENT_RESOURCE)
      ? sql`(${eq(automation.ownerResource, resourceId)} OR ${runsDeployment(resourceId)})`
      : eq(automation.ownerResource, resourceId);
    return this.db.select().from(automation).where(related).orderBy(asc(automation.created), asc(automation.id)).all();
  }

  /** Deletes the automations the resource owns that were created by `createdBefore` (inclusive); returns their ids. */
  *deleteOwnedBy(resourceId: string, createdBefore: Micros): Op<string[]> {
    this.changes.count++;
    return this.db
      .delete(automation)
      .where(and(eq(automation.ownerResource, resourceId), lte(automation.created, createdBefore)))
      .returning({ id: automation.id })
      .all()
      .map((row) => row.id);
  }
}
