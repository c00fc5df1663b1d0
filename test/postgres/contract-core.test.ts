/**
 * The repository contract (test/support/contract.ts) for configuration, flows, variables and
 * saved searches, and the unit of work itself.
 */
import { expect, test } from "bun:test";
import type { PgPortedRepositories } from "../../src/db/postgres/store";
import type { FlowRow } from "../../src/db/repos/flows";
import type { JsonValue } from "../../src/lib/json";
import { contractSuite, errorOf, event, MISSING, T0, type ContractStore } from "../support/contract";

const JSON_VALUES: JsonValue[] = [
  { nested: { list: [1, 2.5, -3e-7, true, false, null, "x"], empty: {}, none: [] } },
  ["a", { b: [null] }],
  "plain text with ünïcödé, emoji 🚀 and \"quotes\" \\ backslash",
  3,
  2 ** 53 - 1,
  -0.1,
  true,
  null,
  [],
  {},
];

contractSuite("configuration, flows, variables, saved searches", ["variable", "configuration", "saved_search", "flow"], {
  async "variables: create and read back, timestamps to the microsecond, every JSON value"(store) {
    const created = [];
    for (const [i, value] of JSON_VALUES.entries()) {
      const row = await store.write((tx) => tx.variables.create({ name: `v${i}`, value, tags: ["t", `n${i}`] }, T0 + i));
      expect(row).toBeDefined();
      created.push(row);
    }
    const read = await Promise.all(JSON_VALUES.map((_, i) => store.read((q) => q.variables.getByName(`v${i}`))));
    for (const [i, row] of read.entries()) {
      expect(row!.created).toBe(T0 + i);
      expect(row!.updated).toBe(T0 + i);
      expect(row!.value).toEqual(JSON_VALUES[i]!);
      expect(row!.tags).toEqual(["t", `n${i}`]);
    }
    const byId = await store.read((q) => q.variables.get(read[0]!.id));
    expect(byId).toEqual(read[0]!);
    const duplicate = await store.write((tx) => tx.variables.create({ name: "v0", value: 1, tags: [] }, T0));
    expect(duplicate).toBeUndefined();
    expect(await store.read((q) => q.variables.get(MISSING))).toBeUndefined();
    return { created, read, duplicate: duplicate ?? null };
  },

  async "variables: filters, sorts, limits and counts"(store) {
    const names = ["beta", "Alpha", "_under", "Zeta", "alpha", "per%cent", "back\\slash", "gamma"];
    for (const [i, name] of names.entries()) {
      const tags = i % 3 === 0 ? [] : i % 3 === 1 ? ["red"] : ["red", "blue"];
      await store.write((tx) => tx.variables.create({ name, value: i, tags }, T0 + i * 1_000_001));
    }
    const list = (filter: Parameters<PgPortedRepositories["variables"]["list"]>[0], sort: Parameters<PgPortedRepositories["variables"]["list"]>[1] = "NAME_ASC", limit = 100, offset = 0) =>
      store.read((q) => q.variables.list(filter, sort, limit, offset)).then((rows) => rows.map((r) => r.name));
    const observed = {
      nameAsc: await list(null),
      nameDesc: await list(null, "NAME_DESC"),
      createdDesc: await list(null, "CREATED_DESC"),
      updatedDescPage: await list(null, "UPDATED_DESC", 3, 2),
      likeCaseInsensitive: await list({ name: { like_: "ALPH" } }),
      likePercentIsWildcard: await list({ name: { like_: "per%t" } }),
      likeBackslashIsLiteral: await list({ name: { like_: "k\\s" } }),
      likeUnderscoreIsWildcard: await list({ name: { like_: "_a" } }),
      nameAny: await list({ name: { any_: ["beta", "gamma", "nope"] } }),
      nameAnyEmpty: await list({ name: { any_: [] } }),
      tagsAll: await list({ tags: { all_: ["red", "blue"] } }),
      tagsAllEmptyIsIgnored: await list({ tags: { all_: [] } }),
      tagsEmpty: await list({ tags: { is_null_: true } }),
      tagsNotEmpty: await list({ tags: { is_null_: false } }),
      orOfEmptyGroup: await list({ operator: "or_", name: { any_: ["beta"] }, tags: {} }),
      orNameOrTag: await list({ operator: "or_", name: { any_: ["beta"] }, tags: { all_: ["blue"] } }),
      count: await store.read((q) => q.variables.count(null)),
      countRed: await store.read((q) => q.variables.count({ tags: { all_: ["red"] } })),
    };
    expect(observed.nameAsc).toEqual(["Alpha", "Zeta", "_under", "alpha", "back\\slash", "beta", "gamma", "per%cent"]);
    expect(observed.likeCaseInsensitive).toEqual(["Alpha", "alpha"]);
    expect(observed.likeBackslashIsLiteral).toEqual(["back\\slash"]);
    expect(observed.tagsAll).toEqual(["_under", "per%cent"]);
    expect(observed.orOfEmptyGroup).toHaveLength(names.length);
    expect(observed.count).toBe(names.length);
    return observed;
  },

  async "variables: updates, renames, NOT NULL and unique conflicts, deletes"(store) {
    const a = (await store.write((tx) => tx.variables.create({ name: "a", value: { x: 1 }, tags: ["t"] }, T0)))!;
    await store.write((tx) => tx.variables.create({ name: "b", value: 2, tags: [] }, T0));
    const updated = await store.write((tx) => tx.variables.update(a.id, { value: ["new", { y: null }] }, T0 + 1));
    const afterUpdate = await store.read((q) => q.variables.get(a.id));
    expect(afterUpdate).toMatchObject({ name: "a", value: ["new", { y: null }], tags: ["t"], created: T0, updated: T0 + 1 });
    const valueToNull = await store.write((tx) => tx.variables.updateByName("a", { value: null }, T0 + 2));
    const nullName = await errorOf(store.write((tx) => tx.variables.update(a.id, { name: null }, T0 + 3)));
    const nullTags = await errorOf(store.write((tx) => tx.variables.update(a.id, { tags: null }, T0 + 3)));
    const clash = await errorOf(store.write((tx) => tx.variables.update(a.id, { name: "b" }, T0 + 3)));
    expect([nullName, nullTags, clash]).toEqual(["StoreConflictError", "StoreConflictError", "StoreConflictError"]);
    const afterConflicts = await store.read((q) => q.variables.get(a.id));
    expect(afterConflicts).toMatchObject({ name: "a", value: null, updated: T0 + 2 });
    return {
      updated,
      afterUpdate,
      valueToNull,
      afterConflicts,
      updateMissing: await store.write((tx) => tx.variables.update(MISSING, { value: 1 }, T0)),
      updateByNameMissing: await store.write((tx) => tx.variables.updateByName("nope", { value: 1 }, T0)),
      delete: await store.write((tx) => tx.variables.delete(a.id)),
      deleteAgain: await store.write((tx) => tx.variables.delete(a.id)),
      deleteByName: await store.write((tx) => tx.variables.deleteByName("b")),
      left: await store.read((q) => q.variables.count(null)),
    };
  },

  async "flows: upsert by name, read, update, filters (nested ones too), sorts, counts, deletes"(store) {
    const names = ["etl", "ETL-nightly", "backfill", "_private", "Zed"];
    const created: { row: FlowRow; created: boolean }[] = [];
    for (const [i, name] of names.entries()) {
      const tags = i % 2 === 0 ? ["prod", `n${i}`] : [];
      created.push(await store.write((tx) => tx.flows.upsertByName({ name, tags, labels: { team: "data", i } }, T0 + i)));
    }
    const again = await store.write((tx) => tx.flows.upsertByName({ name: "etl", tags: ["other"], labels: {} }, T0 + 99));
    expect(again).toMatchObject({ created: false, row: { id: created[0]!.row.id, tags: ["prod", "n0"], created: T0 } });
    const sameTransaction = await store.write(function* (tx) {
      const first = yield* tx.flows.upsertByName({ name: "twice", tags: [], labels: {} }, T0);
      const second = yield* tx.flows.upsertByName({ name: "twice", tags: [], labels: {} }, T0);
      return [first.created, second.created, first.row.id === second.row.id];
    });
    expect(sameTransaction).toEqual([true, false, true]);
    const list = (filters: Parameters<PgPortedRepositories["flows"]["list"]>[0], sort: Parameters<PgPortedRepositories["flows"]["list"]>[1] = "NAME_ASC") =>
      store.read((q) => q.flows.list(filters, sort, 100, 0)).then((rows) => rows.map((r) => r.name));
    const updated = await store.write((tx) => tx.flows.update(created[1]!.row.id, { tags: ["new"], labels: { x: [1] } }, T0 + 50));
    const observed = {
      created,
      again,
      get: await store.read((q) => q.flows.get(created[1]!.row.id)),
      getByName: await store.read((q) => q.flows.getByName("Zed")),
      updated,
      updateMissing: await store.write((tx) => tx.flows.update(MISSING, { tags: [] }, T0)),
      nameAsc: await list({}),
      nameDesc: await list({}, "NAME_DESC"),
      createdDesc: await list({}, "CREATED_DESC"),
      updatedDesc: await list({}, "UPDATED_DESC"),
      like: await list({ flows: { name: { like_: "etl" } } }),
      tagsAny: await list({ flows: { tags: { any_: ["n2", "new"] } } }),
      tagsAll: await list({ flows: { tags: { all_: ["prod", "n4"] } } }),
      tagsEmpty: await list({ flows: { tags: { is_null_: true } } }),
      idNotAny: await list({ flows: { id: { not_any_: [created[0]!.row.id] } } }),
      orNameOrTag: await list({ flows: { operator: "or_", name: { any_: ["Zed"] }, tags: { all_: ["new"] } } }),
      // no flow has runs or deployments yet: a present (even empty) filter on them matches none
      withRuns: await list({ flow_runs: {} }),
      withRunsInState: await list({ flow_runs: { state: { type: { any_: ["COMPLETED"] } }, start_time: { after_: "2026-01-01T00:00:00.000001Z" } } }),
      withDeployments: await list({ deployments: { tags: { all_: ["prod"] } } }),
      count: await store.read((q) => q.flows.count({})),
      countProd: await store.read((q) => q.flows.count({ flows: { tags: { all_: ["prod"] } } })),
    };
    expect(observed.nameAsc).toEqual(["ETL-nightly", "Zed", "_private", "backfill", "etl", "twice"]);
    expect(observed.like).toEqual(["ETL-nightly", "etl"]);
    expect(observed.tagsAny).toEqual(["ETL-nightly", "backfill"]);
    expect(observed.withRuns).toEqual([]);
    expect(observed.count).toBe(6);
    const bulk = await store.write((tx) => tx.flows.bulkDelete({ flows: { tags: { is_null_: true } } }, 10));
    expect(bulk).toHaveLength(2);
    return {
      ...observed,
      bulk: bulk.length,
      delete: await store.write((tx) => tx.flows.delete(created[0]!.row.id)),
      deleteAgain: await store.write((tx) => tx.flows.delete(created[0]!.row.id)),
      left: await list({}),
    };
  },

  async "configuration: write, overwrite, read, delete"(store) {
    const missing = await store.read((q) => q.configuration.read("k"));
    await store.write((tx) => tx.configuration.write("k", { a: [1, { b: "c" }] }, T0));
    const first = await store.read((q) => q.configuration.read("k"));
    await store.write((tx) => tx.configuration.write("k", { a: 2 }, T0 + 1));
    const second = await store.read((q) => q.configuration.read("k"));
    await store.write((tx) => tx.configuration.delete("k"));
    expect(first).toEqual({ a: [1, { b: "c" }] });
    expect(second).toEqual({ a: 2 });
    return { missing, first, second, deleted: await store.read((q) => q.configuration.read("k")), capabilities: await store.read((q) => q.configuration.blockDocumentCapabilities(MISSING)) };
  },

  async "saved searches: upsert keeps the row, list by name, delete"(store) {
    const first = await store.write((tx) => tx.savedSearches.upsert({ name: "mine", filters: [{ property: "state", value: ["x"] }] }, T0));
    const replaced = await store.write((tx) => tx.savedSearches.upsert({ name: "mine", filters: [] }, T0 + 5));
    await store.write((tx) => tx.savedSearches.upsert({ name: "Another", filters: [] }, T0 + 6));
    expect(first.created).toBe(true);
    expect(replaced).toMatchObject({ created: false, row: { id: first.row.id, created: T0, updated: T0, filters: [] } });
    const list = await store.read((q) => q.savedSearches.list(10, 0));
    expect(list.map((r) => r.name)).toEqual(["Another", "mine"]);
    return { first, replaced, list, page: await store.read((q) => q.savedSearches.list(1, 1)), get: await store.read((q) => q.savedSearches.get(first.row.id)), delete: await store.write((tx) => tx.savedSearches.delete(first.row.id)), deleteAgain: await store.write((tx) => tx.savedSearches.delete(first.row.id)) };
  },

  async "unit of work: commit publishes staged events after COMMIT; a throw rolls back every write and drops them"(store, published) {
    let publishedInsideBody: string[] = [];
    await store.write(function* (tx) {
      yield* tx.variables.create({ name: "kept", value: 1, tags: [] }, T0);
      tx.stage(event("first"));
      yield* tx.configuration.write("k", { v: 1 }, T0);
      tx.stage(event("second"));
      publishedInsideBody = [...published];
    });
    expect(publishedInsideBody).toEqual([]);
    expect(published).toEqual(["first", "second"]);
    const thrown = await store
      .write(function* (tx) {
        yield* tx.variables.create({ name: "dropped", value: 1, tags: [] }, T0);
        tx.stage(event("never"));
        yield* tx.configuration.write("k", { v: 2 }, T0);
        throw new Error("domain rule says no");
      })
      .catch((error: Error) => error.message);
    const conflict = await errorOf(
      store.write(function* (tx) {
        yield* tx.configuration.write("k", { v: 3 }, T0);
        tx.stage(event("never either"));
        yield* tx.variables.update((yield* tx.variables.getByName("kept"))!.id, { name: null }, T0);
      }),
    );
    expect(published).toEqual(["first", "second"]);
    return {
      thrown,
      conflict,
      published: [...published],
      variables: (await store.read((q) => q.variables.list(null, "NAME_ASC", 10, 0))).map((r) => r.name),
      configuration: await store.read((q) => q.configuration.read("k")),
    };
  },
});

test("a transaction body cannot yield anything but the data layer's pending queries", () => {
  // Type-level only: neither body may type-check, so neither is ever run.
  const typeCheck = (store: ContractStore) => [
    // @ts-expect-error a Promise is not a PendingQuery
    store.write(function* () {
      yield Promise.resolve(1);
    }),
    // @ts-expect-error nor is a plain value
    store.read(function* () {
      yield 1;
    }),
  ];
  expect(typeof typeCheck).toBe("function");
});
