"""prefect-lite: a lightweight, single-binary server for the Prefect 3 orchestration API.

    import prefect_lite

    with prefect_lite.server() as server:   # a fresh database on a free port
        my_flow()                            # runs against server.api_url

Under pytest, the ``prefect_lite`` fixture (see ``prefect_lite.pytest_plugin``) does the same
once per session.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Iterator, Mapping, Optional

__all__ = ["Server", "server", "binary_path", "__version__"]
__version__ = "0.1.0"

_EXE = "prefect-lite.exe" if os.name == "nt" else "prefect-lite"
_BANNER = re.compile(r"serving the Prefect API at (\S+)")


def binary_path() -> str:
    """The prefect-lite executable: $PREFECT_LITE_BINARY, else the one this package installed."""
    chosen = os.environ.get("PREFECT_LITE_BINARY")
    if chosen:
        return chosen
    # The wheel puts it in the scripts directory of whichever scheme pip installed into.
    directories = [sysconfig.get_path("scripts"), os.path.dirname(sys.executable)]
    if hasattr(sysconfig, "get_preferred_scheme"):  # Python 3.10+
        directories.append(sysconfig.get_path("scripts", sysconfig.get_preferred_scheme("user")))
    for directory in directories:
        candidate = Path(directory) / _EXE
        if candidate.is_file():
            return str(candidate)
    found = shutil.which(_EXE)
    if found:
        return found
    raise FileNotFoundError(f"{_EXE} not found: reinstall prefect-lite or set PREFECT_LITE_BINARY")


class Server:
    """A prefect-lite process on its own fresh database in a temporary directory."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        services: bool = True,
        env: Optional[Mapping[str, str]] = None,
        startup_timeout: float = 30.0,
    ) -> None:
        self.host = host
        self.port = port
        self.services = services
        self.env = dict(env or {})
        self.startup_timeout = startup_timeout
        self.api_url = ""
        self._dir: Optional[tempfile.TemporaryDirectory[str]] = None
        self._process: Optional[subprocess.Popen[bytes]] = None
        self._generation = 0

    @property
    def url(self) -> str:
        """The UI's address (the API is under /api)."""
        return self.api_url[: -len("/api")]

    @property
    def log_path(self) -> Path:
        """What the server printed (stdout and stderr)."""
        return self._workdir() / f"server-{self._generation}.log"

    @property
    def database_path(self) -> Path:
        return self._workdir() / f"prefect-lite-{self._generation}.db"

    def _workdir(self) -> Path:
        if self._dir is None:
            self._dir = tempfile.TemporaryDirectory(prefix="prefect-lite-")
        return Path(self._dir.name)

    def start(self) -> "Server":
        """Starts the server and waits until it listens (it prints its URL once it does)."""
        command = [binary_path(), "--host", self.host, "--port", str(self.port), "--db", str(self.database_path)]
        if not self.services:
            command.append("--no-services")
        # Flags win over the environment, so the caller's PREFECT_SERVER_* settings apply but for
        # the address and the database.
        env = {**os.environ, **self.env}
        log = open(self.log_path, "wb")
        # A process group of its own on Windows, so stop() can send it Ctrl-Break alone.
        flags = subprocess.CREATE_NEW_PROCESS_GROUP if os.name == "nt" else 0
        try:
            self._process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, creationflags=flags
            )
        finally:
            log.close()
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            match = _BANNER.search(self.log_path.read_text(errors="replace"))
            if match:
                self.api_url = match.group(1)
                self.port = int(self.api_url.rsplit(":", 1)[1].split("/")[0])
                return self
            if self._process.poll() is not None:
                raise RuntimeError(f"prefect-lite exited with {self._process.returncode}:\n{self._log_tail()}")
            time.sleep(0.005)
        self.stop()
        raise TimeoutError(f"prefect-lite did not start within {self.startup_timeout} s:\n{self._log_tail()}")

    def stop(self, timeout: float = 10.0) -> None:
        """Asks the server to finish in-flight requests and exit; kills it if it does not."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.CTRL_BREAK_EVENT if os.name == "nt" else signal.SIGTERM)  # type: ignore[attr-defined]
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def reset(self) -> None:
        """Empties the server: restarts it on the same address with a new database."""
        self.stop()
        self._generation += 1
        self.start()

    def close(self) -> None:
        self.stop()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def _log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> "Server":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def _prefect_installed() -> bool:
    try:
        import prefect  # noqa: F401
    except ImportError:
        return False
    return True


@contextmanager
def _pointed_at(api_url: str) -> Iterator[None]:
    """PREFECT_API_URL for this process (Prefect's settings too, when Prefect is installed) and its children."""
    previous = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = api_url
    try:
        if not _prefect_installed():
            yield
            return
        import prefect.context
        import prefect.settings

        with ExitStack() as stack:
            stack.enter_context(prefect.settings.temporary_settings(updates={prefect.settings.PREFECT_API_URL: api_url}))
            # As prefect_test_harness does: contexts copied before this one see the server too.
            global_context = getattr(prefect.context, "_temporary_global_settings_context", None)
            if global_context is not None:
                stack.enter_context(global_context(prefect.context.get_settings_context()))
            yield
            _drain_prefect_workers()
    finally:
        if previous is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = previous


def _drain_prefect_workers() -> None:
    """Sends the logs and events Prefect still buffers before the server goes away."""
    import inspect

    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def drain() -> None:
        for drain_one in (lambda: APILogWorker.instance().drain(), EventsWorker.drain_all):
            try:
                result = drain_one()
            except RuntimeError:  # that worker was never started
                continue
            if inspect.isawaitable(result):
                await result

    run_coro_as_sync(drain())


@contextmanager
def server(
    *,
    port: int = 0,
    services: bool = True,
    env: Optional[Mapping[str, str]] = None,
    startup_timeout: float = 30.0,
) -> Iterator[Server]:
    """Runs prefect-lite on a fresh database (any free port unless ``port`` is given) and points
    PREFECT_API_URL at it until the block ends."""
    with Server(port=port, services=services, env=env, startup_timeout=startup_timeout) as running:
        with _pointed_at(running.api_url):
            yield running
