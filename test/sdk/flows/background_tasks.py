"""Used by scenario 13: `python background_tasks.py` serves these tasks (a task worker) until Ctrl-C;
the scenario imports the same module, so its `.delay()` calls name the same task keys."""

from prefect import task
from prefect.task_worker import serve


@task
def add(x: int, y: int) -> int:
    return x + y


@task(retries=1, retry_delay_seconds=0)
def flaky(marker: str) -> str:
    """Fails its first attempt (remembered in a marker file), succeeds on the retry."""
    from pathlib import Path

    path = Path(marker)
    if not path.exists():
        path.write_text("failed once")
        raise RuntimeError("first attempt fails")
    return "recovered"


if __name__ == "__main__":
    serve(add, flaky)
