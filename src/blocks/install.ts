/** `POST /block_types/install_system_block_types`: Prefect's protected system block types. */
import { htmlEscape } from "./html";
import { SYSTEM_BLOCKS } from "./system";
import type { Store, WriteTx } from "../db/store";
import type { Op } from "../db/unit-of-work";
import type { Micros } from "../lib/time";
import { registerSchema } from "./registration";

/**
 * Registers (or overwrites, marking protected) each system block type and adds
 * its schema unless that checksum and version exist; safe to repeat.
 */
export function* installSystemBlockTypes(tx: WriteTx, now: Micros): Op<void> {
  for (const { block_type: type, block_schema: schema } of SYSTEM_BLOCKS) {
    const row = yield* tx.blocks.upsertProtectedType(
      {
        name: type.name,
        slug: type.slug,
        logoUrl: type.logo_url,
        documentationUrl: type.documentation_url,
        description: htmlEscape(type.description),
        codeExample: htmlEscape(type.code_example),
      },
      now,
    );
    const { fields, capabilities, version, checksum: knownChecksum } = schema;
    yield* registerSchema(tx, { fields, blockTypeId: row.id, capabilities, version, knownChecksum }, now);
  }
}

export async function installSystemBlocks(store: Store, now: Micros): Promise<void> {
  await store.write((tx) => installSystemBlockTypes(tx, now));
}
