import { Elysia, t } from "elysia";
import type { AppContext } from "../context";
import { FlowRunService } from "../runs/flow-runs";
import type { RunService } from "../runs/service";
import { TaskRunService } from "../runs/task-runs";
import { IdParams, Uuid } from "../schemas/common";
import { notFound } from "./errors";
import { stateJson } from "./state-json";

/** `/flow_run_states` and `/task_run_states`: a run's state history, oldest first. */
export function runStateRoutes(ctx: AppContext) {
  return new Elysia()
    .use(stateRoutes("flow_run_states", "flow_run_id", new FlowRunService(ctx)))
    .use(stateRoutes("task_run_states", "task_run_id", new TaskRunService(ctx)));
}

function stateRoutes<TRun, TSort extends string>(prefix: string, runIdParam: string, runs: RunService<TRun, TSort>) {
  return new Elysia({ prefix: `/${prefix}` })
    .get("/", async ({ query }) => (await runs.states(query[runIdParam]!)).map(stateJson), {
      query: t.Object({ [runIdParam]: Uuid }),
    })
    .get(
      "/:id",
      async ({ params }) => {
        const state = await runs.state(params.id);
        // Prefect words both misses alike.
        if (!state) throw notFound("Flow run state not found");
        return stateJson(state);
      },
      { params: IdParams },
    );
}
