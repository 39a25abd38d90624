"""Moving a state between transports, and an expired data-sync cursor."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from convex_emulator import EmulatorServer, Store
from tap_convex.errors import TapConvexError
from tests.tap.harness import Output, run_tap
from tests.tap.test_data_sync_truncates import DATA_SYNC, assert_converged

DAY = 86_400


def change(store: Store) -> None:
    users = sorted(store.documents()[("", "users")])
    with store.transaction() as tx:
        tx.patch(users[0], {"name": "changed"})
        tx.delete(users[1])
        tx.insert("messages", {"body": "after", "likes": 2**60})


@pytest.fixture
def data_synced(demo: Store, config: dict[str, Any]) -> Output:
    """A data_sync run, then changes at the source."""
    output = run_tap({**config, **DATA_SYNC})
    change(demo)
    return output


def run_logged(
    caplog: pytest.LogCaptureFixture, config: dict[str, Any], state: dict[str, Any] | None
) -> Output:
    with caplog.at_level(logging.WARNING, logger="tap_convex"):
        return run_tap(config, state=state)


def test_streaming_export_state_moves_to_data_sync_without_a_resnapshot(
    demo: Store, emulator: EmulatorServer, config: dict[str, Any]
) -> None:
    first = run_tap(config)
    change(demo)
    emulator.requests.clear()
    moved = run_tap({**config, **DATA_SYNC}, state=first.last_state)
    assert not emulator.requests.entries("list_snapshot")
    assert len(emulator.requests.entries("data_sync_cursor_from_deltas")) == 1
    assert not moved.of_type("ACTIVATE_VERSION")
    assert len(moved.records()) == 3
    state = moved.last_state
    assert state is not None
    assert isinstance(state["data_sync"]["cursor"], str)
    assert {b["phase"] for b in state["bookmarks"].values()} == {"data_sync"}
    before = first.last_state["bookmarks"]
    assert all(
        b["table_version"] == before[n]["table_version"] for n, b in state["bookmarks"].items()
    )
    assert_converged(emulator, first, moved)
    # and on from there, with the data-sync cursor
    change(demo)
    again = run_tap({**config, **DATA_SYNC}, state=state)
    assert len(again.records()) == 3
    assert_converged(emulator, first, moved, again)


def test_moving_back_to_streaming_export_resnapshots_with_a_warning(
    data_synced: Output,
    emulator: EmulatorServer,
    config: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    first = data_synced
    back = run_logged(caplog, config, first.last_state)
    assert "RE-SNAPSHOT" in caplog.text
    assert emulator.requests.entries("list_snapshot")
    state = back.last_state
    assert state is not None
    assert "data_sync" not in state
    assert {b["phase"] for b in state["bookmarks"].values()} == {"deltas"}
    activated = {m["stream"]: m["version"] for m in back.of_type("ACTIVATE_VERSION")}
    old = first.last_state["bookmarks"]
    assert all(version > old[stream]["table_version"] for stream, version in activated.items())
    assert_converged(emulator, first, back)


def test_an_expired_cursor_restarts_the_sync_loudly(
    data_synced: Output, emulator: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    first = data_synced
    emulator.store.clock.advance(15 * DAY)
    config = {"deployment_url": emulator.url, "deploy_key": emulator.admin_key}
    again = run_logged(caplog, {**config, **DATA_SYNC}, first.last_state)
    assert "RE-SYNC" in caplog.text
    assert "DataSyncCursorExpired" in caplog.text
    assert {m["stream"] for m in again.of_type("ACTIVATE_VERSION")} == set(
        first.last_state["bookmarks"]
    )
    assert_converged(emulator, first, again)


def test_an_expired_cursor_fails_when_so_configured(demo: Store, config: dict[str, Any]) -> None:
    first = run_tap({**config, **DATA_SYNC})
    demo.clock.advance(15 * DAY)
    failing = {**config, **DATA_SYNC, "on_expired_position": "fail"}
    with pytest.raises(TapConvexError, match="data-sync position has expired"):
        run_tap(failing, state=first.last_state)


def test_an_expired_change_log_position_restarts_the_move_to_data_sync(
    demo: Store, emulator: EmulatorServer, config: dict[str, Any]
) -> None:
    first = run_tap(config)
    change(demo)
    demo.clock.advance(15 * DAY)
    moved = run_tap({**config, **DATA_SYNC}, state=first.last_state)
    assert len(moved.of_type("ACTIVATE_VERSION")) == len(first.last_state["bookmarks"])
    assert_converged(emulator, first, moved)
