"""Helpers shared by the SDK scenarios (test/sdk/scenarios/NN_*.py).

Each scenario is a plain Python script run with the real Prefect SDK against a
server named by PREFECT_API_URL. It drives the SDK as a user would, then reads
back through the API what the server holds, and exits non-zero with a
"SCENARIO FAILED: ..." line on the first mismatch.

Run one by hand:
    PREFECT_API_URL=http://127.0.0.1:4200/api PREFECT_HOME=$(mktemp -d) \
        .venv-sdk/bin/python test/sdk/scenarios/01_local_flow.py
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar

T = TypeVar("T")

SCENARIOS_DIR = Path(__file__).resolve().parent
FLOWS_DIR = SCENARIOS_DIR.parent / "flows"
PREFECT_CLI = [sys.executable, "-m", "prefect"]

if not os.environ.get("PREFECT_API_URL"):
    print("SCENARIO FAILED: PREFECT_API_URL is not set (the scenarios need a running server)", file=sys.stderr)
    sys.exit(2)


class ScenarioFailure(Exception):
    pass


def fail(message: str) -> None:
    raise ScenarioFailure(message)


def check(condition: Any, message: str) -> None:
    if not condition:
        raise ScenarioFailure(message)


def check_equal(actual: Any, expected: Any, what: str) -> None:
    if actual != expected:
        raise ScenarioFailure(f"{what}: expected {expected!r}, got {actual!r}")


_STARTED = time.monotonic()


def step(message: str) -> None:
    """Prints progress with the time since the scenario started (shown when a scenario fails)."""
    print(f"[+{time.monotonic() - _STARTED:5.1f}s] {message}", flush=True)


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (a run's process, after a cancellation)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def suffix() -> str:
    """A short random suffix, so a scenario can run twice against one server."""
    return uuid.uuid4().hex[:6]


def wait_for(what: str, probe: Callable[[], T], timeout: float = 20.0, interval: float = 0.25) -> T:
    """Calls probe until it returns something truthy; fails after timeout with the last value."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            value = probe()
            if value:
                return value
            last = value
        except ScenarioFailure:
            raise
        except Exception as exc:  # an API error: reported if it persists until the deadline
            last = f"{type(exc).__name__}: {exc}"
        if time.monotonic() >= deadline:
            fail(f"timed out after {timeout:.0f}s waiting for {what}; last seen: {last!r}")
        time.sleep(interval)


def client():
    from prefect.client.orchestration import get_client

    return get_client(sync_client=True)


# --- reading what the server holds -------------------------------------------------------


def task_runs_of(c, flow_run_id) -> list:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    return c.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))


def logs_of(c, flow_run_id) -> list:
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    return c.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))


def flow_runs_of_flow(c, flow_name: str) -> list:
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    return c.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])))


def state_names(states: Iterable) -> list[str]:
    return [s.name for s in sorted(states, key=lambda s: s.timestamp)]


def wait_for_task_runs(c, flow_run_id, count: int, timeout: float = 20.0, terminal: bool = True) -> list:
    """Task runs reach the server as events (task-run recorder), so they show up a moment later."""

    def probe():
        runs = task_runs_of(c, flow_run_id)
        if len(runs) < count:
            return None
        if terminal and not all(r.state and r.state.is_final() for r in runs):
            return None
        return runs

    def describe():
        runs = task_runs_of(c, flow_run_id)
        return [(r.name, r.state_name) for r in runs]

    try:
        return wait_for(f"{count} task runs of flow run {flow_run_id}", probe, timeout=timeout)
    except ScenarioFailure as exc:
        raise ScenarioFailure(f"{exc}; task runs now: {describe()}") from None


def wait_for_flow_run_state(c, flow_run_id, state_types: Iterable[str], timeout: float = 30.0):
    wanted = {str(t) for t in state_types}

    def probe():
        run = c.read_flow_run(flow_run_id)
        if run.state and run.state.type.value in wanted:
            return run
        return None

    try:
        return wait_for(f"flow run {flow_run_id} to reach {sorted(wanted)}", probe, timeout=timeout)
    except ScenarioFailure as exc:
        run = c.read_flow_run(flow_run_id)
        raise ScenarioFailure(f"{exc}; it is {run.state.type.value if run.state else None} ({run.state_name})") from None


# --- subprocesses -------------------------------------------------------------------------


def scenario_env(**overrides: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "250", **overrides}
    return env


def run(cmd: list[str], timeout: float = 60.0, env: dict[str, str] | None = None, cwd: str | None = None, expect_ok: bool = True):
    """Runs a command to completion (bounded by timeout) and returns the CompletedProcess."""
    shown = " ".join(cmd[2:] if cmd[:2] == PREFECT_CLI[:2] else cmd)
    try:
        done = subprocess.run(
            cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, env=env or scenario_env(), cwd=cwd
        )
    except subprocess.TimeoutExpired as exc:
        fail(f"`{shown}` did not finish within {timeout:.0f}s:\n{_text(exc.stdout)}\n{_text(exc.stderr)}")
    if expect_ok and done.returncode != 0:
        fail(f"`{shown}` exited {done.returncode}:\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}")
    return done


def prefect_cli(*args: str, timeout: float = 60.0, expect_ok: bool = True, env: dict[str, str] | None = None):
    return run([*PREFECT_CLI, *args], timeout=timeout, env=env, expect_ok=expect_ok)


def _text(data) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


class Background:
    """A long-running helper process (a worker, `flow.serve()`), output to a temp file, always stopped."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str] | None = None, cwd: str | None = None):
        self.name = name
        self.log_path = Path(tempfile.mkstemp(prefix=f"{name}-", suffix=".log")[1])
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, env=env or scenario_env(), cwd=cwd, start_new_session=True
        )

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.output().splitlines()[-lines:])

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGINT (what Ctrl-C sends), then SIGKILL to the whole group if it lingers."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=5)
        else:
            # Children (flow-run subprocesses) may outlive a crashed parent.
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._log.close()
        return self.proc.returncode

    def __enter__(self) -> "Background":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


# --- entry point --------------------------------------------------------------------------


def main(scenario: Callable[[], None]) -> None:
    """Runs a scenario: exit 0 and "SCENARIO PASSED", or exit 1 with the reason."""
    name = Path(sys.argv[0]).stem

    def stopped(signum, frame):  # the test runner's timeout: unwind so helpers get stopped
        raise ScenarioFailure(f"stopped by signal {signum} (the runner's timeout) while still running")

    signal.signal(signal.SIGTERM, stopped)
    try:
        scenario()
    except ScenarioFailure as exc:
        print(f"SCENARIO FAILED: {name}: {exc}", file=sys.stderr)
        sys.exit(1)
    except BaseException as exc:  # noqa: BLE001 - any crash is a failure with its traceback
        traceback.print_exc()
        print(f"SCENARIO FAILED: {name}: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)
    print(f"SCENARIO PASSED: {name} ({time.monotonic() - _STARTED:.1f}s)")
