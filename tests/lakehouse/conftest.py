"""Spark (local[1]) in a venv of its own, an emulated deployment, and the pipeline into a lake.

The tap and the target run as the commands in ``.venv`` (``scripts/test`` builds it), exactly
as an orchestrator runs them; Spark only reads what they landed.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from convex_emulator import Clock, EmulatorServer, Store, StoreConfig

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# These tests run in .venv-spark (scripts/test-lakehouse); in the tap's .venv, which has no
# Spark, they are left out of collection rather than failing there.
if importlib.util.find_spec("pyspark") is None:
    collect_ignore_glob = ["test_*.py"]

ROOT = Path(__file__).resolve().parents[2]
BIN = ROOT / ".venv" / "bin"
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


class Pipeline:
    """``tap-convex | target-parquet`` into one lake, keeping the last STATE between runs."""

    def __init__(self, emulator: EmulatorServer, workdir: Path, **target: Any) -> None:
        self.lake = workdir / "lake"
        self.state: dict[str, Any] | None = None
        self._workdir = workdir
        self._tap = {"deployment_url": emulator.url, "deploy_key": emulator.admin_key}
        self._target = {"destination_path": str(self.lake), **target}

    def run(self) -> None:
        paths = {name: self._workdir / f"{name}.json" for name in ("tap", "target", "state")}
        paths["tap"].write_text(json.dumps(self._tap))
        paths["target"].write_text(json.dumps(self._target))
        command = [str(BIN / "tap-convex"), "--config", str(paths["tap"])]
        if self.state is not None:
            paths["state"].write_text(json.dumps(self.state))
            command += ["--state", str(paths["state"])]
        tap = subprocess.run(command, capture_output=True, check=False)
        assert tap.returncode == 0, tap.stderr.decode()[-3000:]
        target = subprocess.run(
            [str(BIN / "target-parquet"), "--config", str(paths["target"])],
            input=tap.stdout,
            capture_output=True,
            check=False,
        )
        assert target.returncode == 0, target.stderr.decode()[-3000:]
        self.state = json.loads(target.stdout.decode().splitlines()[-1])
