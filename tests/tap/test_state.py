"""Bookmarks as types: their transitions and their STATE form, without a server."""

from __future__ import annotations

import pytest

from tap_convex.errors import StateError
from tap_convex.state import Snapshotting, Streaming, from_state, next_table_version


def test_a_snapshot_is_pinned_then_paged_then_handed_over_at_its_timestamp() -> None:
    fresh = Snapshotting("c", "t")
    pinned = fresh.pinned(100)
    assert pinned == Snapshotting("c", "t", 100, None, 100)
    paged = pinned.page_emitted("cursor-1")
    assert paged.position == (100, "cursor-1")
    assert paged.completed() == Streaming("c", "t", 100, 100)


def test_a_new_snapshot_gets_a_version_above_every_earlier_one() -> None:
    assert Snapshotting("c", "t", table_version=500).pinned(100).table_version == 501
    assert next_table_version(None, 7) == 7
    assert next_table_version(7, 7) == 8
    assert next_table_version(7, 9) == 9


def test_change_log_positions_never_move_back() -> None:
    streaming = Streaming("c", "t", 50, 10)
    assert streaming.page_emitted(40).cursor == 50
    assert streaming.page_emitted(60).cursor == 60


def test_a_restart_forgets_the_position_but_keeps_the_version() -> None:
    assert Streaming("c", "t", 50, 10).restarted() == Snapshotting("c", "t", table_version=10)
    assert Snapshotting("c", "t", 5, "x", 10).restarted() == Snapshotting("c", "t", None, None, 10)


@pytest.mark.parametrize(
    "build",
    [
        lambda: Snapshotting("c", "t", None, "cursor", 1),  # a cursor without its snapshot
        lambda: Snapshotting("c", "t", 5, None, None),  # a pinned snapshot without a version
    ],
)
def test_impossible_bookmarks_cannot_be_built(build: object) -> None:
    with pytest.raises(ValueError, match="snapshot"):
        build()  # type: ignore[operator]


def test_only_a_pinned_snapshot_completes() -> None:
    with pytest.raises(ValueError, match="pinned"):
        Snapshotting("c", "t").completed()


@pytest.mark.parametrize(
    "bookmark",
    [
        Snapshotting("", "users"),
        Snapshotting("a/b", "users", 10, None, 10),
        Snapshotting("a/b", "users", 10, '{"id":"x"}', 12),
        Streaming("", "users", 99, 10),
        Streaming("", "users", 99, None),
    ],
)
def test_every_bookmark_reads_back_from_its_state(
    bookmark: Snapshotting | Streaming,
) -> None:
    raw = bookmark.to_state()
    assert raw["state_format"] == 1
    assert from_state("s", raw, bookmark.component, bookmark.table) == bookmark


def test_the_state_form_is_the_documented_flat_object() -> None:
    assert Streaming("", "messages", 17, 11).to_state() == {
        "state_format": 1,
        "component": "",
        "table": "messages",
        "phase": "deltas",
        "snapshot_ts": None,
        "snapshot_cursor": None,
        "deltas_cursor": 17,
        "table_version": 11,
    }


@pytest.mark.parametrize("raw", [None, {}, {"unrelated": 1}])
def test_an_absent_bookmark_means_a_fresh_snapshot(raw: object) -> None:
    assert from_state("s", raw, "", "t") == Snapshotting("", "t")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("text", "not an object"),
        ({"state_format": 2, "phase": "deltas"}, "state_format 2"),
        ({"state_format": 1, "component": "", "table": "other"}, "belongs to table"),
        (
            {"state_format": 1, "component": "", "table": "t", "phase": "deltas"},
            "not a valid",
        ),
        (
            {
                "state_format": 1,
                "component": "",
                "table": "t",
                "phase": "snapshot",
                "snapshot_cursor": "x",
            },
            "not a valid",
        ),
        (
            {
                "state_format": 1,
                "component": "",
                "table": "t",
                "phase": "deltas",
                "deltas_cursor": -1,
            },
            "not a valid",
        ),
        (
            {
                "state_format": 1,
                "component": "",
                "table": "t",
                "phase": "deltas",
                "deltas_cursor": True,
            },
            "not a valid",
        ),
    ],
)
def test_a_broken_bookmark_is_named_with_what_to_do(raw: object, message: str) -> None:
    with pytest.raises(StateError, match=message) as error:
        from_state("s", raw, "", "t")
    assert "remove this stream's bookmark" in str(error.value)
