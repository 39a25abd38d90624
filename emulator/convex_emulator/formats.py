"""Convex values and the three wire formats of the streaming-export API.

A Convex value is modelled with plain Python types: ``None``, ``bool``, ``int`` (int64),
``float`` (float64), ``str``, ``bytes``, ``list`` and ``dict``. The type decides the
encoding, so an int64 is never confused with a float64.

Wire formats (``format`` argument of ``list_snapshot``/``document_deltas``/``json_schemas``):

* ``json`` (alias ``convex_clean_json``), the default: int64 as a decimal string, bytes
  as a base64 string, NaN/±Infinity as strings. Lossy.
* ``convex_encoded_json`` (alias ``convex_json``): int64 as ``{"$integer": b64(le i64)}``,
  bytes as ``{"$bytes": b64}``, NaN/±Infinity/-0.0 as ``{"$float": b64(le f64)}``.
* ``export_json``: int64 as a JSON integer, float64 always with a ``.`` or exponent,
  NaN/±Infinity as ``{"$float": ...}``, bytes as ``{"$bytes": ...}``.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import struct
from typing import TYPE_CHECKING, Any

from convex_emulator.failures import ConvexError

if TYPE_CHECKING:
    from collections.abc import Callable

CLEAN = "json"
ENCODED = "convex_encoded_json"
EXPORT = "export_json"

_FORMAT_NAMES = {
    "json": CLEAN,
    "convex_clean_json": CLEAN,
    "convex_encoded_json": ENCODED,
    "convex_json": ENCODED,
    "export_json": EXPORT,
}

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def parse_format(name: str | None) -> str:
    """Return the canonical format for a ``format`` argument, or raise 400 ``BadFormat``."""
    if name is None:
        return CLEAN
    try:
        return _FORMAT_NAMES[name]
    except KeyError:
        raise ConvexError(
            400, "BadFormat", f"format param must be one of [`json`]. Got {name}"
        ) from None


_pack_int64 = struct.Struct("<q").pack
_pack_float64 = struct.Struct("<d").pack


def integer_to_base64(value: int) -> str:
    """Little-endian two's-complement base64, the ``$integer`` payload."""
    return binascii.b2a_base64(_pack_int64(value), newline=False).decode("ascii")


def float_to_base64(value: float) -> str:
    """Little-endian IEEE-754 base64, the ``$float`` payload."""
    return binascii.b2a_base64(_pack_float64(value), newline=False).decode("ascii")


def _is_special_float(value: float) -> bool:
    """NaN, ±Infinity or -0.0."""
    return not math.isfinite(value) or (value == 0.0 and math.copysign(1.0, value) < 0)


# Types every encoder returns unchanged; containers test them inline to save a call per item.
_AS_IS = frozenset({str, bool, type(None)})
_EXPORT_AS_IS = _AS_IS | {int}


def _encoded(value: Any) -> Any:
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return value
    if kind is int:
        return {"$integer": integer_to_base64(value)}
    if kind is float:
        return {"$float": float_to_base64(value)} if _is_special_float(value) else value
    if kind is dict:
        return {
            key: item if type(item) in _AS_IS else _encoded(item) for key, item in value.items()
        }
    if kind is list:
        return [item if type(item) in _AS_IS else _encoded(item) for item in value]
    if kind is bytes:
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    raise TypeError(f"not a Convex value: {kind.__name__}")


def _clean(value: Any) -> Any:
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return value
    if kind is int:
        return str(value)
    if kind is float:
        return _clean_float(value)
    if kind is dict:
        return {key: item if type(item) in _AS_IS else _clean(item) for key, item in value.items()}
    if kind is list:
        return [item if type(item) in _AS_IS else _clean(item) for item in value]
    if kind is bytes:
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"not a Convex value: {kind.__name__}")


def _clean_float(value: float) -> float | str:
    """Finite floats stay numbers; NaN and ±Infinity become the strings Convex sends."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _export(value: Any) -> Any:
    kind = type(value)
    if kind is str or value is None or kind is bool or kind is int:
        return value
    if kind is float:
        if math.isnan(value) or math.isinf(value):
            return {"$float": float_to_base64(value)}
        return value
    if kind is dict:
        return {
            key: item if type(item) in _EXPORT_AS_IS else _export(item)
            for key, item in value.items()
        }
    if kind is list:
        return [item if type(item) in _EXPORT_AS_IS else _export(item) for item in value]
    if kind is bytes:
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    raise TypeError(f"not a Convex value: {kind.__name__}")


ENCODERS: dict[str, Callable[[Any], Any]] = {CLEAN: _clean, ENCODED: _encoded, EXPORT: _export}


def to_wire(value: Any, fmt: str) -> Any:
    """Convert a Convex value to the JSON-compatible structure of ``fmt``."""
    return ENCODERS[fmt](value)


# One encoder for every call: ``json.dumps`` with options builds a new one each time.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def dumps(wire_value: Any) -> str:
    """Serialize a wire structure; NaN can never leak as a bare token."""
    return _ENCODER.encode(wire_value)


_SORTED_ENCODER = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, allow_nan=False, sort_keys=True
)


def dumps_sorted(wire_value: Any) -> str:
    """:func:`dumps` with every object's keys sorted, as Convex's ``BTreeMap`` objects are."""
    return _SORTED_ENCODER.encode(wire_value)


_SPECIAL_KEYS = frozenset({"$integer", "$bytes", "$float"})
_NUMBER_BYTES = 8  # an int64 or float64 payload


def from_wire(value: Any) -> Any:
    """Decode ``export_json`` or ``convex_encoded_json`` into a Convex value.

    JSON integer tokens are int64 (as in ``export_json``); tokens with ``.`` or an exponent
    are float64. Objects with exactly one ``$integer``/``$bytes``/``$float`` key are decoded.
    """
    kind = type(value)
    if kind is dict:
        if len(value) == 1:
            ((key, payload),) = value.items()
            if key in _SPECIAL_KEYS:
                return _decode_special(key, payload)
            if key in ("$set", "$map"):
                raise ValueError(f"{key} values are not supported")
        return {key: from_wire(item) for key, item in value.items()}
    if kind is list:
        return [from_wire(item) for item in value]
    if kind is int and not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"integer {value} does not fit in int64")
    return value


def _decode_special(key: str, payload: Any) -> Any:
    if not isinstance(payload, str):
        raise ValueError(f"{key} payload must be a base64 string")
    raw = base64.b64decode(payload, validate=True)
    if key == "$bytes":
        return raw
    if len(raw) != _NUMBER_BYTES:
        raise ValueError(f"{key} payload must decode to {_NUMBER_BYTES} bytes")
    if key == "$integer":
        return struct.unpack("<q", raw)[0]
    number = struct.unpack("<d", raw)[0]
    if not _is_special_float(number):
        raise ValueError("$float is only for NaN, ±Infinity and -0.0")
    return number
