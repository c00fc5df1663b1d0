import { afterAll, expect, test } from "bun:test";
import { catalogBlocks, collectionBlocksSource, registerBlockCatalog } from "../../src/blocks/catalog";
import { blockSchemaChecksum } from "../../src/blocks/checksum";
import { packedCollectionBlocks } from "../../src/ui/sources";
import { createTestApi } from "../support/api";

const collections = await packedCollectionBlocks();
const api = createTestApi();
afterAll(() => api.close());

test("the catalog is Prefect 3.9.1's: 14 registry and 40 collection block types", () => {
  if (!collections) throw new Error("no UI pack: run `bun scripts/fetch-prefect-ui.ts` (or npm run build) first");
  const slugs = catalogBlocks(collections).map((b) => b.block_type.slug);
  expect(new Set(slugs).size).toBe(54);
  expect(slugs).toContain("aws-credentials");
  expect(slugs).toContain("slack-webhook");
  expect(slugs).toContain("sqlalchemy-connector");
});

test("each schema's checksum, computed here, is Prefect's", () => {
  for (const { block_type, block_schema } of catalogBlocks(collections)) {
    expect({ slug: block_type.slug, checksum: blockSchemaChecksum(block_schema.fields) }).toEqual({ slug: block_type.slug, checksum: block_schema.checksum });
  }
});

test("registered at start beside the protected system types, once while the catalog is unchanged", async () => {
  const now = api.clock.now();
  expect(await registerBlockCatalog(api.context.store, collectionBlocksSource(collections), now)).toBe(54);
  const types = (await api.post("/block_types/filter")).body as { id: string; slug: string; is_protected: boolean }[];
  expect(types).toHaveLength(54);
  expect(types.filter((t) => t.is_protected).map((t) => t.slug).sort()).toEqual(["local-file-system", "secret", "webhook"]);
  const aws = (await api.post("/block_schemas/filter", { block_schemas: { block_type_id: { any_: [types.find((t) => t.slug === "aws-credentials")!.id] } } })).body;
  expect(aws[0].fields.properties.aws_access_key_id).toBeDefined();
  expect(await registerBlockCatalog(api.context.store, collectionBlocksSource(collections), now)).toBe(0);
});
