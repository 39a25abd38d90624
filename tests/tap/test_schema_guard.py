"""A record never goes out under a SCHEMA that rejects it, even when a field drifts mid-run."""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from typing import Any

import msgspec
import pytest

from convex_emulator import Store
from tap_convex.discovery import PERMISSIVE
from tap_convex.drift import SchemaGuard, widened
from tap_convex.tap import TapConvex
from tests.tap.harness import Output, parse_lines, records_fit_their_schemas

SCHEMA = {
    "type": "object",
    "properties": {
        "_id": {"type": "string"},
        "_ts": {"type": "integer"},
        "n": {"type": ["integer", "null"]},
        "x": {"type": ["number", "null"]},
        "s": {"type": ["string", "null"]},
        "b": {"type": ["boolean", "null"]},
        "o": {"type": ["object", "null"]},
        "a": {"type": ["array", "null"], "items": PERMISSIVE},
        "any": PERMISSIVE,
        "odd name!": {"type": ["string", "null"]},
    },
}
FITTING = {
    "_id": "k",
    "_ts": 2**62,
    "n": -(2**63),
    "x": 3,
    "s": "text",
    "b": False,
    "o": {"deep": [1]},
    "a": [{"k": 1}],
    "any": {"whatever": True},
    "odd name!": None,
}


@pytest.mark.parametrize("encoded", [True, False], ids=["encoded", "dicts"])
@pytest.mark.parametrize(
    ("change", "misfit"),
    [
        ({}, []),
        ({"n": None, "x": 1.5, "any": "text"}, []),
        ({"n": "thirty"}, ["n"]),
        ({"n": 1.5}, ["n"]),
        ({"n": True}, ["n"]),
        ({"b": 1}, ["b"]),
        ({"x": "NaN"}, ["x"]),
        ({"o": [1]}, ["o"]),
        ({"a": {"k": 1}}, ["a"]),
        ({"s": 5, "new": 1}, ["s", "new"]),
        ({"odd name!": 7}, ["odd name!"]),
    ],
)
def test_the_guard_names_exactly_the_fields_a_record_does_not_fit(
    change: dict[str, Any], misfit: list[str], encoded: bool
) -> None:
    records = [FITTING, {**FITTING, **change}, FITTING]
    batch: Any = [msgspec.json.encode(r) for r in records] if encoded else records
    assert SchemaGuard(SCHEMA).misfits(batch) == misfit


def test_widening_makes_fields_permissive_and_adds_missing_ones() -> None:
    schema = widened(SCHEMA, ["n", "new"])
    assert schema["properties"]["n"] == PERMISSIVE
    assert schema["properties"]["new"] == PERMISSIVE
    assert schema["properties"]["s"] == SCHEMA["properties"]["s"]
    assert SCHEMA["properties"]["n"] == {"type": ["integer", "null"]}  # not changed in place


def sync(tap: TapConvex) -> Output:
    raw = io.BytesIO()
    text = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)
    with redirect_stdout(text):
        tap.sync_all()
        text.flush()
    return parse_lines(raw.getvalue().decode("utf-8"))


def schemas(output: Output, stream: str) -> list[dict[str, Any]]:
    return [m["schema"] for m in output.of_type("SCHEMA") if m["stream"] == stream]


def test_a_field_that_changes_type_after_discovery_widens_before_its_record(
    demo: Store, config: dict[str, Any]
) -> None:
    tap = TapConvex(config=config)  # discovery happens here
    assert tap.streams["products"].schema["properties"]["stock"]["type"] == ["integer", "null"]
    demo.insert("products", {"sku": "late", "stock": "thirty", "color": "red"})
    output = sync(tap)
    first, second = schemas(output, "products")
    assert first["properties"]["stock"]["type"] == ["integer", "null"]
    assert second["properties"]["stock"] == PERMISSIVE
    assert second["properties"]["color"] == PERMISSIVE
    assert records_fit_their_schemas(output)
    assert any(r.get("stock") == "thirty" for r in output.records("products"))


def test_a_change_log_value_of_a_new_type_widens_the_schema_first(
    demo: Store, config: dict[str, Any]
) -> None:
    first = sync(TapConvex(config=config))
    tap = TapConvex(config=config, state=first.last_state)
    demo.insert("products", {"sku": "later", "stock": 2.5})
    output = sync(tap)
    assert schemas(output, "products")[-1]["properties"]["stock"] == PERMISSIVE
    assert records_fit_their_schemas(output)
    assert [r["stock"] for r in output.records("products")] == [2.5]
