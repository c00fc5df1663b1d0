/**
 * The artifact markers of a v2 flow-run graph (query_components._get_flow_run_graph_artifacts):
 * the run's own artifacts but results, oldest first, grouped by task run (null: the flow run's).
 */
import type { Store } from "../db/store";
import { formatDateTime } from "../lib/time";
import type { JsonValue } from "../lib/json";

/** PREFECT_SERVER_FLOW_RUN_GRAPH_MAX_ARTIFACTS' default. */
const MAX_GRAPH_ARTIFACTS = 10_000;

export interface GraphArtifact {
  id: string;
  created: string;
  key: string | null;
  type: string | null;
  is_latest: boolean;
  data: JsonValue | null;
}

export async function graphArtifacts(store: Store, flowRunId: string): Promise<Map<string | null, GraphArtifact[]>> {
  const rows = await store.read((q) =>
    q.artifacts.list(
      { artifacts: { flow_run_id: { any_: [flowRunId] }, type: { not_any_: ["result"] } } },
      "CREATED_DESC",
      Number.MAX_SAFE_INTEGER,
      0,
    ),
  );
  const oldestFirst = rows.reverse().slice(0, MAX_GRAPH_ARTIFACTS);
  const keys = [...new Set(oldestFirst.map((a) => a.key).filter((key): key is string => key !== null))];
  const latest = keys.length === 0 ? [] : await store.read((q) => q.artifacts.listLatest({ artifacts: { key: { any_: keys } } }, "KEY_ASC", keys.length, 0));
  const latestIds = new Set(latest.map((c) => c.latestId));
  const byTask = new Map<string | null, GraphArtifact[]>();
  for (const a of oldestFirst) {
    const list = byTask.get(a.taskRunId) ?? [];
    list.push({
      id: a.id,
      created: formatDateTime(a.created),
      key: a.key,
      type: a.type,
      is_latest: a.key === null || latestIds.has(a.id),
      // Only progress artifacts carry their data on the graph.
      data: a.type === "progress" ? (a.data ?? null) : null,
    });
    byTask.set(a.taskRunId, list);
  }
  return byTask;
}
