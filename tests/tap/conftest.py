"""Fixtures for tap tests: an emulator seeded with the demo deployment, and a tap config."""

from __future__ import annotations

from typing import Any

import pytest

from convex_emulator import EmulatorServer, Store, datasets
from tests.tap.harness import config_for


@pytest.fixture
def demo(store: Store) -> Store:
    datasets.load_demo(store)
    return store


@pytest.fixture
def config(emulator: EmulatorServer) -> dict[str, Any]:
    return config_for(emulator)
