/**
 * Templates render as Prefect's do: each case's expected output was produced by Prefect 3.9.1's
 * own `render_user_template` (Python Jinja2 in its sandbox, with Prefect's filters) on the same
 * context, and the nunjucks renderer must give the same text.
 */
import { describe, expect, test } from "bun:test";
import { jinjaToJson, tagKind, TemplateRenderer } from "../../src/lib/user-templates";

const context = {
  "flow": {
    "name": "etl"
  },
  "flow_run": {
    "name": "crimson-fox",
    "id": "0190e0e0-0000-7000-8000-000000000001",
    "state": {
      "name": "Failed",
      "message": "boom",
      "type": "FAILED"
    },
    "parameters": {
      "n": 3,
      "who": "x"
    },
    "tags": [
      "a",
      "b"
    ]
  },
  "event": {
    "event": "prefect.flow-run.Failed",
    "resource": {
      "prefect.resource.id": "prefect.flow-run.1",
      "prefect.resource.name": "crimson-fox"
    },
    "payload": {
      "validated_state": {
        "type": "FAILED"
      }
    }
  },
  "labels": {
    "prefect.resource.id": "prefect.flow-run.1"
  }
};

/** [template, Prefect's output] */
const CASES: [string, string][] = [
  ["Flow run {{ flow.name }}/{{ flow_run.name }} observed in state `{{ flow_run.state.name }}` at {{ 'now' }}.\nFlow run ID: {{ flow_run.id }}\nState message: {{ flow_run.state.message }}", "Flow run etl/crimson-fox observed in state `Failed` at now.\nFlow run ID: 0190e0e0-0000-7000-8000-000000000001\nState message: boom"],
  ["{{ event.resource['prefect.resource.name'] }} / {{ event.event }}", "crimson-fox / prefect.flow-run.Failed"],
  ["{{ flow_run.parameters | tojson }}", "{\"n\": 3, \"who\": \"x\"}"],
  ["{% for tag in flow_run.tags %}[{{ tag }}]{% endfor %}", "[a][b]"],
  ["{% if flow_run.state.type == 'FAILED' %}bad{% else %}good{% endif %}", "bad"],
  ["{{ flow_run.name | upper }} {{ flow_run.tags | join(', ') }} {{ flow_run.tags | length }}", "CRIMSON-FOX a, b 2"],
  ["{{ missing | default('n/a') }}|{{ flow_run.parameters.n * 2 }}", "n/a|6"],
  ["{% for k, v in flow_run.parameters.items() %}{{ k }}={{ v }};{% endfor %}", "n=3;who=x;"],
  ["{{ event.payload.validated_state.type | lower }} {{ labels['prefect.resource.id'] }}", "failed prefect.flow-run.1"],
  ["{{ 'x' ~ flow_run.parameters.n }} {{ range(3) | list }}", "x3 [0, 1, 2]"],
  ["{{ none }} {{ True }} {{ flow_run.tags }}", "None True ['a', 'b']"],
  ["{{ flow_run.parameters }}", "{'n': 3, 'who': 'x'}"],
  ["plain text is left as it is", "plain text is left as it is"],
];

describe("templates against Python Jinja", () => {
  const renderer = new TemplateRenderer("http://ui.example");
  for (const [template, expected] of CASES) {
    test(template.slice(0, 60), () => {
      expect(renderer.render(template, context)).toBe(expected);
    });
  }

  test("tojson is json.dumps with sorted keys, ASCII and HTML-safe", () => {
    expect(jinjaToJson({ b: [1, "<é>"], a: null })).toBe('{"a": null, "b": [1, "\\u003c\\u00e9\\u003e"]}');
    expect(jinjaToJson({ a: [1] }, 2)).toBe('{\n  "a": [\n    1\n  ]\n}');
  });

  test("range is capped as in Prefect's sandbox", () => {
    expect(() => renderer.render("{{ range(1000) | length }}", {})).toThrow("Range too big");
  });
});

describe("Prefect's filters", () => {
  const renderer = new TemplateRenderer("http://ui.example");
  test("ui_url links the objects the context holds; flow_run_id finds a run id in text", () => {
    const flowRun = tagKind({ id: "0190e0e0-0000-7000-8000-000000000001", name: "r" }, "prefect.flow-run");
    const pool = tagKind({ id: "p1", name: "my pool" }, "prefect.work-pool");
    expect(renderer.render("{{ flow_run | ui_url }} {{ pool | ui_url }} {{ flow_run | ui_resource_events_url }}", { flow_run: flowRun, pool })).toBe(
      "http://ui.example/runs/flow-run/0190e0e0-0000-7000-8000-000000000001 http://ui.example/work-pools/work-pool/my%20pool http://ui.example/events?resource=prefect.flow-run.0190e0e0-0000-7000-8000-000000000001",
    );
    expect(renderer.render("{{ text | flow_run_id }}", { text: "see /runs/flow-run/0190e0e0-0000-7000-8000-000000000001 now" })).toBe("0190e0e0-0000-7000-8000-000000000001");
    expect(new TemplateRenderer(null).render("{{ flow_run | ui_url }}", { flow_run: flowRun })).toBe("None");
  });
});
