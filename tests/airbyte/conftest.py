"""Fixtures for the declarative Convex source: a real emulator on loopback.

These tests run in ``.venv-airbyte`` (``scripts/test-airbyte``). In the tap's ``.venv``,
which has no airbyte-cdk, they are left out of collection rather than failing there.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest

from convex_emulator import EmulatorClient, EmulatorServer, Store, StoreConfig

if importlib.util.find_spec("airbyte_cdk") is None:
    collect_ignore_glob = ["test_*.py"]
else:  # the options the CDK's standard suite reads (test_standard_suite.py)
    from airbyte_cdk.test.standard_tests.pytest_hooks import pytest_addoption  # noqa: F401

SNAPSHOT_PAGE_LIMIT = 7
DELTAS_PAGE_LIMIT = 5


def pytest_configure(config: pytest.Config) -> None:
    # Markers of the CDK's standard suite (test_standard_suite.py).
    config.addinivalue_line("markers", "requires_creds: the scenario reads a config in secrets/")
    config.addinivalue_line("markers", "image_tests: the test runs the connector's docker image")
    # The CDK warns about its own experimental classes (dynamic streams) and its HTTP cache.
    config.addinivalue_line("filterwarnings", "ignore:This class is experimental")
    config.addinivalue_line("filterwarnings", "ignore:`cache_name` cannot be set")


@pytest.fixture
def store() -> Store:
    """An empty deployment on the wall clock (the CDK judges a position's age by it), with
    small pages so that every walk spans several."""
    config = StoreConfig(
        snapshot_page_limit=SNAPSHOT_PAGE_LIMIT, deltas_page_limit=DELTAS_PAGE_LIMIT
    )
    return Store(seed=1, config=config)


@pytest.fixture
def emulator(store: Store) -> Iterator[EmulatorServer]:
    with EmulatorServer(store) as server:
        yield server


@pytest.fixture
def admin(emulator: EmulatorServer) -> EmulatorClient:
    return EmulatorClient(emulator.url, emulator.admin_key)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip the standard suite's image tests: they build the connector's docker image from a
    Dockerfile and a base image fetched from the network, and these tests run offline."""
    offline = pytest.mark.skip(
        reason="needs the network: builds the docker image from Airbyte's Dockerfile and the "
        "source-declarative-manifest base image"
    )
    for item in items:
        if item.name.startswith("test_docker_image_"):
            item.add_marker(offline)
