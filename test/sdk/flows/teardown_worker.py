"""A process worker that can tear down a run's process (scenario 17).

Prefect 3.9.1's ProcessWorker has no `kill_infrastructure`, so it does not ask for cleanup
delivery; a worker type that can kill its infrastructure (Docker, Kubernetes, ...) does. This one
adds it to the process worker, and with it Prefect's own CancellingTimeoutTeardownHandler.
Run: python teardown_worker.py POOL NAME
"""

import asyncio
import os
import signal
import sys

from prefect.exceptions import InfrastructureNotFound
from prefect.workers.process import ProcessWorker


class TeardownProcessWorker(ProcessWorker):
    type = "process"

    async def kill_infrastructure(self, infrastructure_pid: str, configuration, grace_seconds: int = 30) -> None:
        pid = int(infrastructure_pid.rsplit(":", 1)[-1])
        self._logger.info("tearing down process %s", pid)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError as exc:
            raise InfrastructureNotFound(f"process {pid} is gone") from exc


async def main(pool: str, name: str) -> None:
    async with TeardownProcessWorker(work_pool_name=pool, name=name) as worker:
        await worker.start()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
