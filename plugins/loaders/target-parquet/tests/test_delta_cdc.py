"""Format `delta`, mode `cdc`: a bronze Delta table per stream, append-only and replay-safe."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from test_cdc import history
from test_crash_recovery import EVENTS, expected_names, kill_after_first_state, stream_messages

from parquet_helpers import (
    add_actions,
    cdc_files,
    delta_table,
    read_delta,
    run,
    schema,
    singer_lines,
    state,
    upsert,
)
from target_parquet.delta_table import APP_ID, DeltaStream
from target_parquet.errors import TargetError
from target_parquet.landing import Destination
from target_parquet.resolution import latest_per_key
from target_parquet.storage import LoadIds, Storage
from target_parquet.target import TargetParquet

NAME = {"type": ["string", "null"]}


def delta(lake: Path, **settings: object) -> dict:
    return {"destination_path": str(lake), "format": "delta", **settings}


def keys(table: object) -> list[tuple]:
    return sorted((r["_id"], r["_ts"]) for r in table.to_pylist())  # type: ignore[attr-defined]


def test_the_log_is_a_delta_table_with_the_parquet_logs_columns(tmp_path: Path) -> None:
    run(delta(tmp_path / "d"), history())
    run({"destination_path": str(tmp_path / "p")}, history())
    table = read_delta(tmp_path / "d", "users")
    (parquet_file,) = cdc_files(tmp_path / "p", "users")
    parquet = pq.read_table(parquet_file)
    assert (tmp_path / "d" / "users" / "_delta_log").is_dir()
    assert table.column_names == parquet.column_names
    assert keys(table) == keys(parquet)
    for name in table.column_names:
        assert table.schema.field(name).type == parquet.schema.field(name).type, name
    row = {(r["_id"], r["_ts"]): r for r in table.to_pylist()}[("b", 21)]
    assert (row["_deleted"], row["_sdc_table_version"]) == (True, 1)
    assert row["_sdc_deleted_at"].isoformat() == "2026-08-10T10:30:00+00:00"


@pytest.mark.parametrize(("batch_size_rows", "commits"), [(100, 1), (2, 3)])
def test_a_checkpoint_is_one_commit_carrying_the_application_transaction(
    lake: Path, batch_size_rows: int, commits: int
) -> None:
    """One checkpoint (the whole input here), one commit; a full batch commits on its own."""
    states = run(delta(lake, batch_size_rows=batch_size_rows), history())
    assert states == [{"n": 2}]
    table = delta_table(lake, "users")
    writes = [c for c in table.history() if c["operation"] in {"CREATE TABLE", "WRITE"}]
    assert len(writes) == commits
    assert table.transaction_version(APP_ID) == commits
    assert {c["target_parquet.duplicates_skipped"] for c in writes} == {0}
    assert len({c["target_parquet.load_id"] for c in writes}) == commits


def test_replaying_the_same_messages_appends_nothing(lake: Path) -> None:
    run(delta(lake), history())
    version = delta_table(lake, "users").version()
    run(delta(lake), history())
    assert delta_table(lake, "users").version() == version
    landed = keys(read_delta(lake, "users"))
    assert len(landed) == len(set(landed)) == 6


def test_a_partial_replay_lands_only_the_unseen_rows(lake: Path) -> None:
    messages = history()
    run(delta(lake, batch_size_rows=2), messages[:4])
    run(delta(lake, batch_size_rows=2), messages)
    landed = keys(read_delta(lake, "users"))
    assert len(landed) == len(set(landed)) == 6


def test_a_crash_between_commit_and_state_does_not_land_the_replay_twice(
    lake: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The commit is durable, its STATE never went out: the tap resends, nothing doubles."""

    def crash_before_state(self: TargetParquet, value: dict) -> None:
        raise KeyboardInterrupt("killed after the commit, before its STATE")

    with monkeypatch.context() as patch:
        patch.setattr(TargetParquet, "write_state_message", crash_before_state)
        with pytest.raises(KeyboardInterrupt):
            run(delta(lake, batch_size_rows=3), history())
    assert keys(read_delta(lake, "users")) == [("a", 10), ("b", 11), ("c", 12)]

    assert run(delta(lake, batch_size_rows=3), history()) == [{"n": 1}, {"n": 2}]
    landed = keys(read_delta(lake, "users"))
    assert len(landed) == len(set(landed)) == 6
    assert delta_table(lake, "users").transaction_version(APP_ID) == 2


def test_every_state_follows_the_commit_of_the_rows_before_it(lake: Path) -> None:
    messages = [schema("users", name=NAME)]
    for n in range(60):
        messages.append(upsert("users", f"k{n}", 1_000 + n, name=f"n{n}"))
        if n % 20 == 19:
            messages.append(state(n))
    committed_at_state: dict[int, int] = {}

    class Output(io.StringIO):
        def write(self, text: str) -> int:
            for line in text.splitlines():
                if line.strip():
                    n = json.loads(line)["n"]
                    committed_at_state[n] = max(read_delta(lake, "users")["_ts"].to_pylist())
            return super().write(text)

    target = TargetParquet(config=delta(lake, batch_size_rows=7, state_interval_seconds=0))
    with contextlib.redirect_stdout(Output()):
        target.listen(io.StringIO(singer_lines(messages)))
    assert sorted(committed_at_state) == [19, 39, 59]
    for n, max_ts in committed_at_state.items():
        assert max_ts >= 1_000 + n


def test_replay_detection_reads_only_files_whose_ts_range_could_hold_the_rows(
    lake: Path,
) -> None:
    run(delta(lake), [schema("users", name=NAME), upsert("users", "a", 10, name="Ann")])
    run(delta(lake), [schema("users", name=NAME), upsert("users", "b", 100, name="Bob")])
    ranges = sorted((a["min._ts"], a["max._ts"]) for a in add_actions(delta_table(lake, "users")))
    assert ranges == [(10, 10), (100, 100)]
    run(
        delta(lake),
        [
            schema("users", name=NAME),
            upsert("users", "a", 10, name="Ann"),  # a replay
            upsert("users", "c", 50, name="Cy"),  # new, inside the landed range
        ],
    )
    assert keys(read_delta(lake, "users")) == [("a", 10), ("b", 100), ("c", 50)]


def test_a_second_writer_of_the_table_fails_the_run(lake: Path) -> None:
    config = delta(lake)
    run(config, [schema("users", name=NAME), upsert("users", "a", 1, name="x")])
    destination = Destination(Storage.from_config(config), LoadIds(), "zstd")
    stale = DeltaStream(destination, "users")  # a writer that opened the table here...
    run(config, [schema("users", name=NAME), upsert("users", "b", 2, name="y")])
    with pytest.raises(TargetError, match="another writer committed"):
        stale.commit_properties()  # ...cannot commit after another one did


def test_after_sigkill_the_table_holds_whole_commits_and_the_rerun_completes(
    lake: Path, tmp_path: Path
) -> None:
    config = delta(lake, batch_size_rows=150, state_interval_seconds=0.05)
    kill_after_first_state(config, tmp_path)
    assert 0 < len(read_delta(lake, "s")) < EVENTS, "not killed mid-stream"
    run(config, stream_messages())
    log = read_delta(lake, "s")
    landed = keys(log)
    assert len(landed) == len(set(landed)) == EVENTS
    latest = latest_per_key(log)
    assert dict(zip(latest["_id"].to_pylist(), latest["name"].to_pylist(), strict=True)) == (
        expected_names()
    )
