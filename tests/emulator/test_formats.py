"""Value formats (§5.2-5.3): the pure encoders/decoders, then the same values read over HTTP."""

from __future__ import annotations

import base64
import json
import math
from typing import Any

import httpx
import pytest

from convex_emulator import Store
from convex_emulator.failures import ConvexError
from convex_emulator.formats import (
    CLEAN,
    ENCODED,
    EXPORT,
    INT64_MAX,
    INT64_MIN,
    float_to_base64,
    from_wire,
    integer_to_base64,
    parse_format,
    to_wire,
)

from .helpers import assert_error, list_snapshot

NAN_B64 = "AAAAAAAA+H8="
INF_B64 = "AAAAAAAA8H8="
NEG_INF_B64 = "AAAAAAAA8P8="
NEG_ZERO_B64 = "AAAAAAAAAIA="


# ---- upstream test vectors ---------------------------------------------------------------------


def test_integer_vector_1234567890123456789() -> None:
    assert from_wire({"$integer": "FYHpffQQIhE="}) == 1234567890123456789
    assert integer_to_base64(1234567890123456789) == "FYHpffQQIhE="


def test_integer_vector_42() -> None:
    assert from_wire({"$integer": "KgAAAAAAAAA="}) == 42
    assert to_wire(42, ENCODED) == {"$integer": "KgAAAAAAAAA="}


def test_float_vector_nan() -> None:
    assert math.isnan(from_wire({"$float": NAN_B64}))
    assert float_to_base64(float("nan")) == NAN_B64


def test_float_vector_positive_infinity() -> None:
    assert from_wire({"$float": INF_B64}) == math.inf
    assert float_to_base64(math.inf) == INF_B64


def test_float_vector_negative_infinity() -> None:
    assert from_wire({"$float": NEG_INF_B64}) == -math.inf
    assert float_to_base64(-math.inf) == NEG_INF_B64


def test_float_vector_negative_zero() -> None:
    value = from_wire({"$float": NEG_ZERO_B64})
    assert value == 0.0
    assert math.copysign(1.0, value) == -1.0
    assert float_to_base64(-0.0) == NEG_ZERO_B64


def test_bytes_vector_hello() -> None:
    assert from_wire({"$bytes": "aGVsbG8="}) == b"hello"
    assert to_wire(b"hello", ENCODED) == {"$bytes": "aGVsbG8="}


def test_integer_encoding_is_little_endian_twos_complement() -> None:
    assert integer_to_base64(-1) == base64.b64encode(b"\xff" * 8).decode()
    assert from_wire({"$integer": integer_to_base64(INT64_MIN)}) == INT64_MIN
    assert from_wire({"$integer": integer_to_base64(INT64_MAX)}) == INT64_MAX


# ---- decoding rules ----------------------------------------------------------------------------


def test_float_tag_is_rejected_for_an_ordinary_number() -> None:
    with pytest.raises(ValueError, match=r"\$float is only for NaN"):
        from_wire({"$float": float_to_base64(1.5)})


@pytest.mark.parametrize("legacy", ["$set", "$map"])
def test_legacy_set_and_map_values_are_rejected(legacy: str) -> None:
    with pytest.raises(ValueError, match="values are not supported"):
        from_wire({legacy: []})


def test_object_with_a_special_key_and_another_key_is_a_plain_object() -> None:
    assert from_wire({"$integer": "KgAAAAAAAAA=", "x": 1}) == {"$integer": "KgAAAAAAAAA=", "x": 1}


def test_json_integer_token_outside_int64_is_rejected() -> None:
    with pytest.raises(ValueError, match="does not fit in int64"):
        from_wire(2**63)


def test_json_integer_token_is_int64_and_decimal_token_is_float64() -> None:
    decoded = from_wire(json.loads('{"i": 3, "f": 3.0}'))
    assert type(decoded["i"]) is int
    assert type(decoded["f"]) is float


# ---- encoders ----------------------------------------------------------------------------------

SAMPLE = {
    "big": 2**62 + 1,
    "negative": -(2**53) - 3,
    "nan": math.nan,
    "inf": math.inf,
    "ninf": -math.inf,
    "nzero": -0.0,
    "three": 3.0,
    "blob": b"hello",
    "nested": {"n": 42, "list": [7, b"\x00", -math.inf]},
}


def test_clean_json_is_lossy_strings_for_int64_bytes_and_special_floats() -> None:
    wire = to_wire(SAMPLE, CLEAN)
    assert wire["big"] == str(2**62 + 1)
    assert wire["negative"] == str(-(2**53) - 3)
    assert (wire["nan"], wire["inf"], wire["ninf"]) == ("NaN", "Infinity", "-Infinity")
    assert math.copysign(1.0, wire["nzero"]) == -1.0
    assert wire["blob"] == "aGVsbG8="
    assert wire["nested"] == {"n": "42", "list": ["7", "AA==", "-Infinity"]}


def test_encoded_json_tags_int64_bytes_and_special_floats() -> None:
    wire = to_wire(SAMPLE, ENCODED)
    assert wire["big"] == {"$integer": integer_to_base64(2**62 + 1)}
    assert wire["nan"] == {"$float": NAN_B64}
    assert wire["inf"] == {"$float": INF_B64}
    assert wire["ninf"] == {"$float": NEG_INF_B64}
    assert wire["nzero"] == {"$float": NEG_ZERO_B64}
    assert wire["three"] == 3.0
    assert wire["blob"] == {"$bytes": "aGVsbG8="}
    assert wire["nested"]["n"] == {"$integer": "KgAAAAAAAAA="}


def test_export_json_keeps_int64_as_json_integers() -> None:
    wire = to_wire(SAMPLE, EXPORT)
    assert wire["big"] == 2**62 + 1
    assert type(wire["big"]) is int
    assert wire["nan"] == {"$float": NAN_B64}
    assert math.copysign(1.0, wire["nzero"]) == -1.0
    assert wire["blob"] == {"$bytes": "aGVsbG8="}
    assert wire["nested"] == {"n": 42, "list": [7, {"$bytes": "AA=="}, {"$float": NEG_INF_B64}]}


@pytest.mark.parametrize("fmt", [ENCODED, EXPORT])
def test_lossless_formats_round_trip_through_from_wire(fmt: str) -> None:
    decoded = from_wire(json.loads(json.dumps(to_wire(SAMPLE, fmt))))
    assert to_wire(decoded, ENCODED) == to_wire(SAMPLE, ENCODED)
    assert type(decoded["big"]) is int
    assert type(decoded["three"]) is float


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        (None, CLEAN),
        ("json", CLEAN),
        ("convex_clean_json", CLEAN),
        ("convex_encoded_json", ENCODED),
        ("convex_json", ENCODED),
        ("export_json", EXPORT),
    ],
)
def test_format_names_and_aliases(name: str | None, canonical: str) -> None:
    assert parse_format(name) == canonical


def test_unknown_format_is_400_bad_format() -> None:
    with pytest.raises(ConvexError) as raised:
        parse_format("csv")
    assert (raised.value.status, raised.value.code) == (400, "BadFormat")


# ---- over HTTP ---------------------------------------------------------------------------------


@pytest.fixture
def sample_doc(store: Store) -> str:
    return store.insert("values", SAMPLE)


def _read_back(api: httpx.Client, fmt: str | None) -> tuple[dict[str, Any], str]:
    args = {} if fmt is None else {"format": fmt}
    response = api.post("/api/list_snapshot", json=args)
    assert response.status_code == 200, response.text
    (value,) = response.json()["values"]
    return value, response.text


def test_default_format_over_http_is_clean_json(api: httpx.Client, sample_doc: str) -> None:
    value, _ = _read_back(api, None)
    assert value["big"] == str(2**62 + 1)
    assert value["nan"] == "NaN"
    assert value["blob"] == "aGVsbG8="


def test_json_format_over_http(api: httpx.Client, sample_doc: str) -> None:
    value, _ = _read_back(api, "json")
    assert value["negative"] == str(-(2**53) - 3)
    assert (value["inf"], value["ninf"]) == ("Infinity", "-Infinity")
    assert math.copysign(1.0, value["nzero"]) == -1.0
    assert value["nested"] == {"n": "42", "list": ["7", "AA==", "-Infinity"]}


def test_convex_encoded_json_format_over_http(api: httpx.Client, sample_doc: str) -> None:
    value, _ = _read_back(api, "convex_encoded_json")
    assert from_wire(value["big"]) == 2**62 + 1
    assert from_wire(value["negative"]) == -(2**53) - 3
    assert math.isnan(from_wire(value["nan"]))
    assert value["nzero"] == {"$float": NEG_ZERO_B64}
    assert from_wire(value["blob"]) == b"hello"
    assert from_wire(value["nested"]) == {"n": 42, "list": [7, b"\x00", -math.inf]}


def test_export_json_format_over_http(api: httpx.Client, sample_doc: str) -> None:
    value, text = _read_back(api, "export_json")
    assert value["big"] == 2**62 + 1
    assert value["negative"] == -(2**53) - 3
    assert value["ninf"] == {"$float": NEG_INF_B64}
    assert math.copysign(1.0, value["nzero"]) == -1.0
    assert value["nested"] == {"n": 42, "list": [7, {"$bytes": "AA=="}, {"$float": NEG_INF_B64}]}
    assert '"three":3.0' in text, "export_json floats always carry a '.' or an exponent"


@pytest.mark.parametrize("fmt", ["json", "convex_encoded_json", "export_json"])
def test_id_is_a_string_and_creation_time_a_number_in_every_format(
    api: httpx.Client, sample_doc: str, fmt: str
) -> None:
    value, _ = _read_back(api, fmt)
    assert value["_id"] == sample_doc
    assert type(value["_creationTime"]) is float


def test_bare_nan_never_appears_on_the_wire(api: httpx.Client, sample_doc: str) -> None:
    for fmt in ("json", "convex_encoded_json", "export_json"):
        _, text = _read_back(api, fmt)
        assert "NaN," not in text
        assert "Infinity," not in text.replace('"Infinity"', "")


def test_unknown_format_over_http_is_400_bad_format(api: httpx.Client, sample_doc: str) -> None:
    assert_error(api.post("/api/list_snapshot", json={"format": "csv"}), 400, "BadFormat")


def test_format_applies_to_document_deltas(api: httpx.Client, store: Store) -> None:
    cursor = list_snapshot(api)["snapshot"]
    store.insert("values", {"n": 42})
    response = api.post(
        "/api/document_deltas", json={"cursor": cursor, "format": "convex_encoded_json"}
    )
    assert response.json()["values"][0]["n"] == {"$integer": "KgAAAAAAAAA="}
