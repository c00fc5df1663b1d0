"""Prints how long the prefect_lite fixture's server takes to start, beside Prefect's
prefect_test_harness: from entering the context manager to the first API answer through
Prefect's client (the harness's own start includes that health check too).

    PREFECT_HOME=$(mktemp -d) python python/start_time.py [runs]
"""

import statistics
import sys
import time

from prefect import get_client
from prefect.testing.utilities import prefect_test_harness

import prefect_lite


def timed(make_context) -> float:
    started = time.perf_counter()
    with make_context():
        with get_client(sync_client=True) as client:
            client.hello()
        elapsed = time.perf_counter() - started
    return elapsed


runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
for name, make in [("prefect_lite.server()", prefect_lite.server), ("prefect_test_harness()", prefect_test_harness)]:
    times = [timed(make) for _ in range(runs)]
    print(f"{name:24} median {statistics.median(times):7.2f} s  (min {min(times):.2f}, max {max(times):.2f}, {runs} runs)")
