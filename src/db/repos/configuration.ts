import { eq } from "drizzle-orm";
import type { JsonObject } from "../../lib/json";
import type { Micros } from "../../lib/time";
import type { SqliteDb } from "../client";
import { blockDocument, blockSchema, configuration } from "../schema";

/** Key/value server settings kept in the database. */
export class ConfigurationRepository {
  constructor(private readonly db: SqliteDb) {}

  async read(key: string): Promise<JsonObject | null> {
    return this.db.select({ value: configuration.value }).from(configuration).where(eq(configuration.key, key)).get()?.value ?? null;
  }

  async write(key: string, value: JsonObject, now: Micros): Promise<void> {
    this.db
      .insert(configuration)
      .values({ id: Bun.randomUUIDv7(), created: now, updated: now, key, value })
      .onConflictDoUpdate({ target: configuration.key, set: { value, updated: now } })
      .run();
  }

  async delete(key: string): Promise<void> {
    this.db.delete(configuration).where(eq(configuration.key, key)).run();
  }

  /** Capabilities of a block document's schema, or null when the document does not exist. */
  async blockDocumentCapabilities(blockDocumentId: string): Promise<string[] | null> {
    const row = this.db
      .select({ capabilities: blockSchema.capabilities })
      .from(blockDocument)
      .innerJoin(blockSchema, eq(blockSchema.id, blockDocument.blockSchemaId))
      .where(eq(blockDocument.id, blockDocumentId))
      .get();
    return row ? row.capabilities : null;
  }
}
