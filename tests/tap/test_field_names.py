"""Field names as Convex allows them (spaces, punctuation, 70 characters), end to end.

Convex takes any printable-ASCII field name up to 1024 bytes that does not start with ``$``
(``check_valid_field_name``), in documents and in a selection's columns alike. A tap that
deselects such columns must still sync cleanly: no failed request (so nothing to retry),
the columns excluded server-side and absent from the records, every other value exact.
"""

from __future__ import annotations

import copy
from typing import Any

from convex_emulator import EmulatorServer, Store
from tests.tap.harness import Output, Replica, discover, run_tap, source_documents

KEPT_LONG = "customer's full legal name, as printed on the invoice (first + last)!!"
DROPPED_LONG = "internal risk score: 0-100, computed nightly; do not export it to lake"
KEPT = [KEPT_LONG, "unit price ($)", "ship-to address", "a.b/c:d", "#tag", "plain"]
DROPPED = [DROPPED_LONG, "card number (PAN)", "notes; internal only", "e-mail?"]
INCLUDED = ("incl", "included")


def _document(number: int) -> dict[str, Any]:
    return {
        KEPT_LONG: f"Customer {number}",
        "unit price ($)": number + 0.25,
        "ship-to address": {"street & no.": f"{number} Main St.", "zip code": "12345"},
        "a.b/c:d": number % 2 == 0,
        "#tag": [f"t{number}", "x y"],
        "plain": f"p{number}",
        DROPPED_LONG: number * 1.5,
        "card number (PAN)": "4111 1111 1111 1111",
        "notes; internal only": {"why?": "secret"},
        "e-mail?": f"c{number}@example.com",
    }


def _select_only(catalog: dict[str, Any], stream: str, dropped: list[str]) -> dict[str, Any]:
    """The discovered catalog with only ``stream`` selected, less its ``dropped`` columns."""
    catalog = copy.deepcopy(catalog)
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            breadcrumb = item["breadcrumb"]
            if breadcrumb == []:
                item["metadata"]["selected"] = entry["tap_stream_id"] == stream
            elif entry["tap_stream_id"] == stream and breadcrumb[-1] in dropped:
                item["metadata"]["selected"] = False
    return catalog


def _sync(
    emulator: EmulatorServer, config: dict[str, Any], catalog: dict[str, Any], state: Any = None
) -> Output:
    """One tap run; every request it made must be answered 200 and no page asked twice."""
    emulator.requests.clear()
    output = run_tap(config, state=state, catalog=catalog)
    requests = emulator.requests.entries()
    assert requests
    assert [entry["status"] for entry in requests] == [200] * len(requests)
    pages = [e for e in requests if e["endpoint"] in ("list_snapshot", "document_deltas")]
    asked = [(entry["endpoint"], repr(entry["args"])) for entry in pages]
    assert len(asked) == len(set(asked)), "a page was asked for twice: a retry"
    for entry in pages:
        _assert_columns_excluded(entry["args"]["selection"])
    return output


def _assert_columns_excluded(selection: dict[str, Any]) -> None:
    """The selection picks the ``orders`` table with exactly the kept columns of its fields."""
    assert selection["_other"] not in INCLUDED
    table = selection[""]["orders"]
    for column in [*KEPT, "_id"]:
        assert table.get(column, table["_other"]) in INCLUDED, column
    for column in DROPPED:
        assert table.get(column, table["_other"]) not in INCLUDED, column


def _assert_exact(output: Output, emulator: EmulatorServer, replica: Replica) -> None:
    for record in output.records("orders"):
        assert not set(DROPPED) & set(record), record
    expected = {
        doc_id: {name: value for name, value in document.items() if name not in DROPPED}
        for doc_id, document in source_documents(emulator, "", "orders").items()
    }
    assert replica.apply(output).documents("orders") == expected


def test_deselected_odd_columns_are_excluded_and_the_rest_are_exact(
    store: Store, emulator: EmulatorServer, config: dict[str, Any]
) -> None:
    assert {len(KEPT_LONG), len(DROPPED_LONG)} == {70}
    ids = [store.insert("orders", _document(number)) for number in range(30)]
    store.insert("audit", {"who (user)": "ada"})
    catalog = _select_only(discover(config), "orders", DROPPED)
    discovered = {s["tap_stream_id"]: s["schema"]["properties"] for s in catalog["streams"]}
    assert set(KEPT + DROPPED) <= set(discovered["orders"])

    replica = Replica()
    first = _sync(emulator, config, catalog)
    assert {message["stream"] for message in first.of_type("RECORD")} == {"orders"}
    assert len(first.records("orders")) == len(ids)
    _assert_exact(first, emulator, replica)

    store.patch(ids[0], {KEPT_LONG: "Renamed", DROPPED_LONG: 99.5, "notes; internal only": None})
    store.replace(ids[1], {"plain": "only this", "card number (PAN)": "0000"})
    store.delete(ids[2])
    store.insert("orders", _document(100))
    second = _sync(emulator, config, catalog, state=first.last_state)
    assert len(second.records("orders")) == 4
    _assert_exact(second, emulator, replica)
