"""Discovery: one stream per (component, table), with names and Singer schemas.

Stream names: a root-component table keeps its name (``messages``); a component table is
prefixed by its component path with ``/`` written as ``__`` (``waitlist__users``,
``a__b__users``). Names never contain ``-`` (SQL targets split on it); a collision is an error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tap_convex.errors import ConvexApiError, ProtocolError, TapConvexError

if TYPE_CHECKING:
    from tap_convex.client import ConvexClient

logger = logging.getLogger("tap_convex")

# Any JSON value. Listing every type (rather than ``{}``) keeps SDK targets and tools happy.
PERMISSIVE: dict[str, Any] = {
    "type": ["array", "boolean", "integer", "null", "number", "object", "string"]
}
METADATA_PROPERTIES: dict[str, Any] = {
    "_id": {"type": "string"},
    "_creationTime": {"type": ["string", "null"], "format": "date-time"},
    "_ts": {"type": "integer"},
    "_deleted": {"type": "boolean"},
    "_component": {"type": "string"},
    "_table": {"type": "string"},
    "_sdc_deleted_at": {"type": ["string", "null"], "format": "date-time"},
}
_SCALARS = {"string": "string", "number": "number", "boolean": "boolean"}
_SPECIAL_SCHEMAS: dict[str, dict[str, Any]] = {
    "$integer": {"type": ["integer", "null"]},
    "$bytes": {"type": ["string", "null"], "contentEncoding": "base64"},
}


@dataclass(frozen=True)
class TableInfo:
    """Everything the tap knows about one Convex table."""

    component: str
    table: str
    stream_name: str
    schema: dict[str, Any]
    number_only_fields: frozenset[str] = field(default_factory=frozenset)


def stream_name(component: str, table: str) -> str:
    """The Singer stream name of a (component, table)."""
    if component == "":
        return table
    return component.replace("/", "__") + "__" + table


def discover_tables(client: ConvexClient) -> list[TableInfo]:
    """List every table of every component, typed from ``json_schemas`` where possible."""
    answer = client.table_column_names()
    if not isinstance(answer, dict) or not isinstance(answer.get("byComponent"), dict):
        raise ProtocolError("get_table_column_names answered without a byComponent object.")
    columns: dict[str, Any] = answer["byComponent"]
    try:
        typed = client.json_schemas()
        if not isinstance(typed, dict):
            raise ProtocolError("json_schemas answered with something other than an object.")
    except ConvexApiError as error:
        logger.warning(
            "json_schemas failed (%s); tables are discovered from their column names, with "
            "permissive types.",
            error,
        )
        typed = {}
    tables: dict[str, TableInfo] = {}
    for component, entries in sorted(columns.items()):
        if not isinstance(entries, list):
            raise ProtocolError(f"get_table_column_names: component {component!r} is not a list.")
        for entry in entries:
            table, names = entry.get("name"), entry.get("columns")
            if not isinstance(table, str) or not isinstance(names, list):
                raise ProtocolError("get_table_column_names answered a table without name/columns.")
            component_schemas = typed.get(component)
            table_schema = (
                component_schemas.get(table) if isinstance(component_schemas, dict) else None
            )
            info = table_info(component, table, names, table_schema)
            clash = tables.get(info.stream_name)
            if clash is not None:
                raise TapConvexError(
                    f"Tables {clash.component!r}/{clash.table!r} and {component!r}/{table!r} "
                    f"both map to stream name {info.stream_name!r}; tap-convex cannot tell them "
                    "apart. Rename one of them in Convex."
                )
            tables[info.stream_name] = info
    return [tables[name] for name in sorted(tables)]


def table_info(component: str, table: str, columns: list[str], json_schema: Any) -> TableInfo:
    """Build a table's Singer schema; without a usable JSON schema, columns are permissive."""
    properties: dict[str, Any] = {}
    number_only: set[str] = set()
    typed = json_schema.get("properties") if isinstance(json_schema, dict) else None
    if not isinstance(typed, dict):
        typed = {}
    for name in sorted(set(columns) | set(typed)):
        if name.startswith("_"):
            continue
        singer_type = property_schema(typed.get(name))
        properties[name] = singer_type
        if singer_type.get("type") == ["number", "null"]:
            number_only.add(name)
    properties.update(METADATA_PROPERTIES)
    schema = {"type": "object", "properties": properties}
    return TableInfo(
        component, table, stream_name(component, table), schema, frozenset(number_only)
    )


def property_schema(convex_schema: Any) -> dict[str, Any]:
    """Map one field's Convex JSON schema (``convex_encoded_json``) to a nullable Singer schema."""
    if not isinstance(convex_schema, dict):
        return dict(PERMISSIVE)
    options = convex_schema.get("anyOf")
    if isinstance(options, list):
        kept = [option for option in options if option != {"type": "null"}]
        if _is_float_with_specials(kept):
            return {"type": ["number", "null"]}  # non-finite values arrive as null
        return property_schema(kept[0]) if len(kept) == 1 else dict(PERMISSIVE)
    kind = convex_schema.get("type")
    if kind == "object":
        special = _special_kind(convex_schema)
        return dict(_SPECIAL_SCHEMAS.get(special or "", {"type": ["object", "null"]}))
    if kind == "array":
        return {"type": ["array", "null"], "items": dict(PERMISSIVE)}
    return {"type": [_SCALARS[kind], "null"]} if kind in _SCALARS else dict(PERMISSIVE)


def _special_kind(convex_schema: dict[str, Any]) -> str | None:
    properties = convex_schema.get("properties")
    if isinstance(properties, dict) and len(properties) == 1:
        (name,) = properties
        if name in ("$integer", "$bytes", "$float"):
            return str(name)
    return None


def _is_float_with_specials(options: list[Any]) -> bool:
    kinds = {
        "number" if option.get("type") == "number" else _special_kind(option)
        for option in options
        if isinstance(option, dict)
    }
    return kinds == {"number", "$float"}
