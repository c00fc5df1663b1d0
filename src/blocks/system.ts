/**
 * The block types Prefect installs as protected system types (Webhook, Secret,
 * LocalFileSystem), generated from the installed Prefect by
 * scripts/gen-system-blocks.py.
 */
import type { JsonObject } from "../lib/json";
import systemBlocks from "./system-blocks.json";

export interface SystemBlock {
  block_type: {
    name: string;
    slug: string;
    logo_url: string | null;
    documentation_url: string | null;
    description: string | null;
    code_example: string | null;
  };
  /** `checksum` is Prefect's own, kept to check ours against it. */
  block_schema: { checksum: string; fields: JsonObject; capabilities: string[]; version: string };
}

// TypeScript infers literal shapes for the JSON (optional keys as `undefined`); its shape is the generator's.
const generated: unknown = systemBlocks;
export const SYSTEM_BLOCKS: SystemBlock[] = (generated as { blocks: SystemBlock[] }).blocks;
