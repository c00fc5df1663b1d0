/**
 * validateJsonSchema answers what Prefect's schema_tools `validate(..., raise_on_error=True)` raises
 * (preprocessing, jsonschema's best_match and its messages). The expected texts were produced by
 * Prefect 3.9.1 (jsonschema 4.26) on these very schemas and values.
 */
import { expect, test } from "bun:test";
import { validateJsonSchema } from "../../src/lib/json-schema";

const CASES: { name: string; schema: object; value: unknown; expected: string | null }[] = [
  {
    "name": "required",
    "schema": {
      "type": "object",
      "properties": {
        "a": {
          "type": "string"
        }
      },
      "required": [
        "a"
      ]
    },
    "value": {},
    "expected": "Validation failed. Failure reason: 'a' is a required property"
  },
  {
    "name": "type",
    "schema": {
      "type": "object",
      "properties": {
        "a": {
          "type": "integer"
        }
      },
      "required": [
        "a"
      ]
    },
    "value": {
      "a": "x"
    },
    "expected": "Validation failed for field 'a'. Failure reason: 'x' is not of type 'integer'"
  },
  {
    "name": "optional nullable",
    "schema": {
      "type": "object",
      "properties": {
        "a": {
          "type": "integer"
        }
      }
    },
    "value": {
      "a": null
    },
    "expected": null
  },
  {
    "name": "optional wrong type",
    "schema": {
      "type": "object",
      "properties": {
        "a": {
          "type": "integer"
        }
      }
    },
    "value": {
      "a": "x"
    },
    "expected": "Validation failed for field 'a'. Failure reason: 'x' is not valid under any of the given schemas"
  },
  {
    "name": "default not nullable",
    "schema": {
      "type": "object",
      "properties": {
        "a": {
          "type": "integer",
          "default": 1
        }
      }
    },
    "value": {
      "a": null
    },
    "expected": "Validation failed for field 'a'. Failure reason: None is not of type 'integer'"
  },
  {
    "name": "enum",
    "schema": {
      "type": "object",
      "properties": {
        "a": {
          "enum": [
            "x",
            "y"
          ]
        }
      },
      "required": [
        "a"
      ]
    },
    "value": {
      "a": "z"
    },
    "expected": "Validation failed for field 'a'. Failure reason: 'z' is not one of ['x', 'y']"
  },
  {
    "name": "minimum",
    "schema": {
      "type": "object",
      "properties": {
        "a": {
          "type": "integer",
          "minimum": 3
        }
      },
      "required": [
        "a"
      ]
    },
    "value": {
      "a": 1
    },
    "expected": "Validation failed for field 'a'. Failure reason: 1 is less than the minimum of 3"
  },
  {
    "name": "maximum",
    "schema": {
      "type": "object",
      "properties": {
        "a": {
          "type": "number",
          "maximum": 3
        }
      },
      "required": [
        "a"
      ]
    },
    "value": {
      "a": 4.5
    },
    "expected": "Validation failed for field 'a'. Failure reason: 4.5 is greater than the maximum of 3"
  },
  {
    "name": "exclusiveMinimum",
    "schema": {
      "type": "object",
      "properties": {
        "a": {
          "type": "integer",
          "exclusiveMinimum": 3
        }
      },
      "required": [
        "a"
      ]
    },
    "value": {
      "a": 3
    },
    "expected": "Validation failed for field 'a'. Failure reason: 3 is less than or equal to the minimum of 3"
  },
  {
    "name": "minLength 1",
    "schema": {
      "type": "object",
      "properties": {
        "a": {
          "type": "string",
          "minLength": 1
        }
      },
      "required": [
        "a"
      ]
    },
    "value": {
      "a": ""
    },
    "expected": "Validation failed for field 'a'. Failure reason: '' should be non-empty"
  },
  {
    "name": "maxLength",
    "schema": {
      "type": "object",
      "properties": {
        "a": {
          "type": "string",
          "maxLength": 2
        }
      },
      "required": [
        "a"
      ]
    },
    "value": {
      "a": "abc"
    },
    "expected": "Validation failed for field 'a'. Failure reason: 'abc' is too long"
  },
  {
    "name": "pattern",
    "schema": {
      "type": "object",
      "properties": {
        "a": {
          "type": "string",
          "pattern": "^\\d+$"
        }
      },
      "required": [
        "a"
      ]
    },
    "value": {
      "a": "x1"
    },
    "expected": "Validation failed for field 'a'. Failure reason: 'x1' does not match '^\\\\d+$'"
  },
  {
    "name": "nested required",
    "schema": {
      "type": "object",
      "properties": {
        "o": {
          "type": "object",
          "properties": {
            "b": {
              "type": "string"
            }
          },
          "required": [
            "b"
          ]
        }
      },
      "required": [
        "o"
      ]
    },
    "value": {
      "o": {}
    },
    "expected": "Validation failed for field 'o'. Failure reason: 'b' is a required property"
  },
  {
    "name": "array item type",
    "schema": {
      "type": "object",
      "properties": {
        "l": {
          "type": "array",
          "items": {
            "type": "integer"
          }
        }
      },
      "required": [
        "l"
      ]
    },
    "value": {
      "l": [
        1,
        "two",
        3
      ]
    },
    "expected": "Validation failed for field 'l[1]'. Failure reason: 'two' is not of type 'integer'"
  },
  {
    "name": "additional",
    "schema": {
      "type": "object",
      "properties": {
        "a": {
          "type": "string"
        }
      },
      "additionalProperties": false
    },
    "value": {
      "a": "x",
      "z": 1,
      "b": 2
    },
    "expected": "Validation failed. Failure reason: Additional properties are not allowed ('b', 'z' were unexpected)"
  },
  {
    "name": "required beats deeper",
    "schema": {
      "type": "object",
      "properties": {
        "a": {
          "type": "string"
        },
        "b": {
          "type": "integer"
        }
      },
      "required": [
        "a"
      ]
    },
    "value": {
      "b": "x"
    },
    "expected": "Validation failed. Failure reason: 'a' is a required property"
  },
  {
    "name": "two siblings",
    "schema": {
      "type": "object",
      "properties": {
        "a": {
          "type": "string"
        },
        "b": {
          "type": "integer"
        }
      },
      "required": [
        "a",
        "b"
      ]
    },
    "value": {
      "a": 1,
      "b": "x"
    },
    "expected": "Validation failed for field 'b'. Failure reason: 'x' is not of type 'integer'"
  },
  {
    "name": "const",
    "schema": {
      "type": "object",
      "properties": {
        "a": {
          "const": "k"
        }
      },
      "required": [
        "a"
      ]
    },
    "value": {
      "a": "j"
    },
    "expected": "Validation failed for field 'a'. Failure reason: 'k' was expected"
  },
  {
    "name": "bool repr",
    "schema": {
      "type": "object",
      "properties": {
        "a": {
          "type": "string"
        }
      },
      "required": [
        "a"
      ]
    },
    "value": {
      "a": true
    },
    "expected": "Validation failed for field 'a'. Failure reason: True is not of type 'string'"
  },
  {
    "name": "dict repr",
    "schema": {
      "type": "object",
      "properties": {
        "a": {
          "type": "string"
        }
      },
      "required": [
        "a"
      ]
    },
    "value": {
      "a": {
        "k": [
          1,
          null
        ]
      }
    },
    "expected": "Validation failed for field 'a'. Failure reason: {'k': [1, None]} is not of type 'string'"
  },
  {
    "name": "minItems",
    "schema": {
      "type": "object",
      "properties": {
        "l": {
          "type": "array",
          "minItems": 2
        }
      },
      "required": [
        "l"
      ]
    },
    "value": {
      "l": [
        1
      ]
    },
    "expected": "Validation failed for field 'l'. Failure reason: [1] is too short"
  },
  {
    "name": "anyOf distinct",
    "schema": {
      "type": "object",
      "properties": {
        "a": {
          "anyOf": [
            {
              "type": "integer"
            },
            {
              "type": "string",
              "minLength": 5
            }
          ]
        }
      },
      "required": [
        "a"
      ]
    },
    "value": {
      "a": "ab"
    },
    "expected": "Validation failed for field 'a'. Failure reason: 'ab' is too short"
  },
  {
    "name": "valid",
    "schema": {
      "type": "object",
      "properties": {
        "a": {
          "type": "string"
        }
      },
      "required": [
        "a"
      ]
    },
    "value": {
      "a": "ok"
    },
    "expected": null
  }
];

for (const { name, schema, value, expected } of CASES) {
  test(`${name}: ${expected ?? "valid"}`, () => {
    expect(validateJsonSchema(value, schema)).toBe(expected);
  });
}
