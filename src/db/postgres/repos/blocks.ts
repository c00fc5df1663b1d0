import { and, asc, count, desc, eq, inArray, sql, type SQL } from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import type { Micros } from "../../../lib/time";
import type { BlockDocumentFilterSet, BlockDocumentSort, BlockSchemaFilter, BlockTypeFilter } from "../../../schemas/blocks";
import type { BlockRepo } from "../../repositories";
import type {
  BlockDocumentInput,
  BlockDocumentRecord,
  BlockSchemaInput,
  BlockSchemaRecord,
  BlockTypeInput,
  BlockTypePatch,
  BlockTypeRow,
  DocumentChange,
  DocumentGraph,
  DocumentReference,
  Paging,
} from "../../repos/blocks";
import type { Op } from "../../unit-of-work";
import { blockDocumentsWhere, blockSchemaCond, blockTypeCond, byCodePoint } from "../filters";
import { query, type PgConnection } from "../query";
import { blockDocument, blockDocumentReference, blockSchema, blockType } from "../schema";

/** A list of ids bound as one jsonb array (as the SQLite side binds one JSON text), read back as uuids. */
const uuidsOf = (ids: string[]) => sql`(SELECT jsonb_array_elements_text(${JSON.stringify(ids)}::jsonb)::uuid)`;

const documentTypeName = sql`(SELECT ${blockType.name} FROM ${blockType} WHERE ${blockType.id} = ${blockDocument.blockTypeId})`;

const DOCUMENT_ORDER: Record<BlockDocumentSort, SQL[]> = {
  NAME_ASC: [asc(byCodePoint(blockDocument.name)), asc(blockDocument.id)],
  NAME_DESC: [desc(byCodePoint(blockDocument.name)), desc(blockDocument.id)],
  BLOCK_TYPE_AND_NAME_ASC: [asc(byCodePoint(documentTypeName)), asc(byCodePoint(blockDocument.name)), asc(blockDocument.id)],
};

// The same checksum may exist in several versions: the newest wins.
const NEWEST_SCHEMA = [desc(blockSchema.created), desc(blockSchema.id)];

const schemaType = alias(blockType, "schema_type");

const schemas = (db: PgConnection) =>
  db.select({ schema: blockSchema, type: blockType }).from(blockSchema).innerJoin(blockType, eq(blockType.id, blockSchema.blockTypeId));

const documents = (db: PgConnection) =>
  db
    .select({ document: blockDocument, type: blockType, schema: blockSchema, schemaType })
    .from(blockDocument)
    .innerJoin(blockType, eq(blockType.id, blockDocument.blockTypeId))
    .innerJoin(blockSchema, eq(blockSchema.id, blockDocument.blockSchemaId))
    .innerJoin(schemaType, eq(schemaType.id, blockSchema.blockTypeId));

const newType = (input: BlockTypeInput, now: Micros): BlockTypeRow => ({
  id: Bun.randomUUIDv7(),
  created: now,
  updated: now,
  isProtected: false,
  ...input,
});

/** src/db/repos/blocks.ts on PostgreSQL. */
export class PgBlockRepository implements BlockRepo {
  // --- block types

  *getType(id: string): Op<BlockTypeRow | undefined> {
    return (yield* query((db) => db.select().from(blockType).where(eq(blockType.id, id))))[0];
  }

  *getTypeBySlug(slug: string): Op<BlockTypeRow | undefined> {
    return (yield* query((db) => db.select().from(blockType).where(eq(blockType.slug, slug))))[0];
  }

  *createType(input: BlockTypeInput, now: Micros): Op<BlockTypeRow | undefined> {
    const row = newType(input, now);
    return (yield* query((db) => db.insert(blockType).values(row).onConflictDoNothing({ target: blockType.slug }).returning()))[0];
  }

  *getTypesBySlugs(slugs: string[]): Op<BlockTypeRow[]> {
    if (slugs.length === 0) return [];
    return yield* query((db) => db.select().from(blockType).where(inArray(blockType.slug, slugs)));
  }

  *createTypes(inputs: BlockTypeInput[], now: Micros): Op<BlockTypeRow[]> {
    if (inputs.length === 0) return [];
    const rows = inputs.map((input) => newType(input, now));
    return yield* query((db) => db.insert(blockType).values(rows).onConflictDoNothing({ target: blockType.slug }).returning());
  }

  *upsertProtectedType(input: BlockTypeInput, now: Micros): Op<BlockTypeRow> {
    const row: BlockTypeRow = { ...newType(input, now), isProtected: true };
    const [upserted] = yield* query((db) =>
      db
        .insert(blockType)
        .values(row)
        .onConflictDoUpdate({ target: blockType.slug, set: { ...input, isProtected: true } })
        .returning(),
    );
    return upserted!;
  }

  *listTypes(
    filters: { types?: BlockTypeFilter | null; schemas?: BlockSchemaFilter | null },
    limit: number,
    offset: number,
  ): Op<BlockTypeRow[]> {
    const schemaCond = filters.schemas ? blockSchemaCond(filters.schemas) : undefined;
    const withSchema = sql`EXISTS (SELECT 1 FROM ${blockSchema} WHERE ${blockSchema.blockTypeId} = ${blockType.id}${
      schemaCond ? sql` AND ${schemaCond}` : sql``
    })`;
    return yield* query((db) =>
      db
        .select()
        .from(blockType)
        .where(and(filters.types ? blockTypeCond(filters.types) : undefined, filters.schemas ? withSchema : undefined))
        .orderBy(asc(byCodePoint(blockType.name)), asc(blockType.id))
        .limit(limit)
        .offset(offset),
    );
  }

  *updateType(id: string, patch: BlockTypePatch, now: Micros): Op<boolean> {
    const updated = yield* query((db) => db.update(blockType).set({ ...patch, updated: now }).where(eq(blockType.id, id)).returning({ id: blockType.id }));
    return updated.length > 0;
  }

  *deleteType(id: string): Op<boolean> {
    return (yield* query((db) => db.delete(blockType).where(eq(blockType.id, id)).returning({ id: blockType.id }))).length > 0;
  }

  // --- block schemas

  *getSchema(id: string): Op<BlockSchemaRecord | undefined> {
    return (yield* query((db) => schemas(db).where(eq(blockSchema.id, id))))[0];
  }

  *getSchemaByChecksum(checksum: string, version?: string | null): Op<BlockSchemaRecord | undefined> {
    const where = version == null ? eq(blockSchema.checksum, checksum) : and(eq(blockSchema.checksum, checksum), eq(blockSchema.version, version));
    return (yield* query((db) => schemas(db).where(where).orderBy(...NEWEST_SCHEMA).limit(1)))[0];
  }

  *createSchemas(inputs: BlockSchemaInput[], now: Micros): Op<void> {
    if (inputs.length === 0) return;
    const rows = inputs.map((input) => ({ id: Bun.randomUUIDv7(), created: now, updated: now, ...input }));
    yield* query((db) => db.insert(blockSchema).values(rows).onConflictDoNothing({ target: [blockSchema.checksum, blockSchema.version] }));
  }

  *listSchemas(filter: BlockSchemaFilter | null | undefined, limit: number, offset: number): Op<BlockSchemaRecord[]> {
    return yield* query((db) =>
      schemas(db)
        .where(filter ? blockSchemaCond(filter) : undefined)
        .orderBy(...NEWEST_SCHEMA)
        .limit(limit)
        .offset(offset),
    );
  }

  *deleteSchema(id: string): Op<boolean> {
    return (yield* query((db) => db.delete(blockSchema).where(eq(blockSchema.id, id)).returning({ id: blockSchema.id }))).length > 0;
  }

  *capabilities(): Op<string[]> {
    const rows = yield* query((db) =>
      db.execute<{ capability: string }>(
        sql`SELECT DISTINCT jsonb_array_elements_text(${blockSchema.capabilities}) COLLATE "C" AS capability FROM ${blockSchema} ORDER BY capability`,
      ),
    );
    return rows.map((r) => r.capability);
  }

  // --- block documents

  *documentNameTaken(blockTypeId: string, name: string): Op<boolean> {
    const rows = yield* query((db) =>
      db
        .select({ id: blockDocument.id })
        .from(blockDocument)
        .where(and(eq(blockDocument.blockTypeId, blockTypeId), eq(blockDocument.name, name))),
    );
    return rows.length > 0;
  }

  /**
   * ON CONFLICT, not look-then-insert: of two transactions creating the same name at once,
   * one gets undefined rather than a unique violation.
   */
  *createDocument(input: BlockDocumentInput, references: [string, string][], now: Micros): Op<string | undefined> {
    const id = Bun.randomUUIDv7();
    const inserted = yield* query((db) =>
      db
        .insert(blockDocument)
        .values({ id, created: now, updated: now, ...input })
        .onConflictDoNothing({ target: [blockDocument.blockTypeId, blockDocument.name] })
        .returning({ id: blockDocument.id }),
    );
    if (inserted.length === 0) return undefined;
    yield* this.insertReferences(id, references, now);
    return id;
  }

  *documentExists(id: string): Op<boolean> {
    return (yield* query((db) => db.select({ id: blockDocument.id }).from(blockDocument).where(eq(blockDocument.id, id)))).length > 0;
  }

  *getDocument(id: string): Op<BlockDocumentRecord | undefined> {
    return (yield* query((db) => documents(db).where(eq(blockDocument.id, id))))[0];
  }

  *loadDocumentGraph(ids: string[]): Op<DocumentGraph> {
    // Quoted aliases: PostgreSQL folds unquoted ones to lower case.
    const references = yield* query((db) =>
      db.execute<{ parentId: string; name: string; childId: string }>(sql`
        WITH RECURSIVE edge(parent_id, name, child_id) AS (
          SELECT ${blockDocumentReference.parentBlockDocumentId}, ${blockDocumentReference.name}, ${blockDocumentReference.referenceBlockDocumentId}
          FROM ${blockDocumentReference}
          WHERE ${blockDocumentReference.parentBlockDocumentId} IN ${uuidsOf(ids)}
          UNION
          SELECT r.parent_block_document_id, r.name, r.reference_block_document_id
          FROM block_document_reference r JOIN edge ON r.parent_block_document_id = edge.child_id
        )
        SELECT parent_id AS "parentId", name, child_id AS "childId" FROM edge`),
    );
    const edges: DocumentReference[] = references.map(({ parentId, name, childId }) => ({ parentId, name, childId }));
    const allIds = [...new Set([...ids, ...edges.map((r) => r.childId)])];
    const records = allIds.length === 0 ? [] : yield* query((db) => documents(db).where(inArray(blockDocument.id, allIds)));
    return { documents: new Map(records.map((r) => [r.document.id, r])), references: edges };
  }

  *listDocumentIds(filters: BlockDocumentFilterSet, sort: BlockDocumentSort, page?: Paging): Op<string[]> {
    const rows = yield* query((db) => {
      const ordered = db
        .select({ id: blockDocument.id })
        .from(blockDocument)
        .where(blockDocumentsWhere(filters))
        .orderBy(...DOCUMENT_ORDER[sort]);
      return page ? ordered.limit(page.limit).offset(page.offset) : ordered;
    });
    return rows.map((r) => r.id);
  }

  *countDocuments(filters: BlockDocumentFilterSet): Op<number> {
    const [row] = yield* query((db) => db.select({ n: count() }).from(blockDocument).where(blockDocumentsWhere(filters)));
    return row!.n;
  }

  *wouldFormCycle(parentId: string, childId: string): Op<boolean> {
    if (parentId === childId) return true;
    // The casts type the recursive term: an untyped parameter would be text, the references uuid.
    const hit = yield* query((db) =>
      db.execute(sql`
        WITH RECURSIVE reachable(id) AS (
          SELECT ${childId}::uuid
          UNION
          SELECT r.reference_block_document_id FROM block_document_reference r JOIN reachable ON r.parent_block_document_id = reachable.id
        )
        SELECT 1 AS found FROM reachable WHERE id = ${parentId}::uuid LIMIT 1`),
    );
    return hit.length > 0;
  }

  /**
   * The UPDATE comes first because it locks the document's row (as SELECT ... FOR UPDATE
   * would): concurrent updates of one document queue there, and each then reads the
   * references the one before it committed, so none keeps or re-adds a stale one.
   */
  *updateDocument(id: string, change: DocumentChange, now: Micros): Op<void> {
    yield* query((db) =>
      db
        .update(blockDocument)
        .set({ data: change.data, updated: now, ...(change.blockSchemaId ? { blockSchemaId: change.blockSchemaId } : {}) })
        .where(eq(blockDocument.id, id)),
    );
    const existing = yield* query((db) => db.select().from(blockDocumentReference).where(eq(blockDocumentReference.parentBlockDocumentId, id)));
    const key = (name: string, childId: string) => `${name}\u0000${childId}`;
    const wanted = new Set(change.references.map(([name, childId]) => key(name, childId)));
    const kept = new Set<string>();
    const dropped: string[] = [];
    for (const ref of existing) {
      const k = key(ref.name, ref.referenceBlockDocumentId);
      if (wanted.has(k)) kept.add(k);
      else dropped.push(ref.id);
    }
    if (dropped.length > 0) yield* query((db) => db.delete(blockDocumentReference).where(inArray(blockDocumentReference.id, dropped)));
    yield* this.insertReferences(
      id,
      change.references.filter(([name, childId]) => !kept.has(key(name, childId))),
      now,
    );
  }

  *deleteDocument(id: string): Op<boolean> {
    return (yield* query((db) => db.delete(blockDocument).where(eq(blockDocument.id, id)).returning({ id: blockDocument.id }))).length > 0;
  }

  private *insertReferences(parentId: string, references: [string, string][], now: Micros): Op<void> {
    if (references.length === 0) return;
    const rows = references.map(([name, childId]) => ({
      id: Bun.randomUUIDv7(),
      created: now,
      updated: now,
      name,
      parentBlockDocumentId: parentId,
      referenceBlockDocumentId: childId,
    }));
    yield* query((db) => db.insert(blockDocumentReference).values(rows));
  }
}
