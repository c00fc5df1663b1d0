import { eq } from "drizzle-orm";
import type { JsonObject } from "../../lib/json";
import type { Micros } from "../../lib/time";
import type { SqliteDb } from "../client";
import { blockDocument, blockSchema, configuration } from "../schema";
import type { Op } from "../unit-of-work";

/** Key/value server settings kept in the database. */
export class ConfigurationRepository {
  constructor(private readonly db: SqliteDb) {}

  *read(key: string): Op<JsonObject | null> {
    return this.db.select({ value: configuration.value }).from(configuration).where(eq(configuration.key, key)).get()?.value ?? null;
  }

  *write(key: string, value: JsonObject, now: Micros): Op<void> {
    this.db
      .insert(configuration)
      .values({ id: Bun.randomUUIDv7(), created: now, updated: now, key, value })
      .onConflictDoUpdate({ target: configuration.key, set: { value, updated: now } })
      .run();
  }

  *delete(key: string): Op<void> {
    this.db.delete(configuration).where(eq(configuration.key, key)).run();
  }

  /** Capabilities of a block document's schema, or null when the document does not exist. */
  *blockDocumentCapabilities(blockDocumentId: string): Op<string[] | null> {
    const row = this.db
      .select({ capabilities: blockSchema.capabilities })
      .from(blockDocument)
      .innerJoin(blockSchema, eq(blockSchema.id, blockDocument.blockSchemaId))
      .where(eq(blockDocument.id, blockDocumentId))
      .get();
    return row ? row.capabilities : null;
  }
}
