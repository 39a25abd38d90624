"""Table shapes inferred from the data, for ``get_table_column_names`` and ``json_schemas``.

Like Convex, the emulator infers each table's shape from its current documents, not from a
declared schema. A shape maps each observed kind of value to what is known about it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from convex_emulator import formats
from convex_emulator.failures import ConvexError

if TYPE_CHECKING:
    from collections.abc import Callable

    from convex_emulator.store import Store
    from convex_emulator.tablets import Tablet

Shape = dict[str, Any]
SYSTEM_COLUMNS = ["_creationTime", "_id"]


def _observe(shape: Shape, value: Any, id_tables: dict[str, Tablet]) -> None:
    kind = type(value)
    if value is None:
        shape["null"] = True
    elif kind is bool:
        shape["boolean"] = True
    elif kind is int:
        shape["int64"] = True
    elif kind is float:
        # -0.0 is special too: upstream gives it its own shape, and the encoded formats send
        # it as {"$float": ...}, so a plain "number" schema would reject the value.
        special = (
            math.isnan(value)
            or math.isinf(value)
            or (value == 0.0 and math.copysign(1.0, value) < 0)
        )
        shape["float64"] = shape.get("float64", False) or special
    elif kind is str:
        tablet = id_tables.get(value)
        if tablet is not None:
            shape["id:" + tablet.name] = True
        else:
            shape["string"] = True
    elif kind is bytes:
        shape["bytes"] = True
    elif kind is list:
        items = shape.setdefault("array", {})
        for item in value:
            _observe(items, item, id_tables)
    elif kind is dict:
        _observe_object(
            shape.setdefault("object", {"count": 0, "fields": {}, "seen": {}}), value, id_tables
        )


def _observe_object(
    obj: dict[str, Any], value: dict[str, Any], id_tables: dict[str, Tablet]
) -> None:
    obj["count"] += 1
    for name, item in value.items():
        _observe(obj["fields"].setdefault(name, {}), item, id_tables)
        obj["seen"][name] = obj["seen"].get(name, 0) + 1


def table_shape(store: Store, tablet: Tablet) -> dict[str, Any]:
    """The object shape of a table's current documents (cached until the table changes)."""
    cached = tablet.shape_cache
    if cached is not None and cached[0] == tablet.version:
        return cached[1]
    obj: dict[str, Any] = {"count": 0, "fields": {}, "seen": {}}
    id_tables = store.document_tablets
    for value in tablet.live_values():
        _observe_object(obj, value, id_tables)
    tablet.shape_cache = (tablet.version, obj)
    return obj


def column_names(store: Store) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """The ``get_table_column_names`` body: sorted top-level names per component and table."""
    with store.lock:
        by_component: dict[str, list[dict[str, Any]]] = {path: [] for path in store.components()}
        for tablet in store.active_tablets():
            if tablet.schema_exportable:
                names = sorted(table_shape(store, tablet)["fields"]) or list(SYSTEM_COLUMNS)
            else:
                names = list(SYSTEM_COLUMNS)
            by_component[tablet.component].append({"name": tablet.name, "columns": names})
        return {"byComponent": by_component}


def json_schemas(
    store: Store, *, delta_schema: bool, fmt: str, by_component: bool
) -> dict[str, Any]:
    """The ``json_schemas`` body; one table with a non-object shape fails the whole call."""
    with store.lock:
        result: dict[str, Any] = {path: {} for path in store.components()} if by_component else {}
        for tablet in store.active_tablets():
            if not tablet.schema_exportable:
                raise ConvexError(
                    400,
                    "NoSchemaForExport",
                    f"Table {tablet.name} has a shape that is not an object and the deployment "
                    "has no schema to export instead.",
                )
            schema = _table_schema(store, tablet, fmt, delta_schema)
            if by_component:
                result[tablet.component][tablet.name] = schema
            else:
                result[tablet.name] = schema
        return result


def _table_schema(store: Store, tablet: Tablet, fmt: str, delta_schema: bool) -> dict[str, Any]:
    obj = table_shape(store, tablet)
    if obj["count"] == 0:
        properties: dict[str, Any] = {"_creationTime": {"type": "number"}}
        required = ["_creationTime", "_id"]
    else:
        properties = {name: _schema(shape, fmt) for name, shape in obj["fields"].items()}
        required = sorted(name for name, seen in obj["seen"].items() if seen == obj["count"])
    properties["_id"] = {"$description": f"Id({tablet.name})", "type": "string"}
    properties["_creationTime"] = {"type": "number"}
    if delta_schema:
        properties["_table"] = {"type": "string"}
        properties["_component"] = {"type": "string"}
        properties["_ts"] = {"type": "integer"}
        properties["_deleted"] = {"type": "boolean"}
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        "required": required,
    }


def _schema(shape: Shape, fmt: str) -> Any:
    options = [_kind_schema(kind, payload, fmt) for kind, payload in shape.items()]
    if not options:
        return False
    return options[0] if len(options) == 1 else {"anyOf": options}


def _kind_schema(kind: str, payload: Any, fmt: str) -> Any:
    if kind in _PLAIN_SCHEMAS:
        return {"type": _PLAIN_SCHEMAS[kind]}
    if kind.startswith("id:"):
        return {"$description": f"Id({kind[3:]})", "type": "string"}
    return _KIND_SCHEMAS[kind](payload, fmt)


def _float_schema(has_specials: bool, fmt: str) -> Any:
    """A plain number, or also the form NaN, ±Infinity and -0.0 take in ``fmt``."""
    if not has_specials:
        return {"type": "number"}
    special = (
        {"type": "string"}
        if fmt == formats.CLEAN
        else {"type": "object", "properties": {"$float": {"type": "string"}}}
    )
    return {"anyOf": [{"type": "number"}, special]}


def _int64_schema(_: Any, fmt: str) -> Any:
    if fmt == formats.CLEAN:
        return {"type": "string", "$description": "int64 represented as base10 string"}
    if fmt == formats.ENCODED:
        return {"type": "object", "properties": {"$integer": {"type": "string"}}}
    return {"type": "number"}


def _bytes_schema(_: Any, fmt: str) -> Any:
    if fmt == formats.CLEAN:
        return {"type": "string", "$description": "base64 bytes"}
    return {"type": "object", "properties": {"$bytes": {"type": "string"}}}


def _array_schema(items: Shape, fmt: str) -> Any:
    return {"type": "array", "items": _schema(items, fmt)}


def _object_schema(obj: dict[str, Any], fmt: str) -> Any:
    return {
        "type": "object",
        "properties": {name: _schema(shape, fmt) for name, shape in obj["fields"].items()},
        "additionalProperties": False,
        "required": sorted(name for name, seen in obj["seen"].items() if seen == obj["count"]),
    }


_PLAIN_SCHEMAS = {"null": "null", "boolean": "boolean", "string": "string"}
_KIND_SCHEMAS: dict[str, Callable[[Any, str], Any]] = {
    "float64": _float_schema,
    "int64": _int64_schema,
    "bytes": _bytes_schema,
    "array": _array_schema,
    "object": _object_schema,
}
