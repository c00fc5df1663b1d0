"""pytest fixtures, loaded automatically once prefect-lite is installed (a ``pytest11`` entry point).

``prefect_lite`` (session): one prefect-lite server on a fresh database and a free port, with
PREFECT_API_URL pointing at it, in place of Prefect's ``prefect_test_harness``. To run every
test against it, as Prefect's docs do with the harness::

    # conftest.py
    @pytest.fixture(autouse=True, scope="session")
    def prefect_server(prefect_lite):
        yield prefect_lite

``prefect_lite_reset`` (function): the same server, emptied before the test (restarted on the
same address with a new database, about a fifth of a second).
"""

from __future__ import annotations

from typing import Iterator

import pytest

from . import Server, _drain_prefect_workers, _prefect_installed, server


@pytest.fixture(scope="session")
def prefect_lite() -> Iterator[Server]:
    with server() as running:
        yield running


@pytest.fixture
def prefect_lite_reset(prefect_lite: Server) -> Server:
    if _prefect_installed():  # send what Prefect still buffers to the old database first
        _drain_prefect_workers()
    prefect_lite.reset()
    return prefect_lite
