"""`tap-convex | target-parquet` into a lake, and one scenario of every kind of change.

The Spark tests (tests/lakehouse) and the DuckDB warehouse tests (tests/duckdb) read what
the same scenario lands, each with its own engine, and compare it with `source_truth`.
The tap and the target run as the commands in ``.venv`` (``scripts/test`` builds it),
exactly as an orchestrator runs them.
"""

from __future__ import annotations

import json
import random
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from convex_emulator import EmulatorServer, Store

ROOT = Path(__file__).resolve().parents[1]
BIN = ROOT / ".venv" / "bin"
#: The scenario's streams, with the component and table each reads.
STREAMS = {"items": ("", "items"), "shop__orders": ("shop", "orders")}


class Pipeline:
    """``tap-convex | target-parquet`` into one lake, keeping the last STATE between runs."""

    def __init__(self, emulator: EmulatorServer, workdir: Path, **target: Any) -> None:
        self.lake = workdir / "lake"
        self.state: dict[str, Any] | None = None
        self.last_output = b""
        """What the tap wrote in the last run (to replay it)."""
        self._workdir = workdir
        self._tap = {"deployment_url": emulator.url, "deploy_key": emulator.admin_key}
        self._target = {"destination_path": str(self.lake), **target}

    def run(self) -> None:
        """One run of the tap from the last STATE, into the target."""
        paths = {name: self._workdir / f"{name}.json" for name in ("tap", "state")}
        paths["tap"].write_text(json.dumps(self._tap))
        command = [str(BIN / "tap-convex"), "--config", str(paths["tap"])]
        if self.state is not None:
            paths["state"].write_text(json.dumps(self.state))
            command += ["--state", str(paths["state"])]
        tap = subprocess.run(command, capture_output=True, check=False)
        assert tap.returncode == 0, tap.stderr.decode()[-3000:]
        self.last_output = tap.stdout
        self.state = self.load(tap.stdout)

    def load(self, singer: bytes) -> dict[str, Any]:
        """Feed the target Singer output; returns the last STATE it passed on."""
        config = self._workdir / "target.json"
        config.write_text(json.dumps(self._target))
        target = subprocess.run(
            [str(BIN / "target-parquet"), "--config", str(config)],
            input=singer,
            capture_output=True,
            check=False,
        )
        assert target.returncode == 0, target.stderr.decode()[-3000:]
        state: dict[str, Any] = json.loads(target.stdout.decode().splitlines()[-1])
        return state


@dataclass(frozen=True)
class Stage:
    """Where the scenario stands: what the truth needs to know about the runs so far."""

    name: str
    first_snapshot: dict[str, int]
    """Each stream's snapshot timestamp: the change log starts there."""
    retired: dict[str, int]
    """Streams whose table was replaced, with the timestamp of the re-sync that saw it."""


def seed(store: Store) -> None:
    """Two tables in two components, with int64 extremes, NaN, nested values and bytes."""
    rng = random.Random(13)
    store.add_component("shop")
    with store.transaction() as tx:
        for number in range(20):
            tx.insert(
                "items",
                {
                    "n": rng.choice([number, 2**62 + number, -(2**63) + number]),
                    "x": rng.choice([0.5 * number, -0.0, float("nan")]),
                    "s": f"item {number}",
                    "b": number % 2 == 0,
                    "o": {"deep": {"big": 2**60 + number}, "list": [number, "x"]},
                    "by": bytes([number, 255]),
                },
            )
        for number in range(5):
            tx.insert("orders", {"total": number * 100, "note": f"order {number}"}, "shop")


def every_kind_of_change(store: Store, pipeline: Pipeline) -> Iterator[Stage]:
    """Seed, sync, and stop after each stage: the snapshot, updates, deletes, a table
    replaced and re-synced, a full re-sync of the other table, a replayed run, and a field
    changing type."""
    seed(store)
    pipeline.run()
    assert pipeline.state is not None
    first = {s: pipeline.state["bookmarks"][s]["table_version"] for s in STREAMS}
    yield Stage("snapshot", first, {})

    items = sorted(store.documents()[("", "items")])
    for doc_id in items[:5]:
        store.patch(doc_id, {"s": f"renamed {doc_id}", "n": 7})
    pipeline.run()
    yield Stage("updates", first, {})

    for doc_id in items[5:8]:
        store.delete(doc_id)
    store.delete(min(store.documents()[("shop", "orders")]))
    pipeline.run()
    yield Stage("deletes", first, {})

    store.delete_table("orders", "shop")  # replaced wholesale: no signal reaches the change log
    for number in range(3):
        store.insert("orders", {"total": 1000 + number, "note": f"fresh {number}"}, "shop")
    pipeline.run()
    del pipeline.state["bookmarks"]["shop__orders"]  # the README's re-sync of one table
    pipeline.run()
    retired = {"shop__orders": pipeline.state["bookmarks"]["shop__orders"]["table_version"]}
    yield Stage("table re-sync", first, retired)

    del pipeline.state["bookmarks"]["items"]  # re-read unchanged: the log holds them twice
    pipeline.run()
    yield Stage("unchanged re-snapshot", first, retired)

    store.patch(items[9], {"s": "replayed"})
    pipeline.run()
    pipeline.load(pipeline.last_output)  # at-least-once: the same run delivered again
    yield Stage("replayed delivery", first, retired)

    store.patch(items[10], {"n": "thirty"})
    pipeline.run()
    yield Stage("type change", first, retired)
