"""Format `delta`, mode `current`: a MERGE per checkpoint, by the rules of Parquet `current`."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_current import current, user_view, users

from parquet_helpers import (
    activate,
    by_id,
    delete,
    delta_table,
    read_delta,
    run,
    state,
    upsert,
)
from target_parquet.delta_table import APP_ID


def delta(lake: Path, **settings: object) -> dict:
    return current(lake, "delta", **settings)


def test_a_checkpoint_merges_by_id_and_keeps_the_tombstones_beside_the_table(
    lake: Path,
) -> None:
    config = delta(lake, hard_delete=True)
    run(config, users(upsert("users", "a", 10, name="Ann"), upsert("users", "b", 10, name="Bob")))
    run(config, users(delete("users", "a", 20)))
    run(config, users(delete("users", "b", 21), upsert("users", "c", 22, name="Cy")))
    assert delta_table(lake, "users").history()[0]["operation"] == "MERGE"
    tombstones = list((lake / "users" / "_target_parquet").glob("tombstones-*.arrow"))
    assert [path.name for path in tombstones] == [f"tombstones-{2:020d}.arrow"]
    assert sorted(by_id(read_delta(lake, "users"))) == ["c"]


@pytest.mark.parametrize("hard_delete", [False, True])
def test_a_replayed_resync_changes_nothing(lake: Path, hard_delete: bool) -> None:
    config = delta(lake, hard_delete=hard_delete)
    run(config, users(upsert("users", "a", 10, name="a"), upsert("users", "b", 10, name="x")))
    resync = users(upsert("users", "a", 10, version=2, name="a"), activate("users", 2))
    run(config, resync)
    before = user_view(lake, "delta")
    run(config, resync)
    assert user_view(lake, "delta") == before


def test_every_checkpoint_is_one_commit_and_state_follows_it(lake: Path) -> None:
    messages = users(
        upsert("users", "a", 1, name="a"),
        state(1),
        upsert("users", "b", 2, name="b"),
        state(2),
    )
    assert run(delta(lake, state_interval_seconds=0), messages) == [{"n": 1}, {"n": 2}]
    table = delta_table(lake, "users")
    assert table.transaction_version(APP_ID) == len(table.history()) == 2


def test_streams_without_id_merge_by_their_key_properties(lake: Path) -> None:
    generic = {
        "type": "SCHEMA",
        "stream": "plain",
        "schema": {
            "properties": {
                "k1": {"type": "integer"},
                "k2": {"type": "string"},
                "v": {"type": "string"},
            }
        },
        "key_properties": ["k1", "k2"],
    }

    def record(k1: int, k2: str, v: str) -> dict:
        return {"type": "RECORD", "stream": "plain", "record": {"k1": k1, "k2": k2, "v": v}}

    run(delta(lake), [generic, record(1, "x", "a"), record(1, "y", "b"), record(1, "x", "c")])
    run(delta(lake), [generic, record(2, "x", "d"), record(1, "y", "e")])
    rows = read_delta(lake, "plain").to_pylist()
    assert sorted((r["k1"], r["k2"], r["v"]) for r in rows) == [
        (1, "x", "c"),
        (1, "y", "e"),
        (2, "x", "d"),
    ]
