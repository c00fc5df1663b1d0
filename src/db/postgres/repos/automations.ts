import { and, asc, count, desc, eq, lte, max, sql, type SQL } from "drizzle-orm";
import type { Micros } from "../../../lib/time";
import type { AutomationFilter } from "../../../schemas/filters";
import type { AutomationRepo } from "../../repositories";
import type { AutomationChanges, AutomationFields, AutomationRow, AutomationSort } from "../../repos/automations";
import type { Op } from "../../unit-of-work";
import { automationCond, byCodePoint } from "../filters";
import { query } from "../query";
import { automation } from "../schema";

const ORDER: Record<AutomationSort, SQL[]> = {
  CREATED_DESC: [desc(automation.created), desc(automation.id)],
  UPDATED_DESC: [desc(automation.updated), desc(automation.id)],
  NAME_ASC: [asc(byCodePoint(automation.name)), asc(automation.id)],
  NAME_DESC: [desc(byCodePoint(automation.name)), desc(automation.id)],
};

/** The deployment prefix of resource ids (`prefect.deployment.<id>`). */
const DEPLOYMENT_RESOURCE = "prefect.deployment.";

/** True for automations with a `run-deployment` action on the selected deployment `resourceId` names. */
const runsDeployment = (resourceId: string): SQL => sql`EXISTS (
  SELECT 1 FROM jsonb_array_elements(${automation.actions}) AS action
  WHERE action ->> 'type' = 'run-deployment'
    AND action ->> 'source' = 'selected'
    AND ${DEPLOYMENT_RESOURCE} || (action ->> 'deployment_id') = ${resourceId}
)`;

/** src/db/repos/automations.ts on PostgreSQL. */
export class PgAutomationRepository implements AutomationRepo {
  constructor(private readonly changes: AutomationChanges = { count: 0 }) {}

  *revision(): Op<number> {
    return this.changes.count;
  }

  *create(input: AutomationFields & { ownerResource: string | null }, now: Micros): Op<AutomationRow> {
    this.changes.count++;
    const row: AutomationRow = { id: Bun.randomUUIDv7(), created: now, updated: now, ...input };
    yield* query((db) => db.insert(automation).values(row));
    return row;
  }

  *enabled(): Op<AutomationRow[]> {
    return yield* query((db) => db.select().from(automation).where(eq(automation.enabled, true)).orderBy(asc(automation.id)));
  }

  *snapshot(): Op<string> {
    const [row] = yield* query((db) => db.select({ latest: max(automation.updated), n: count() }).from(automation));
    return `${row!.latest ?? ""}/${row!.n}`;
  }

  *get(id: string): Op<AutomationRow | undefined> {
    return (yield* query((db) => db.select().from(automation).where(eq(automation.id, id))))[0];
  }

  *update(id: string, patch: Partial<AutomationFields>, now: Micros): Op<boolean> {
    this.changes.count++;
    return (yield* query((db) => db.update(automation).set({ ...patch, updated: now }).where(eq(automation.id, id)).returning({ id: automation.id }))).length > 0;
  }

  *delete(id: string): Op<boolean> {
    this.changes.count++;
    return (yield* query((db) => db.delete(automation).where(eq(automation.id, id)).returning({ id: automation.id }))).length > 0;
  }

  *list(filter: AutomationFilter | null | undefined, sort: AutomationSort, limit: number, offset: number): Op<AutomationRow[]> {
    return yield* query((db) =>
      db
        .select()
        .from(automation)
        .where(automationCond(filter))
        .orderBy(...ORDER[sort])
        .limit(limit)
        .offset(offset),
    );
  }

  *count(filter: AutomationFilter | null | undefined): Op<number> {
    const [row] = yield* query((db) => db.select({ n: count() }).from(automation).where(automationCond(filter)));
    return row!.n;
  }

  *relatedTo(resourceId: string): Op<AutomationRow[]> {
    const related = resourceId.startsWith(DEPLOYMENT_RESOURCE)
      ? sql`(${eq(automation.ownerResource, resourceId)} OR ${runsDeployment(resourceId)})`
      : eq(automation.ownerResource, resourceId);
    return yield* query((db) => db.select().from(automation).where(related).orderBy(asc(automation.created), asc(automation.id)));
  }

  *deleteOwnedBy(resourceId: string, createdBefore: Micros): Op<string[]> {
    this.changes.count++;
    const rows = yield* query((db) =>
      db
        .delete(automation)
        .where(and(eq(automation.ownerResource, resourceId), lte(automation.created, createdBefore)))
        .returning({ id: automation.id }),
    );
    return rows.map((row) => row.id);
  }
}
