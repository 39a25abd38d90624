"""Catalog selection becomes exact server-side selections; the change log is walked once."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from convex_emulator import EmulatorServer, Store
from tap_convex.selection import is_valid_field_name
from tap_convex.sync.tables import SyncedTables
from tests.tap.harness import Replica, discover, run_tap, source_documents


def select(
    catalog: dict[str, Any], streams: set[str], deselect_columns: dict[str, set[str]] | None = None
) -> dict[str, Any]:
    catalog = copy.deepcopy(catalog)
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            breadcrumb = item["breadcrumb"]
            if breadcrumb == []:
                item["metadata"]["selected"] = entry["tap_stream_id"] in streams
            elif breadcrumb[-1] in (deselect_columns or {}).get(entry["tap_stream_id"], set()):
                item["metadata"]["selected"] = False
    return catalog


def test_deselected_streams_are_not_requested(
    demo: Store, emulator: EmulatorServer, config: dict[str, Any]
) -> None:
    catalog = select(discover(config), {"messages", "waitlist__users"})
    output = run_tap(config, catalog=catalog)
    assert {m["stream"] for m in output.of_type("RECORD")} == {"messages", "waitlist__users"}
    for entry in emulator.requests.entries("list_snapshot") + emulator.requests.entries(
        "document_deltas"
    ):
        assert entry["args"]["selection"] == {
            "_other": "excl",
            "": {"_other": "excl", "messages": {"_other": "incl"}},
            "waitlist": {"_other": "excl", "users": {"_other": "incl"}},
        }


def test_deselected_column_is_excluded_server_side(
    demo: Store, emulator: EmulatorServer, config: dict[str, Any]
) -> None:
    catalog = select(discover(config), {"users"}, {"users": {"email", "avatar"}})
    output = run_tap(config, catalog=catalog)
    selection = emulator.requests.entries("list_snapshot")[0]["args"]["selection"]
    assert selection[""]["users"] == {"_other": "incl", "avatar": "excl", "email": "excl"}
    assert all("email" not in r and "avatar" not in r for r in output.records("users"))
    assert all(r["name"] for r in output.records("users"))


def test_incremental_sync_over_twenty_tables_walks_the_log_once(
    store: Store, emulator: EmulatorServer, config: dict[str, Any]
) -> None:
    emulator.configure({"deltas_page_limit": 128})
    for number in range(20):
        store.insert(f"table{number}", {"n": number})
    first = run_tap(config)
    for change in range(2000):
        store.insert(f"table{change % 20}", {"n": change})
    emulator.requests.clear()
    second = run_tap(config, state=first.last_state)
    deltas_requests = len(emulator.requests.entries("document_deltas"))
    minimum = -(-2000 // 128)  # one walk of 2000 single-row transactions, 128 rows a page
    assert deltas_requests <= minimum + 1
    assert len(second.records()) == 2000


def test_values_of_unselected_tables_are_dropped_even_if_the_server_sends_them(
    demo: Store, emulator: EmulatorServer, config: dict[str, Any]
) -> None:
    emulator.configure({"ignore_selection": True})
    catalog = select(discover(config), {"products"})
    output = run_tap(config, catalog=catalog)
    assert {m["stream"] for m in output.of_type("RECORD")} == {"products"}
    replica = Replica().apply(output)
    assert replica.documents("products") == source_documents(emulator, "", "products")


CATALOGS = Path(__file__).resolve().parents[2] / "catalogs"


def test_example_catalog_of_all_streams_syncs_every_demo_table(
    demo: Store, config: dict[str, Any]
) -> None:
    catalog = json.loads((CATALOGS / "all-streams.json").read_text())
    output = run_tap(config, catalog=catalog)
    assert {m["stream"] for m in output.of_type("ACTIVATE_VERSION")} == {
        "users",
        "messages",
        "products",
        "drafts",
        "waitlist__users",
    }


def test_example_subset_catalog_syncs_only_its_streams(
    demo: Store, emulator: EmulatorServer, config: dict[str, Any]
) -> None:
    catalog = json.loads((CATALOGS / "subset.json").read_text())
    output = run_tap(config, catalog=catalog)
    assert {m["stream"] for m in output.of_type("RECORD")} == {"messages", "waitlist__users"}


def test_example_column_excluded_catalog_drops_the_columns_at_the_source(
    demo: Store, emulator: EmulatorServer, config: dict[str, Any]
) -> None:
    catalog = json.loads((CATALOGS / "column-excluded.json").read_text())
    output = run_tap(config, catalog=catalog)
    assert {m["stream"] for m in output.of_type("RECORD")} == {"users"}
    assert all("email" not in r and "avatar" not in r for r in output.records("users"))
    selection = emulator.requests.entries("list_snapshot")[0]["args"]["selection"]
    assert selection[""]["users"] == {"_other": "incl", "avatar": "excl", "email": "excl"}


class DeselectingStream:
    """The two things the request guard reads of a stream."""

    name = "users"

    def __init__(self, excluded: list[str]) -> None:
        self._excluded = excluded

    def excluded_columns(self) -> list[str]:
        return self._excluded


def test_a_deselected_column_convex_would_refuse_to_name_is_never_sent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Documents cannot hold such a name today, but a deployment that once allowed one
    would otherwise fail every request that names it; the SDK drops it from records."""
    invalid = ["caf\u00e9", "$price", "x" * 1025, "tab\there"]
    stream = DeselectingStream(["email", *invalid, "with space!"])
    with caplog.at_level("INFO", logger="tap_convex"):
        kept = SyncedTables._selectable(stream)  # type: ignore[arg-type]
    assert kept == ["email", "with space!"]
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1
    assert "'$price'" in lines[0]
    assert "'email'" not in lines[0]


def test_convex_field_name_rule_matches_upstream() -> None:
    assert is_valid_field_name("with space, punctuation!? and more")
    assert is_valid_field_name("_leading_underscore")
    assert is_valid_field_name("~" * 1024)
    assert is_valid_field_name("")
    assert not is_valid_field_name("$reserved")
    assert is_valid_field_name("not$leading")
    assert not is_valid_field_name("x" * 1025)
    assert not is_valid_field_name("caf\u00e9")
    assert not is_valid_field_name("line\nbreak")
    assert not is_valid_field_name("del\x7f")
