"""Deployment triggers: `serve(a, b)` where b's DeploymentEventTrigger runs b whenever a run of a
completes, with a templated parameter.

serve() creates the automation owned by b (`/automations/related-to/prefect.deployment.<b>`);
a run of a, executed by the runner, completes; the server's trigger service sees its Completed
event and the actions service creates a run of b whose `upstream_run` parameter is the name of
a's run; the runner executes it to COMPLETED.
"""

import sys

from _common import FLOWS_DIR, Background, check, check_equal, client, main, scenario_env, step, suffix, wait_for, wait_for_flow_run_state


def deployment_runs(c, deployment_id):
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    return c.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])))


def scenario() -> None:
    tag = suffix()
    env = scenario_env(PREFECT_RUNNER_POLL_FREQUENCY="1")
    with client() as c, Background("serve", [sys.executable, "triggered.py", tag], env=env, cwd=str(FLOWS_DIR)) as served:
        try:
            a = wait_for("serve() to register deployment a", lambda: c.read_deployment_by_name(f"s14-upstream/a-{tag}"), 30)
            b = wait_for("serve() to register deployment b", lambda: c.read_deployment_by_name(f"s14-downstream/b-{tag}"), 30)
            automations = wait_for(
                "the deployment trigger's automation",
                lambda: c.request("GET", f"/automations/related-to/prefect.deployment.{b.id}").json(),
                15,
            )
            check_equal(len(automations), 1, "automations related to deployment b")
            action = automations[0]["actions"][0]
            check_equal((action["type"], action["source"], action["deployment_id"]), ("run-deployment", "selected", str(b.id)), "the automation's action")
            step(f"serve() registered a, b and b's automation {automations[0]['id']}")

            upstream = c.create_flow_run_from_deployment(a.id)
            done = wait_for_flow_run_state(c, upstream.id, ["COMPLETED", "FAILED", "CRASHED"], timeout=45)
            check_equal(done.state_type.value, "COMPLETED", "state of a's run")
            step(f"a's run {done.name} completed")

            downstream = wait_for("the trigger to create a run of b", lambda: deployment_runs(c, b.id), timeout=20)
            check_equal(len(downstream), 1, "runs of b")
            check_equal(downstream[0].parameters, {"upstream_run": done.name}, "parameters of b's run (templated from the event)")
            step(f"the trigger created b's run {downstream[0].name}")
            finished = wait_for_flow_run_state(c, downstream[0].id, ["COMPLETED", "FAILED", "CRASHED"], timeout=45)
            check_equal(finished.state_type.value, "COMPLETED", "state of b's run")
            check(len(deployment_runs(c, b.id)) == 1, "b runs once per completed run of a")
            step("b's run completed")
        except BaseException:
            print(f"--- serve() output (tail)\n{served.tail()}", file=sys.stderr)
            raise


if __name__ == "__main__":
    main(scenario)
