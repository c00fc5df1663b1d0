/**
 * Artifacts (`/artifacts`): create, read, update, delete, the latest artifact of a
 * key and filtered lists of artifacts and of latest artifacts, as
 * prefect/server/api/artifacts.py.
 */
import { Elysia, t } from "elysia";
import type { AppContext } from "../context";
import type { ArtifactCollectionRow, ArtifactPatch, ArtifactRow } from "../db/repos/artifacts";
import type { JsonValue } from "../lib/json";
import { formatDateTime } from "../lib/time";
import { Enum, IdParams, Lenient, LimitOffset, Maybe, Strict, Uuid } from "../schemas/common";
import { ArtifactCollectionFilter, ArtifactFilter, ArtifactRelatedFilters } from "../schemas/filters";
import { notFound, validationError, type ValidationIssue } from "./errors";
import { paging } from "./paging";

const MAX_METADATA_VALUE_LENGTH = 500;
// Python's re.match: `$` also matches before one trailing newline.
const ARTIFACT_KEY = /^[a-z0-9-]*\n?$/;

/** Any JSON value (Prefect: `dict | Any`). */
const ArtifactData = t.Unsafe<JsonValue>(t.Any());
const Metadata = t.Record(t.String(), t.String());

const ArtifactCreate = Strict({
  key: Maybe(t.String()),
  type: Maybe(t.String()),
  description: Maybe(t.String()),
  data: t.Optional(ArtifactData),
  metadata_: Maybe(Metadata),
  flow_run_id: Maybe(Uuid),
  task_run_id: Maybe(Uuid),
});
const ArtifactUpdate = Strict({
  data: t.Optional(ArtifactData),
  description: Maybe(t.String()),
  metadata_: Maybe(Metadata),
});
const ArtifactSortSchema = Maybe(Enum(["CREATED_DESC", "UPDATED_DESC", "ID_DESC", "KEY_DESC", "KEY_ASC"]));

const artifactFields = (row: ArtifactRow | ArtifactCollectionRow) => ({
  type: row.type,
  description: row.description,
  data: row.data ?? null,
  metadata_: row.metadata ?? null,
  flow_run_id: row.flowRunId,
  task_run_id: row.taskRunId,
});

/**
 * An artifact. `/artifacts/{key}/latest` answers the collection row in this shape,
 * so its `id` and timestamps are the collection's, as in Prefect.
 */
export function artifactJson(row: ArtifactRow | ArtifactCollectionRow) {
  return { id: row.id, created: formatDateTime(row.created), updated: formatDateTime(row.updated), key: row.key, ...artifactFields(row) };
}

export function artifactCollectionJson(row: ArtifactCollectionRow) {
  return {
    id: row.id,
    created: formatDateTime(row.created),
    updated: formatDateTime(row.updated),
    key: row.key,
    latest_id: row.latestId,
    ...artifactFields(row),
  };
}

/** Prefect cuts each metadata value to 500 characters (code points) and marks the cut with "...". */
function truncatedMetadata(metadata: Record<string, string> | null | undefined): Record<string, string> | null | undefined {
  if (metadata == null) return metadata;
  return Object.fromEntries(
    Object.entries(metadata).map(([key, value]) => {
      const chars = Array.from(value);
      return [key, chars.length > MAX_METADATA_VALUE_LENGTH ? chars.slice(0, MAX_METADATA_VALUE_LENGTH).join("") + "..." : value];
    }),
  );
}

function checkKey(key: string | null | undefined, body: unknown): void {
  if (key == null || ARTIFACT_KEY.test(key)) return;
  const issue: ValidationIssue = {
    type: "value_error",
    loc: ["body", "key"],
    msg: "Value error, Artifact key must only contain lowercase letters, numbers, and dashes.",
    input: key,
  };
  throw validationError([issue], body);
}

const artifactNotFound = () => notFound("Artifact not found.");

export function artifactRoutes({ store, clock, config }: AppContext) {
  const listBody = Lenient({ ...ArtifactRelatedFilters, artifacts: Maybe(ArtifactFilter), ...LimitOffset, sort: ArtifactSortSchema });
  const latestBody = Lenient({
    ...ArtifactRelatedFilters,
    artifacts: Maybe(ArtifactCollectionFilter),
    ...LimitOffset,
    sort: ArtifactSortSchema,
  });

  return new Elysia({ prefix: "/artifacts" })
    .post(
      "/",
      async ({ body, set }) => {
        checkKey(body.key, body);
        const row = await store.write((tx) =>
          tx.artifacts.create(
            {
              key: body.key ?? null,
              type: body.type ?? null,
              description: body.description ?? null,
              data: body.data ?? null,
              metadata: truncatedMetadata(body.metadata_) ?? null,
              flowRunId: body.flow_run_id ?? null,
              taskRunId: body.task_run_id ?? null,
            },
            clock.now(),
          ),
        );
        set.status = 201;
        return artifactJson(row);
      },
      { body: ArtifactCreate },
    )
    .post(
      "/filter",
      async ({ body }) => {
        const { limit, offset } = paging(body, config.defaultLimit);
        return (await store.read((q) => q.artifacts.list(body, body.sort ?? "ID_DESC", limit, offset))).map(artifactJson);
      },
      { body: listBody },
    )
    .post("/count", ({ body }) => store.read((q) => q.artifacts.count(body)), {
      body: Lenient({ ...ArtifactRelatedFilters, artifacts: Maybe(ArtifactFilter) }),
    })
    .post(
      "/latest/filter",
      async ({ body }) => {
        const { limit, offset } = paging(body, config.defaultLimit);
        return (await store.read((q) => q.artifacts.listLatest(body, body.sort ?? "ID_DESC", limit, offset))).map(artifactCollectionJson);
      },
      { body: latestBody },
    )
    .post("/latest/count", ({ body }) => store.read((q) => q.artifacts.countLatest(body)), {
      body: Lenient({ ...ArtifactRelatedFilters, artifacts: Maybe(ArtifactCollectionFilter) }),
    })
    // The router names this segment once for all `/artifacts/{...}` routes: here it is the key.
    .get("/:id/latest", async ({ params }) => {
      const row = await store.read((q) => q.artifacts.getLatest(params.id));
      if (!row) throw artifactNotFound();
      return artifactJson(row);
    })
    .get(
      "/:id",
      async ({ params }) => {
        const row = await store.read((q) => q.artifacts.get(params.id));
        if (!row) throw artifactNotFound();
        return artifactJson(row);
      },
      { params: IdParams },
    )
    .patch(
      "/:id",
      async ({ params, body, set }) => {
        // Only the keys sent are written (exclude_unset): an explicit null clears the field.
        const patch: ArtifactPatch = {};
        if (body.data !== undefined) patch.data = body.data;
        if (body.description !== undefined) patch.description = body.description;
        if (body.metadata_ !== undefined) patch.metadata = truncatedMetadata(body.metadata_);
        if (!(await store.write((tx) => tx.artifacts.update(params.id, patch, clock.now())))) throw artifactNotFound();
        set.status = 204;
      },
      { params: IdParams, body: ArtifactUpdate },
    )
    .delete(
      "/:id",
      async ({ params, set }) => {
        if (!(await store.write((tx) => tx.artifacts.delete(params.id)))) throw artifactNotFound();
        set.status = 204;
      },
      { params: IdParams },
    );
}
