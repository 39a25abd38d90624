"""JSON Schema → Arrow columns: type mapping, value coercion and widening.

Columns are typed from the SCHEMA message, never inferred from values. Each column has a
*kind*; the kind fixes both the Arrow type and how raw JSON values are coerced:

=========  ======================  ==================================================
kind       Arrow type              JSON schema
=========  ======================  ==================================================
integer    int64                   ``integer``
number     float64                 ``number`` (also ``["integer", "number"]``)
boolean    bool                    ``boolean``
string     string                  ``string``
timestamp  timestamp[us, UTC]      ``string`` + ``format: date-time``
binary     binary (decoded)        ``string`` + ``contentEncoding: base64``
json       string (JSON text)      ``object``, ``array``, several types, ``{}``, ``anyOf``…
text       string                  written by earlier releases only (their widening):
                                   strings as-is, other scalars as JSON literals
=========  ======================  ==================================================

The drift rule (`widen`): a column keeps the kind it first landed with; when a later
SCHEMA gives it another one, it becomes ``json`` (the JSON text of each value: int64
exact, strings quoted), and the values already written are converted (`convert_array`).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import decimal
import functools
import operator
import typing as t
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import msgspec
import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type hints

TIMESTAMP = pa.timestamp("us", tz="UTC")

ARROW_TYPES: dict[str, pa.DataType] = {
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "string": pa.string(),
    "text": pa.string(),
    "json": pa.string(),
    "timestamp": TIMESTAMP,
    "binary": pa.binary(),
}

_SCALAR_TYPES = {"integer": "integer", "number": "number", "boolean": "boolean"}
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _encode_default(obj: t.Any) -> t.Any:
    if isinstance(obj, (dt.datetime, dt.date)):
        return obj.isoformat()
    raise TypeError(f"cannot encode {type(obj).__name__} as JSON")


_json = msgspec.json.Encoder(enc_hook=_encode_default, decimal_format="number")


@dataclass(frozen=True)
class Column:
    """One Parquet column: its name, kind and whether the schema allows null."""

    name: str
    kind: str
    nullable: bool = True

    @property
    def field(self) -> pa.Field:
        """The Arrow field for this column."""
        return pa.field(self.name, ARROW_TYPES[self.kind], nullable=self.nullable)


def kind_of(prop: t.Any) -> tuple[str, bool]:
    """Return (kind, nullable) for one JSON-schema property."""
    concrete, nullable = _json_types(prop)
    if len(concrete) != 1:
        return "json", True
    (name,) = concrete
    if name == "string":
        return _string_kind(prop), nullable
    return _SCALAR_TYPES.get(name, "json"), nullable


def _json_types(prop: t.Any) -> tuple[set[str], bool]:
    """The JSON types a property allows besides null, and whether it allows null.

    A permissive property (`{}`, `anyOf`...) allows no type in particular: none is returned.
    `["integer", "number"]` counts as number.
    """
    if not isinstance(prop, Mapping) or {"anyOf", "oneOf", "allOf"} & prop.keys():
        return set(), True
    types = prop.get("type")
    if types is None:
        return set(), True
    types = [types] if isinstance(types, str) else list(types)
    concrete = {name for name in types if name != "null"}
    if concrete == {"integer", "number"}:
        concrete = {"number"}
    return concrete, "null" in types


def _string_kind(prop: Mapping[str, t.Any]) -> str:
    """The kind of a string property: its format or encoding may say timestamp or binary."""
    if prop.get("format") == "date-time":
        return "timestamp"
    if prop.get("contentEncoding") == "base64":
        return "binary"
    return "string"


def widen(old: str, new: str) -> str:
    """The kind of a column written as `old` whose schema now says `new` (see README).

    Any change makes JSON text: it holds every value exactly (an int64 never passes
    through a double), and a whole column of it reads as one type everywhere.
    """
    return old if old == new else "json"


#: Longest value shown in an error message; longer ones are cut.
_SHOWN_CHARS = 80


class BadValueError(Exception):
    """Raised with the position of the first value a column cannot hold."""

    def __init__(self, index: int, value: t.Any, kind: str) -> None:
        shown = repr(value)
        if len(shown) > _SHOWN_CHARS:
            shown = shown[: _SHOWN_CHARS - 3] + "..."
        super().__init__(f"expected {kind}, got {shown}")
        self.index = index


# Fast paths build a whole column at once and must raise on anything imperfect;
# a failure falls back to per-value coercion, which finds and names the bad value.


def _fast_integer(values: list[t.Any]) -> pa.Array:
    array = pa.array(values)
    if array.type not in (pa.int64(), pa.null()):
        raise TypeError(array.type)
    return array.cast(pa.int64())


def _fast_number(values: list[t.Any]) -> pa.Array:
    array = pa.array([float(v) if v.__class__ is decimal.Decimal else v for v in values])
    if array.type not in (pa.float64(), pa.int64(), pa.null()):
        raise TypeError(array.type)
    return array.cast(pa.float64(), safe=False)


def _fast_timestamp(values: list[t.Any]) -> pa.Array:
    nanos = pa.array(values, pa.string()).cast(pa.timestamp("ns", tz="UTC"))
    return nanos.cast(TIMESTAMP, safe=False)


def _coerce_integer(value: t.Any) -> int:
    if isinstance(value, decimal.Decimal) and value.is_finite() and value == value.to_integral():
        value = int(value)
    if type(value) is not int or not _INT64_MIN <= value <= _INT64_MAX:
        raise ValueError(value)
    return value


def _coerce_number(value: t.Any) -> float:
    if type(value) not in (int, float, decimal.Decimal):
        raise ValueError(value)
    return float(value)


def _coerce_boolean(value: t.Any) -> bool:
    if type(value) is not bool:
        raise ValueError(value)
    return value


def _coerce_string(value: t.Any) -> str:
    if type(value) is not str:
        raise ValueError(value)
    return value


def _coerce_timestamp(value: t.Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        text = _coerce_string(value)
        parsed = dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def _coerce_binary(value: t.Any) -> bytes:
    if isinstance(value, bytes):
        return value
    return base64.b64decode(_coerce_string(value), validate=True)


def _coerce_json(value: t.Any) -> bytes:
    return _json.encode(value)


def _coerce_text(value: t.Any) -> str | bytes:
    if type(value) is str:
        return value
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if type(value) in (bool, int, float, decimal.Decimal):
        return _json.encode(value)
    raise ValueError(value)


_FAST: dict[str, Callable[[list[t.Any]], pa.Array]] = {
    "integer": _fast_integer,
    "number": _fast_number,
    "boolean": lambda values: pa.array(values, pa.bool_()),
    "string": lambda values: pa.array(values, pa.string()),
    "timestamp": _fast_timestamp,
}

_COERCE: dict[str, Callable[[t.Any], t.Any]] = {
    "integer": _coerce_integer,
    "number": _coerce_number,
    "boolean": _coerce_boolean,
    "string": _coerce_string,
    "timestamp": _coerce_timestamp,
    "binary": _coerce_binary,
    "json": _coerce_json,
    "text": _coerce_text,
}

_COERCE_ERRORS = (ValueError, TypeError, OverflowError, binascii.Error, msgspec.EncodeError)


def column_array(values: list[t.Any], kind: str) -> pa.Array:
    """Build one Arrow column of `kind` from raw JSON values (None = null).

    Raises:
        BadValueError: naming the first value that does not fit.
    """
    fast = _FAST.get(kind)
    if fast is not None:
        try:
            return fast(values)
        except (pa.ArrowException, *_COERCE_ERRORS):
            pass
    coerce = _COERCE[kind]
    out: list[t.Any] = [None] * len(values)
    try:
        for index, value in enumerate(values):
            if value is not None:
                out[index] = coerce(value)
    except _COERCE_ERRORS as exc:
        raise BadValueError(index, values[index], kind) from exc
    return pa.array(out, ARROW_TYPES[kind])


#: Python types a row decoder checks while decoding; other kinds decode as any JSON value
#: (floats as Decimal, like the SDK's reader) and are coerced per column.
_ROW_TYPES: dict[str, type] = {
    "integer": int,
    "number": float,
    "boolean": bool,
    "string": str,
    "timestamp": str,
    "binary": str,
}


@functools.lru_cache(maxsize=64)
def _row_decoder(
    columns: tuple[Column, ...], required: frozenset[str]
) -> tuple[msgspec.json.Decoder[t.Any], dict[str, Callable[[t.Any], t.Any]]]:
    fields: list[tuple[str, t.Any, t.Any]] = []
    rename: dict[str, str] = {}
    attribute: dict[str, Callable[[t.Any], t.Any]] = {}
    for index, column in enumerate(columns):
        name = f"c{index}"
        rename[name] = column.name
        attribute[column.name] = operator.attrgetter(name)
        python_type = _ROW_TYPES.get(column.kind, t.Any)
        if column.name in required:
            fields.append((name, python_type, msgspec.NODEFAULT))
        else:
            fields.append((name, python_type | None if python_type is not t.Any else t.Any, None))
    fields.sort(key=lambda field: field[2] is not msgspec.NODEFAULT)  # required ones first
    row = msgspec.defstruct("Row", fields, rename=rename, gc=False)
    return msgspec.json.Decoder(row, float_hook=decimal.Decimal), attribute


def row_decoder(
    columns: t.Sequence[Column], required: t.AbstractSet[str]
) -> tuple[msgspec.json.Decoder[t.Any], dict[str, Callable[[t.Any], t.Any]]]:
    """A decoder of one record into a typed row, and a getter per column name.

    A value of the wrong type, or a missing or null `required` field, fails the decode
    (`msgspec.ValidationError`); properties outside `columns` are skipped.
    """
    return _row_decoder(tuple(columns), frozenset(required))


def convert_array(array: pa.Array | pa.ChunkedArray, old: str, new: str) -> pa.Array:
    """Re-express an already written column in a wider kind (see `widen`)."""
    if old == new:
        return array
    if (old, new) == ("integer", "number"):  # a lake that an earlier release widened
        return array.cast(pa.float64(), safe=False)
    if new == "json" and old in {"integer", "boolean"}:  # their JSON is their text
        return array.cast(pa.string())
    values = array.to_pylist()
    if old == "binary":
        values = [None if v is None else base64.b64encode(v).decode() for v in values]
    return column_array(values, new)


def convert_table(
    table: pa.Table, kinds: Mapping[str, str], columns: Mapping[str, str]
) -> pa.Table:
    """The table with its columns re-expressed in the kinds of `columns` (see `widen`).

    `kinds` says how each column was written; a column whose kind in `columns` differs
    (a wider one) is converted.
    """
    for name, old_kind in kinds.items():
        if name in table.column_names and columns[name] != old_kind:
            index = table.column_names.index(name)
            converted = convert_array(table[name], old_kind, columns[name])
            table = table.set_column(index, name, converted)
    return table
