/** The read routes flow runs and task runs share: filter, count, paginate, history, read one, set_state. */
import { Elysia } from "elysia";
import type { AppContext } from "../context";
import type { TransitionOptions } from "../db/repos/transitions";
import type { Micros } from "../lib/time";
import type { RunService } from "../runs/service";
import { IdParams } from "../schemas/common";
import { HistoryBody, RunCountBody, runListBody, runPageBody, SetStateBody } from "../schemas/runs";
import { notFound } from "./errors";
import { pagePaging, paginated, paging } from "./paging";
import { historyJson, setStateResponse, stateProposal } from "./state-json";

type Headers = Record<string, string | undefined>;

export interface RunRouteShape<TRun, TSort extends string> {
  prefix: string;
  sorts: readonly TSort[];
  /** The order when a request names none (Prefect's ID_DESC). */
  defaultSort: TSort;
  /** A run as `/filter` and `GET /{id}` answer it. */
  json: (run: TRun, now: Micros) => object;
  /** A run as `/paginate` answers it. */
  pageJson: (run: TRun, now: Micros) => object;
  /** Prefect's 404 message for `GET /{id}`. */
  notFound: string;
  /** The versions set_state takes from the request's headers. */
  versions: (headers: Headers) => Pick<TransitionOptions, "apiVersion" | "clientVersion">;
}

export function runRoutes<TRun, TSort extends string>(
  { clock, config }: AppContext,
  runs: RunService<TRun, TSort>,
  shape: RunRouteShape<TRun, TSort>,
) {
  const sortOf = (sort: TSort | null | undefined): TSort => sort ?? shape.defaultSort;
  return new Elysia({ prefix: shape.prefix })
    .post(
      "/filter",
      async ({ body }) => {
        const { limit, offset } = paging(body, config.defaultLimit);
        const found = await runs.list(body, sortOf(body.sort), limit, offset);
        const now = clock.now();
        return found.map((r) => shape.json(r, now));
      },
      { body: runListBody(shape.sorts) },
    )
    .post("/count", ({ body }) => runs.count(body), { body: RunCountBody })
    .post(
      "/paginate",
      async ({ body }) => {
        const { limit, offset, page } = pagePaging(body, config.defaultLimit);
        const found = await runs.page(body, sortOf(body.sort), limit, offset);
        const now = clock.now();
        return paginated(found.runs.map((r) => shape.pageJson(r, now)), found.count, limit, page);
      },
      { body: runPageBody(shape.sorts) },
    )
    .post("/history", async ({ body }) => historyJson(await runs.history(body, body)), { body: HistoryBody })
    .get(
      "/:id",
      async ({ params }) => {
        const run = await runs.get(params.id);
        if (!run) throw notFound(shape.notFound);
        return shape.json(run, clock.now());
      },
      { params: IdParams },
    )
    .post(
      "/:id/set_state",
      async ({ params, body, set, headers }) => {
        const options = { force: body.force ?? false, ...shape.versions(headers) };
        return setStateResponse(await runs.setState(params.id, stateProposal(body.state), options), set);
      },
      { params: IdParams, body: SetStateBody },
    );
}
