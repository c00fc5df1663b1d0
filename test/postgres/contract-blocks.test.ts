/** The repository contract (test/support/contract.ts) for block types, block schemas and block documents. */
import { expect } from "bun:test";
import type { PgPortedRepositories } from "../../src/db/postgres/store";
import type { BlockTypeInput, BlockTypeRow, DocumentGraph } from "../../src/db/repos/blocks";
import { contractSuite, errorOf, MISSING, T0, type ContractStore } from "../support/contract";

type Blocks = PgPortedRepositories["blocks"];

const typeInput = (slug: string, name = slug): BlockTypeInput => ({
  name,
  slug,
  logoUrl: `https://example.com/${slug}.png`,
  documentationUrl: null,
  description: `The ${name} block, with ünïcödé`,
  codeExample: null,
});

/** One block type with one schema: what a document needs. */
async function typeWithSchema(store: ContractStore, slug: string, name: string, capabilities: string[], now: number) {
  return store.write(function* (tx) {
    const type = (yield* tx.blocks.createType(typeInput(slug, name), now))!;
    const checksum = `sha256:${slug}`;
    yield* tx.blocks.createSchemas([{ checksum, fields: { title: name, properties: { x: { type: "string" } } }, blockTypeId: type.id, capabilities, version: "1" }], now);
    const schema = (yield* tx.blocks.getSchemaByChecksum(checksum))!.schema;
    return { type, schema };
  });
}

/** The graph with its references in a fixed order: neither database promises the order a recursive query returns rows in. */
const sortedGraph = (graph: DocumentGraph) => ({
  documents: [...graph.documents.values()].sort((a, b) => (a.document.name < b.document.name ? -1 : 1)),
  references: graph.references.map((r) => ({ ...r })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
});

contractSuite("blocks", ["block_document_reference", "block_document", "block_schema", "block_type"], {
  async "block types: create, slug conflicts, bulk create, protected upsert, reads, filters, sorts, paging, update, delete"(store) {
    const names: [string, string][] = [["aws-credentials", "AWS Credentials"], ["secret", "Secret"], ["_hidden", "_hidden"], ["json", "JSON"], ["bétà", "bétà"], ["zed", "Zed"]];
    const created: BlockTypeRow[] = [];
    for (const [i, [slug, name]] of names.entries()) created.push((await store.write((tx) => tx.blocks.createType(typeInput(slug, name), T0 + i)))!);
    const taken = await store.write((tx) => tx.blocks.createType(typeInput("secret", "Other"), T0 + 99));
    expect(taken).toBeUndefined();
    const bulk = await store.write((tx) => tx.blocks.createTypes([typeInput("json"), typeInput("slack", "Slack Webhook"), typeInput("email", "email")], T0 + 10));
    expect(bulk.map((r) => r.slug)).toEqual(["slack", "email"]);
    const bulkEmpty = await store.write((tx) => tx.blocks.createTypes([], T0));
    const protectedNew = await store.write((tx) => tx.blocks.upsertProtectedType(typeInput("process", "Process"), T0 + 20));
    const protectedOver = await store.write((tx) =>
      tx.blocks.upsertProtectedType({ ...typeInput("secret", "Secret v2"), description: null, documentationUrl: "https://docs" }, T0 + 21),
    );
    expect(protectedOver).toMatchObject({ id: created[1]!.id, name: "Secret v2", isProtected: true, created: T0 + 1, description: null });
    const updated = await store.write((tx) => tx.blocks.updateType(created[0]!.id, { description: null, codeExample: "x = 1", logoUrl: null }, T0 + 30));
    const schemaOf = async (type: BlockTypeRow, capabilities: string[], version: string) =>
      store.write((tx) => tx.blocks.createSchemas([{ checksum: `sha256:${type.slug}`, fields: {}, blockTypeId: type.id, capabilities, version }], T0));
    await schemaOf(created[0]!, ["read", "write"], "1");
    await schemaOf(created[1]!, ["read"], "2");
    const list = (filters: Parameters<Blocks["listTypes"]>[0], limit = 100, offset = 0) =>
      store.read((q) => q.blocks.listTypes(filters, limit, offset)).then((rows) => rows.map((r) => r.slug));
    const observed = {
      created,
      bulk,
      bulkEmpty,
      protectedNew,
      protectedOver,
      updated,
      updateMissing: await store.write((tx) => tx.blocks.updateType(MISSING, { description: "x" }, T0)),
      get: await store.read((q) => q.blocks.getType(created[0]!.id)),
      getMissing: (await store.read((q) => q.blocks.getType(MISSING))) ?? null,
      bySlug: await store.read((q) => q.blocks.getTypeBySlug("bétà")),
      bySlugs: (await store.read((q) => q.blocks.getTypesBySlugs(["zed", "json", "nope"]))).map((r) => r.slug).sort(),
      bySlugsEmpty: await store.read((q) => q.blocks.getTypesBySlugs([])),
      all: await list({}),
      page: await list({}, 3, 2),
      nameLike: await list({ types: { name: { like_: "CRED" } } }),
      nameLikeUnderscore: await list({ types: { name: { like_: "_" } } }),
      slugAny: await list({ types: { slug: { any_: ["zed", "json", "nope"] } } }),
      slugAnyEmpty: await list({ types: { slug: { any_: [] } } }),
      nameAndSlug: await list({ types: { name: { like_: "e" }, slug: { any_: ["secret", "zed", "json"] } } }),
      withAnySchema: await list({ schemas: {} }),
      withWriteSchema: await list({ schemas: { block_capabilities: { all_: ["write"] } } }),
      withSchemaOr: await list({ schemas: { operator: "or_", version: { any_: ["2"] }, block_capabilities: { all_: ["write"] } } }),
      typeAndSchema: await list({ types: { name: { like_: "s" } }, schemas: { version: { any_: ["2"] } } }),
    };
    expect(observed.all).toEqual(["aws-credentials", "json", "process", "secret", "slack", "zed", "_hidden", "bétà", "email"]);
    expect(observed.nameLike).toEqual(["aws-credentials"]);
    expect(observed.withAnySchema).toEqual(["aws-credentials", "secret"]);
    expect(observed.withWriteSchema).toEqual(["aws-credentials"]);
    return {
      ...observed,
      delete: await store.write((tx) => tx.blocks.deleteType(created[0]!.id)),
      deleteAgain: await store.write((tx) => tx.blocks.deleteType(created[0]!.id)),
      schemasLeft: (await store.read((q) => q.blocks.listSchemas(null, 10, 0))).map((r) => r.schema.checksum),
    };
  },

  async "block schemas: create (existing checksum and version kept), newest by checksum, filters, capabilities, delete cascades"(store) {
    const a = (await store.write((tx) => tx.blocks.createType(typeInput("a"), T0)))!;
    const b = (await store.write((tx) => tx.blocks.createType(typeInput("b"), T0)))!;
    const fields = { title: "A", properties: { list: [1, 2.5, null, true], nested: { deep: { "ünï": "🚀" } } }, required: [] };
    await store.write((tx) =>
      tx.blocks.createSchemas(
        [
          { checksum: "sha256:1", fields, blockTypeId: a.id, capabilities: ["read", "write"], version: "1" },
          { checksum: "sha256:1", fields: { other: true }, blockTypeId: a.id, capabilities: [], version: "2" },
          { checksum: "sha256:2", fields: {}, blockTypeId: b.id, capabilities: ["Write", "delete", "read"], version: "1" },
        ],
        T0 + 1,
      ),
    );
    await store.write((tx) => tx.blocks.createSchemas([], T0));
    // the same (checksum, version) again, in a later call and twice within one: kept as it is
    await store.write((tx) =>
      tx.blocks.createSchemas(
        [
          { checksum: "sha256:1", fields: { replaced: true }, blockTypeId: b.id, capabilities: ["x"], version: "1" },
          { checksum: "sha256:3", fields: {}, blockTypeId: b.id, capabilities: ["zz", "read"], version: "1" },
          { checksum: "sha256:3", fields: { dup: 1 }, blockTypeId: b.id, capabilities: [], version: "1" },
        ],
        T0 + 2,
      ),
    );
    const newest = await store.read((q) => q.blocks.getSchemaByChecksum("sha256:1"));
    const v1 = await store.read((q) => q.blocks.getSchemaByChecksum("sha256:1", "1"));
    expect(v1!.schema.fields).toEqual(fields);
    expect(v1!.schema.created).toBe(T0 + 1);
    expect(v1!.type.slug).toBe("a");
    const list = (filter: Parameters<Blocks["listSchemas"]>[0], limit = 100, offset = 0) =>
      store.read((q) => q.blocks.listSchemas(filter, limit, offset)).then((rows) => rows.map((r) => `${r.schema.checksum}@${r.schema.version}`));
    const observed = {
      newest,
      v1,
      v3Missing: (await store.read((q) => q.blocks.getSchemaByChecksum("sha256:1", "3"))) ?? null,
      get: await store.read((q) => q.blocks.getSchema(v1!.schema.id)),
      getMissing: (await store.read((q) => q.blocks.getSchema(MISSING))) ?? null,
      all: await list(null),
      page: await list(null, 2, 1),
      byType: await list({ block_type_id: { any_: [b.id.toUpperCase()] } }),
      byTypeEmpty: await list({ block_type_id: { any_: [] } }),
      capabilitiesAll: await list({ block_capabilities: { all_: ["read", "write"] } }),
      capabilitiesCaseSensitive: await list({ block_capabilities: { all_: ["Write"] } }),
      capabilitiesEmptyIgnored: await list({ block_capabilities: { all_: [] } }),
      byId: await list({ id: { any_: [v1!.schema.id, MISSING] } }),
      byVersion: await list({ version: { any_: ["2"] } }),
      orVersionOrCapability: await list({ operator: "or_", version: { any_: ["2"] }, block_capabilities: { all_: ["delete"] } }),
      andTypeAndVersion: await list({ block_type_id: { any_: [a.id] }, version: { any_: ["1"] } }),
      capabilities: await store.read((q) => q.blocks.capabilities()),
    };
    expect(observed.all).toEqual(["sha256:3@1", "sha256:2@1", "sha256:1@2", "sha256:1@1"]);
    expect(observed.capabilities).toEqual(["Write", "delete", "read", "write", "zz"]);
    expect(observed.capabilitiesAll).toEqual(["sha256:1@1"]);
    const doc = await store.write((tx) =>
      tx.blocks.createDocument({ name: "d", data: {}, blockSchemaId: v1!.schema.id, blockTypeId: a.id, isAnonymous: false }, [], T0),
    );
    return {
      ...observed,
      delete: await store.write((tx) => tx.blocks.deleteSchema(v1!.schema.id)),
      deleteAgain: await store.write((tx) => tx.blocks.deleteSchema(v1!.schema.id)),
      documentLeft: await store.read((q) => q.blocks.documentExists(doc!)),
      capabilitiesAfter: await store.read((q) => q.blocks.capabilities()),
    };
  },

  async "block documents: create, name conflicts, references, graph, reads, every JSON value, timestamps to the microsecond"(store) {
    const { type, schema } = await typeWithSchema(store, "creds", "Credentials", ["read"], T0);
    const other = await typeWithSchema(store, "other", "Other", [], T0);
    const data = { token: "s3cr3t", nested: { list: [1, -2.5e-7, null, false, "ünï 🚀"], empty: {}, none: [] }, big: 2 ** 53 - 1 };
    const input = (name: string, extra: Partial<{ isAnonymous: boolean; data: typeof data | Record<string, never> }> = {}) => ({
      name,
      data: extra.data ?? data,
      blockSchemaId: schema.id,
      blockTypeId: type.id,
      isAnonymous: extra.isAnonymous ?? false,
    });
    const leaf = (await store.write((tx) => tx.blocks.createDocument(input("leaf", { data: {} }), [], T0 + 1)))!;
    const middle = (await store.write((tx) => tx.blocks.createDocument(input("middle"), [["child", leaf]], T0 + 2)))!;
    const root = (await store.write((tx) => tx.blocks.createDocument(input("root"), [["a", middle], ["b", leaf]], T0 + 3)))!;
    const duplicate = await store.write((tx) => tx.blocks.createDocument(input("leaf"), [], T0 + 4));
    expect(duplicate).toBeUndefined();
    const sameNameOtherType = await store.write((tx) =>
      tx.blocks.createDocument({ ...input("leaf"), blockTypeId: other.type.id, blockSchemaId: other.schema.id }, [], T0 + 5),
    );
    expect(sameNameOtherType).toBeDefined();
    const badReference = await errorOf(store.write((tx) => tx.blocks.createDocument(input("dangling"), [["x", MISSING]], T0)));
    expect(badReference).toBe("StoreConflictError");
    const got = await store.read((q) => q.blocks.getDocument(middle));
    expect(got!.document).toMatchObject({ name: "middle", data, created: T0 + 2, updated: T0 + 2, isAnonymous: false });
    expect(got!.schemaType.slug).toBe("creds");
    const graph = await store.read((q) => q.blocks.loadDocumentGraph([root]));
    expect(graph.documents.size).toBe(3);
    expect(graph.references).toHaveLength(3);
    return {
      duplicate: duplicate ?? null,
      sameNameOtherType,
      badReference,
      danglingLeft: await store.read((q) => q.blocks.documentNameTaken(type.id, "dangling")),
      got,
      getMissing: (await store.read((q) => q.blocks.getDocument(MISSING))) ?? null,
      exists: await store.read((q) => q.blocks.documentExists(leaf)),
      existsMissing: await store.read((q) => q.blocks.documentExists(MISSING)),
      nameTaken: await store.read((q) => q.blocks.documentNameTaken(type.id, "root")),
      nameFree: await store.read((q) => q.blocks.documentNameTaken(type.id, "ROOT")),
      graph: sortedGraph(graph),
      graphOfTwo: sortedGraph(await store.read((q) => q.blocks.loadDocumentGraph([leaf, middle]))),
      graphOfMissing: sortedGraph(await store.read((q) => q.blocks.loadDocumentGraph([MISSING]))),
    };
  },

  async "block documents: filters (nested ones too), anonymity, sorts, paging, counts"(store) {
    const s3 = await typeWithSchema(store, "s3-bucket", "S3 Bucket", ["get-directory", "put-directory"], T0);
    const secret = await typeWithSchema(store, "secret", "Secret", [], T0);
    const aws = await typeWithSchema(store, "aws", "AWS", ["get-directory"], T0);
    const docs: [typeof s3, string, boolean][] = [
      [s3, "prod", false], [s3, "dev", false], [s3, "anon-1", true], [secret, "prod", false], [secret, "Token", false],
      [secret, "_x", false], [aws, "main", false], [aws, "anon-2", true], [aws, "b%c", false],
    ];
    for (const [i, [{ type, schema }, name, isAnonymous]] of docs.entries()) {
      await store.write((tx) => tx.blocks.createDocument({ name, data: { i }, blockSchemaId: schema.id, blockTypeId: type.id, isAnonymous }, [], T0 + i));
    }
    const label = new Map([[s3.type.id, "s3"], [secret.type.id, "secret"], [aws.type.id, "aws"]]);
    const names = async (ids: string[]) => {
      const graph = await store.read((q) => q.blocks.loadDocumentGraph(ids));
      return ids.map((id) => `${label.get(graph.documents.get(id)!.document.blockTypeId)}/${graph.documents.get(id)!.document.name}`);
    };
    type Filters = Parameters<Blocks["listDocumentIds"]>[0];
    const list = async (filters: Filters, sort: Parameters<Blocks["listDocumentIds"]>[1] = "NAME_ASC", page?: { limit: number; offset: number }) =>
      names(await store.read((q) => q.blocks.listDocumentIds(filters, sort, page)));
    const count = (filters: Filters) => store.read((q) => q.blocks.countDocuments(filters));
    const observed = {
      nameAsc: await list({}),
      nameDesc: await list({}, "NAME_DESC"),
      typeAndName: await list({}, "BLOCK_TYPE_AND_NAME_ASC"),
      page: await list({}, "BLOCK_TYPE_AND_NAME_ASC", { limit: 3, offset: 2 }),
      pageBeyond: await list({}, "NAME_ASC", { limit: 3, offset: 50 }),
      anonymousOnly: await list({ block_documents: { is_anonymous: { eq_: true } } }),
      anonymityLifted: await list({ block_documents: { is_anonymous: null } }),
      anonymityEmptyGroup: await list({ block_documents: { is_anonymous: {} } }),
      nameAny: await list({ block_documents: { name: { any_: ["prod", "main"] } } }),
      nameLike: await list({ block_documents: { name: { like_: "O" } } }),
      nameLikePercent: await list({ block_documents: { name: { like_: "b%c" } } }),
      byType: await list({ block_documents: { block_type_id: { any_: [secret.type.id] } } }),
      byId: await list({ block_documents: { id: { any_: [] } } }),
      orNameOrType: await list({ block_documents: { operator: "or_", name: { any_: ["main"] }, block_type_id: { any_: [secret.type.id] } } }),
      typeSlug: await list({ block_types: { slug: { any_: ["aws", "s3-bucket"] } } }),
      typeNameLike: await list({ block_types: { name: { like_: "bucket" } } }),
      schemaCapability: await list({ block_schemas: { block_capabilities: { all_: ["get-directory"] } } }),
      schemaCapabilities: await list({ block_schemas: { block_capabilities: { all_: ["get-directory", "put-directory"] } } }),
      schemaAndType: await list({ block_types: { slug: { any_: ["aws", "secret"] } }, block_schemas: { block_capabilities: { all_: ["get-directory"] } } }),
      allThree: await list({
        block_documents: { is_anonymous: null, name: { like_: "anon" } },
        block_types: { name: { like_: "s" } },
        block_schemas: { operator: "or_", version: { any_: ["9"] }, block_type_id: { any_: [s3.type.id] } },
      }),
      count: await count({}),
      countAll: await count({ block_documents: { is_anonymous: null } }),
      countNested: await count({ block_schemas: { block_capabilities: { all_: ["get-directory"] } } }),
    };
    expect(observed.nameAsc).toEqual(["secret/Token", "secret/_x", "aws/b%c", "s3/dev", "aws/main", "s3/prod", "secret/prod"]);
    expect(observed.typeAndName).toEqual(["aws/b%c", "aws/main", "s3/dev", "s3/prod", "secret/Token", "secret/_x", "secret/prod"]);
    expect(observed.anonymousOnly).toEqual(["s3/anon-1", "aws/anon-2"]);
    expect(observed.allThree).toEqual(["s3/anon-1"]);
    expect([observed.count, observed.countAll, observed.countNested]).toEqual([7, 9, 4]);
    return observed;
  },

  async "block documents: cycles, updates keeping and replacing references, schema moves, deletes"(store) {
    const { type, schema } = await typeWithSchema(store, "t", "T", [], T0);
    const schema2 = await store.write(function* (tx) {
      yield* tx.blocks.createSchemas([{ checksum: "sha256:t2", fields: { v: 2 }, blockTypeId: type.id, capabilities: [], version: "2" }], T0);
      return (yield* tx.blocks.getSchemaByChecksum("sha256:t2"))!.schema;
    });
    const create = (name: string, references: [string, string][] = []) =>
      store.write((tx) => tx.blocks.createDocument({ name, data: { name }, blockSchemaId: schema.id, blockTypeId: type.id, isAnonymous: false }, references, T0)).then((id) => id!);
    const c = await create("c");
    const b = await create("b", [["c", c]]);
    const a = await create("a", [["b", b], ["c", c]]);
    const cycles = {
      self: await store.read((q) => q.blocks.wouldFormCycle(a, a)),
      direct: await store.read((q) => q.blocks.wouldFormCycle(b, a)),
      indirect: await store.read((q) => q.blocks.wouldFormCycle(c, a)),
      none: await store.read((q) => q.blocks.wouldFormCycle(a, c)),
      unrelated: await store.read((q) => q.blocks.wouldFormCycle(c, MISSING)),
    };
    expect(cycles).toEqual({ self: true, direct: true, indirect: true, none: false, unrelated: false });
    const referencesOf = async (id: string) => {
      const graph = await store.read((q) => q.blocks.loadDocumentGraph([id]));
      return graph.references.filter((r) => r.parentId === id).map((r) => [r.name, graph.documents.get(r.childId)!.document.name]).sort();
    };
    const before = await store.read((q) => q.blocks.getDocument(a));
    // keep "b", repoint "c" to b, add "d": the kept reference keeps its row
    await store.write((tx) => tx.blocks.updateDocument(a, { data: { v: [1, { w: null }] }, references: [["b", b], ["c", b], ["d", c]] }, T0 + 10));
    const afterFirst = await store.read((q) => q.blocks.getDocument(a));
    expect(afterFirst!.document).toMatchObject({ data: { v: [1, { w: null }] }, created: T0, updated: T0 + 10, blockSchemaId: schema.id });
    const referencesAfterFirst = await referencesOf(a);
    expect(referencesAfterFirst).toEqual([["b", "b"], ["c", "b"], ["d", "c"]]);
    await store.write((tx) => tx.blocks.updateDocument(a, { data: {}, blockSchemaId: schema2.id, references: [] }, T0 + 20));
    const afterSecond = await store.read((q) => q.blocks.getDocument(a));
    expect(afterSecond!.schema.version).toBe("2");
    const badReference = await errorOf(store.write((tx) => tx.blocks.updateDocument(a, { data: {}, references: [["x", MISSING]] }, T0 + 30)));
    return {
      cycles,
      before,
      afterFirst,
      referencesAfterFirst,
      afterSecond,
      referencesAfterSecond: await referencesOf(a),
      badReference,
      afterBadReference: await store.read((q) => q.blocks.getDocument(a)),
      deleteChild: await store.write((tx) => tx.blocks.deleteDocument(c)),
      referencesOfB: await referencesOf(b),
      deleteAgain: await store.write((tx) => tx.blocks.deleteDocument(c)),
      deleteType: await store.write((tx) => tx.blocks.deleteType(type.id)),
      documentsLeft: await store.read((q) => q.blocks.countDocuments({ block_documents: { is_anonymous: null } })),
    };
  },

  async "block documents under concurrency: one create of a name wins, concurrent updates of one document replace references whole"(store) {
    const { type, schema } = await typeWithSchema(store, "t", "T", [], T0);
    const input = (name: string) => ({ name, data: {}, blockSchemaId: schema.id, blockTypeId: type.id, isAnonymous: false });
    // opens the pool's connections first, so the racing writes below do not wait for one each
    await Promise.all([1, 2, 3, 4].map(() => store.read((q) => q.blocks.capabilities())));
    const racers = await Promise.all([1, 2, 3].map(() => store.write((tx) => tx.blocks.createDocument(input("same"), [], T0))));
    const winners = racers.filter((id) => id !== undefined);
    expect(winners).toHaveLength(1);
    const child = (await store.write((tx) => tx.blocks.createDocument(input("child"), [], T0)))!;
    const parent = winners[0]!;
    // both add the same reference name: without the row lock both would insert it (a unique violation)
    const updates = await Promise.all(
      [1, 2].map((n) => errorOf(store.write((tx) => tx.blocks.updateDocument(parent, { data: { n }, references: [["ref", child]] }, T0 + n)))),
    );
    expect(updates).toEqual(["no error", "no error"]);
    const graph = await store.read((q) => q.blocks.loadDocumentGraph([parent]));
    expect(graph.references).toHaveLength(1);
    return { winners: winners.length, updates, references: graph.references };
  },
});
