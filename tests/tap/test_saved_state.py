"""STATE written by an earlier release still resumes (fixtures saved from release 0.1.0).

The fixtures were emitted by tap-convex 0.1.0 against the demo deployment of a store with
seed 1, a frozen clock and snapshot pages of 5, so the same deployment built here holds the
positions they name.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from convex_emulator import Clock, EmulatorServer, Store, StoreConfig, datasets
from tests.conftest import FROZEN_START_NS
from tests.tap.harness import Output, Replica, config_for, run_tap, source_documents

FIXTURES = Path(__file__).parent / "fixtures" / "release-0.1.0"
STREAMS = {
    "users": ("", "users"),
    "messages": ("", "messages"),
    "products": ("", "products"),
    "drafts": ("", "drafts"),
    "waitlist__users": ("waitlist", "users"),
}


@pytest.fixture
def release_deployment() -> Iterator[EmulatorServer]:
    store = Store(
        seed=1,
        clock=Clock(frozen_at_ns=FROZEN_START_NS),
        config=StoreConfig(snapshot_page_limit=5),
    )
    datasets.load_demo(store)
    with EmulatorServer(store) as server:
        yield server


def saved_output(name: str) -> Output:
    lines = (FIXTURES / name).read_text().splitlines()
    return Output([json.loads(line) for line in lines])


def saved_state(name: str) -> dict[str, Any]:
    state: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return state


def test_a_mid_snapshot_state_of_release_0_1_0_resumes_and_converges(
    release_deployment: EmulatorServer,
) -> None:
    earlier = saved_output("mid-snapshot.jsonl")
    state = earlier.last_state
    assert state is not None
    assert {b["phase"] for b in state["bookmarks"].values()} == {"snapshot"}
    resumed = run_tap(config_for(release_deployment), state=state)
    first_ids = {r["_id"] for r in earlier.records()}
    assert not first_ids & {r["_id"] for r in resumed.records()}  # resumed, not restarted
    replica = Replica().apply(earlier).apply(resumed)
    for stream, (component, table) in STREAMS.items():
        assert replica.documents(stream) == source_documents(release_deployment, component, table)


def test_a_change_log_state_of_release_0_1_0_reads_only_later_changes(
    release_deployment: EmulatorServer,
) -> None:
    store = release_deployment.store
    doc_id = store.insert("messages", {"body": "after the saved state", "likes": 2**60 + 1})
    state = saved_state("after-snapshot-state.json")
    resumed = run_tap(config_for(release_deployment), state=state)
    assert [r["_id"] for r in resumed.records()] == [doc_id]
    assert resumed.records()[0]["likes"] == 2**60 + 1
    final = resumed.last_state
    assert final is not None
    assert (
        final["bookmarks"]["messages"]["deltas_cursor"]
        > (state["bookmarks"]["messages"]["deltas_cursor"])
    )
    assert (
        final["bookmarks"]["messages"]["table_version"]
        == (state["bookmarks"]["messages"]["table_version"])
    )
