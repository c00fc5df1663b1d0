"""The flow behind the browser test's deployment (test/ui/seed/seed_ui_data.py)."""

from prefect import flow


@flow(name="ui-greet")
def greet(name: str = "world", times: int = 1) -> str:
    return " ".join([f"hello {name}"] * times)
