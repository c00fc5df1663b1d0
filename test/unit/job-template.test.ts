import { describe, expect, test } from "bun:test";
import { baseJobTemplateError, findPlaceholders } from "../../src/lib/job-template";

describe("findPlaceholders", () => {
  test("names inside {{ }} with or without spaces, nested values included, each once", () => {
    expect(findPlaceholders({ a: "{{ image }}:{{tag}}", b: ["{{ image }}", { c: "{{ env.X }}" }], d: 1 })).toEqual(["image", "tag", "env.X"]);
  });

  test("allowed characters follow Prefect's pattern", () => {
    expect(findPlaceholders("{{ prefect.variables.x-y }} {{ $HOME }} {{ a b }} {{ é }}")).toEqual(["prefect.variables.x-y", "$HOME"]);
  });
});

describe("baseJobTemplateError", () => {
  const variables = { properties: { command: {}, image: {} } };

  test("{} is allowed", () => {
    expect(baseJobTemplateError({})).toBeNull();
  });

  test("both keys are required and must be non-empty", () => {
    const message = "The `base_job_template` must contain both a `job_configuration` key and a `variables` key.";
    expect(baseJobTemplateError({ job_configuration: { a: 1 } })).toBe(message);
    expect(baseJobTemplateError({ job_configuration: {}, variables })).toBe(message);
    expect(baseJobTemplateError({ job_configuration: { a: 1 }, variables: {} })).toBe(message);
  });

  test("every placeholder of a job_configuration value must be a declared variable; top-level keys are not scanned", () => {
    expect(baseJobTemplateError({ job_configuration: { command: "{{ command }}", "{{ key }}": "{{ image }}" }, variables })).toBeNull();
    expect(baseJobTemplateError({ job_configuration: { a: "{{ x }} {{ command }} {{ y }}" }, variables })).toBe(
      "The variables specified in the job configuration template must be present as properties in the variables schema. " +
        "Your job configuration uses the following undeclared variable(s): x ,y.",
    );
  });
});
