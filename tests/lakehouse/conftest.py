"""Spark (local[1]) in a venv of its own, an emulated deployment, and the pipeline into a lake.

The pipeline and its scenario are `tests/lake_pipeline.py`'s; Spark only reads what they
landed.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from convex_emulator import Clock, EmulatorServer, Store, StoreConfig
from tests.lake_pipeline import BIN

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# These tests run in .venv-spark (scripts/test-lakehouse); in the tap's .venv, which has no
# Spark, they are left out of collection rather than failing there.
if importlib.util.find_spec("pyspark") is None:
    collect_ignore_glob = ["test_*.py"]

FROZEN_START_NS = 1_750_000_000_000_000_000


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    """One small local session for the whole run (a JVM start costs seconds)."""
    from pyspark.sql import SparkSession  # noqa: PLC0415 - only where Spark is installed

    if not (BIN / "tap-convex").exists():
        pytest.fail("the tap's venv is missing: run scripts/test (it builds .venv first)")
    session: SparkSession = (
        SparkSession.builder.master("local[1]")
        .appName("tap-convex lakehouse tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture
def store() -> Store:
    return Store(seed=3, clock=Clock(frozen_at_ns=FROZEN_START_NS), config=StoreConfig())


@pytest.fixture
def emulator(store: Store) -> Iterator[EmulatorServer]:
    with EmulatorServer(store) as server:
        yield server
