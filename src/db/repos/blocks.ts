/**
 * Block types, block schemas and block documents (with their references).
 * Schema fields are stored in the form src/blocks/schemas.ts gives them.
 */
import { and, asc, desc, eq, inArray, sql, type SQL } from "drizzle-orm";
import { alias } from "drizzle-orm/sqlite-core";
import type { JsonObject } from "../../lib/json";
import type { Micros } from "../../lib/time";
import type { BlockDocumentFilterSet, BlockDocumentSort, BlockSchemaFilter, BlockTypeFilter } from "../../schemas/blocks";
import { countWhere, type SqliteDb } from "../client";
import { blockDocumentsWhere, blockSchemaCond, blockTypeCond } from "../filters";
import { blockDocument, blockDocumentReference, blockSchema, blockType } from "../schema";
import type { Op } from "../unit-of-work";

export type BlockTypeRow = typeof blockType.$inferSelect;
export type BlockSchemaRow = typeof blockSchema.$inferSelect;
export type BlockDocumentRow = typeof blockDocument.$inferSelect;

export type BlockTypeInput = Pick<BlockTypeRow, "name" | "slug" | "logoUrl" | "documentationUrl" | "description" | "codeExample">;
export type BlockTypePatch = Partial<Pick<BlockTypeRow, "logoUrl" | "documentationUrl" | "description" | "codeExample">>;
export type BlockSchemaInput = Pick<BlockSchemaRow, "checksum" | "fields" | "blockTypeId" | "capabilities" | "version">;
export type BlockDocumentInput = Pick<BlockDocumentRow, "name" | "data" | "blockSchemaId" | "blockTypeId" | "isAnonymous">;

/** A schema with the block type it belongs to (responses embed it). */
export interface BlockSchemaRecord {
  schema: BlockSchemaRow;
  type: BlockTypeRow;
}

/** A document with its block type, its schema and the schema's block type. */
export interface BlockDocumentRecord {
  document: BlockDocumentRow;
  type: BlockTypeRow;
  schema: BlockSchemaRow;
  schemaType: BlockTypeRow;
}

/** `data[name]` of the parent document is the referenced (child) document. */
export interface DocumentReference {
  parentId: string;
  name: string;
  childId: string;
}

/** Documents and every document they reference, transitively. */
export interface DocumentGraph {
  documents: Map<string, BlockDocumentRecord>;
  references: DocumentReference[];
}

export interface DocumentChange {
  data: JsonObject;
  /** Moves the document to another schema of its block type. */
  blockSchemaId?: string;
  /** The references the document has after the change, as [name, child id]. */
  references: [string, string][];
}

export interface Paging {
  limit: number;
  offset: number;
}

const documentTypeName = sql`(SELECT ${blockType.name} FROM ${blockType} WHERE ${blockType.id} = ${blockDocument.blockTypeId})`;

const DOCUMENT_ORDER: Record<BlockDocumentSort, SQL[]> = {
  NAME_ASC: [asc(blockDocument.name), asc(blockDocument.id)],
  NAME_DESC: [desc(blockDocument.name), desc(blockDocument.id)],
  BLOCK_TYPE_AND_NAME_ASC: [asc(documentTypeName), asc(blockDocument.name), asc(blockDocument.id)],
};

export class BlockRepository {
  private readonly typeById;
  private readonly typeBySlug;
  private readonly schemaById;
  private readonly schemaByChecksum;
  private readonly schemaByChecksumAndVersion;
  private readonly documentById;
  private readonly documentsByIds;
  private readonly documentByTypeAndName;

  constructor(private readonly db: SqliteDb) {
    this.typeById = db.select().from(blockType).where(eq(blockType.id, sql.placeholder("id"))).prepare();
    this.typeBySlug = db.select().from(blockType).where(eq(blockType.slug, sql.placeholder("slug"))).prepare();

    const schemas = () =>
      db.select({ schema: blockSchema, type: blockType }).from(blockSchema).innerJoin(blockType, eq(blockType.id, blockSchema.blockTypeId));
    this.schemaById = schemas().where(eq(blockSchema.id, sql.placeholder("id"))).prepare();
    // The same checksum may exist in several versions: the newest wins.
    const newest = [desc(blockSchema.created), desc(blockSchema.id)];
    this.schemaByChecksum = schemas()
      .where(eq(blockSchema.checksum, sql.placeholder("checksum")))
      .orderBy(...newest)
      .limit(1)
      .prepare();
    this.schemaByChecksumAndVersion = schemas()
      .where(and(eq(blockSchema.checksum, sql.placeholder("checksum")), eq(blockSchema.version, sql.placeholder("version"))))
      .orderBy(...newest)
      .limit(1)
      .prepare();

    const schemaType = alias(blockType, "schema_type");
    const documents = () =>
      db
        .select({ document: blockDocument, type: blockType, schema: blockSchema, schemaType })
        .from(blockDocument)
        .innerJoin(blockType, eq(blockType.id, blockDocument.blockTypeId))
        .innerJoin(blockSchema, eq(blockSchema.id, blockDocument.blockSchemaId))
        .innerJoin(schemaType, eq(schemaType.id, blockSchema.blockTypeId));
    this.documentById = documents().where(eq(blockDocument.id, sql.placeholder("id"))).prepare();
    // The id list is bound as one JSON parameter, so the statement is prepared once.
    this.documentsByIds = documents()
      .where(sql`${blockDocument.id} IN (SELECT value FROM json_each(${sql.placeholder("ids")}))`)
      .prepare();
    this.documentByTypeAndName = db
      .select({ id: blockDocument.id })
      .from(blockDocument)
      .where(and(eq(blockDocument.blockTypeId, sql.placeholder("typeId")), eq(blockDocument.name, sql.placeholder("name"))))
      .prepare();
  }

  // --- block types

  *getType(id: string): Op<BlockTypeRow | undefined> {
    return this.typeById.get({ id });
  }

  *getTypeBySlug(slug: string): Op<BlockTypeRow | undefined> {
    return this.typeBySlug.get({ slug });
  }

  /** Inserts the block type; undefined when the slug is taken. */
  *createType(input: BlockTypeInput, now: Micros): Op<BlockTypeRow | undefined> {
    const row: BlockTypeRow = { id: Bun.randomUUIDv7(), created: now, updated: now, isProtected: false, ...input };
    const inserted = this.db.insert(blockType).values(row).onConflictDoNothing({ target: blockType.slug }).returning().all();
    return inserted[0];
  }

  /** The block types with these slugs. */
  *getTypesBySlugs(slugs: string[]): Op<BlockTypeRow[]> {
    if (slugs.length === 0) return [];
    return this.db.select().from(blockType).where(inArray(blockType.slug, slugs)).all();
  }

  /** Inserts the block types in one statement; those whose slug is taken are skipped (and not returned). */
  *createTypes(inputs: BlockTypeInput[], now: Micros): Op<BlockTypeRow[]> {
    if (inputs.length === 0) return [];
    const rows = inputs.map((input): BlockTypeRow => ({ id: Bun.randomUUIDv7(), created: now, updated: now, isProtected: false, ...input }));
    return this.db.insert(blockType).values(rows).onConflictDoNothing({ target: blockType.slug }).returning().all();
  }

  /** Inserts a protected (system) block type, or overwrites the one with its slug as Prefect's upsert does. */
  *upsertProtectedType(input: BlockTypeInput, now: Micros): Op<BlockTypeRow> {
    const row: BlockTypeRow = { id: Bun.randomUUIDv7(), created: now, updated: now, ...input, isProtected: true };
    return this.db
      .insert(blockType)
      .values(row)
      .onConflictDoUpdate({ target: blockType.slug, set: { ...input, isProtected: true } })
      .returning()
      .get()!;
  }

  /** Block types by name; `schemas` keeps the types having at least one matching schema. */
  *listTypes(
    filters: { types?: BlockTypeFilter | null; schemas?: BlockSchemaFilter | null },
    limit: number,
    offset: number,
  ): Op<BlockTypeRow[]> {
    const schemaCond = filters.schemas ? blockSchemaCond(filters.schemas) : undefined;
    const withSchema = sql`EXISTS (SELECT 1 FROM ${blockSchema} WHERE ${blockSchema.blockTypeId} = ${blockType.id}${
      schemaCond ? sql` AND ${schemaCond}` : sql``
    })`;
    return this.db
      .select()
      .from(blockType)
      .where(and(filters.types ? blockTypeCond(filters.types) : undefined, filters.schemas ? withSchema : undefined))
      .orderBy(asc(blockType.name), asc(blockType.id))
      .limit(limit)
      .offset(offset)
      .all();
  }

  /** Applies the given metadata fields (explicit nulls included); false when the type does not exist. */
  *updateType(id: string, patch: BlockTypePatch, now: Micros): Op<boolean> {
    const updated = this.db.update(blockType).set({ ...patch, updated: now }).where(eq(blockType.id, id)).returning({ id: blockType.id });
    return updated.all().length > 0;
  }

  /** Deletes the type with its schemas and documents (foreign-key cascade). */
  *deleteType(id: string): Op<boolean> {
    return this.db.delete(blockType).where(eq(blockType.id, id)).returning({ id: blockType.id }).all().length > 0;
  }

  // --- block schemas

  *getSchema(id: string): Op<BlockSchemaRecord | undefined> {
    return this.schemaById.get({ id });
  }

  /** The newest schema with the checksum, restricted to `version` when given. */
  *getSchemaByChecksum(checksum: string, version?: string | null): Op<BlockSchemaRecord | undefined> {
    return version == null
      ? this.schemaByChecksum.get({ checksum })
      : this.schemaByChecksumAndVersion.get({ checksum, version });
  }

  /** Inserts the schemas in one statement; a (checksum, version) that already exists is kept. */
  *createSchemas(inputs: BlockSchemaInput[], now: Micros): Op<void> {
    if (inputs.length === 0) return;
    this.db.insert(blockSchema)
      .values(inputs.map((input) => ({ id: Bun.randomUUIDv7(), created: now, updated: now, ...input })))
      .onConflictDoNothing({ target: [blockSchema.checksum, blockSchema.version] })
      .run();
  }

  /** Newest first. */
  *listSchemas(filter: BlockSchemaFilter | null | undefined, limit: number, offset: number): Op<BlockSchemaRecord[]> {
    return this.db
      .select({ schema: blockSchema, type: blockType })
      .from(blockSchema)
      .innerJoin(blockType, eq(blockType.id, blockSchema.blockTypeId))
      .where(filter ? blockSchemaCond(filter) : undefined)
      .orderBy(desc(blockSchema.created), desc(blockSchema.id))
      .limit(limit)
      .offset(offset)
      .all();
  }

  /** Deletes the schema with its documents (foreign-key cascade). */
  *deleteSchema(id: string): Op<boolean> {
    return this.db.delete(blockSchema).where(eq(blockSchema.id, id)).returning({ id: blockSchema.id }).all().length > 0;
  }

  /** Every capability declared by some schema, sorted. */
  *capabilities(): Op<string[]> {
    const rows = this.db.all<{ capability: string }>(
      sql`SELECT DISTINCT json_each.value AS capability FROM ${blockSchema}, json_each(${blockSchema.capabilities}) ORDER BY capability`,
    );
    return rows.map((r) => r.capability);
  }

  // --- block documents

  *documentNameTaken(blockTypeId: string, name: string): Op<boolean> {
    return this.documentByTypeAndName.get({ typeId: blockTypeId, name }) !== undefined;
  }

  /** Inserts a document and its references; undefined when its block type already has a document of that name. */
  *createDocument(input: BlockDocumentInput, references: [string, string][], now: Micros): Op<string | undefined> {
    if (this.documentByTypeAndName.get({ typeId: input.blockTypeId, name: input.name })) return undefined;
    const id = Bun.randomUUIDv7();
    this.db.insert(blockDocument).values({ id, created: now, updated: now, ...input }).run();
    this.insertReferences(id, references, now);
    return id;
  }

  /** For references from other objects (deployments' storage and infrastructure blocks). */
  *documentExists(id: string): Op<boolean> {
    return this.documentById.get({ id }) !== undefined;
  }

  *getDocument(id: string): Op<BlockDocumentRecord | undefined> {
    return this.documentById.get({ id });
  }

  /** Loads the documents and, transitively, the documents they reference. */
  *loadDocumentGraph(ids: string[]): Op<DocumentGraph> {
    const references = this.db.all<DocumentReference>(sql`
      WITH RECURSIVE edge(parent_id, name, child_id) AS (
        SELECT ${blockDocumentReference.parentBlockDocumentId}, ${blockDocumentReference.name}, ${blockDocumentReference.referenceBlockDocumentId}
        FROM ${blockDocumentReference}
        WHERE ${blockDocumentReference.parentBlockDocumentId} IN (SELECT value FROM json_each(${JSON.stringify(ids)}))
        UNION
        SELECT r.parent_block_document_id, r.name, r.reference_block_document_id
        FROM block_document_reference r JOIN edge ON r.parent_block_document_id = edge.child_id
      )
      SELECT parent_id AS parentId, name, child_id AS childId FROM edge`);
    const allIds = [...new Set([...ids, ...references.map((r) => r.childId)])];
    const records = this.documentsByIds.all({ ids: JSON.stringify(allIds) });
    return { documents: new Map(records.map((r) => [r.document.id, r])), references };
  }

  /** Ids of the matching documents, in the requested order; all of them without `page`. */
  *listDocumentIds(filters: BlockDocumentFilterSet, sort: BlockDocumentSort, page?: Paging): Op<string[]> {
    const query = this.db
      .select({ id: blockDocument.id })
      .from(blockDocument)
      .where(blockDocumentsWhere(filters))
      .orderBy(...DOCUMENT_ORDER[sort]);
    const rows = page ? query.limit(page.limit).offset(page.offset).all() : query.all();
    return rows.map((r) => r.id);
  }

  *countDocuments(filters: BlockDocumentFilterSet): Op<number> {
    return countWhere(this.db, blockDocument, blockDocumentsWhere(filters));
  }

  /** True when `parentId` is `childId` or is reachable from it: adding parent -> child would close a cycle. */
  *wouldFormCycle(parentId: string, childId: string): Op<boolean> {
    if (parentId === childId) return true;
    const hit = this.db.get<{ found: number }>(sql`
      WITH RECURSIVE reachable(id) AS (
        SELECT ${childId}
        UNION
        SELECT r.reference_block_document_id FROM block_document_reference r JOIN reachable ON r.parent_block_document_id = reachable.id
      )
      SELECT 1 AS found FROM reachable WHERE id = ${parentId} LIMIT 1`);
    return hit != null;
  }

  /** Writes new data (and schema), keeping unchanged references and replacing the others, in one transaction. */
  *updateDocument(id: string, change: DocumentChange, now: Micros): Op<void> {
    this.db.update(blockDocument)
      .set({ data: change.data, updated: now, ...(change.blockSchemaId ? { blockSchemaId: change.blockSchemaId } : {}) })
      .where(eq(blockDocument.id, id))
      .run();
    const existing = this.db.select().from(blockDocumentReference).where(eq(blockDocumentReference.parentBlockDocumentId, id)).all();
    const wanted = new Set(change.references.map(([name, childId]) => `${name}\u0000${childId}`));
    const kept = new Set<string>();
    for (const ref of existing) {
      const key = `${ref.name}\u0000${ref.referenceBlockDocumentId}`;
      if (wanted.has(key)) kept.add(key);
      else this.db.delete(blockDocumentReference).where(eq(blockDocumentReference.id, ref.id)).run();
    }
    const added = change.references.filter(([name, childId]) => !kept.has(`${name}\u0000${childId}`));
    this.insertReferences(id, added, now);
  }

  *deleteDocument(id: string): Op<boolean> {
    return this.db.delete(blockDocument).where(eq(blockDocument.id, id)).returning({ id: blockDocument.id }).all().length > 0;
  }

  private insertReferences(parentId: string, references: [string, string][], now: Micros): void {
    for (const [name, childId] of references) {
      const id = Bun.randomUUIDv7();
      this.db.insert(blockDocumentReference)
        .values({ id, created: now, updated: now, name, parentBlockDocumentId: parentId, referenceBlockDocumentId: childId })
        .run();
    }
  }
}
