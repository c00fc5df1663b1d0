import { describe, expect, test } from "bun:test";
import { blockSchemaChecksum, fieldsForChecksum } from "../../src/blocks/checksum";
import { assembleDocument, separateReferences, updatedDocumentData, type StoredDocument } from "../../src/blocks/documents";
import { pythonJsonDumps } from "../../src/blocks/python-json";
import { obfuscateSecrets, restoreObfuscatedSecrets } from "../../src/blocks/secrets";
import { SYSTEM_BLOCKS } from "../../src/blocks/system";
import type { JsonObject } from "../../src/lib/json";

/**
 * Schema fields with the checksum Prefect 3.9.1 computes for them
 * (`Block._calculate_schema_checksum(fields)` run in the reference venv).
 */
const CHECKSUM_CASES: [string, JsonObject, string][] = [
  [
    "plain fields",
    { properties: { value: { type: "string" } } },
    "sha256:f41edbaa8236808b60085ab23e34f3a9c0a596c57ea66e303b9ed544d6b7e59b",
  ],
  [
    "non-ASCII text, control characters and code-point key order",
    {
      title: "Café ☕ 𝄞 naïve",
      description:
        'quote " backslash \\ newline \n tab \t cr \r bell \u0007 del \u007f nul \u0000 bs \b ff \f slash / tilde ~ lone \ud800',
      properties: { é: { type: "string" }, z: {}, Z: {}, "\uffff": {}, "😀": {}, "a\u0000": {}, "": {}, 日本: { default: "東京" } },
    },
    "sha256:a31437d5c235b42d617929124988ad0450159f3681ea152199fb0a4cf7080382",
  ],
  [
    "floats in Python's repr",
    {
      properties: {
        n: { default: 0.5, minimum: -42, maximum: 123456789012, multipleOf: 0.0001 },
        m: { default: 1e-7, examples: [1, 2.5, -0.001, true, false, null, 0.00001, 1234567.891, 3.141592653589793, 2.5e-10] },
      },
    },
    "sha256:3413732420b6b677e5a45f0267ac74b4c3b4d5a926d341936e10c42c7ae85b26",
  ],
  [
    "secret_fields removed from objects but not from arrays",
    {
      title: "S",
      secret_fields: ["a", "b.*"],
      properties: { x: { type: "object", secret_fields: ["nested"] }, y: { anyOf: [{ secret_fields: ["kept inside a list"] }] } },
    },
    "sha256:d1b5db26a5ba884b6a9f503405e3cf7c2002fc3d3bb0db2a52967c7ecba90b5d",
  ],
  [
    "definitions pruned to the non-block ones in use",
    {
      title: "Parent",
      properties: {
        child: { $ref: "#/definitions/ChildBlock" },
        opts: { anyOf: [{ $ref: "#/definitions/Options" }, { type: "null" }] },
      },
      block_schema_references: { child: { block_type_slug: "child-block", block_schema_checksum: "sha256:abc" } },
      secret_fields: ["child.inner.token"],
      definitions: {
        ChildBlock: {
          title: "ChildBlock",
          block_type_slug: "child-block",
          properties: { inner: { $ref: "#/definitions/Inner" } },
          secret_fields: ["inner.token"],
        },
        Options: { title: "Options", properties: { mode: { $ref: "#/definitions/Mode" } } },
        Mode: { enum: ["a", "b"] },
        Inner: { title: "Inner", properties: {} },
        Unused: { title: "Unused" },
        Empty: {},
      },
    },
    "sha256:0c29a213e1239c1c21dbf23272f28b07d2c09ea27e312199076076920c4713e1",
  ],
  [
    "only block definitions: the key is dropped",
    { properties: { c: { $ref: "#/definitions/C" } }, definitions: { C: { title: "C", block_type_slug: "c" } } },
    "sha256:bf70179a8069d7a28f15ed196b3a03f810a2fba88e3b6acfdd860c7ff7da79c8",
  ],
  [
    "empty definitions are hashed as they are",
    { type: "object", definitions: {} },
    "sha256:d57cfcda43d6f92a2ab243eb6cf18db4f42dd800597d92758a976cb6e82e6550",
  ],
];

describe("block schema checksum", () => {
  test.each(CHECKSUM_CASES)("%s matches Prefect", (_name, fields, expected) => {
    expect(blockSchemaChecksum(fields)).toBe(expected);
  });

  test("system block schemas hash to the checksums Prefect gave them", () => {
    expect(SYSTEM_BLOCKS.map((b) => b.block_type.slug)).toEqual(["webhook", "secret", "local-file-system"]);
    for (const { block_schema } of SYSTEM_BLOCKS) expect(blockSchemaChecksum(block_schema.fields)).toBe(block_schema.checksum);
  });

  test("definitions reachable only from block definitions are kept, unused ones are not", () => {
    const pruned = fieldsForChecksum(CHECKSUM_CASES[4]![1]);
    expect(Object.keys(pruned.definitions as JsonObject).sort()).toEqual(["Inner", "Mode", "Options"]);
  });

  test("self-referencing definitions terminate (Prefect itself recurses forever)", () => {
    const fields = {
      properties: { node: { $ref: "#/definitions/Node" } },
      definitions: { Node: { properties: { next: { $ref: "#/definitions/Node" } } } },
    };
    expect(blockSchemaChecksum(fields)).toStartWith("sha256:");
  });
});

describe("pythonJsonDumps", () => {
  test("formats like json.dumps(sort_keys=True)", () => {
    // Expected strings printed by CPython 3.11's json.dumps.
    expect(pythonJsonDumps([0.5, 1e-7, 0.0001, 0.00001, 1234567.891, -2.5e-10, 123456789012, -42, 0.1 + 0.2])).toBe(
      "[0.5, 1e-07, 0.0001, 1e-05, 1234567.891, -2.5e-10, 123456789012, -42, 0.30000000000000004]",
    );
    expect(pythonJsonDumps({ b: 1, a: [true, null, "x\u007fy\u00e9\u{1F600}"], "\uffff": 0, "\u{1F600}": 1 })).toBe(
      '{"a": [true, null, "x\\u007fy\\u00e9\\ud83d\\ude00"], "b": 1, "\\uffff": 0, "\\ud83d\\ude00": 1}',
    );
  });
});

describe("secret obfuscation", () => {
  test("follows Prefect's flat-dict rules", () => {
    const data = {
      token: "abc",
      nothing: null,
      whole: { a: 1, b: { c: 2 } },
      empty: {},
      headers: { x: "1", y: { z: null } },
      list: [1, 2],
      num: 5,
      plain: "visible",
      star: {},
    };
    const fields = { secret_fields: ["token", "nothing", "whole", "empty", "headers.*", "list", "num", "star.*", "missing", "missing.*"] };
    // Output of Prefect's from_orm_model obfuscation loop for the same input.
    expect(obfuscateSecrets(data, fields)).toEqual({
      token: "********",
      nothing: null,
      whole: { a: 1, b: { c: 2 } },
      empty: "********",
      headers: { x: "********", y: { z: "********" } },
      list: "********",
      num: "********",
      plain: "visible",
      star: "********",
    });
    expect(data.token).toBe("abc");
  });

  test("posting obfuscated values back keeps the stored secrets", () => {
    const current = { token: "abc", headers: { x: "1", y: "2" }, other: "o" };
    const update = { token: "********", headers: { x: "********", y: "new", w: "********" }, other: "********" };
    expect(restoreObfuscatedSecrets(update, current, { secret_fields: ["token", "headers.*", "other"] })).toEqual({
      token: "abc",
      headers: { x: "1", y: "new", w: "********" },
      other: "o",
    });
  });

  test("a __proto__ data key stays a plain key", () => {
    const data = JSON.parse('{"__proto__": {"polluted": "yes"}, "s": "x"}') as JsonObject;
    const out = obfuscateSecrets(data, { secret_fields: ["s"] });
    expect(Object.keys(out)).toEqual(["__proto__", "s"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("block document data", () => {
  const ref = (id: string) => ({ $ref: { block_document_id: id } });
  const CHILD = "0194a2c1-0000-7000-8000-000000000001";

  test("top-level $ref values become references", () => {
    const separated = separateReferences({ a: 1, child: ref(CHILD.toUpperCase()), nested: { deep: ref(CHILD) } });
    expect(separated.references).toEqual([["child", CHILD]]);
    expect(separated.data).toEqual({ a: 1, nested: { deep: ref(CHILD) } });
  });

  test("a $ref without block_document_id is a 400", () => {
    expect(() => separateReferences({ bad: { $ref: {} } })).toThrow("Received block reference without a block_document_id in key bad");
  });

  test("references are inlined with their own secrets obfuscated", () => {
    const type = { slug: "t" };
    const documents = new Map<string, StoredDocument>([
      ["p", { id: "p", name: "parent", data: { own: "x" }, isAnonymous: false, schemaFields: {}, blockType: type }],
      ["c", { id: "c", name: "child", data: { key: "s" }, isAnonymous: true, schemaFields: { secret_fields: ["key"] }, blockType: type }],
    ]);
    const assembled = assembleDocument("p", documents, [{ parentId: "p", name: "creds", childId: "c" }], false);
    expect(assembled.data).toEqual({ own: "x", creds: { key: "********" } });
    expect(assembled.block_document_references).toEqual({
      creds: { block_document: { id: "c", name: "child", block_type: type, is_anonymous: true, block_document_references: {} } },
    });
    expect(documents.get("p")!.data).toEqual({ own: "x" });
  });

  test("updates merge shallowly by default, replace otherwise, and no data with merging changes nothing", () => {
    const current = { a: 1, b: { c: 2 } };
    expect(updatedDocumentData(current, {}, { data: { b: { d: 3 } } })!.data).toEqual({ a: 1, b: { d: 3 } });
    expect(updatedDocumentData(current, {}, { data: { b: 1 }, merge_existing_data: false })!.data).toEqual({ b: 1 });
    expect(updatedDocumentData(current, {}, { merge_existing_data: false })!.data).toEqual({});
    expect(updatedDocumentData(current, {}, {})).toBeUndefined();
  });
});
