import { Elysia, t } from "elysia";
import type { AppContext } from "../context";
import type { VariableRow } from "../db/repos/variables";
import type { JsonValue } from "../lib/json";
import { formatDateTime } from "../lib/time";
import { canonicalUuid } from "../lib/uuid";
import { Enum, IdParams, Lenient, LimitOffset, Maybe, Strict, Tags } from "../schemas/common";
import { VariableFilter } from "../schemas/filters";
import { conflict, notFound, validationError, type ValidationIssue } from "./errors";
import { paging } from "./paging";

const MAX_NAME_LENGTH = 255;
const MAX_VALUE_BYTES = 5000;
// Prefect checks names with Python's re.match, whose `$` also matches before one trailing newline.
const VARIABLE_NAME = /^[a-z0-9_-]*\n?$/;

/** Any JSON value, null included; its serialized size is checked by `variableIssues`. */
const VariableValue = t.Unsafe<JsonValue>(t.Any());

const VariableCreate = Strict({ name: t.String(), value: VariableValue, tags: t.Optional(Tags) });
// Only the keys sent are written, so an explicit null differs from an absent key (see VariablePatch).
const VariableUpdate = Strict({ name: Maybe(t.String()), value: t.Optional(VariableValue), tags: Maybe(Tags) });
const VariableSortSchema = Maybe(Enum(["NAME_ASC", "NAME_DESC", "CREATED_DESC", "UPDATED_DESC"]));

export function variableJson(row: VariableRow) {
  return {
    id: row.id,
    created: formatDateTime(row.created),
    updated: formatDateTime(row.updated),
    name: row.name,
    value: row.value ?? null,
    tags: row.tags,
  };
}

/** Prefect's VariableName and StrictVariableValue validators, with their messages and order (pattern before length). */
function variableIssues(body: { name?: string | null; value?: JsonValue }): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const { name, value } = body;
  if (typeof name === "string") {
    if (!VARIABLE_NAME.test(name)) {
      const msg = "Value error, Variable name must only contain lowercase letters, numbers, and dashes or underscores.";
      issues.push({ type: "value_error", loc: ["body", "name"], msg, input: name });
    } else if (name.length > MAX_NAME_LENGTH) {
      const msg = `Value should have at most ${MAX_NAME_LENGTH} items after validation, not ${name.length}`;
      issues.push({ type: "too_long", loc: ["body", "name"], msg, input: name });
    }
  }
  // Prefect measures the compact JSON encoding in bytes (orjson), not characters.
  if (value != null && Buffer.byteLength(JSON.stringify(value)) > MAX_VALUE_BYTES) {
    const msg = `Value error, Variable value must be less than ${MAX_VALUE_BYTES} characters`;
    issues.push({ type: "value_error", loc: ["body", "value"], msg, input: value });
  }
  return issues;
}

function validateVariable(body: { name?: string | null; value?: JsonValue }): void {
  const issues = variableIssues(body);
  if (issues.length > 0) throw validationError(issues, body);
}

const variableNotFound = () => notFound("Variable not found.");

export function variableRoutes({ store, clock, config }: AppContext) {
  return new Elysia({ prefix: "/variables" })
    .post(
      "/",
      async ({ body, set }) => {
        validateVariable(body);
        const row = await store.write((tx) => tx.variables.create({ name: body.name, value: body.value, tags: body.tags ?? [] }, clock.now()));
        if (!row) throw conflict(`A variable with the name '${body.name}' already exists.`);
        set.status = 201;
        return variableJson(row);
      },
      { body: VariableCreate },
    )
    .post(
      "/filter",
      async ({ body }) => {
        const { limit, offset } = paging(body, config.defaultLimit);
        const rows = await store.read((q) => q.variables.list(body.variables, body.sort ?? "NAME_ASC", limit, offset));
        return rows.map(variableJson);
      },
      { body: Lenient({ variables: Maybe(VariableFilter), ...LimitOffset, sort: VariableSortSchema }) },
    )
    .post("/count", ({ body }) => store.read((q) => q.variables.count(body?.variables)), {
      body: t.Optional(Lenient({ variables: Maybe(VariableFilter) })),
    })
    .get(
      "/name/:name",
      async ({ params }) => {
        const row = await store.read((q) => q.variables.getByName(params.name));
        if (!row) throw variableNotFound();
        return variableJson(row);
      },
    )
    .get(
      "/:id",
      async ({ params }) => {
        const row = await store.read((q) => q.variables.get(canonicalUuid(params.id)));
        if (!row) throw variableNotFound();
        return variableJson(row);
      },
      { params: IdParams },
    )
    .patch(
      "/name/:name",
      async ({ params, body, set }) => {
        validateVariable(body);
        if (!(await store.write((tx) => tx.variables.updateByName(params.name, body, clock.now())))) throw variableNotFound();
        set.status = 204;
      },
      { body: VariableUpdate },
    )
    .patch(
      "/:id",
      async ({ params, body, set }) => {
        validateVariable(body);
        if (!(await store.write((tx) => tx.variables.update(canonicalUuid(params.id), body, clock.now())))) throw variableNotFound();
        set.status = 204;
      },
      { params: IdParams, body: VariableUpdate },
    )
    .delete(
      "/name/:name",
      async ({ params, set }) => {
        if (!(await store.write((tx) => tx.variables.deleteByName(params.name)))) throw variableNotFound();
        set.status = 204;
      },
    )
    .delete(
      "/:id",
      async ({ params, set }) => {
        if (!(await store.write((tx) => tx.variables.delete(canonicalUuid(params.id))))) throw variableNotFound();
        set.status = 204;
      },
      { params: IdParams },
    );
}
