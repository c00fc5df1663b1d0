import { eq } from "drizzle-orm";
import type { JsonObject } from "../../../lib/json";
import type { Micros } from "../../../lib/time";
import type { ConfigurationRepo } from "../../repositories";
import type { Op } from "../../unit-of-work";
import { query } from "../query";
import { blockDocument, blockSchema, configuration } from "../schema";

/** Key/value server settings kept in the database (src/db/repos/configuration.ts on PostgreSQL). */
export class PgConfigurationRepository implements ConfigurationRepo {
  *read(key: string): Op<JsonObject | null> {
    const rows = yield* query((db) => db.select({ value: configuration.value }).from(configuration).where(eq(configuration.key, key)));
    return rows[0]?.value ?? null;
  }

  *write(key: string, value: JsonObject, now: Micros): Op<void> {
    yield* query((db) =>
      db
        .insert(configuration)
        .values({ id: Bun.randomUUIDv7(), created: now, updated: now, key, value })
        .onConflictDoUpdate({ target: configuration.key, set: { value, updated: now } }),
    );
  }

  *delete(key: string): Op<void> {
    yield* query((db) => db.delete(configuration).where(eq(configuration.key, key)));
  }

  *blockDocumentCapabilities(blockDocumentId: string): Op<string[] | null> {
    const rows = yield* query((db) =>
      db
        .select({ capabilities: blockSchema.capabilities })
        .from(blockDocument)
        .innerJoin(blockSchema, eq(blockSchema.id, blockDocument.blockSchemaId))
        .where(eq(blockDocument.id, blockDocumentId)),
    );
    return rows[0]?.capabilities ?? null;
  }
}
