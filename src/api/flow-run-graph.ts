/**
 * Flow-run graphs for the UI: v1 (task dependency list) and v2 (nodes with
 * parent/child/encapsulating edges), built from the rows of one flow run
 * as Prefect's graph query does (database/query_components.py).
 */
import type { TaskRunWithState } from "../db/repos/task-runs";
import type { FlowRunRow } from "../db/repos/run-mapping";
import { formatDateTime, formatNullable, microsToSeconds, type Micros } from "../lib/time";
import type { State } from "../orchestration/states";
import { estimatedRunTime } from "../runs/estimates";
import { nullableStateJson } from "./state-json";
import type { GraphArtifact } from "../ui/graph-artifacts";

type TaskInputRef = { input_type?: string; id?: string };

function inputRefs(taskInputs: Record<string, unknown>): { key: string; id: string }[] {
  const refs: { key: string; id: string }[] = [];
  for (const [key, values] of Object.entries(taskInputs)) {
    if (!Array.isArray(values)) continue;
    for (const v of values as TaskInputRef[]) if (v && typeof v.id === "string") refs.push({ key, id: v.id });
  }
  return refs;
}

/** v1: one entry per task run with its upstream task inputs. */
export function graphV1(taskRuns: TaskRunWithState[], now: Micros) {
  return taskRuns.map(({ run, state }) => {
    const seen = new Map<string, unknown>();
    for (const values of Object.values(run.taskInputs)) {
      if (Array.isArray(values)) for (const v of values) seen.set(JSON.stringify(v), v);
    }
    return {
      id: run.id,
      name: run.name,
      upstream_dependencies: [...seen.values()],
      state: nullableStateJson(state),
      expected_start_time: formatNullable(run.expectedStartTime),
      start_time: formatNullable(run.startTime),
      end_time: formatNullable(run.endTime),
      total_run_time: microsToSeconds(run.totalRunTime),
      estimated_run_time: estimatedRunTime(run, now),
      untrackable_result: state?.state_details.untrackable_result ?? false,
    };
  });
}

export interface GraphInput {
  flowRun: FlowRunRow;
  taskRuns: TaskRunWithState[];
  /** Subflow runs keyed by their parent (tracking) task run id, with their flow's name. */
  subflows: Map<string, { run: FlowRunRow; flowName: string }>;
  states: State[];
  since: Micros;
  /** Artifact markers by task run id (null: the flow run's own). */
  artifacts?: Map<string | null, GraphArtifact[]>;
}

interface Node {
  kind: "flow-run" | "task-run";
  id: string;
  label: string;
  state_type: string | null;
  start: Micros;
  end: Micros | null;
  parents: string[];
  encapsulating: string[];
}

/** v2: nodes ordered by start time; edges come from task inputs (`__parents__` = encapsulating). */
export function graphV2({ flowRun, taskRuns, subflows, states, since, artifacts }: GraphInput) {
  const nodes = new Map<string, Node>();
  const idOfTask = new Map<string, string>();
  for (const { run } of taskRuns) {
    const sub = subflows.get(run.id);
    const start = sub ? (sub.run.startTime ?? sub.run.expectedStartTime) : (run.startTime ?? run.expectedStartTime);
    if (start == null) continue;
    const id = sub ? sub.run.id : run.id;
    idOfTask.set(run.id, id);
    const end = sub
      ? (sub.run.endTime ?? run.endTime ?? (run.stateType === "COMPLETED" ? run.expectedStartTime : null))
      : (run.endTime ?? (run.stateType === "COMPLETED" ? run.expectedStartTime : null));
    nodes.set(id, {
      kind: sub ? "flow-run" : "task-run",
      id,
      label: sub ? `${sub.flowName} / ${sub.run.name}` : run.name,
      state_type: sub ? sub.run.stateType : run.stateType,
      start,
      end,
      parents: [],
      encapsulating: [],
    });
  }
  for (const { run } of taskRuns) {
    const node = nodes.get(idOfTask.get(run.id) ?? "");
    if (!node) continue;
    for (const ref of inputRefs(run.taskInputs)) {
      if (!nodes.has(ref.id)) continue;
      const list = ref.key === "__parents__" ? node.encapsulating : node.parents;
      if (!list.includes(ref.id)) list.push(ref.id);
    }
  }
  const byStart = (a: string, b: string) => nodes.get(a)!.start - nodes.get(b)!.start;
  const children = new Map<string, string[]>();
  for (const node of nodes.values()) {
    node.parents.sort(byStart);
    node.encapsulating.sort(byStart);
    for (const parent of node.parents) children.set(parent, [...(children.get(parent) ?? []), node.id]);
  }
  const ordered = [...nodes.values()]
    .filter((n) => n.end == null || n.end >= since)
    .sort((a, b) => a.start - b.start || (a.end ?? Infinity) - (b.end ?? Infinity));
  const edges = (ids: string[]) => ids.map((id) => ({ id }));
  return {
    start_time: formatNullable(flowRun.startTime ?? flowRun.expectedStartTime),
    end_time: formatNullable(flowRun.endTime),
    root_node_ids: ordered.filter((n) => n.parents.length === 0).map((n) => n.id),
    nodes: ordered.map((n) => [
      n.id,
      {
        kind: n.kind,
        id: n.id,
        label: n.label,
        state_type: n.state_type,
        start_time: formatDateTime(n.start),
        end_time: formatNullable(n.end),
        parents: edges(n.parents),
        children: edges((children.get(n.id) ?? []).sort(byStart)),
        encapsulating: edges(n.encapsulating),
        artifacts: (n.kind === "task-run" && artifacts?.get(n.id)) || [],
      },
    ]),
    artifacts: artifacts?.get(null) ?? [],
    states: states.map((s) => ({ id: s.id, timestamp: formatDateTime(s.timestamp), type: s.type, name: s.name })),
  };
}
