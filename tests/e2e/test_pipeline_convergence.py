"""Randomized crashes of the whole pipeline: `meltano run` SIGKILLed at random moments while the
deployment changes, rerun with `--force` from the state Meltano stored, and the lake converges."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from convex_emulator import EmulatorServer, Store
from tests.e2e.pipeline import (
    MELTANO,
    ROOT,
    cdc_current_state,
    current_table,
    meltano,
    meltano_env,
)

pytestmark = pytest.mark.slow

TABLES = [("", "alpha"), ("", "beta"), ("team", "alpha")]


def write_changes(store: Store, rng: random.Random, transactions: int, counter: list[int]) -> None:
    """Inserts, updates and deletes; every write stamps the document with a new `v`."""
    for _ in range(transactions):
        live = [doc_id for docs in store.documents().values() for doc_id in docs]
        with store.transaction() as tx:
            for _ in range(rng.randrange(1, 20)):
                counter[0] += 1
                choice = rng.random()
                if choice < 0.6 or not live:
                    component, table = rng.choice(TABLES)
                    tx.insert(table, {"v": counter[0], "pad": "x" * 100}, component)
                elif choice < 0.85:
                    tx.patch(rng.choice(live), {"v": counter[0]})
                else:
                    tx.delete(live.pop(rng.randrange(len(live))))


def landed_versions(lake: Path, stream: str, mode: str) -> dict[str, Any]:
    if not (lake / stream).exists():
        return {}
    if mode == "cdc":
        return {doc_id: row["v"] for doc_id, row in cdc_current_state(lake, stream).items()}
    rows = current_table(lake, stream)
    ids = [row["_id"] for row in rows]
    assert len(ids) == len(set(ids)), "duplicate keys in current"
    return {row["_id"]: row["v"] for row in rows if not row["_deleted"]}


def test_random_pipeline_kills_converge(
    pipeline_seed: int, installed_plugins: None, store: Store, tmp_path: Path
) -> None:
    rng = random.Random(pipeline_seed)
    mode = rng.choice(["cdc", "current"])
    store.add_component("team")
    counter = [0]
    write_changes(store, rng, 200, counter)
    with EmulatorServer(store) as emulator:
        emulator.configure(
            {
                "snapshot_page_limit": rng.choice([20, 100, 1000]),
                "deltas_page_limit": rng.choice([5, 50, 128]),
            }
        )
        env = meltano_env(
            emulator,
            tmp_path,
            mode,
            TARGET_PARQUET_BATCH_SIZE_ROWS=str(rng.choice([50, 500, 5000])),
            TARGET_PARQUET_STATE_INTERVAL_SECONDS="1",
            # hash buckets in `current`, compaction of small files in `cdc`
            TARGET_PARQUET_CURRENT_BUCKETS=str(rng.choice([1, 3])),
            TARGET_PARQUET_COMPACT_MIN_FILES=str(rng.choice([0, 2])),
        )
        for _ in range(rng.randrange(2, 4)):
            write_changes(store, rng, rng.randrange(20, 120), counter)
            process = subprocess.Popen(
                [str(MELTANO), "run", "--force", "tap-convex", "target-parquet"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            time.sleep(rng.uniform(1.0, 5.0))
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=60)
        meltano("run", "--force", "tap-convex", "target-parquet", env=env)
        lake = tmp_path / "lake"
        for component, table in TABLES:
            stream = table if not component else f"{component}__{table}"
            source = {
                doc_id: doc["v"] for doc_id, doc in store.documents()[(component, table)].items()
            }
            assert landed_versions(lake, stream, mode) == source, (stream, mode)
