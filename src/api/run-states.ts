import { Elysia, t } from "elysia";
import type { AppContext } from "../context";
import { IdParams, Uuid } from "../schemas/common";
import { notFound } from "./errors";
import { stateJson } from "./state-json";

/** `/flow_run_states` and `/task_run_states`: a run's state history, oldest first. */
export function runStateRoutes({ store }: AppContext) {
  return new Elysia()
    .get("/flow_run_states/", async ({ query }) => (await store.read((q) => q.flowRuns.states(query.flow_run_id))).map(stateJson), {
      query: t.Object({ flow_run_id: Uuid }),
    })
    .get(
      "/flow_run_states/:id",
      async ({ params }) => {
        const state = await store.read((q) => q.flowRuns.state(params.id));
        if (!state) throw notFound("Flow run state not found");
        return stateJson(state);
      },
      { params: IdParams },
    )
    .get("/task_run_states/", async ({ query }) => (await store.read((q) => q.taskRuns.states(query.task_run_id))).map(stateJson), {
      query: t.Object({ task_run_id: Uuid }),
    })
    .get(
      "/task_run_states/:id",
      async ({ params }) => {
        const state = await store.read((q) => q.taskRuns.state(params.id));
        if (!state) throw notFound("Flow run state not found");
        return stateJson(state);
      },
      { params: IdParams },
    );
}
