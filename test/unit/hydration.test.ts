/**
 * hydrate() answers what Prefect's schema_tools `hydrate(..., HydrationContext(raise_on_error=True,
 * render_workspace_variables=True, render_jinja=True))` gives. Expected values and messages were
 * produced by Prefect 3.9.1 on these inputs, with the workspace variables below.
 */
import { expect, test } from "bun:test";
import { hydrate, HydrationError, readsWorkspaceVariables } from "../../src/lib/hydration";
import type { JsonObject, JsonValue } from "../../src/lib/json";

const variables = new Map<string, JsonValue>([
  ["region", "eu"],
  ["n", 3],
  ["obj", { a: [1] }],
]);
// Templates here have no expressions: rendering with an empty context returns them as they are.
const ctx = { variables, renderJinja: (template: string) => template };

const CASES: { name: string; input: JsonObject; output?: JsonValue; error?: string }[] = [
  {
    "name": "plain values pass",
    "input": {
      "a": 1,
      "b": [
        1,
        {
          "c": null
        }
      ],
      "d": "x"
    },
    "output": {
      "a": 1,
      "b": [
        1,
        {
          "c": null
        }
      ],
      "d": "x"
    }
  },
  {
    "name": "none",
    "input": {
      "a": {
        "__prefect_kind": "none",
        "value": {
          "__prefect_kind": "json",
          "value": "[1, 2]"
        }
      }
    },
    "output": {
      "a": [
        1,
        2
      ]
    }
  },
  {
    "name": "none without value",
    "input": {
      "a": {
        "__prefect_kind": "none"
      }
    },
    "error": "Missing 'value' key in __prefect object"
  },
  {
    "name": "json",
    "input": {
      "a": {
        "__prefect_kind": "json",
        "value": "{\"k\": [1, true, null]}"
      }
    },
    "output": {
      "a": {
        "k": [
          1,
          true,
          null
        ]
      }
    }
  },
  {
    "name": "json non-string value",
    "input": {
      "a": {
        "__prefect_kind": "json",
        "value": 5
      }
    },
    "output": {
      "a": 5
    }
  },
  {
    "name": "json without value is dropped",
    "input": {
      "a": {
        "__prefect_kind": "json"
      },
      "l": [
        1,
        {
          "__prefect_kind": "json"
        },
        2
      ]
    },
    "output": {
      "l": [
        1,
        2
      ]
    }
  },
  {
    "name": "workspace variable",
    "input": {
      "a": {
        "__prefect_kind": "workspace_variable",
        "variable_name": "region"
      },
      "b": {
        "__prefect_kind": "workspace_variable",
        "variable_name": "obj"
      }
    },
    "output": {
      "a": "eu",
      "b": {
        "a": [
          1
        ]
      }
    }
  },
  {
    "name": "missing variable",
    "input": {
      "a": {
        "__prefect_kind": "workspace_variable",
        "variable_name": "nope"
      }
    },
    "error": "Variable 'nope' not found in workspace."
  },
  {
    "name": "variable without name is dropped",
    "input": {
      "a": {
        "__prefect_kind": "workspace_variable"
      }
    },
    "output": {}
  },
  {
    "name": "jinja without template",
    "input": {
      "a": {
        "__prefect_kind": "jinja"
      }
    },
    "error": "Missing 'template' key in __prefect object"
  },
  {
    "name": "jinja plain text",
    "input": {
      "a": {
        "__prefect_kind": "jinja",
        "template": "hello"
      }
    },
    "output": {
      "a": "hello"
    }
  },
  {
    "name": "jinja syntax error",
    "input": {
      "a": {
        "__prefect_kind": "jinja",
        "template": "{{ x"
      }
    },
    "error": "Invalid jinja: unexpected end of template, expected 'end of print statement'."
  },
  {
    "name": "unknown kind gives value",
    "input": {
      "a": {
        "__prefect_kind": "other",
        "value": 7
      },
      "b": {
        "__prefect_kind": "other"
      }
    },
    "output": {
      "a": 7,
      "b": null
    }
  },
  {
    "name": "top-level kind object vanishing",
    "input": {
      "__prefect_kind": "json"
    },
    "output": {}
  }
];

for (const { name, input, output, error } of CASES) {
  test(name, () => {
    if (error === undefined) expect(hydrate(input, ctx)).toEqual(output!);
    else {
      expect(() => hydrate(input, ctx)).toThrow(HydrationError);
      expect(() => hydrate(input, ctx)).toThrow(error);
    }
  });
}

test("variables are needed only when a placeholder, however deep, reads one", () => {
  const variable = { __prefect_kind: "workspace_variable", variable_name: "v" };
  expect(readsWorkspaceVariables({ a: 1, b: [{ c: "x" }], d: { __prefect_kind: "json", value: "{}" } })).toBe(false);
  expect(readsWorkspaceVariables({ a: variable })).toBe(true);
  expect(readsWorkspaceVariables({ a: [{ b: { __prefect_kind: "none", value: [variable] } }] })).toBe(true);
});
