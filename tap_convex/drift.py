"""Records that do not fit the schema the tap announced: found, and the schema widened first.

Discovery types each column from the deployment's ``json_schemas`` when the run starts, but a
field can change type (or appear) while the run goes on. A record is checked against its
stream's schema before it goes out; a field whose value does not fit becomes a permissive
(any JSON) column, the documented drift rule, and a new SCHEMA precedes the record.

The check is msgspec's, in C: a typed decode of each record's JSON, or a typed conversion of
each record already decoded (``transport: data_sync``); only a page with a record that fails
it is looked at field by field.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import msgspec

from tap_convex.discovery import PERMISSIVE

if TYPE_CHECKING:
    from tap_convex.pages import Records

#: JSON Schema type -> the Python types that fit it.
_FITS: dict[str, tuple[type, ...]] = {
    "integer": (int,),
    "number": (float, int),
    "boolean": (bool,),
    "string": (str,),
    "object": (dict,),
    "array": (list,),
    "null": (type(None),),
}
#: JSON Schema type -> the msgspec type a typed decode checks it with.
_DECODED: dict[str, Any] = {
    "integer": int,
    "number": float,  # msgspec accepts a JSON integer for a float field
    "boolean": bool,
    "string": str,
    "object": dict[str, msgspec.Raw],
    "array": list[msgspec.Raw],
    "null": None,
}
#: The same, for records that are Python values already (a typed conversion checks them).
_CONVERTED: dict[str, Any] = {
    **_DECODED,
    "object": dict[str, Any],
    "array": list[Any],
}


def _types(property_schema: dict[str, Any]) -> list[str] | None:
    """The property's JSON types, or None when it admits any value."""
    kinds = property_schema.get("type")
    if isinstance(kinds, str):
        kinds = [kinds]
    if not isinstance(kinds, list) or set(_FITS) <= set(kinds) or "anyOf" in property_schema:
        return None
    return [kind for kind in kinds if kind in _FITS]


def _checked_type(kinds: list[str] | None, types: dict[str, Any], anything: Any) -> Any:
    """The msgspec type that admits exactly the values of these JSON types."""
    if kinds is None:
        return anything
    checked = [types[kind] for kind in kinds]
    union = checked[0]
    for kind in checked[1:]:
        union = union | kind
    return union


def _fits(value: Any, kinds: list[str] | None) -> bool:
    if kinds is None:
        return True
    if type(value) is bool:  # a bool is an int to Python, not to JSON Schema
        return "boolean" in kinds
    return any(isinstance(value, _FITS[kind]) for kind in kinds)


class SchemaGuard:
    """Finds the fields of records that the stream's schema does not admit."""

    def __init__(self, schema: dict[str, Any]) -> None:
        properties: dict[str, Any] = schema["properties"]
        self._kinds = {name: _types(prop) for name, prop in properties.items()}
        self._decode = msgspec.json.Decoder(self._shape(_DECODED, msgspec.Raw)).decode
        self._converted = self._shape(_CONVERTED, Any)

    def _shape(self, types: dict[str, Any], anything: Any) -> Any:
        """A struct type with one optional field per property, unknown fields refused."""
        fields = [  # attribute names stand in for field names that are not identifiers
            (
                f"f{index}",
                _checked_type(kinds, types, anything),
                msgspec.field(name=name, default=msgspec.UNSET),
            )
            for index, (name, kinds) in enumerate(self._kinds.items())
        ]
        return msgspec.defstruct(
            "RecordShape", fields, forbid_unknown_fields=True, omit_defaults=True, gc=False
        )

    def misfits(self, records: Records) -> list[str]:
        """Fields that some record holds but the schema does not admit, in first-seen order."""
        if records and type(records[0]) is bytes:
            encoded = records
            try:
                for record in encoded:
                    self._decode(record)
            except msgspec.ValidationError:
                return self._misfits([msgspec.json.decode(record) for record in encoded])
            return []
        values = cast("list[dict[str, Any]]", records)
        try:
            for value in values:
                msgspec.convert(value, self._converted)
        except msgspec.ValidationError:
            return self._misfits(values)
        return []

    def _misfits(self, records: list[dict[str, Any]]) -> list[str]:
        found: dict[str, None] = {}
        for record in records:
            for name, value in record.items():
                if name not in self._kinds or not _fits(value, self._kinds[name]):
                    found[name] = None
        return list(found)


def widened(schema: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """The schema with each of ``fields`` made permissive (added when it was missing)."""
    properties = dict(schema["properties"])
    for name in fields:
        properties[name] = dict(PERMISSIVE)
    return {**schema, "properties": properties}
