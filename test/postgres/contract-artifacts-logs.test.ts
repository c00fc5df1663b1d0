/** The repository contract (test/support/contract.ts) for artifacts (with their collection) and logs. */
import { expect } from "bun:test";
import * as pg from "../../src/db/postgres/schema";
import { PgStore, type PgPortedRepositories } from "../../src/db/postgres/store";
import type { ArtifactCreate, ArtifactRow } from "../../src/db/repos/artifacts";
import type { NewLog } from "../../src/db/repos/logs";
import * as lite from "../../src/db/schema";
import { SqliteStore } from "../../src/db/store";
import type { JsonValue } from "../../src/lib/json";
import { formatDateTime } from "../../src/lib/time";
import { contractSuite, MISSING, T0, type ContractStore } from "../support/contract";

type Artifacts = PgPortedRepositories["artifacts"];
type Logs = PgPortedRepositories["logs"];

/** A row both schemas accept. */
type Seed<K extends "deployment" | "flowRun" | "taskRun"> = (typeof lite)[K]["$inferInsert"] & (typeof pg)[K]["$inferInsert"];

/**
 * Arranges the runs and deployments artifact filters reach through, directly in the tables:
 * their repositories are not ported yet, so the store cannot write them.
 */
async function seed(store: ContractStore, rows: { deployments: Seed<"deployment">[]; flowRuns: Seed<"flowRun">[]; taskRuns: Seed<"taskRun">[] }) {
  if (store instanceof PgStore) {
    await store.db.insert(pg.deployment).values(rows.deployments);
    await store.db.insert(pg.flowRun).values(rows.flowRuns);
    await store.db.insert(pg.taskRun).values(rows.taskRuns);
  } else if (store instanceof SqliteStore) {
    store.db.insert(lite.deployment).values(rows.deployments).run();
    store.db.insert(lite.flowRun).values(rows.flowRuns).run();
    store.db.insert(lite.taskRun).values(rows.taskRuns).run();
  } else {
    throw new Error("a contract store is SQLite's or PostgreSQL's");
  }
}

const JSON_VALUES: JsonValue[] = [
  { nested: { list: [1, 2.5, -3e-7, true, false, null, "x"], empty: {}, none: [] } },
  ["a", { b: [null] }],
  "| a | markdown |\n|---|---|\n with ünïcödé, emoji 🚀, \"quotes\" and \\ backslash",
  3,
  2 ** 53 - 1,
  -0.1,
  true,
  [],
  {},
];

const artifactInput = (fields: Partial<ArtifactCreate> = {}): ArtifactCreate => ({
  key: null,
  type: "markdown",
  description: null,
  data: null,
  metadata: null,
  flowRunId: null,
  taskRunId: null,
  ...fields,
});

const logInput = (fields: Partial<NewLog> & Pick<NewLog, "message" | "timestamp">): NewLog => ({
  name: "prefect.flow_runs",
  level: 20,
  flowRunId: null,
  taskRunId: null,
  ...fields,
});

contractSuite("artifacts, logs", ["artifact", "artifact_collection", "log", "task_run", "flow_run", "deployment", "flow"], {
  async "artifacts: create, the collection follows each key's latest, reads, every JSON value, timestamps to the microsecond"(store) {
    const created: ArtifactRow[] = [];
    for (const [i, data] of JSON_VALUES.entries()) {
      const key = i % 3 === 0 ? null : `key-${i % 3}`;
      created.push(await store.write((tx) => tx.artifacts.create(artifactInput({ key, data, description: `d${i}`, metadata: { i: String(i) } }), T0 + i)));
    }
    const read = await Promise.all(created.map((row) => store.read((q) => q.artifacts.get(row.id))));
    for (const [i, row] of read.entries()) {
      expect(row).toEqual(created[i]!);
      expect(row!.data).toEqual(JSON_VALUES[i]!);
      expect(row!.created).toBe(T0 + i);
    }
    const latest1 = await store.read((q) => q.artifacts.getLatest("key-1"));
    expect(latest1).toMatchObject({ latestId: created[7]!.id, created: T0 + 1, updated: T0 + 7, data: [], description: "d7" });
    return {
      created,
      read,
      latest1,
      latest2: await store.read((q) => q.artifacts.getLatest("key-2")),
      latestMissing: (await store.read((q) => q.artifacts.getLatest("nope"))) ?? null,
      getMissing: (await store.read((q) => q.artifacts.get(MISSING))) ?? null,
    };
  },

  async "artifacts: updates (explicit nulls too) reach the collection only from its latest; deletes hand the collection to the previous version"(store) {
    const v1 = await store.write((tx) => tx.artifacts.create(artifactInput({ key: "k", data: { v: 1 }, flowRunId: MISSING }), T0));
    const v2 = await store.write((tx) => tx.artifacts.create(artifactInput({ key: "k", data: { v: 2 }, type: "table", description: "two" }), T0 + 1));
    const v3 = await store.write((tx) => tx.artifacts.create(artifactInput({ key: "k", data: { v: 3 }, metadata: { m: "3" } }), T0 + 2));
    const unkeyed = await store.write((tx) => tx.artifacts.create(artifactInput({ data: [1] }), T0 + 3));
    const updateLatest = await store.write((tx) => tx.artifacts.update(v3.id, { description: "new", data: null, metadata: { a: "1" } }, T0 + 10));
    const latestAfterUpdate = await store.read((q) => q.artifacts.getLatest("k"));
    expect(latestAfterUpdate).toMatchObject({ latestId: v3.id, description: "new", data: null, metadata: { a: "1" }, created: T0, updated: T0 + 10 });
    const updateOlder = await store.write((tx) => tx.artifacts.update(v1.id, { description: "old", metadata: null }, T0 + 11));
    const updateNothing = await store.write((tx) => tx.artifacts.update(unkeyed.id, {}, T0 + 12));
    const updateMissing = await store.write((tx) => tx.artifacts.update(MISSING, { description: "x" }, T0 + 13));
    expect([updateLatest, updateOlder, updateNothing, updateMissing]).toEqual([true, true, true, false]);
    const observed = {
      latestAfterUpdate,
      v1AfterUpdate: await store.read((q) => q.artifacts.get(v1.id)),
      unkeyedAfterUpdate: await store.read((q) => q.artifacts.get(unkeyed.id)),
      latestUnchangedByOlder: await store.read((q) => q.artifacts.getLatest("k")),
      deleteLatest: await store.write((tx) => tx.artifacts.delete(v3.id)),
      latestAfterDeletingV3: await store.read((q) => q.artifacts.getLatest("k")),
      deleteOlder: await store.write((tx) => tx.artifacts.delete(v1.id)),
      latestAfterDeletingV1: await store.read((q) => q.artifacts.getLatest("k")),
      deleteLast: await store.write((tx) => tx.artifacts.delete(v2.id)),
      latestAfterDeletingAll: (await store.read((q) => q.artifacts.getLatest("k"))) ?? null,
      deleteUnkeyed: await store.write((tx) => tx.artifacts.delete(unkeyed.id)),
      deleteAgain: await store.write((tx) => tx.artifacts.delete(unkeyed.id)),
      left: await store.read((q) => q.artifacts.count({})),
      collectionsLeft: await store.read((q) => q.artifacts.countLatest({})),
    };
    // the collection takes on v2 whole, its timestamps too
    expect(observed.latestAfterDeletingV3).toMatchObject({ latestId: v2.id, created: T0 + 1, updated: T0 + 1, type: "table", description: "two", metadata: null });
    expect(observed.latestAfterDeletingV1).toEqual(observed.latestAfterDeletingV3);
    expect([observed.latestAfterDeletingAll, observed.left, observed.collectionsLeft]).toEqual([null, 0, 0]);
    return observed;
  },

  async "artifacts and collections: filters (through runs, task runs, flows and deployments too), sorts with null keys, paging, counts"(store) {
    const etl = (await store.write((tx) => tx.flows.upsertByName({ name: "etl", tags: ["prod"], labels: {} }, T0))).row;
    const other = (await store.write((tx) => tx.flows.upsertByName({ name: "other", tags: [], labels: {} }, T0))).row;
    const deploymentId = Bun.randomUUIDv7();
    const [r1, r2, r3, t1, t2] = [1, 2, 3, 4, 5].map(() => Bun.randomUUIDv7()) as [string, string, string, string, string];
    const run = (id: string, flowId: string, stateType: string, extra: Partial<Seed<"flowRun">> = {}): Seed<"flowRun"> => ({
      id, created: T0, updated: T0, name: `run-${id.slice(-4)}`, flowId, parameters: {}, context: {}, empiricalPolicy: {}, tags: [], labels: {},
      stateType, stateName: stateType.toLowerCase(), startTime: T0 + 5, ...extra,
    });
    const task = (id: string, flowRunId: string, name: string, stateType: string): Seed<"taskRun"> => ({
      id, created: T0, updated: T0, name, flowRunId, taskKey: name, dynamicKey: "0", empiricalPolicy: {}, tags: [], labels: {}, taskInputs: {}, stateType,
    });
    await seed(store, {
      deployments: [{ id: deploymentId, created: T0, updated: T0, name: "nightly", flowId: etl.id, jobVariables: {}, tags: ["prod"], labels: {}, parameters: {} }],
      flowRuns: [
        run(r1, etl.id, "COMPLETED", { deploymentId, tags: ["a"] }),
        run(r2, etl.id, "FAILED", { startTime: null, expectedStartTime: T0 + 1 }),
        run(r3, other.id, "COMPLETED"),
      ],
      taskRuns: [task(t1, r1, "extract", "COMPLETED"), task(t2, r2, "load", "FAILED")],
    });
    const specs: [string | null, string | null, string | null, string | null][] = [
      ["report", "markdown", r1, t1],
      ["report", "table", r2, t2],
      ["summary", "markdown", r3, null],
      [null, "result", r1, null],
      [null, null, null, null],
      ["Report-2", "table", r2, null],
      ["per%cent", "link", null, null],
      ["_under", "markdown", MISSING, null],
    ];
    const ids: string[] = [];
    for (const [i, [key, type, flowRunId, taskRunId]] of specs.entries()) {
      // created out of order, updated in order: each sort gives its own order
      const row = await store.write((tx) => tx.artifacts.create(artifactInput({ key, type, flowRunId, taskRunId, description: `a${i}` }), T0 + ((i * 5) % 8)));
      ids.push(row.id);
      await store.write((tx) => tx.artifacts.update(row.id, { description: `a${i}` }, T0 + 100 + i));
    }
    const label = (id: string) => `a${ids.indexOf(id)}`;
    type Filters = Parameters<Artifacts["list"]>[0];
    type CollectionFilters = Parameters<Artifacts["listLatest"]>[0];
    const list = (filters: Filters, sort: Parameters<Artifacts["list"]>[1] = "ID_DESC", limit = 100, offset = 0) =>
      store.read((q) => q.artifacts.list(filters, sort, limit, offset)).then((rows) => rows.map((r) => label(r.id)));
    const latest = (filters: CollectionFilters, sort: Parameters<Artifacts["listLatest"]>[1] = "KEY_ASC", limit = 100, offset = 0) =>
      store.read((q) => q.artifacts.listLatest(filters, sort, limit, offset)).then((rows) => rows.map((r) => `${r.key}=${label(r.latestId)}`));
    const observed = {
      idDesc: await list({}),
      createdDesc: await list({}, "CREATED_DESC"),
      updatedDesc: await list({}, "UPDATED_DESC"),
      keyAsc: await list({}, "KEY_ASC"),
      keyDesc: await list({}, "KEY_DESC"),
      page: await list({}, "KEY_ASC", 3, 2),
      byId: await list({ artifacts: { id: { any_: [ids[2]!, MISSING] } } }),
      keyAny: await list({ artifacts: { key: { any_: ["report", "summary"] } } }),
      keyAnyEmpty: await list({ artifacts: { key: { any_: [] } } }),
      keyLike: await list({ artifacts: { key: { like_: "REPORT" } } }),
      keyLikeWildcards: await list({ artifacts: { key: { like_: "r%t" } } }),
      keyExists: await list({ artifacts: { key: { exists_: true } } }),
      keyMissing: await list({ artifacts: { key: { exists_: false } } }),
      typeAny: await list({ artifacts: { type: { any_: ["table", "link"] } } }),
      typeNotAny: await list({ artifacts: { type: { not_any_: ["markdown"] } } }),
      flowRunAny: await list({ artifacts: { flow_run_id: { any_: [r2] } } }),
      // Prefect parses each UUID it is sent: any spelling names the same row
      flowRunUpperCase: await list({ artifacts: { flow_run_id: { any_: [r2.toUpperCase()] } } }),
      idUnhyphenated: await list({ artifacts: { id: { any_: [ids[3]!.replaceAll("-", "")] } } }),
      taskRunAny: await list({ artifacts: { task_run_id: { any_: [t1, t2] } } }),
      orKeyOrType: await list({ artifacts: { operator: "or_", key: { any_: ["summary"] }, type: { any_: ["link"] } } }),
      orWithEmptyGroup: await list({ artifacts: { operator: "or_", key: { any_: ["summary"] }, type: {} } }),
      withAnyRun: await list({ flow_runs: {} }),
      runCompleted: await list({ flow_runs: { state: { type: { any_: ["COMPLETED"] } } } }),
      runStartedAfter: await list({ flow_runs: { start_time: { after_: formatDateTime(T0 + 2) } } }),
      runTags: await list({ flow_runs: { tags: { all_: ["a"] } } }),
      withAnyTaskRun: await list({ task_runs: {} }),
      taskRunName: await list({ task_runs: { name: { any_: ["extract"] } } }),
      flowName: await list({ flows: { name: { any_: ["etl"] } } }),
      flowTagsAndRunFailed: await list({ flows: { tags: { all_: ["prod"] } }, flow_runs: { state: { type: { any_: ["FAILED"] } } } }),
      deploymentName: await list({ deployments: { name: { any_: ["nightly"] } } }),
      deploymentEmpty: await list({ deployments: {} }),
      ownAndRelated: await list({ artifacts: { type: { any_: ["markdown"] } }, flows: { name: { like_: "ET" } } }),
      count: await store.read((q) => q.artifacts.count({})),
      countKeyed: await store.read((q) => q.artifacts.count({ artifacts: { key: { exists_: true } } })),
      countRelated: await store.read((q) => q.artifacts.count({ task_runs: {} })),
      latestKeyAsc: await latest({}),
      latestKeyDesc: await latest({}, "KEY_DESC"),
      latestIdDesc: await latest({}, "ID_DESC"),
      latestCreatedDesc: await latest({}, "CREATED_DESC"),
      latestUpdatedDesc: await latest({}, "UPDATED_DESC"),
      latestPage: await latest({}, "KEY_ASC", 2, 1),
      latestById: await latest({ artifacts: { latest_id: { any_: [ids[1]!, ids[0]!.toUpperCase()] } } }),
      latestTaskRunUpperCase: await latest({ artifacts: { task_run_id: { any_: [t2.toUpperCase()] } } }),
      latestKeyLike: await latest({ artifacts: { key: { like_: "rep" } } }),
      latestTypeNotAny: await latest({ artifacts: { type: { not_any_: ["table"] } } }),
      latestRunFailed: await latest({ flow_runs: { state: { type: { any_: ["FAILED"] } } } }),
      latestTaskRun: await latest({ task_runs: { name: { any_: ["load"] } } }),
      latestDeployment: await latest({ deployments: { name: { any_: ["nightly"] } } }),
      countLatest: await store.read((q) => q.artifacts.countLatest({})),
      countLatestRelated: await store.read((q) => q.artifacts.countLatest({ flows: { name: { any_: ["etl"] } } })),
    };
    // SQLite's order: a null key sorts first ascending, last descending
    expect(observed.keyAsc).toEqual(["a4", "a3", "a5", "a7", "a6", "a1", "a0", "a2"]);
    expect(observed.keyDesc).toEqual(["a2", "a1", "a0", "a6", "a7", "a5", "a4", "a3"]);
    expect(observed.keyLike).toEqual(["a5", "a1", "a0"]);
    expect(observed.runCompleted).toEqual(["a3", "a2", "a0"]);
    expect([observed.flowRunUpperCase, observed.idUnhyphenated, observed.latestById]).toEqual([["a5", "a1"], ["a3"], ["report=a1"]]);
    expect(observed.latestKeyAsc).toEqual(["Report-2=a5", "_under=a7", "per%cent=a6", "report=a1", "summary=a2"]);
    expect(observed.count).toBe(specs.length);
    return observed;
  },

  async "artifacts under concurrency: deletes of two versions of a key leave the collection on the one left; creates of one key leave one collection row"(store) {
    const versions: ArtifactRow[] = [];
    for (const v of [1, 2, 3]) versions.push(await store.write((tx) => tx.artifacts.create(artifactInput({ key: "k", data: { v } }), T0 + v)));
    // opens the pool's connections first, so the racing writes below do not wait for one each
    await Promise.all([1, 2, 3, 4].map(() => store.read((q) => q.artifacts.count({}))));
    const deletes = await Promise.all([versions[2]!, versions[1]!].map((row) => store.write((tx) => tx.artifacts.delete(row.id))));
    const afterDeletes = await store.read((q) => q.artifacts.getLatest("k"));
    expect(afterDeletes?.latestId).toBe(versions[0]!.id);
    const sameArtifact = await Promise.all([1, 2].map(() => store.write((tx) => tx.artifacts.delete(versions[0]!.id))));
    expect(sameArtifact.sort()).toEqual([false, true]);
    const created = await Promise.all([1, 2, 3, 4].map((n) => store.write((tx) => tx.artifacts.create(artifactInput({ key: "many", data: { n } }), T0 + 10))));
    const many = await store.read((q) => q.artifacts.getLatest("many"));
    expect(created.map((row) => row.id)).toContain(many!.latestId);
    return {
      deletes,
      afterDeletes,
      sameArtifact: sameArtifact.sort(),
      collections: await store.read((q) => q.artifacts.countLatest({ artifacts: { key: { any_: ["many"] } } })),
      artifacts: await store.read((q) => q.artifacts.count({ artifacts: { key: { any_: ["many"] } } })),
    };
  },

  async "logs: batches, timestamps to the microsecond, ties keep insertion order, filters, text search, sorts, paging, a flow run's logs"(store) {
    const [run1, run2, task1] = [1, 2, 3].map(() => Bun.randomUUIDv7()) as [string, string, string];
    await store.write((tx) =>
      tx.logs.createMany(
        [
          logInput({ message: "Starting flow run", timestamp: T0, flowRunId: run1, level: 20 }),
          logInput({ message: "Disk full: cannot write", timestamp: T0 + 1, flowRunId: run1, taskRunId: task1, level: 40, name: "prefect.task_runs" }),
          logInput({ message: "debugging the DISK", timestamp: T0, flowRunId: run1, level: 10 }),
          logInput({ message: "ünïcödé 🚀 \"quoted\" \\ and a\nnew line", timestamp: T0 + 2, flowRunId: run2, level: 30 }),
          logInput({ message: "tie a", timestamp: T0 + 3, level: 50, name: "worker" }),
        ],
        T0 + 100,
      ),
    );
    await store.write((tx) => tx.logs.createMany([], T0));
    await store.write((tx) =>
      tx.logs.createMany(
        [
          logInput({ message: "tie b (a later batch)", timestamp: T0 + 3, flowRunId: run2, level: 20 }),
          logInput({ message: "earlier, sent later", timestamp: T0 - 1, flowRunId: run1, taskRunId: task1, level: 20 }),
          logInput({ message: "tie c", timestamp: T0 + 3, flowRunId: run1, level: 20 }),
          logInput({ message: "a lone \ud800 surrogate", timestamp: T0 + 4, name: "surrogates \udfff" }),
        ],
        T0 + 200,
      ),
    );
    const rolledBack = await store
      .write(function* (tx) {
        yield* tx.logs.createMany([logInput({ message: "never", timestamp: T0 })], T0);
        throw new Error("after the insert");
      })
      .catch((error: Error) => error.message);
    type Filter = Parameters<Logs["list"]>[0];
    const list = (filter: Filter, sort: Parameters<Logs["list"]>[1] = "TIMESTAMP_ASC", limit = 100, offset = 0) =>
      store.read((q) => q.logs.list(filter, sort, limit, offset)).then((rows) => rows.map((r) => r.message));
    const all = await store.read((q) => q.logs.list(null, "TIMESTAMP_ASC", 100, 0));
    expect(all.map((r) => r.timestamp)).toEqual([T0 - 1, T0, T0, T0 + 1, T0 + 2, T0 + 3, T0 + 3, T0 + 3, T0 + 4]);
    // a lone surrogate is stored as U+FFFD, as UTF-8 cannot encode it
    expect(all[8]).toMatchObject({ message: "a lone \ufffd surrogate", name: "surrogates \ufffd" });
    expect(all[1]).toMatchObject({ created: T0 + 100, updated: T0 + 100, level: 20, flowRunId: run1, taskRunId: null, name: "prefect.flow_runs" });
    const observed = {
      all,
      rolledBack,
      desc: await list(null, "TIMESTAMP_DESC"),
      page: await list(null, "TIMESTAMP_ASC", 3, 4),
      pageDesc: await list(null, "TIMESTAMP_DESC", 2, 1),
      levelRange: await list({ level: { ge_: 20, le_: 40 } }),
      levelEmptyGroup: await list({ level: {} }),
      after: await list({ timestamp: { after_: formatDateTime(T0 + 1) } }),
      before: await list({ timestamp: { before_: formatDateTime(T0) } }),
      between: await list({ timestamp: { after_: formatDateTime(T0), before_: formatDateTime(T0 + 2) } }),
      flowRun: await list({ flow_run_id: { any_: [run2] } }),
      flowRunUpperCase: await list({ flow_run_id: { any_: [run2.toUpperCase()] } }),
      taskRun: await list({ task_run_id: { any_: [task1] } }),
      noTaskRun: await list({ task_run_id: { is_null_: true } }),
      someTaskRun: await list({ task_run_id: { is_null_: false } }),
      textInclude: await list({ text: { query: "disk tie" } }),
      textExclude: await list({ text: { query: "-disk -tie" } }),
      textRequired: await list({ text: { query: "+disk +full" } }),
      textPhrase: await list({ text: { query: '"disk full"' } }),
      textName: await list({ text: { query: "task_runs" } }),
      textUnicode: await list({ text: { query: "ÜNÏ" } }),
      textPercentIsLiteral: await list({ text: { query: "%" } }),
      orLevelOrText: await list({ operator: "or_", level: { ge_: 50 }, text: { query: "debugging" } }),
      orTextTerms: await list({ operator: "or_", flow_run_id: { any_: [run2] }, text: { query: "+starting" } }),
      forRun1: await store.read((q) => q.logs.forFlowRun(run1)),
      forMissing: await store.read((q) => q.logs.forFlowRun(MISSING)),
    };
    expect(observed.desc).toEqual(["a lone \ufffd surrogate", "tie c", "tie b (a later batch)", "tie a", "ünïcödé 🚀 \"quoted\" \\ and a\nnew line", "Disk full: cannot write", "debugging the DISK", "Starting flow run", "earlier, sent later"]);
    expect(observed.textInclude).toEqual(["debugging the DISK", "Disk full: cannot write", "tie a", "tie b (a later batch)", "tie c"]);
    expect(observed.forRun1.map((r) => r.message)).toEqual(["earlier, sent later", "Starting flow run", "debugging the DISK", "Disk full: cannot write", "tie c"]);
    expect(rolledBack).toBe("after the insert");
    return observed;
  },

  async "logs: a batch past PostgreSQL's 65,535 bind parameters is written whole, in order, in one transaction"(store) {
    // more rows than one multi-row VALUES could bind (65,535 parameters / 9 columns = 7,281 rows)
    const size = 7_281 + 38;
    const message = (i: number) => `m${String(i).padStart(5, "0")}`;
    // one timestamp for all: only the insertion order tells them apart
    const batch = Array.from({ length: size }, (_, i) => logInput({ message: message(i), timestamp: T0, level: i % 50 }));
    await store.write((tx) => tx.logs.createMany(batch, T0));
    const rows = await store.read((q) => q.logs.list(null, "TIMESTAMP_ASC", size + 1, 0));
    expect(rows).toHaveLength(size);
    const inOrder = rows.every((row, i) => row.message === message(i));
    expect(inOrder).toBe(true);
    const failed = await store
      .write(function* (tx) {
        yield* tx.logs.createMany(batch.map((entry) => ({ ...entry, timestamp: T0 + 1 })), T0 + 1);
        throw new Error("rolled back");
      })
      .catch((error: Error) => error.message);
    return {
      count: rows.length,
      inOrder,
      failed,
      around7281: await store.read((q) => q.logs.list(null, "TIMESTAMP_ASC", 4, 7_279)).then((r) => r.map((x) => x.message)),
      lastDesc: await store.read((q) => q.logs.list(null, "TIMESTAMP_DESC", 3, 0)).then((r) => r.map((x) => x.message)),
      afterRollback: await store.read((q) => q.logs.list({ timestamp: { after_: formatDateTime(T0 + 1) } }, "TIMESTAMP_ASC", 10, 0)).then((r) => r.length),
    };
  },
});
