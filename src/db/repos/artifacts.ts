/**
 * Artifacts and the artifact collection (the latest artifact of each key), kept in
 * step in one transaction on every create, update and delete, as
 * prefect/server/models/artifacts.py does.
 */
import { and, desc, asc, eq, ne, sql, type SQL } from "drizzle-orm";
import type { JsonObject, JsonValue } from "../../lib/json";
import type { Micros } from "../../lib/time";
import type { ArtifactCollectionFilter, ArtifactFilter, ArtifactRelatedFilterSet } from "../../schemas/filters";
import type { SqliteDb } from "../client";
import { artifactCollectionCond, artifactCond, artifactRelationsWhere } from "../filters";
import { artifact, artifactCollection } from "../schema";

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
  async create(input: ArtifactCreate, now: Micros): Promise<ArtifactRow> {
    const row: ArtifactRow = { id: Bun.randomUUIDv7(), created: now, updated: now, ...input };
    return this.db.transaction((tx) => {
      if (row.key !== null) {
        const { id, created, updated, key, ...latest } = row;
        tx.insert(artifactCollection)
          .values({ id: Bun.randomUUIDv7(), created, updated, key, latestId: id, ...latest })
          .onConflictDoUpdate({ target: artifactCollection.key, set: { latestId: id, updated, ...latest } })
          .run();
      }
      tx.insert(artifact).values(row).run();
      return row;
    });
  }

  async get(id: string): Promise<ArtifactRow | undefined> {
    return this.byId.get({ id });
  }

  async getLatest(key: string): Promise<ArtifactCollectionRow | undefined> {
    return this.collectionByKey.get({ key });
  }

  /**
   * Writes the fields sent (and `updated`) on the artifact and, when it is its key's
   * latest, on the collection row; false when neither exists.
   */
  async update(id: string, patch: ArtifactPatch, now: Micros): Promise<boolean> {
    const values = { ...patch, updated: now };
    return this.db.transaction((tx) => {
      const artifacts = tx.update(artifact).set(values).where(eq(artifact.id, id)).returning({ id: artifact.id }).all();
      const collections = tx
        .update(artifactCollection)
        .set(values)
        .where(eq(artifactCollection.latestId, id))
        .returning({ id: artifactCollection.id })
        .all();
      return artifacts.length + collections.length > 0;
    });
  }

  /**
   * Deletes the artifact. When it was its key's latest, the collection row takes on the
   * key's newest remaining version (its timestamps too), or goes when none is left.
   */
  async delete(id: string): Promise<boolean> {
    return this.db.transaction((tx) => {
      const row = tx.select().from(artifact).where(eq(artifact.id, id)).get();
      if (!row) return false;
      const collection = row.key === null ? undefined : this.collectionByKey.get({ key: row.key });
      if (row.key !== null && collection?.latestId === id) {
        const previous = tx
          .select()
          .from(artifact)
          .where(and(eq(artifact.key, row.key), ne(artifact.id, id)))
          .orderBy(desc(artifact.created), desc(artifact.id))
          .limit(1)
          .get();
        if (previous) {
          const { id: latestId, key: _key, ...fields } = previous;
          tx.update(artifactCollection)
            .set({ latestId, ...fields })
            .where(eq(artifactCollection.key, row.key))
            .run();
        } else {
          tx.delete(artifactCollection).where(eq(artifactCollection.key, row.key)).run();
        }
      }
      tx.delete(artifact).where(eq(artifact.id, id)).run();
      return true;
    });
  }

  async list(filters: ArtifactFilters, sort: ArtifactSort, limit: number, offset: number): Promise<ArtifactRow[]> {
    return this.db
      .select()
      .from(artifact)
      .where(artifactWhere(filters))
      .orderBy(...ARTIFACT_ORDER[sort])
      .limit(limit)
      .offset(offset)
      .all();
  }

  async count(filters: ArtifactFilters): Promise<number> {
    return this.db.$count(artifact, artifactWhere(filters));
  }

  async listLatest(filters: ArtifactCollectionFilters, sort: ArtifactSort, limit: number, offset: number): Promise<ArtifactCollectionRow[]> {
    return this.db
      .select()
      .from(artifactCollection)
      .where(collectionWhere(filters))
      .orderBy(...COLLECTION_ORDER[sort])
      .limit(limit)
      .offset(offset)
      .all();
  }

  async countLatest(filters: ArtifactCollectionFilters): Promise<number> {
    return this.db.$count(artifactCollection, collectionWhere(filters));
  }
}
