"""
Times the shared acceptance suite's request sections against one server, in-process: the suite
(../shared/conformance/test-api-sequence) has no flag to pick sections, so its source is executed
as a module (its `if __name__ == "__main__"` guard keeps main() from running) and its own
run_test() is called for every section except the three scheduler ones (two of them sleep).

    python bench/python/acceptance_sections.py SUITE_PATH API_URL [REPEATS]  -> one line of JSON
"""

import json
import sys

suite_path, api_url = sys.argv[1], sys.argv[2]
repeats = int(sys.argv[3]) if len(sys.argv) > 3 else 1

suite: dict = {"__name__": "acceptance_suite", "__file__": suite_path}
with open(suite_path) as f:
    exec(compile(f.read(), suite_path, "exec"), suite)
suite["QUIET"] = True  # no console output
suite["BASE_URL"] = api_url  # read by run_test() at call time

SECTIONS = [
    ("admin", suite["test_admin"]),
    ("flow_run (success)", lambda c: suite["test_flow_run"](c, should_fail=False)),
    ("flow_run (failure)", lambda c: suite["test_flow_run"](c, should_fail=True)),
    ("orchestration_rules", suite["test_orchestration_rules"]),
    ("task_run", suite["test_task_run"]),
    ("filters", suite["test_filters"]),
    ("logs", suite["test_logs"]),
    ("variables", suite["test_variables"]),
    ("blocks", suite["test_blocks"]),
    ("work_pools", suite["test_work_pools"]),
    ("deployments", suite["test_deployments"]),
]

runs = []
for _ in range(repeats):
    sections = []
    for name, fn in SECTIONS:
        r = suite["run_test"](name, fn)
        sections.append(
            {"name": r.name, "passed": r.passed, "duration_ms": r.duration_ms, "requests": r.requests, "error": r.error}
        )
    runs.append(
        {
            "total_ms": sum(s["duration_ms"] for s in sections),
            "requests": sum(s["requests"] for s in sections),
            "sections": sections,
        }
    )
print(json.dumps({"runs": runs}))
