import { and, asc, count, desc, eq, ne, sql, type SQL } from "drizzle-orm";
import type { Micros } from "../../../lib/time";
import type { ArtifactRepo } from "../../repositories";
import type {
  ArtifactCollectionFilters,
  ArtifactCollectionRow,
  ArtifactCreate,
  ArtifactFilters,
  ArtifactPatch,
  ArtifactRow,
  ArtifactSort,
} from "../../repos/artifacts";
import type { Op } from "../../unit-of-work";
import { artifactCollectionCond, artifactCond, artifactRelationsWhere, byCodePoint } from "../filters";
import { query } from "../query";
import { artifact, artifactCollection } from "../schema";

// An artifact's key may be null: SQLite sorts NULL first ascending and last descending, PostgreSQL the other way round.
const ARTIFACT_ORDER: Record<ArtifactSort, SQL[]> = {
  CREATED_DESC: [desc(artifact.created), desc(artifact.id)],
  UPDATED_DESC: [desc(artifact.updated), desc(artifact.id)],
  ID_DESC: [desc(artifact.id)],
  KEY_DESC: [sql`${byCodePoint(artifact.key)} DESC NULLS LAST`, desc(artifact.id)],
  KEY_ASC: [sql`${byCodePoint(artifact.key)} ASC NULLS FIRST`, desc(artifact.id)],
};

const COLLECTION_ORDER: Record<ArtifactSort, SQL[]> = {
  CREATED_DESC: [desc(artifactCollection.created), desc(artifactCollection.id)],
  UPDATED_DESC: [desc(artifactCollection.updated), desc(artifactCollection.id)],
  ID_DESC: [desc(artifactCollection.id)],
  KEY_DESC: [desc(byCodePoint(artifactCollection.key))],
  KEY_ASC: [asc(byCodePoint(artifactCollection.key))],
};

const artifactWhere = (filters: ArtifactFilters) => and(artifactCond(filters.artifacts), artifactRelationsWhere(artifact, filters));
const collectionWhere = (filters: ArtifactCollectionFilters) =>
  and(artifactCollectionCond(filters.artifacts), artifactRelationsWhere(artifactCollection, filters));

/** src/db/repos/artifacts.ts on PostgreSQL. */
export class PgArtifactRepository implements ArtifactRepo {
  /** The collection row is upserted (ON CONFLICT), so concurrent creates of one key leave one row naming one of them. */
  *create(input: ArtifactCreate, now: Micros): Op<ArtifactRow> {
    const row: ArtifactRow = { id: Bun.randomUUIDv7(), created: now, updated: now, ...input };
    if (row.key !== null) {
      const { id, created, updated, key, ...latest } = row;
      yield* query((db) =>
        db
          .insert(artifactCollection)
          .values({ id: Bun.randomUUIDv7(), created, updated, key, latestId: id, ...latest })
          .onConflictDoUpdate({ target: artifactCollection.key, set: { latestId: id, updated, ...latest } }),
      );
    }
    yield* query((db) => db.insert(artifact).values(row));
    return row;
  }

  *get(id: string): Op<ArtifactRow | undefined> {
    return (yield* query((db) => db.select().from(artifact).where(eq(artifact.id, id))))[0];
  }

  *getLatest(key: string): Op<ArtifactCollectionRow | undefined> {
    return (yield* query((db) => db.select().from(artifactCollection).where(eq(artifactCollection.key, key))))[0];
  }

  *update(id: string, patch: ArtifactPatch, now: Micros): Op<boolean> {
    const values = { ...patch, updated: now };
    const artifacts = yield* query((db) => db.update(artifact).set(values).where(eq(artifact.id, id)).returning({ id: artifact.id }));
    const collections = yield* query((db) =>
      db.update(artifactCollection).set(values).where(eq(artifactCollection.latestId, id)).returning({ id: artifactCollection.id }),
    );
    return artifacts.length + collections.length > 0;
  }

  /**
   * Read-modify-write, so both rows are locked first (artifact, then collection, the order
   * `update` takes them in): a concurrent delete of the same artifact then finds it gone,
   * and one of another version of the key sees the collection as this one left it.
   */
  *delete(id: string): Op<boolean> {
    const [row] = yield* query((db) => db.select().from(artifact).where(eq(artifact.id, id)).for("update"));
    if (!row) return false;
    const key = row.key;
    if (key !== null) {
      const [collection] = yield* query((db) => db.select().from(artifactCollection).where(eq(artifactCollection.key, key)).for("update"));
      if (collection?.latestId === id) {
        const [previous] = yield* query((db) =>
          db
            .select()
            .from(artifact)
            .where(and(eq(artifact.key, key), ne(artifact.id, id)))
            .orderBy(desc(artifact.created), desc(artifact.id))
            .limit(1),
        );
        if (previous) {
          const { id: latestId, key: _key, ...fields } = previous;
          yield* query((db) => db.update(artifactCollection).set({ latestId, ...fields }).where(eq(artifactCollection.key, key)));
        } else {
          yield* query((db) => db.delete(artifactCollection).where(eq(artifactCollection.key, key)));
        }
      }
    }
    yield* query((db) => db.delete(artifact).where(eq(artifact.id, id)));
    return true;
  }

  *list(filters: ArtifactFilters, sort: ArtifactSort, limit: number, offset: number): Op<ArtifactRow[]> {
    return yield* query((db) =>
      db
        .select()
        .from(artifact)
        .where(artifactWhere(filters))
        .orderBy(...ARTIFACT_ORDER[sort])
        .limit(limit)
        .offset(offset),
    );
  }

  *count(filters: ArtifactFilters): Op<number> {
    const [row] = yield* query((db) => db.select({ n: count() }).from(artifact).where(artifactWhere(filters)));
    return row!.n;
  }

  *listLatest(filters: ArtifactCollectionFilters, sort: ArtifactSort, limit: number, offset: number): Op<ArtifactCollectionRow[]> {
    return yield* query((db) =>
      db
        .select()
        .from(artifactCollection)
        .where(collectionWhere(filters))
        .orderBy(...COLLECTION_ORDER[sort])
        .limit(limit)
        .offset(offset),
    );
  }

  *countLatest(filters: ArtifactCollectionFilters): Op<number> {
    const [row] = yield* query((db) => db.select({ n: count() }).from(artifactCollection).where(collectionWhere(filters)));
    return row!.n;
  }
}
