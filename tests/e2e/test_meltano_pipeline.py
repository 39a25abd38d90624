"""End to end: a real `meltano install` and `meltano run tap-convex target-parquet`.

The emulator is the deployment; the Parquet that lands is read back with DuckDB and compared
with the emulator's ground truth, after a snapshot and after inserts, updates and deletes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from convex_emulator import EmulatorServer, Store, datasets
from tests.e2e.pipeline import (
    MELTANO,
    ROOT,
    cdc_current_state,
    current_table,
    meltano,
    meltano_env,
)
from tests.tap.harness import expected_top_level, expected_value

pytestmark = pytest.mark.slow

DEMO_TABLES = {
    "users": ("", "users"),
    "messages": ("", "messages"),
    "products": ("", "products"),
    "waitlist__users": ("waitlist", "users"),
}


@pytest.fixture
def demo_emulator(store: Store) -> Iterator[EmulatorServer]:
    datasets.load_demo(store)
    with EmulatorServer(store) as server:
        yield server


def comparable(row: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    """A landed row's user fields in the form of the source document's expected values."""
    result = {}
    for name, expected in source.items():
        value = row.get(name)
        if isinstance(expected, (dict, list)) and isinstance(value, str):
            value = json.loads(value)
        if isinstance(value, bytes):
            value = expected_value(value)
        result[name] = value
    return result


def assert_lake_matches_source(
    rows: dict[str, dict[str, Any]], store: Store, component: str, table: str
) -> None:
    documents = store.documents().get((component, table), {})
    assert set(rows) == set(documents)
    for doc_id, document in documents.items():
        expected = {k: expected_top_level(v) for k, v in document.items() if not k.startswith("_")}
        assert comparable(rows[doc_id], expected) == expected, (table, doc_id)


def change_some_data(store: Store) -> None:
    users = list(store.documents()[("", "users")])
    messages = list(store.documents()[("", "messages")])
    with store.transaction() as tx:
        for doc_id in users[:5]:
            tx.patch(doc_id, {"name": "updated", "karma": 2**62 + 1})
        for doc_id in messages[:7]:
            tx.delete(doc_id)
        tx.insert("products", {"sku": "NEW-1", "stock": 7, "price": 1.5})
    store.insert("users", {"name": "new user", "age": 30}, component="waitlist")


@pytest.mark.parametrize("mode", ["cdc", "current"])
def test_meltano_run_lands_snapshot_then_changes(
    installed_plugins: None, demo_emulator: EmulatorServer, store: Store, tmp_path: Path, mode: str
) -> None:
    env = meltano_env(demo_emulator, tmp_path, mode)
    lake = tmp_path / "lake"
    for round_number in range(2):
        if round_number:
            change_some_data(store)
        meltano("run", "tap-convex", "target-parquet", env=env)
        for stream, (component, table) in DEMO_TABLES.items():
            if mode == "cdc":
                rows = cdc_current_state(lake, stream)
            else:
                table_rows = current_table(lake, stream)
                ids = [row["_id"] for row in table_rows]
                assert len(ids) == len(set(ids)), "duplicate keys in current"
                rows = {row["_id"]: row for row in table_rows if not row["_deleted"]}
            assert_lake_matches_source(rows, store, component, table)
    state = json.loads(meltano("state", "get", "dev:tap-convex-to-target-parquet", env=env).stdout)
    bookmarks = state["singer_state"]["bookmarks"]
    assert {b["phase"] for b in bookmarks.values()} == {"deltas"}


def test_pipeline_killed_mid_run_loses_nothing_and_duplicates_no_key(
    installed_plugins: None, store: Store, tmp_path: Path
) -> None:
    datasets.generate(store, 30000, tables=3)
    with EmulatorServer(store) as emulator:
        emulator.configure({"snapshot_page_limit": 500})
        env = meltano_env(
            emulator,
            tmp_path,
            "current",
            TARGET_PARQUET_BATCH_SIZE_ROWS="2000",
            TARGET_PARQUET_STATE_INTERVAL_SECONDS="1",
        )
        lake = tmp_path / "lake"
        process = subprocess.Popen(
            [str(MELTANO), "run", "tap-convex", "target-parquet"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 300
        while not list(lake.glob("events/current/gen=*")) and time.monotonic() < deadline:
            assert process.poll() is None, "the pipeline ended before it could be killed"
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        store.insert("table1", {"n": -1})
        # Meltano still sees the killed job as running; --force is the documented recovery.
        meltano("run", "--force", "tap-convex", "target-parquet", env=env)
        for table in ("events", "table1", "table2"):
            table_rows = current_table(lake, table)
            ids = [row["_id"] for row in table_rows]
            assert len(ids) == len(set(ids)), "duplicate keys in current"
            live = {row["_id"] for row in table_rows if not row["_deleted"]}
            assert live == set(store.documents()[("", table)])


@pytest.mark.parametrize("fmt", ["parquet", "delta"])
def test_readme_demo_runs_and_shows_the_deltas_landing(installed_plugins: None, fmt: str) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py"), "--format", fmt],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    second_run = result.stdout.split("Second run (incremental)")[1]
    users_line = next(
        line.split() for line in second_run.splitlines() if line.strip().startswith("users")
    )
    assert users_line == ["users", "8", "3", "37"]
    assert f"The {fmt} change log is in" in result.stdout
    views = result.stdout.split("keeps DuckDB")[1]
    history = views.split("users__history:")[1].split("users__changes:")[0]
    assert "renamed" in history  # an updated user's new version
    assert history.count("true") >= 2  # current versions and deletes, shown as booleans
