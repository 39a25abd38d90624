"""Crashes: SIGKILL the tap mid-snapshot and mid-delta, resume from its last STATE, lose nothing."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from convex_emulator import EmulatorServer, Store, datasets
from tests.tap.harness import Output, Replica, run_and_kill, run_tap, source_documents

pytestmark = pytest.mark.slow


def duplicates(*outputs: Output) -> int:
    seen = Counter((r["_id"], r["_ts"]) for output in outputs for r in output.records())
    return sum(count - 1 for count in seen.values())


def test_resume_after_kill_mid_snapshot_loses_nothing(
    store: Store, emulator: EmulatorServer, config: dict[str, Any], tmp_path: Path
) -> None:
    datasets.generate(store, 3000, tables=3)
    emulator.configure({"snapshot_page_limit": 50})
    killed = run_and_kill(config, None, tmp_path, kill_after_records=1000)
    assert killed.last_state is not None
    assert all(b["phase"] == "snapshot" for b in killed.last_state["bookmarks"].values())
    resumed = run_tap(config, state=killed.last_state)
    replica = Replica().apply(killed).apply(resumed)
    for stream, table in (("events", "events"), ("table1", "table1"), ("table2", "table2")):
        assert replica.documents(stream) == source_documents(emulator, "", table)
    assert duplicates(killed, resumed) <= 50


def test_resume_after_kill_mid_deltas_loses_nothing(
    store: Store, emulator: EmulatorServer, config: dict[str, Any], tmp_path: Path
) -> None:
    datasets.load_demo(store)
    first = run_tap(config)
    for batch in range(300):
        with store.transaction() as tx:
            for number in range(10):
                tx.insert("messages", {"body": f"{batch}/{number}", "likes": batch * 10 + number})
    emulator.configure({"deltas_page_limit": 20})
    killed = run_and_kill(config, first.last_state, tmp_path, kill_after_records=1000)
    assert killed.last_state is not None
    assert killed.last_state["bookmarks"]["messages"]["phase"] == "deltas"
    resumed = run_tap(config, state=killed.last_state)
    replica = Replica().apply(first).apply(killed).apply(resumed)
    assert replica.documents("messages") == source_documents(emulator, "", "messages")
    assert duplicates(first, killed, resumed) <= 20


def test_resumed_snapshot_continues_from_its_checkpoint_not_from_scratch(
    store: Store, emulator: EmulatorServer, config: dict[str, Any], tmp_path: Path
) -> None:
    datasets.generate(store, 3000, tables=1)
    emulator.configure({"snapshot_page_limit": 50})
    killed = run_and_kill(config, None, tmp_path, kill_after_records=1000)
    bookmark = killed.last_state["bookmarks"]["events"]
    emulator.requests.clear()
    resumed = run_tap(config, state=killed.last_state)
    first_request = emulator.requests.entries("list_snapshot")[0]["args"]
    assert first_request["snapshot"] == bookmark["snapshot_ts"]
    assert first_request["cursor"] == bookmark["snapshot_cursor"]
    assert len(resumed.records("events")) < 3000


def test_a_snapshot_is_saved_before_its_records_so_a_kill_then_resumes_it(
    store: Store, emulator: EmulatorServer, config: dict[str, Any]
) -> None:
    """Records of a snapshot can land before any STATE after them is kept. The snapshot's
    timestamp is saved first, so the next run resumes that snapshot, and its change log
    starts there: a document deleted since then arrives as a delete, which a run starting
    a new snapshot would never send."""
    datasets.generate(store, 300, tables=1)
    emulator.configure({"snapshot_page_limit": 50})
    first = run_tap(config)
    kinds = [m["type"] for m in first.messages]
    pinned = first.messages[kinds.index("STATE")]
    assert kinds.index("STATE") < kinds.index("RECORD")
    bookmark = pinned["value"]["bookmarks"]["events"]
    assert bookmark["phase"] == "snapshot"
    assert bookmark["snapshot_cursor"] is None
    landed = first.records("events")[:50]  # a killed run's first page, landed, no STATE kept
    store.delete(landed[0]["_id"])
    resumed = run_tap(config, state=pinned["value"])
    deletes = [r["_id"] for r in resumed.records("events") if r["_deleted"]]
    assert deletes == [landed[0]["_id"]]
    replay: dict[str, dict[str, Any]] = {}  # upsert at the highest _ts, delete on _deleted
    for record in sorted([*landed, *resumed.records("events")], key=lambda r: r["_ts"]):
        if record["_deleted"]:
            replay.pop(record["_id"], None)
        else:
            replay[record["_id"]] = record
    assert set(replay) == set(source_documents(emulator, "", "events"))
