"""Mode `current`: one row per `_id`, the latest by `_ts`, published generation by generation."""

from __future__ import annotations

import contextlib
import io
import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from parquet_helpers import (
    activate,
    by_id,
    delete,
    pointer,
    read_current,
    read_delta,
    run,
    schema,
    singer_lines,
    state,
    upsert,
)
from target_parquet.target import TargetParquet

NAME = {"type": ["string", "null"]}
AGE = {"type": ["integer", "null"]}


def current(lake: Path, fmt: str = "parquet", **settings: object) -> dict:
    return {"destination_path": str(lake), "mode": "current", "format": fmt, **settings}


@pytest.fixture(params=["parquet", "delta"])
def fmt(request: pytest.FixtureRequest) -> str:
    """Both formats: the rules of `current` are the same (a Delta MERGE applies them)."""
    return str(request.param)


def read(lake: Path, stream: str, fmt: str) -> pa.Table:
    """The published table: through the pointer (Parquet) or the Delta log."""
    return read_delta(lake, stream) if fmt == "delta" else read_current(lake, stream)


def users(*records: dict) -> list[dict]:
    return [schema("users", name=NAME, age=AGE), *records]


def test_keeps_one_row_per_id_the_latest_by_ts(lake: Path, fmt: str) -> None:
    run(
        current(lake, fmt),
        users(
            upsert("users", "a", 10, name="v1"),
            upsert("users", "b", 11, name="b"),
            upsert("users", "a", 30, name="v3"),
            upsert("users", "a", 20, name="v2"),  # late within the batch
        ),
    )
    run(
        current(lake, fmt),
        users(upsert("users", "a", 25, name="late"), upsert("users", "b", 11, name="same ts")),
    )
    rows = by_id(read(lake, "users", fmt))
    assert sorted(rows) == ["a", "b"]
    assert (rows["a"]["name"], rows["a"]["_ts"], rows["b"]["name"]) == ("v3", 30, "b")


def test_soft_delete_keeps_last_known_values(lake: Path, fmt: str) -> None:
    run(current(lake, fmt), users(upsert("users", "a", 10, name="Ann", age=40)))
    run(
        current(lake, fmt),
        users(upsert("users", "a", 11, name="Ann B.", age=41), delete("users", "a", 12)),
    )
    row = by_id(read(lake, "users", fmt))["a"]
    assert (row["name"], row["age"], row["_ts"], row["_deleted"]) == ("Ann B.", 41, 12, True)
    assert row["_deleted_at"].isoformat() == "2026-08-10T10:30:00+00:00"
    if fmt == "parquet":
        assert pointer(lake, "users")["deleted_rows"] == 1


def test_a_newer_event_revives_a_soft_deleted_row(lake: Path, fmt: str) -> None:
    run(current(lake, fmt), users(upsert("users", "a", 10, name="Ann"), delete("users", "a", 11)))
    run(current(lake, fmt), users(upsert("users", "a", 12, name="Back")))
    row = by_id(read(lake, "users", fmt))["a"]
    assert (row["name"], row["_deleted"], row["_deleted_at"]) == ("Back", False, None)


def test_hard_delete_removes_rows_and_late_events_do_not_resurrect_them(
    lake: Path, fmt: str
) -> None:
    config = current(lake, fmt, hard_delete=True)
    run(config, users(upsert("users", "a", 10, name="Ann"), upsert("users", "b", 10, name="Bob")))
    run(config, users(delete("users", "a", 20)))
    run(config, users(upsert("users", "a", 15, name="late replay")))
    assert sorted(by_id(read(lake, "users", fmt))) == ["b"]
    run(config, users(upsert("users", "a", 21, name="new")))
    assert by_id(read(lake, "users", fmt))["a"]["name"] == "new"


@pytest.mark.parametrize("hard_delete", [False, True])
def test_activate_version_retires_rows_missing_from_the_new_snapshot(
    lake: Path, fmt: str, hard_delete: bool
) -> None:
    config = current(lake, fmt, hard_delete=hard_delete)
    run(
        config,
        users(
            upsert("users", "a", 10, name="a"),
            upsert("users", "gone", 10, name="x"),
            activate("users", 1),
        ),
    )
    run(
        config,
        users(
            upsert("users", "a", 10, version=2, name="a"),
            activate("users", 2),
            upsert("users", "new", 30, version=2, name="n"),
        ),
    )
    rows = by_id(read(lake, "users", fmt))
    if hard_delete:
        assert sorted(rows) == ["a", "new"]
    else:
        assert {k: r["_deleted"] for k, r in rows.items()} == {
            "a": False,
            "gone": True,
            "new": False,
        }
        assert rows["gone"]["name"] == "x"
        assert rows["gone"]["_deleted_at"] is not None
    if fmt == "parquet":
        assert pointer(lake, "users")["activated_version"] == 2


def test_activate_version_applies_after_the_records_before_it(lake: Path, fmt: str) -> None:
    run(
        current(lake, fmt, batch_size_rows=1000),
        users(
            upsert("users", "old", 5, version=1, name="old"),
            upsert("users", "a", 10, version=2, name="a"),
            activate("users", 2),
        ),
    )
    rows = by_id(read(lake, "users", fmt))
    assert (rows["a"]["_deleted"], rows["old"]["_deleted"]) == (False, True)


def test_replaying_the_same_messages_changes_nothing(lake: Path, fmt: str) -> None:
    messages = users(
        upsert("users", "a", 10, name="Ann"),
        upsert("users", "b", 11, name="Bob"),
        delete("users", "b", 12),
        activate("users", 1),
    )
    run(current(lake, fmt), messages)
    first = read(lake, "users", fmt).sort_by("_id")
    run(current(lake, fmt), messages)
    second = read(lake, "users", fmt).sort_by("_id")
    assert second.num_rows == len(set(second["_id"].to_pylist())) == 2
    lineage = ["_sdc_batched_at", "_load_id"]
    assert second.drop_columns(lineage).equals(first.drop_columns(lineage))


def test_each_commit_publishes_a_new_generation_and_prunes_old_ones(lake: Path) -> None:
    for ts in (1, 2, 3, 4):
        run(current(lake), users(upsert("users", "a", ts, name=str(ts))))
    latest = pointer(lake, "users")
    generations = sorted(p.name for p in (lake / "users" / "current").glob("gen=*"))
    assert len(generations) == 2  # the published one and the one it replaced
    assert latest["generation"].split("/")[-1] in generations
    (entry,) = latest["files"]
    assert pq.read_metadata(lake / "users" / entry["path"]).num_rows == entry["rows"] == 1


def test_streams_without_ts_order_by_arrival_and_key_properties(lake: Path, fmt: str) -> None:
    generic = {
        "type": "SCHEMA",
        "stream": "plain",
        "schema": {"properties": {"k": {"type": "integer"}, "v": {"type": "string"}}},
        "key_properties": ["k"],
    }
    records = [{"type": "RECORD", "stream": "plain", "record": {"k": 1, "v": v}} for v in "xyz"]
    run(current(lake, fmt), [generic, *records])
    run(
        current(lake, fmt),
        [generic, {"type": "RECORD", "stream": "plain", "record": {"k": 2, "v": "w"}}],
    )
    table = read(lake, "plain", fmt).sort_by("k")
    assert [(r["k"], r["v"]) for r in table.to_pylist()] == [(1, "z"), (2, "w")]


# ---- checkpoints: batches are staged, and merged once per checkpoint ---------------------------


def random_history(rng: random.Random) -> list[dict]:
    """Upserts, deletes, replays, late arrivals, STATE and a re-snapshot's ACTIVATE_VERSION.

    Every event has its own `_ts` (Convex never gives one document two contents at one
    `_ts`); arrival order is shuffled locally, so some events come late, but never past a
    delete (a soft delete keeps the values it has seen: what arrives after it is too late).
    """
    events: list[dict] = []
    version = 1
    for ts in range(1, 50):
        doc = f"k{rng.randrange(8)}"
        if ts == 35:
            version = 2  # a re-snapshot starts: rows it does not confirm are retired
        if rng.random() < 0.75:
            event = upsert("users", doc, ts, version=version, name=f"n{ts}", age=ts % 7)
        else:
            event = delete("users", doc, ts, version=version)
        events.append(event)
        if rng.random() < 0.1:
            events.append(event)  # a replay
    for start in range(0, len(events), 5):
        window = events[start : start + 5]
        if not any(event["record"]["_deleted"] for event in window):
            rng.shuffle(window)
            events[start : start + 5] = window
    messages = users(*events)
    messages.insert(rng.randrange(36, len(messages)), activate("users", 2))
    for position in sorted(rng.sample(range(1, len(messages)), 4), reverse=True):
        messages.insert(position, state(position))
    return messages


def user_view(lake: Path, fmt: str = "parquet") -> dict[str, tuple]:
    """What the rules decide; a retired row's `_deleted_at` is its commit's time, so only
    whether it is set counts."""
    return {
        key: (row["name"], row["age"], row["_ts"], row["_deleted"], row["_deleted_at"] is None)
        for key, row in by_id(read(lake, "users", fmt)).items()
    }


@pytest.mark.parametrize("hard_delete", [False, True])
def test_staged_batches_merge_as_if_applied_one_by_one(tmp_path: Path, hard_delete: bool) -> None:
    rng = random.Random(20261122)
    for round_number in range(3):
        messages = random_history(rng)
        views = []
        for batch_size_rows, interval, buckets, fmt in [
            (1000, 1000, 1, "parquet"),
            (3, 1000, 1, "parquet"),
            (1, 0, 1, "parquet"),
            (1000, 1000, 3, "parquet"),
            (2, 0, 3, "parquet"),
            (1000, 1000, 1, "delta"),
            (3, 1000, 1, "delta"),
            (2, 0, 1, "delta"),
        ]:
            lake = tmp_path / f"{round_number}-{batch_size_rows}-{interval}-{buckets}-{fmt}"
            config = current(
                lake,
                fmt,
                batch_size_rows=batch_size_rows,
                state_interval_seconds=interval,
                hard_delete=hard_delete,
                current_buckets=buckets,
            )
            run(config, messages)
            views.append(user_view(lake, fmt))
        # one merge of everything; one per 3 records; one per record (a checkpoint at each);
        # the same in 3 buckets, at once and a checkpoint per 2 records; the Delta MERGE at
        # once, per 3 records and per 2 records (a MERGE per checkpoint)
        assert all(view == views[0] for view in views)
        assert views[0], "the history left rows"


def test_a_run_rewrites_the_table_once_per_checkpoint_not_per_batch(lake: Path) -> None:
    records = [upsert("users", f"k{n}", n, name=f"n{n}") for n in range(10)]
    run(current(lake, batch_size_rows=2, state_interval_seconds=1000), users(*records))
    table = read_current(lake, "users")
    assert table.num_rows == 10
    assert set(table["_load_id"].to_pylist()) == {pointer(lake, "users")["load_id"]}


def test_every_state_follows_the_publication_of_the_rows_before_it(lake: Path) -> None:
    messages = users()
    for n in range(120):
        messages.append(upsert("users", f"k{n % 40}", 1_000 + n, name=f"n{n}"))
        if n % 30 == 29:
            messages.append(state(n))
    published_at_state: dict[int, int] = {}

    class Output(io.StringIO):
        def write(self, text: str) -> int:
            for line in text.splitlines():
                if line.strip():  # the target writes each STATE's value alone
                    n = json.loads(line)["n"]
                    published_at_state[n] = pointer(lake, "users")["max_ts"]
            return super().write(text)

    config = current(lake, batch_size_rows=20, state_interval_seconds=0)
    target = TargetParquet(config=config)
    with contextlib.redirect_stdout(Output()):
        target.listen(io.StringIO(singer_lines(messages)))
    assert len(published_at_state) >= 2
    for n, max_ts in published_at_state.items():
        assert max_ts >= 1_000 + n  # every record before STATE(n) is in the published table


# ---- buckets: a checkpoint rewrites only the buckets its changes fall into -------------------


def generations(lake: Path, stream: str) -> set[str]:
    return {p.name for p in (lake / stream / "current").glob("gen=*")}


def test_buckets_rewrite_only_where_changes_fall(lake: Path) -> None:
    config = current(lake, current_buckets=8)
    run(config, users(*[upsert("users", f"k{n}", n, name=f"v{n}") for n in range(40)]))
    first = pointer(lake, "users")
    assert first["buckets"] == 8
    assert len(first["files"]) == 8
    run(config, users(upsert("users", "k7", 100, name="changed")))
    second = pointer(lake, "users")
    rewritten = [e for e in second["files"] if second["generation"] in e["path"]]
    assert len(rewritten) == 1
    assert rewritten[0]["rows"] == first["files"][rewritten[0]["bucket"]]["rows"]
    rows = by_id(read_current(lake, "users"))
    assert len(rows) == 40
    assert rows["k7"]["name"] == "changed"
    assert rows["k8"]["name"] == "v8"
    assert pq.read_schema(lake / "users" / rewritten[0]["path"]) == pq.read_schema(
        lake / "users" / second["files"][0]["path"]
    )
    # files of the kept buckets stay where they are, the rest of old generations goes
    assert generations(lake, "users") == {first["generation"][8:], second["generation"][8:]}
    run(config, users(upsert("users", "k7", 101, name="again")))
    kept = {e["path"].split("/")[1] for e in pointer(lake, "users")["files"]}
    assert generations(lake, "users") >= kept


def test_a_new_column_reaches_every_bucket(lake: Path) -> None:
    config = current(lake, current_buckets=4)
    run(config, users(*[upsert("users", f"k{n}", n, name=f"v{n}") for n in range(20)]))
    email = {"type": ["string", "null"]}
    run(
        config,
        [schema("users", name=NAME, age=AGE, email=email), upsert("users", "k1", 50, email="a@b")],
    )
    for entry in pointer(lake, "users")["files"]:
        assert "email" in pq.read_schema(lake / "users" / entry["path"]).names
    assert by_id(read_current(lake, "users"))["k1"]["email"] == "a@b"


def test_changing_the_bucket_count_keeps_every_row(lake: Path) -> None:
    messages = users(*[upsert("users", f"k{n}", n, name=f"v{n}") for n in range(30)])
    run(current(lake), messages)
    expected = user_view(lake)
    for buckets in (5, 2, 1):
        run(current(lake, current_buckets=buckets), users(upsert("users", "k3", 99, name="x")))
        assert pointer(lake, "users")["buckets"] == buckets
        assert len(pointer(lake, "users")["files"]) == buckets
        expected["k3"] = ("x", None, 99, False, True)
        assert user_view(lake) == expected
