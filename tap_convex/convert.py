"""Convex values (``convex_encoded_json``) to Singer record values, exactly.

Rules (documented in the README):

* int64 ``{"$integer": ...}`` becomes a JSON integer, at any depth, never via a float.
* bytes ``{"$bytes": ...}`` become their base64 text.
* float64 stays a number; -0.0 stays -0.0. JSON has no NaN or Infinity, so inside objects and
  arrays they become the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` (as in Convex's
  own clean export), and in a top-level number field they become null (a string there would
  break every typed target).
* Objects and arrays stay JSON values; ``_creationTime`` (float ms) becomes an RFC 3339 UTC
  date-time with microseconds; ``_ts`` (int ns) is kept as is.
* Transport metadata (``_component``, ``_table``, ``_ts``, ``_deleted``) is kept apart from
  user fields; any other ``_``-prefixed top-level key is dropped.
"""

from __future__ import annotations

import base64
import math
import struct
from typing import TYPE_CHECKING, Any

import msgspec

from tap_convex.timestamps import creation_time_to_datetime, ts_to_datetime

if TYPE_CHECKING:
    from tap_convex.pages import DocumentHead

_KEPT_SYSTEM_FIELDS = frozenset({"_id", "_creationTime"})
#: What a live document's JSON gains to become its record's JSON: the landing fields that
#: ``RecordConverter.document`` appends, in the same order.
_LIVE_TAIL = b',"_sdc_deleted_at":null,"_deleted":false}'
_LIVE_TAIL_AFTER_WIRE_DELETED = b',"_sdc_deleted_at":null}'  # "_deleted":false is on the wire
_encode = msgspec.json.Encoder().encode


def _special_float(payload: str) -> float:
    (value,) = struct.unpack("<d", base64.b64decode(payload))
    return float(value)


def _float_text(value: float) -> str | float:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _special(value: dict[str, Any]) -> tuple[bool, Any]:
    """Decode a one-key ``$integer``/``$bytes``/``$float`` object; ``(False, None)`` if plain."""
    if len(value) != 1:
        return False, None
    key = next(iter(value))
    if key == "$integer":
        return True, struct.unpack("<q", base64.b64decode(value[key]))[0]
    if key == "$bytes":
        return True, value[key]
    if key == "$float":
        return True, _float_text(_special_float(value[key]))
    return False, None


def decode_nested(value: Any) -> Any:
    """Decode a value inside an object or array."""
    kind = type(value)
    if kind is dict:
        is_special, decoded = _special(value)
        if is_special:
            return decoded
        return {key: decode_nested(item) for key, item in value.items()}
    if kind is list:
        return [decode_nested(item) for item in value]
    return value


class RecordConverter:
    """Builds the records of one stream; knows which top-level fields are number-only."""

    def __init__(self, number_only_fields: frozenset[str], schema_fields: list[str]) -> None:
        self._number_only = number_only_fields
        self._null_record = dict.fromkeys(schema_fields)

    def document(self, value: dict[str, Any], deleted: bool, plain: bool = False) -> dict[str, Any]:
        """Convert one ``list_snapshot``/``document_deltas`` value into a record.

        ``plain=True`` (see :func:`tap_convex.pages.prepare_page`) lets a live document
        become the record itself: only ``_creationTime`` changes and the landing fields are
        added.
        """
        ts = value["_ts"]
        if deleted:
            return self._deleted_record(value["_id"], ts, value["_component"], value["_table"])
        record = value if plain else self._decoded_fields(value)
        created = record.get("_creationTime")
        if created is not None:
            record["_creationTime"] = creation_time_to_datetime(created)
        record["_sdc_deleted_at"] = None
        record["_ts"] = ts
        record["_deleted"] = False
        record["_component"] = value["_component"]
        record["_table"] = value["_table"]
        return record

    def encoded(self, head: DocumentHead, document: msgspec.Raw) -> bytes:
        """The record's JSON, from a value kept encoded (see :mod:`tap_convex.pages`).

        A live document's JSON already is its record's, but for the landing fields: its
        ``_creationTime`` was rewritten in the page body, and its system keys are the ones
        ``document`` would set, to the same values.
        """
        if head.deleted is True:
            return _encode(self._deleted_record(head.id, head.ts, head.component, head.table))
        tail = _LIVE_TAIL if head.deleted is msgspec.UNSET else _LIVE_TAIL_AFTER_WIRE_DELETED
        return bytes(document)[:-1] + tail

    def _deleted_record(self, id_: str, ts: int, component: str, table: str) -> dict[str, Any]:
        record = dict(self._null_record)
        record["_id"] = id_
        record["_sdc_deleted_at"] = ts_to_datetime(ts)
        record["_ts"] = ts
        record["_deleted"] = True
        record["_component"] = component
        record["_table"] = table
        return record

    def _decoded_fields(self, value: dict[str, Any]) -> dict[str, Any]:
        """User fields, ``_id`` and ``_creationTime``, with every encoded value decoded."""
        fields = {}
        for key, item in value.items():
            if key[0] == "_" and key not in _KEPT_SYSTEM_FIELDS:
                continue
            if type(item) is dict:
                is_special, decoded = _special(item)
                if not is_special:
                    decoded = decode_nested(item)
                elif key in self._number_only and type(decoded) is str:
                    decoded = None  # NaN or an infinity in a number column
                fields[key] = decoded
            elif type(item) is list:
                fields[key] = decode_nested(item)
            else:
                fields[key] = item
        return fields
