"""Broken or hostile answers: a clear error or a safe retry, never corrupted state or loss."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from convex_emulator import EmulatorServer, Fault, Store
from tests.tap.harness import Replica, parse_lines, run_tap, run_tap_process, source_documents


def run_cli(config: dict[str, Any], tmp_path: Path, state: dict[str, Any] | None = None) -> Any:
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    state_path = None
    if state is not None:
        state_path = tmp_path / "state.json"
        state_path.write_text(json.dumps(state))
    return run_tap_process(config_path, state_path)


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (Fault("list_snapshot", "null_cursor", skip=1), "hasMore but gave no cursor"),
        (Fault("list_snapshot", "shift_snapshot", skip=1), "changed the snapshot"),
        (Fault("list_snapshot", "drop_field", field="values", skip=1), "list of values"),
        (Fault("list_snapshot", "mistype_field", field="hasMore", skip=1), "hasMore flag"),
        (Fault("list_snapshot", "drop_value_field", field="_ts", skip=1), "an integer _ts"),
        (Fault("list_snapshot", "drop_value_field", field="_id", skip=1), "a string _id"),
        (Fault("list_snapshot", "mistype_value_field", field="_table", skip=1), "string _table"),
    ],
    ids=[
        "null-cursor",
        "snapshot-changes",
        "missing-values",
        "mistyped-hasMore",
        "value-without-_ts",
        "value-without-_id",
        "value-with-mistyped-_table",
    ],
)
def test_broken_snapshot_page_stops_with_a_clear_error_and_a_resumable_state(
    demo: Store,
    emulator: EmulatorServer,
    config: dict[str, Any],
    tmp_path: Path,
    fault: Fault,
    message: str,
) -> None:
    emulator.configure({"snapshot_page_limit": 20})
    emulator.faults.add(fault)
    result = run_cli(config, tmp_path)
    assert result.returncode != 0
    assert message in result.stderr.splitlines()[-1]
    partial = parse_lines(result.stdout)
    assert partial.last_state is not None  # what was emitted before the bad page is checkpointed
    resumed = run_tap(config, state=partial.last_state)
    replica = Replica().apply(partial).apply(resumed)
    assert replica.documents("messages") == source_documents(emulator, "", "messages")


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (Fault("document_deltas", "rewind_cursor"), "moved the cursor backwards"),
        (Fault("document_deltas", "mistype_field", field="cursor"), "integer cursor"),
        (Fault("document_deltas", "drop_field", field="hasMore"), "hasMore flag"),
        (Fault("document_deltas", "drop_value_field", field="_component"), "string _component"),
        (Fault("document_deltas", "mistype_value_field", field="_ts"), "an integer _ts"),
    ],
    ids=[
        "cursor-backwards",
        "mistyped-cursor",
        "missing-hasMore",
        "value-without-_component",
        "value-with-mistyped-_ts",
    ],
)
def test_broken_deltas_page_stops_without_moving_state(
    demo: Store,
    emulator: EmulatorServer,
    config: dict[str, Any],
    tmp_path: Path,
    fault: Fault,
    message: str,
) -> None:
    first = run_tap(config)
    demo.insert("users", {"name": "after"})
    emulator.faults.add(fault)
    result = run_cli(config, tmp_path, first.last_state)
    assert result.returncode != 0
    assert message in result.stderr.splitlines()[-1]
    states = parse_lines(result.stdout).states
    assert all(s["bookmarks"] == first.last_state["bookmarks"] for s in states)
    resumed = run_tap(config, state=first.last_state)
    assert [r["name"] for r in resumed.records("users")] == ["after"]


def test_slow_trickle_of_a_page_is_read_whole(
    demo: Store, emulator: EmulatorServer, config: dict[str, Any]
) -> None:
    emulator.faults.add(Fault("list_snapshot", "trickle", delay=0.002, count=2))
    replica = Replica().apply(run_tap(config))
    assert replica.documents("messages") == source_documents(emulator, "", "messages")


def test_huge_page_is_handled(
    store: Store, emulator: EmulatorServer, config: dict[str, Any]
) -> None:
    emulator.configure({"snapshot_page_limit": 50_000})
    with store.transaction() as tx:
        for number in range(20_000):
            tx.insert("bulk", {"n": number, "text": "y" * 50})
    assert len(run_tap(config).records("bulk")) == 20_000
