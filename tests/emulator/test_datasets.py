"""Datasets: the demo deployment, generated data and JSONL loading."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import httpx
import pytest

from convex_emulator import Clock, Store, StoreConfig, datasets
from convex_emulator.formats import EXPORT, from_wire, to_wire

from .helpers import snapshot_values


@pytest.fixture
def demo(store: Store) -> Store:
    datasets.load_demo(store)
    return store


def _all_values(store: Store) -> list[Any]:
    """Every value nested anywhere in every live document."""
    found: list[Any] = []

    def walk(value: Any) -> None:
        found.append(value)
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for documents in store.documents().values():
        for document in documents.values():
            walk(document)
    return found


# ---- demo --------------------------------------------------------------------------------------


def test_demo_has_every_convex_scalar_type(demo: Store) -> None:
    kinds = {type(value) for value in _all_values(demo)}
    assert {type(None), bool, int, float, str, bytes, list, dict} <= kinds


def test_demo_has_int64_beyond_float_precision_positive_and_negative(demo: Store) -> None:
    ints = [value for value in _all_values(demo) if type(value) is int]
    assert any(value > 2**53 for value in ints)
    assert any(value < -(2**53) for value in ints)
    assert -(2**63) in ints


def test_demo_has_nan_infinities_and_negative_zero(demo: Store) -> None:
    floats = [value for value in _all_values(demo) if type(value) is float]
    assert any(math.isnan(value) for value in floats)
    assert math.inf in floats
    assert -math.inf in floats
    assert any(value == 0.0 and math.copysign(1.0, value) < 0 for value in floats)


def test_demo_has_nested_int64(demo: Store) -> None:
    users = demo.documents()[("", "users")]
    assert all(type(user["profile"]["stats"]["followers"]) is int for user in users.values())


def test_demo_has_two_components_with_a_same_named_users_table(demo: Store) -> None:
    tables = set(demo.documents())
    assert {("", "users"), ("waitlist", "users")} <= tables
    assert demo.components() == ["", "waitlist"]


def test_demo_has_an_empty_table(demo: Store) -> None:
    assert any(not documents for documents in demo.documents().values())


def test_demo_is_reproducible_apart_from_creation_times() -> None:
    def content(start_ns: int) -> list[str]:
        store = Store(seed=3, clock=Clock(frozen_at_ns=start_ns), config=StoreConfig())
        datasets.load_demo(store)
        return sorted(
            json.dumps(to_wire({k: v for k, v in doc.items() if k != "_creationTime"}, EXPORT))
            for documents in store.documents().values()
            for doc in documents.values()
        )

    assert content(1_000) == content(1_700_000_000_000_000_000)


def test_demo_is_served_over_http(api: httpx.Client, demo: Store) -> None:
    values = snapshot_values(api, format="convex_encoded_json")
    assert len(values) == sum(len(documents) for documents in demo.documents().values())
    assert {(value["_component"], value["_table"]) for value in values} == {
        key for key, documents in demo.documents().items() if documents
    }


# ---- generate ----------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [0, 49, 1000])
def test_generate_creates_exactly_n_documents(store: Store, count: int) -> None:
    datasets.generate(store, count)
    assert sum(len(documents) for documents in store.documents().values()) == count


def test_generate_makes_one_large_table_and_small_ones(store: Store) -> None:
    datasets.generate(store, 1000, tables=3)
    sizes = {table: len(docs) for (_, table), docs in store.documents().items()}
    assert sizes == {"events": 960, "table1": 20, "table2": 20}


def test_generated_documents_are_about_200_bytes(store: Store) -> None:
    datasets.generate(store, 100, tables=1)
    sizes = [
        len(json.dumps(to_wire(document, EXPORT)))
        for document in store.documents()[("", "events")].values()
    ]
    assert 150 <= sum(sizes) / len(sizes) <= 350


# ---- JSONL -------------------------------------------------------------------------------------


def _normalised(documents: dict[Any, Any]) -> dict[Any, Any]:
    """Documents keyed by table in export_json text, so NaN compares equal to NaN."""

    def text(document: dict[str, Any]) -> str:
        return json.dumps(to_wire(document, EXPORT), sort_keys=True)

    return {
        key: {doc_id: text(doc) for doc_id, doc in rows.items()}
        for key, rows in documents.items()
        if rows
    }


def test_load_jsonl_round_trips_an_export_json_snapshot(
    api: httpx.Client, demo: Store, tmp_path: Path
) -> None:
    dump = tmp_path / "dump.jsonl"
    lines = [json.dumps(value) for value in snapshot_values(api, format="export_json")]
    dump.write_text("\n".join(lines) + "\n", encoding="utf-8")
    copy = Store(seed=99, clock=Clock(frozen_at_ns=2_000_000_000_000_000_000))
    assert datasets.load_jsonl(copy, dump) == len(lines)
    assert _normalised(copy.documents()) == _normalised(demo.documents())


def test_load_jsonl_reads_a_directory_and_ignores_ts_and_deleted(
    store: Store, tmp_path: Path
) -> None:
    (tmp_path / "a.jsonl").write_text('{"_table":"t","_ts":5,"_deleted":false,"n":1}\n')
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.jsonl").write_text(
        '\n{"_table":"u","_component":"c","n":{"$integer":"KgAAAAAAAAA="}}\n'
    )
    assert datasets.load_jsonl(store, tmp_path) == 2
    (doc_t,) = store.documents()[("", "t")].values()
    (doc_u,) = store.documents()[("c", "u")].values()
    assert doc_t["n"] == 1
    assert "_ts" not in doc_t
    assert "_deleted" not in doc_t
    assert doc_u["n"] == 42


def test_load_jsonl_keeps_given_id_and_creation_time(store: Store, tmp_path: Path) -> None:
    line = {"_table": "t", "_id": "abc123", "_creationTime": 1700000000000.5, "x": 1.5}
    (tmp_path / "one.jsonl").write_text(json.dumps(line))
    datasets.load_jsonl(store, tmp_path / "one.jsonl")
    assert store.documents()[("", "t")] == {
        "abc123": {"_id": "abc123", "_creationTime": 1700000000000.5, "x": 1.5}
    }


def test_load_jsonl_names_the_bad_line(store: Store, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"_table":"t","n":1}\n{"n":2}\n')
    with pytest.raises(ValueError, match=r"bad\.jsonl:2"):
        datasets.load_jsonl(store, bad)


def test_from_wire_of_export_json_dump_preserves_int_vs_float() -> None:
    decoded = from_wire(json.loads('{"i": 1, "f": 1.0}'))
    assert (type(decoded["i"]), type(decoded["f"])) == (int, float)
