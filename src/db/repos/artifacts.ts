/**
 * Artifacts and the artifact collection (the latest artifact of each key), kept in
 * step in one transaction on every create, update and delete, as
 * prefect/server/models/artifacts.py does.
 */
import { and, desc, asc, eq, ne, sql, type SQL } from "drizzle-orm";
import type { JsonObject, JsonValue } from "../../lib/json";
import type { Micros } from "../../lib/time";
import type { ArtifactCollectionFilter, ArtifactFilter, ArtifactRelatedFilterSet } from "../../schemas/filters";
import { countWhere, type SqliteDb } from "../client";
import { artifactCollectionCond, artifactCond, artifactRelationsWhere } from "../filters";
import { artifact, artifactCollection } from "../schema";
import type { Op } from "../unit-of-work";

export type ArtifactRow = typeof artifact.$inferSelect;
export type ArtifactCollectionRow = typeof artifactCollection.$inferSelect;
export type ArtifactSort = "CREATED_DESC" | "UPDATED_DESC" | "ID_DESC" | "KEY_DESC" | "KEY_ASC";

export interface ArtifactCreate {
  key: string | null;
  type: string | null;
  description: string | null;
  data: JsonValue | null;
  metadata: JsonObject | null;
  flowRunId: string | null;
  taskRunId: string | null;
}

/** The fields an update sent; an explicit null clears the field. */
export interface ArtifactPatch {
  data?: JsonValue | null;
  description?: string | null;
  metadata?: JsonObject | null;
}

export interface ArtifactFilters extends ArtifactRelatedFilterSet {
  artifacts?: ArtifactFilter | null;
}

export interface ArtifactCollectionFilters extends ArtifactRelatedFilterSet {
  artifacts?: ArtifactCollectionFilter | null;
}

// Prefect sorts on the one column; the id breaks ties so pages are stable.
const ARTIFACT_ORDER: Record<ArtifactSort, SQL[]> = {
  CREATED_DESC: [desc(artifact.created), desc(artifact.id)],
  UPDATED_DESC: [desc(artifact.updated), desc(artifact.id)],
  ID_DESC: [desc(artifact.id)],
  KEY_DESC: [desc(artifact.key), desc(artifact.id)],
  KEY_ASC: [asc(artifact.key), desc(artifact.id)],
};

const COLLECTION_ORDER: Record<ArtifactSort, SQL[]> = {
  CREATED_DESC: [desc(artifactCollection.created), desc(artifactCollection.id)],
  UPDATED_DESC: [desc(artifactCollection.updated), desc(artifactCollection.id)],
  ID_DESC: [desc(artifactCollection.id)],
  KEY_DESC: [desc(artifactCollection.key)],
  KEY_ASC: [asc(artifactCollection.key)],
};

const artifactWhere = (filters: ArtifactFilters) => and(artifactCond(filters.artifacts), artifactRelationsWhere(artifact, filters));
const collectionWhere = (filters: ArtifactCollectionFilters) =>
  and(artifactCollectionCond(filters.artifacts), artifactRelationsWhere(artifactCollection, filters));

export class ArtifactRepository {
  private readonly byId;
  private readonly collectionByKey;

  constructor(private readonly db: SqliteDb) {
    this.byId = db.select().from(artifact).where(eq(artifact.id, sql.placeholder("id"))).prepare();
    this.collectionByKey = db.select().from(artifactCollection).where(eq(artifactCollection.key, sql.placeholder("key"))).prepare();
  }

  /** Inserts the artifact; a keyed one becomes its key's latest (the collection row is created or overwritten). */
  *create(input: ArtifactCreate, now: Micros): Op<ArtifactRow> {
    const row: ArtifactRow = { id: Bun.randomUUIDv7(), created: now, updated: now, ...input };
    if (row.key !== null) {
      const { id, created, updated, key, ...latest } = row;
      this.db.insert(artifactCollection)
        .values({ id: Bun.randomUUIDv7(), created, updated, key, latestId: id, ...latest })
        .onConflictDoUpdate({ target: artifactCollection.key, set: { latestId: id, updated, ...latest } })
        .run();
    }
    this.db.insert(artifact).values(row).run();
    return row;
  }

  *get(id: string): Op<ArtifactRow | undefined> {
    return this.byId.get({ id });
  }

  *getLatest(key: string): Op<ArtifactCollectionRow | undefined> {
    return this.collectionByKey.get({ key });
  }

  /**
   * Writes the fields sent (and `updated`) on the artifact and, when it is its key's
   * latest, on the collection row; false when neither exists.
   */
  *update(id: string, patch: ArtifactPatch, now: Micros): Op<boolean> {
    const values = { ...patch, updated: now };
    const artifacts = this.db.update(artifact).set(values).where(eq(artifact.id, id)).returning({ id: artifact.id }).all();
    const collections = this.db
      .update(artifactCollection)
      .set(values)
      .where(eq(artifactCollection.latestId, id))
      .returning({ id: artifactCollection.id })
      .all();
    return artifacts.length + collections.length > 0;
  }

  /**
   * Deletes the artifact. When it was its key's latest, the collection row takes on the
   * key's newest remaining version (its timestamps too), or goes when none is left.
   */
  *delete(id: string): Op<boolean> {
    const row = this.db.select().from(artifact).where(eq(artifact.id, id)).get();
    if (!row) return false;
    const collection = row.key === null ? undefined : this.collectionByKey.get({ key: row.key });
    if (row.key !== null && collection?.latestId === id) {
      const previous = this.db
        .select()
        .from(artifact)
        .where(and(eq(artifact.key, row.key), ne(artifact.id, id)))
        .orderBy(desc(artifact.created), desc(artifact.id))
        .limit(1)
        .get();
      if (previous) {
        const { id: latestId, key: _key, ...fields } = previous;
        this.db.update(artifactCollection)
          .set({ latestId, ...fields })
          .where(eq(artifactCollection.key, row.key))
          .run();
      } else {
        this.db.delete(artifactCollection).where(eq(artifactCollection.key, row.key)).run();
      }
    }
    this.db.delete(artifact).where(eq(artifact.id, id)).run();
    return true;
  }

  *list(filters: ArtifactFilters, sort: ArtifactSort, limit: number, offset: number): Op<ArtifactRow[]> {
    return this.db
      .select()
      .from(artifact)
      .where(artifactWhere(filters))
      .orderBy(...ARTIFACT_ORDER[sort])
      .limit(limit)
      .offset(offset)
      .all();
  }

  *count(filters: ArtifactFilters): Op<number> {
    return countWhere(this.db, artifact, artifactWhere(filters));
  }

  *listLatest(filters: ArtifactCollectionFilters, sort: ArtifactSort, limit: number, offset: number): Op<ArtifactCollectionRow[]> {
    return this.db
      .select()
      .from(artifactCollection)
      .where(collectionWhere(filters))
      .orderBy(...COLLECTION_ORDER[sort])
      .limit(limit)
      .offset(offset)
      .all();
  }

  *countLatest(filters: ArtifactCollectionFilters): Op<number> {
    return countWhere(this.db, artifactCollection, collectionWhere(filters));
  }
}
