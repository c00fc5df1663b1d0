import { afterAll, describe, expect, test } from "bun:test";
import { createTestApi } from "../support/api";

const api = createTestApi();
afterAll(() => api.close());

/** Prefect's checksum of `{"properties": {"value": {"type": "string"}}}` (computed by Prefect 3.9.1). */
const VALUE_SCHEMA_CHECKSUM = "sha256:f41edbaa8236808b60085ab23e34f3a9c0a596c57ea66e303b9ed544d6b7e59b";

let counter = 0;
const unique = (prefix: string) => `${prefix}-${++counter}`;

async function createType(slug = unique("type"), extra: Record<string, unknown> = {}) {
  const res = await api.post("/block_types/", { name: `Type ${slug}`, slug, ...extra });
  expect(res.status).toBe(201);
  return res.body;
}

async function createSchema(blockTypeId: string, fields: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  const res = await api.post("/block_schemas/", { block_type_id: blockTypeId, fields, ...extra });
  expect(res.status).toBe(201);
  return res.body;
}

/** A block type with one schema whose `token` field is secret. */
async function secretKind() {
  const type = await createType();
  // (checksum, version) is unique across all block types, so each kind gets its own title.
  const schema = await createSchema(type.id, {
    title: type.slug,
    properties: { token: { type: "string" }, region: { type: "string" } },
    secret_fields: ["token"],
  });
  return { type, schema };
}

async function createDocument(kind: { type: { id: string }; schema: { id: string } }, body: Record<string, unknown>) {
  const res = await api.post("/block_documents/", { block_type_id: kind.type.id, block_schema_id: kind.schema.id, ...body });
  expect(res.status).toBe(201);
  return res.body;
}

describe("block types", () => {
  test("create, read by id and slug; descriptions are stored HTML-escaped", async () => {
    const type = await createType("reader", { description: "a <b> & c", logo_url: "https://x/logo.png" });
    expect(type).toMatchObject({
      name: "Type reader",
      slug: "reader",
      logo_url: "https://x/logo.png",
      documentation_url: null,
      description: "a &lt;b&gt; &amp; c",
      code_example: null,
      is_protected: false,
    });
    expect((await api.get(`/block_types/${type.id}`)).body).toEqual(type);
    expect((await api.get("/block_types/slug/reader")).body).toEqual(type);
    expect(await api.get("/block_types/slug/nope")).toMatchObject({ status: 404, body: { detail: "Block type not found" } });
    expect(await api.get(`/block_types/${crypto.randomUUID()}`)).toMatchObject({ status: 404, body: { detail: "Block type not found" } });
  });

  test("names starting with Prefect are reserved (403), slugs are unique (409) and must be slugs (422)", async () => {
    const reserved = await api.post("/block_types/", { name: "PREFECT thing", slug: "prefect-thing" });
    expect(reserved).toMatchObject({ status: 403, body: { detail: "Block type names beginning with 'Prefect' are reserved." } });
    await createType("taken");
    const clash = await api.post("/block_types/", { name: "Other", slug: "taken" });
    expect(clash).toMatchObject({ status: 409, body: { detail: 'Block type with name "Other" already exists' } });
    const badSlug = await api.post("/block_types/", { name: "Bad", slug: "Bad_Slug" });
    expect(badSlug.status).toBe(422);
    expect(badSlug.body.exception_detail[0].loc).toEqual(["body", "slug"]);
    expect((await api.post("/block_types/", { name: "a/b", slug: "ab" })).status).toBe(422);
  });

  test("PATCH applies the sent fields (204); DELETE removes (204, then 404)", async () => {
    const type = await createType();
    const patched = await api.patch(`/block_types/${type.id}`, { description: "new", logo_url: null });
    expect(patched).toMatchObject({ status: 204, text: "" });
    const read = (await api.get(`/block_types/${type.id}`)).body;
    expect(read).toMatchObject({ description: "new", logo_url: null });
    expect(await api.patch(`/block_types/${crypto.randomUUID()}`, {})).toMatchObject({ status: 404 });
    expect((await api.patch(`/block_types/${type.id}`, { name: "renamed" })).status).toBe(422);
    expect((await api.delete(`/block_types/${type.id}`)).status).toBe(204);
    expect((await api.delete(`/block_types/${type.id}`)).status).toBe(404);
  });

  test("PATCH restating every stored field is a no-op (updated unchanged)", async () => {
    const type = await createType(unique("noop"), { description: "x & y" });
    const same = { logo_url: null, documentation_url: null, description: "x & y", code_example: null };
    await Bun.sleep(2);
    expect((await api.patch(`/block_types/${type.id}`, same)).status).toBe(204);
    expect((await api.get(`/block_types/${type.id}`)).body.updated).toBe(type.updated);
  });

  test("filter by name like_, slug any_ and block schema, ordered by name", async () => {
    const zeta = await createType("zeta-filter", { name: "Zeta Filter" });
    const alpha = await createType("alpha-filter", { name: "Alpha Filter" });
    await createSchema(zeta.id, { title: "cap" }, { capabilities: ["special-cap"] });
    const byName = await api.post("/block_types/filter", { block_types: { name: { like_: "FILTER" } } });
    expect(byName.body.map((t: { slug: string }) => t.slug)).toEqual(["alpha-filter", "zeta-filter"]);
    const bySlug = await api.post("/block_types/filter", { block_types: { slug: { any_: [alpha.slug] } } });
    expect(bySlug.body.map((t: { id: string }) => t.id)).toEqual([alpha.id]);
    const bySchema = await api.post("/block_types/filter", { block_schemas: { block_capabilities: { all_: ["special-cap"] } } });
    expect(bySchema.body.map((t: { id: string }) => t.id)).toEqual([zeta.id]);
    const paged = await api.post("/block_types/filter", { block_types: { name: { like_: "filter" } }, limit: 1, offset: 1 });
    expect(paged.body.map((t: { id: string }) => t.id)).toEqual([zeta.id]);
  });
});

describe("block schemas", () => {
  test("create computes Prefect's checksum; the same schema again is a 200 with the same row", async () => {
    const type = await createType();
    const fields = { properties: { value: { type: "string" } } };
    const created = await createSchema(type.id, fields, { capabilities: ["test"], version: "1.0.0" });
    expect(created).toMatchObject({
      checksum: VALUE_SCHEMA_CHECKSUM,
      fields: { ...fields, block_schema_references: {} },
      block_type_id: type.id,
      block_type: type,
      capabilities: ["test"],
      version: "1.0.0",
    });
    const again = await api.post("/block_schemas/", { block_type_id: type.id, fields, capabilities: ["other"], version: "1.0.0" });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(created.id);
    const otherVersion = await api.post("/block_schemas/", { block_type_id: type.id, fields });
    expect(otherVersion.status).toBe(201);
    expect(otherVersion.body.version).toBe("non-versioned");
  });

  test("read by id and by checksum (newest without a version); unknown block type is a 404", async () => {
    const type = await createType();
    const fields = { title: unique("by-checksum") };
    const v1 = await createSchema(type.id, fields, { version: "1" });
    const v2 = await createSchema(type.id, fields, { version: "2" });
    expect((await api.get(`/block_schemas/${v1.id}`)).body.id).toBe(v1.id);
    expect((await api.get(`/block_schemas/checksum/${v1.checksum}`)).body.id).toBe(v2.id);
    expect((await api.get(`/block_schemas/checksum/${v1.checksum}?version=1`)).body.id).toBe(v1.id);
    expect(await api.get(`/block_schemas/checksum/${v1.checksum}?version=3`)).toMatchObject({
      status: 404,
      body: { detail: "Block schema not found" },
    });
    const missingType = crypto.randomUUID();
    expect(await api.post("/block_schemas/", { block_type_id: missingType, fields: {} })).toMatchObject({
      status: 404,
      body: { detail: `Block type ${missingType} not found.` },
    });
  });

  test("filter is newest first and filters by type, capabilities and version", async () => {
    const type = await createType();
    const older = await createSchema(type.id, { title: "older" }, { capabilities: ["read-path", "write-path"] });
    const newer = await createSchema(type.id, { title: "newer" }, { capabilities: ["read-path"], version: "9" });
    const ofType = await api.post("/block_schemas/filter", { block_schemas: { block_type_id: { any_: [type.id] } } });
    expect(ofType.body.map((s: { id: string }) => s.id)).toEqual([newer.id, older.id]);
    const writers = await api.post("/block_schemas/filter", {
      block_schemas: { block_type_id: { any_: [type.id] }, block_capabilities: { all_: ["write-path", "read-path"] } },
    });
    expect(writers.body.map((s: { id: string }) => s.id)).toEqual([older.id]);
    const versioned = await api.post("/block_schemas/filter", { block_schemas: { version: { any_: ["9"] } } });
    expect(versioned.body.map((s: { id: string }) => s.id)).toEqual([newer.id]);
    const capabilities = (await api.get("/block_capabilities/")).body;
    expect(capabilities).toEqual(expect.arrayContaining(["read-path", "write-path"]));
    expect(new Set(capabilities).size).toBe(capabilities.length);
  });

  test("delete is 204 then 404, and removes the schema's documents", async () => {
    const kind = await secretKind();
    const doc = await createDocument(kind, { name: "doomed", data: { token: "t" } });
    expect((await api.delete(`/block_schemas/${kind.schema.id}`)).status).toBe(204);
    expect((await api.delete(`/block_schemas/${kind.schema.id}`)).status).toBe(404);
    expect((await api.get(`/block_documents/${doc.id}`)).status).toBe(404);
  });

  test("nested block schemas: unknown block types are a 409, missing child schemas are registered", async () => {
    const parentType = await createType();
    const fields = {
      title: "Parent",
      properties: { child: { $ref: "#/definitions/Child" } },
      block_schema_references: { child: { block_type_slug: "nested-child", block_schema_checksum: "sha256:unknown" } },
      definitions: { Child: { title: "Child", block_type_slug: "nested-child", properties: { x: { type: "string" } } } },
    };
    const unknown = await api.post("/block_schemas/", { block_type_id: parentType.id, fields });
    expect(unknown).toMatchObject({
      status: 409,
      body: { detail: "Cannot create block schema because block type 'nested-child' was not found.Did you forget to register the block type?" },
    });
    const childType = await createType("nested-child");
    const parent = await createSchema(parentType.id, fields);
    // The create answer echoes references and definitions as sent...
    expect(parent.fields.block_schema_references).toEqual(fields.block_schema_references);
    expect(parent.fields.definitions).toEqual(fields.definitions);
    const childSchemas = await api.post("/block_schemas/filter", { block_schemas: { block_type_id: { any_: [childType.id] } } });
    expect(childSchemas.body).toHaveLength(1);
    const child = childSchemas.body[0];
    expect(child).toMatchObject({ version: "non-versioned", fields: { title: "Child", block_schema_references: {} } });
    // ...while reads rebuild them from the registered nested schema.
    const read = (await api.get(`/block_schemas/${parent.id}`)).body;
    expect(read.fields.block_schema_references).toEqual({
      child: { block_schema_checksum: child.checksum, block_type_slug: "nested-child" },
    });
    expect(read.fields.definitions).toEqual({ Child: child.fields });
  });

  test("only the non-block definitions in use are kept", async () => {
    const type = await createType();
    const fields = {
      title: unique("defs"),
      properties: { mode: { $ref: "#/definitions/Mode" } },
      definitions: { Mode: { enum: ["a", "b"] }, Unused: { title: "Unused" } },
    };
    const created = await createSchema(type.id, fields);
    expect(created.fields.definitions).toEqual(fields.definitions);
    const read = (await api.get(`/block_schemas/${created.id}`)).body;
    expect(read.fields).toEqual({ ...fields, definitions: { Mode: { enum: ["a", "b"] } }, block_schema_references: {} });
  });
});

describe("block documents", () => {
  test("create obfuscates secrets in the response; include_secrets reveals them", async () => {
    const kind = await secretKind();
    const doc = await createDocument(kind, { name: "creds", data: { token: "s3cr3t", region: "eu" } });
    expect(doc).toMatchObject({
      name: "creds",
      data: { token: "********", region: "eu" },
      block_schema_id: kind.schema.id,
      block_schema: { id: kind.schema.id, checksum: kind.schema.checksum, block_type: kind.type },
      block_type_id: kind.type.id,
      block_type_name: kind.type.name,
      block_type: kind.type,
      block_document_references: {},
      is_anonymous: false,
    });
    expect((await api.get(`/block_documents/${doc.id}`)).body.data.token).toBe("********");
    expect((await api.get(`/block_documents/${doc.id}?include_secrets=true`)).body.data.token).toBe("s3cr3t");
    expect((await api.get(`/block_documents/${doc.id}?include_secrets=nope`)).status).toBe(422);
    const byName = await api.get(`/block_types/slug/${kind.type.slug}/block_documents/name/creds?include_secrets=true`);
    expect(byName.body).toMatchObject({ id: doc.id, data: { token: "s3cr3t" } });
    expect(await api.get(`/block_types/slug/${kind.type.slug}/block_documents/name/other`)).toMatchObject({
      status: 404,
      body: { detail: "Block document not found" },
    });
    // The Python client still sends the retired `block_schema_type` key; Prefect ignores it.
    const filtered = await api.post("/block_documents/filter", {
      block_documents: { id: { any_: [doc.id] } },
      include_secrets: true,
      block_schema_type: null,
    });
    expect(filtered.body.map((d: { data: unknown }) => d.data)).toEqual([{ token: "s3cr3t", region: "eu" }]);
  });

  test("same type and name is a 409; names are required and must be slugs", async () => {
    const kind = await secretKind();
    await createDocument(kind, { name: "dup" });
    const dup = await api.post("/block_documents/", { block_type_id: kind.type.id, block_schema_id: kind.schema.id, name: "dup" });
    expect(dup).toMatchObject({ status: 409, body: { detail: "Block already exists" } });
    const noName = await api.post("/block_documents/", { block_type_id: kind.type.id, block_schema_id: kind.schema.id });
    expect(noName.status).toBe(422);
    expect(noName.body.exception_detail[0].msg).toBe("Value error, Names must be provided for block documents.");
    const badName = await api.post("/block_documents/", { block_type_id: kind.type.id, block_schema_id: kind.schema.id, name: "Bad_Name" });
    expect(badName.status).toBe(422);
    expect(badName.body.exception_detail[0].loc).toEqual(["body", "name"]);
  });

  test("anonymous documents are named anonymous-<uuid> and hidden from listings unless asked for", async () => {
    const kind = await secretKind();
    const named = await createDocument(kind, { name: "visible" });
    const anon = await createDocument(kind, { is_anonymous: true, data: { region: "us" } });
    expect(anon.name).toMatch(/^anonymous-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(anon.is_anonymous).toBe(true);
    const ofType = { block_type_id: { any_: [kind.type.id] } };
    const ids = async (body: Record<string, unknown>) =>
      (await api.post("/block_documents/filter", body)).body.map((d: { id: string }) => d.id);
    expect(await ids({ block_documents: ofType })).toEqual([named.id]);
    expect(await ids({ block_documents: { ...ofType, is_anonymous: null } })).toHaveLength(2);
    expect(await ids({ block_documents: { ...ofType, is_anonymous: { eq_: true } } })).toEqual([anon.id]);
    expect((await api.post("/block_documents/count", { block_documents: ofType })).body).toBe(1);
    expect((await api.post("/block_documents/count", { block_documents: { ...ofType, is_anonymous: null } })).body).toBe(2);
    const listed = await api.get(`/block_types/slug/${kind.type.slug}/block_documents`);
    expect(listed.body.map((d: { id: string }) => d.id)).toEqual([named.id]);
    expect((await api.get(`/block_documents/${anon.id}`)).status).toBe(200);
  });

  test("sorts by name either way, or by block type name then name", async () => {
    const first = await createType(unique("sort"), { name: "AAA sort type" });
    const second = await createType(unique("sort"), { name: "BBB sort type" });
    const firstSchema = await createSchema(first.id, { title: unique("s") });
    const secondSchema = await createSchema(second.id, { title: unique("s") });
    await createDocument({ type: second, schema: secondSchema }, { name: "sort-a" });
    await createDocument({ type: first, schema: firstSchema }, { name: "sort-b" });
    const names = async (sort: string) =>
      (await api.post("/block_documents/filter", { block_documents: { name: { like_: "sort-" } }, sort })).body.map(
        (d: { name: string }) => d.name,
      );
    expect(await names("NAME_ASC")).toEqual(["sort-a", "sort-b"]);
    expect(await names("NAME_DESC")).toEqual(["sort-b", "sort-a"]);
    expect(await names("BLOCK_TYPE_AND_NAME_ASC")).toEqual(["sort-b", "sort-a"]);
    expect((await api.post("/block_documents/filter", { sort: "NEWEST" })).status).toBe(422);
  });

  test("$ref values are stored as references and inlined on read, child secrets obfuscated", async () => {
    const kind = await secretKind();
    const child = await createDocument(kind, { name: "child-creds", data: { token: "inner-secret" } });
    const parentType = await createType();
    const parentSchema = await createSchema(parentType.id, { properties: { creds: {}, label: {} } });
    const parent = await createDocument(
      { type: parentType, schema: parentSchema },
      { name: "parent", data: { label: "p", creds: { $ref: { block_document_id: child.id } } } },
    );
    expect(parent.data).toEqual({ label: "p", creds: { token: "********" } });
    expect(parent.block_document_references).toEqual({
      creds: {
        block_document: { id: child.id, name: "child-creds", block_type: kind.type, is_anonymous: false, block_document_references: {} },
      },
    });
    const revealed = await api.get(`/block_documents/${parent.id}?include_secrets=true`);
    expect(revealed.body.data.creds).toEqual({ token: "inner-secret" });

    const grandparent = await createDocument(
      { type: parentType, schema: parentSchema },
      { name: "grandparent", data: { creds: { $ref: { block_document_id: parent.id } } } },
    );
    expect(grandparent.data).toEqual({ creds: { label: "p", creds: { token: "********" } } });
    expect(grandparent.block_document_references.creds.block_document.block_document_references.creds.block_document.id).toBe(child.id);

    // A parent may not end up referencing itself.
    const cycle = await api.patch(`/block_documents/${child.id}`, { data: { loop: { $ref: { block_document_id: grandparent.id } } } });
    expect(cycle.status).toBe(400);
    expect(cycle.body.detail).toStartWith("Cannot create block document reference: it would introduce a cycle");

    // A merging PATCH without the $ref drops the reference, as in Prefect (stored data never holds $refs).
    expect((await api.patch(`/block_documents/${grandparent.id}`, { data: { note: "n" } })).status).toBe(204);
    const unreferenced = (await api.get(`/block_documents/${grandparent.id}`)).body;
    expect([unreferenced.data, unreferenced.block_document_references]).toEqual([{ note: "n" }, {}]);

    // Deleting the referenced document removes the reference.
    expect((await api.delete(`/block_documents/${child.id}`)).status).toBe(204);
    const orphan = (await api.get(`/block_documents/${parent.id}`)).body;
    expect([orphan.data, orphan.block_document_references]).toEqual([{ label: "p" }, {}]);
  });

  test("bad references: no block_document_id is a 400, an unknown document a 409, and nothing is written", async () => {
    const kind = await secretKind();
    const noId = await api.post("/block_documents/", {
      block_type_id: kind.type.id,
      block_schema_id: kind.schema.id,
      name: "no-id",
      data: { child: { $ref: {} } },
    });
    expect(noId).toMatchObject({ status: 400, body: { detail: "Received block reference without a block_document_id in key child" } });
    const unknown = await api.post("/block_documents/", {
      block_type_id: kind.type.id,
      block_schema_id: kind.schema.id,
      name: "dangling",
      data: { child: { $ref: { block_document_id: crypto.randomUUID() } } },
    });
    expect(unknown.status).toBe(409);
    expect((await api.get(`/block_types/slug/${kind.type.slug}/block_documents/name/dangling`)).status).toBe(404);
    // A taken name is reported before the data is looked at.
    await createDocument(kind, { name: "taken" });
    const takenAndBad = await api.post("/block_documents/", {
      block_type_id: kind.type.id,
      block_schema_id: kind.schema.id,
      name: "taken",
      data: { child: { $ref: {} } },
    });
    expect(takenAndBad).toMatchObject({ status: 409, body: { detail: "Block already exists" } });
  });

  test("PATCH merges by default, replaces with merge_existing_data false, and keeps secrets posted back obfuscated", async () => {
    const kind = await secretKind();
    const doc = await createDocument(kind, { name: "patched", data: { token: "keep-me", region: "eu" } });
    const read = async () => (await api.get(`/block_documents/${doc.id}?include_secrets=true`)).body.data;

    expect(await api.patch(`/block_documents/${doc.id}`, { data: { region: "us" } })).toMatchObject({ status: 204, text: "" });
    expect(await read()).toEqual({ token: "keep-me", region: "us" });

    const obfuscated = (await api.get(`/block_documents/${doc.id}`)).body.data;
    expect((await api.patch(`/block_documents/${doc.id}`, { data: { ...obfuscated, region: "ap" } })).status).toBe(204);
    expect(await read()).toEqual({ token: "keep-me", region: "ap" });

    expect((await api.patch(`/block_documents/${doc.id}`, { data: { region: "only" }, merge_existing_data: false })).status).toBe(204);
    expect(await read()).toEqual({ region: "only" });

    expect((await api.patch(`/block_documents/${crypto.randomUUID()}`, { data: {} })).status).toBe(404);
  });

  test("PATCH may move a document to another schema of its type only", async () => {
    const kind = await secretKind();
    const doc = await createDocument(kind, { name: "migrating", data: { token: "t" } });
    const newer = await createSchema(kind.type.id, { title: unique("v2") });
    expect((await api.patch(`/block_documents/${doc.id}`, { block_schema_id: newer.id, data: { token: "u" } })).status).toBe(204);
    expect((await api.get(`/block_documents/${doc.id}`)).body.block_schema_id).toBe(newer.id);
    const foreign = await secretKind();
    const moved = await api.patch(`/block_documents/${doc.id}`, { block_schema_id: foreign.schema.id, data: {} });
    expect(moved).toMatchObject({ status: 400, body: { detail: "Must migrate block document to a block schema of the same block type." } });
  });

  test("DELETE is 204 then 404", async () => {
    const kind = await secretKind();
    const doc = await createDocument(kind, { name: "short-lived" });
    expect(await api.delete(`/block_documents/${doc.id}`)).toMatchObject({ status: 204, text: "" });
    expect(await api.delete(`/block_documents/${doc.id}`)).toMatchObject({ status: 404, body: { detail: "Block document not found" } });
  });
});

describe("system block types", () => {
  test("install registers protected Webhook, Secret and LocalFileSystem; repeating it changes nothing", async () => {
    const first = await api.post("/block_types/install_system_block_types");
    expect(first).toMatchObject({ status: 200, body: null });
    const secret = (await api.get("/block_types/slug/secret")).body;
    expect(secret).toMatchObject({ name: "Secret", is_protected: true });
    // The checksum the Python client computes for prefect.blocks.system.Secret (Prefect 3.9.1).
    const checksum = "sha256:c078ed9c1e813e224c0b353d7ad4564a11d51d3198d9ac0686478165a1911c78";
    const schema = await api.get(`/block_schemas/checksum/${checksum}?version=3.9.1`);
    expect(schema.body).toMatchObject({ block_type_id: secret.id, fields: { secret_fields: ["value", "value"] } });

    await api.post("/block_types/install_system_block_types");
    const types = await api.post("/block_types/filter", { block_types: { slug: { any_: ["secret", "webhook", "local-file-system"] } } });
    expect(types.body.map((t: { name: string }) => t.name)).toEqual(["Local File System", "Secret", "Webhook"]);
    const schemas = await api.post("/block_schemas/filter", { block_schemas: { block_type_id: { any_: [secret.id] } } });
    expect(schemas.body).toHaveLength(1);

    expect(await api.delete(`/block_types/${secret.id}`)).toMatchObject({
      status: 403,
      body: { detail: "protected block types cannot be deleted." },
    });
    expect(await api.delete(`/block_schemas/${schema.body.id}`)).toMatchObject({
      status: 403,
      body: { detail: "Block schemas for protected block types cannot be deleted." },
    });
    const secretKind = { type: secret, schema: schema.body };
    const doc = await createDocument(secretKind, { name: "api-key", data: { value: "sk-123" } });
    expect(doc.data).toEqual({ value: "********" });
  });
});

describe("conformance sequence (test_blocks)", () => {
  /** One run of the acceptance suite's block section; returns the created schema. */
  async function benchRun(tag: string) {
    const slug = `bench-block-${tag}`;
    const type = await api.post("/block_types/", { name: `Bench Block ${slug}`, slug, description: "benchmark block type" });
    expect(type.status).toBe(201);
    expect((await api.get(`/block_types/slug/${slug}`)).status).toBe(200);
    const schema = await api.post("/block_schemas/", {
      block_type_id: type.body.id,
      fields: { properties: { bench: { type: "string" } } },
      capabilities: ["test"],
      version: "1.0.0",
    });
    expect([200, 201]).toContain(schema.status);
    expect((await api.get(`/block_schemas/checksum/${schema.body.checksum}`)).status).toBe(200);
    const doc = await api.post("/block_documents/", {
      name: `bench-doc-${tag}`,
      block_type_id: type.body.id,
      block_schema_id: schema.body.id,
      data: { value: "secret-value" },
    });
    expect(doc.status).toBe(201);
    expect((await api.get(`/block_documents/${doc.body.id}`)).status).toBe(200);
    expect((await api.get(`/block_types/slug/${slug}/block_documents/name/bench-doc-${tag}`)).status).toBe(200);
    expect((await api.patch(`/block_documents/${doc.body.id}`, { data: { value: "updated" } })).status).toBe(204);
    for (const endpoint of ["/block_types/filter", "/block_schemas/filter", "/block_documents/filter"]) {
      expect((await api.post(endpoint, {})).status).toBe(200);
    }
    expect((await api.delete(`/block_documents/${doc.body.id}`)).status).toBe(204);
    return schema;
  }

  test("passes, and a second run reuses the first run's schema (checksum and version are global)", async () => {
    const first = await benchRun("0a1b2c3d");
    expect(first.status).toBe(201);
    const second = await benchRun("4e5f6a7b");
    expect(second.status).toBe(200);
    expect(second.body.id).toBe(first.body.id);
  });
});
