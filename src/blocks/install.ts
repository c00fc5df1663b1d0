/** `POST /block_types/install_system_block_types`: Prefect's protected system block types. */
import { htmlEscape } from "./html";
import { SYSTEM_BLOCKS } from "./system";
import type { Store } from "../db/store";
import type { Micros } from "../lib/time";
import { registerBlockSchema } from "./registration";

/**
 * Registers (or overwrites, marking protected) each system block type and adds
 * its schema unless that checksum and version exist; safe to repeat.
 */
export async function installSystemBlocks(store: Store, now: Micros): Promise<void> {
  for (const { block_type: type, block_schema: schema } of SYSTEM_BLOCKS) {
    const row = await store.write((tx) =>
      tx.blocks.upsertProtectedType(
        {
          name: type.name,
          slug: type.slug,
          logoUrl: type.logo_url,
          documentationUrl: type.documentation_url,
          description: htmlEscape(type.description),
          codeExample: htmlEscape(type.code_example),
        },
        now,
      ),
    );
    const { fields, capabilities, version } = schema;
    await registerBlockSchema(store, { fields, blockTypeId: row.id, capabilities, version }, now);
  }
}
