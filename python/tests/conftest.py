import pytest


@pytest.fixture(autouse=True, scope="session")
def prefect_server(prefect_lite):
    """Every test runs against one prefect-lite server, as Prefect's docs set up prefect_test_harness."""
    yield prefect_lite
