"""The ``selection`` argument of ``list_snapshot`` and ``document_deltas``: what to export.

Upstream parses the selection fields as an untagged enum, trying in order: an exact
``selection`` object, a single table (``table_name``/``tableName`` plus ``component``), a
single component (``component``), and finally "everything". Anything malformed therefore
silently means "everything"; this module reproduces that on purpose.

A selection that parses is then converted, and conversion checks every name with Convex's
rules (:mod:`convex_emulator.names`) and that ``_id`` stays included. Upstream's
``list_snapshot`` and ``document_deltas`` attach no error code to that conversion
(``crates/local_backend/src/streaming_export.rs``), so a failure is the opaque 500.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from convex_emulator.failures import ConvexError, internal_error
from convex_emulator.names import is_component_path, is_field_name, is_identifier

if TYPE_CHECKING:
    from collections.abc import Callable

_INCLUDED = frozenset({"included", "incl"})
_EXCLUDED = frozenset({"excluded", "excl"})
_LEGACY_INCLUDED = frozenset({"incl"})
_LEGACY_EXCLUDED = frozenset({"excl"})
_OTHER = "_other"

_Child = TypeVar("_Child")


@dataclass(frozen=True)
class TableSelection:
    """Which top-level fields of a table's documents are exported."""

    other: bool
    columns: dict[str, bool] = field(default_factory=dict)

    def includes_column(self, column: str) -> bool:
        """Listed columns say for themselves; the others follow ``_other``."""
        return self.columns.get(column, self.other)

    @property
    def is_all_columns(self) -> bool:
        """True when nothing is filtered, so documents can be sent whole."""
        return self.other and all(self.columns.values())


@dataclass(frozen=True)
class ComponentSelection:
    """Which tables of a component are exported; ``None`` values mean "excluded"."""

    other: bool
    tables: dict[str, TableSelection | None] = field(default_factory=dict)


ALL_COLUMNS = TableSelection(other=True)


@dataclass(frozen=True)
class Selection:
    """A normalised selection; ``None`` values mean "excluded"."""

    other: bool
    components: dict[str, ComponentSelection | None] = field(default_factory=dict)
    kind: str = "exact"

    def table(self, component: str, table: str) -> TableSelection | None:
        """Return the column selection of a table, or ``None`` if the table is excluded."""
        if component not in self.components:
            return ALL_COLUMNS if self.other else None
        chosen = self.components[component]
        if chosen is None:
            return None
        if table not in chosen.tables:
            return ALL_COLUMNS if chosen.other else None
        return chosen.tables[table]


EVERYTHING = Selection(other=True, kind="everything")


class _MalformedError(Exception):
    """The raw value does not deserialize as this variant; the next one is tried."""


def parse_selection_args(
    args: dict[str, Any], *, legacy_literals: bool = False, ignore_table_name_alias: bool = False
) -> Selection:
    """Resolve the flattened selection fields of a request, as the server does.

    ``legacy_literals`` mimics servers that only knew ``incl``/``excl``;
    ``ignore_table_name_alias`` mimics servers that silently ignored ``tableName``.
    """
    selection = _deserialize(args, legacy_literals, ignore_table_name_alias)
    if selection is not EVERYTHING:
        _convert(selection)
    return selection


def _deserialize(args: dict[str, Any], legacy: bool, ignore_table_name_alias: bool) -> Selection:
    """The first variant of the untagged enum that the arguments deserialize as."""
    if "selection" in args:
        try:
            return _parse_exact(args["selection"], legacy)
        except _MalformedError:
            pass
    table = args.get("table_name")
    if table is None and not ignore_table_name_alias:
        table = args.get("tableName")
    component = args.get("component", "")
    if isinstance(table, str) and isinstance(component, str):
        return Selection(
            other=False,
            components={component: ComponentSelection(other=False, tables={table: ALL_COLUMNS})},
            kind="single_table",
        )
    if "component" in args and isinstance(component, str):
        return Selection(
            other=False,
            components={component: ComponentSelection(other=True)},
            kind="single_component",
        )
    return EVERYTHING


def _literal(value: Any, legacy: bool) -> bool:
    included, excluded = (_LEGACY_INCLUDED, _LEGACY_EXCLUDED) if legacy else (_INCLUDED, _EXCLUDED)
    if isinstance(value, str):
        if value in included:
            return True
        if value in excluded:
            return False
    raise _MalformedError


def _parse_exact(raw: Any, legacy: bool) -> Selection:
    if not isinstance(raw, dict) or _OTHER not in raw:
        raise _MalformedError
    components = {
        path: _parse_level(value, legacy, _parse_tables)
        for path, value in raw.items()
        if path != _OTHER
    }
    return Selection(other=_literal(raw[_OTHER], legacy), components=components)


def _parse_tables(other: bool, raw: dict[str, Any], legacy: bool) -> ComponentSelection:
    tables = {name: _parse_level(value, legacy, _parse_columns) for name, value in raw.items()}
    return ComponentSelection(other=other, tables=tables)


def _parse_columns(other: bool, raw: dict[str, Any], legacy: bool) -> TableSelection:
    return TableSelection(other=other, columns={k: _literal(v, legacy) for k, v in raw.items()})


def _parse_level(
    raw: Any, legacy: bool, parse_children: Callable[[bool, dict[str, Any], bool], _Child]
) -> _Child | None:
    """A component or table entry: the string ``excluded`` (``None``), or an object of
    children with a required ``_other``, whose other keys ``parse_children`` reads.
    """
    if isinstance(raw, str):
        if _literal(raw, legacy):
            raise _MalformedError  # "included" is no variant: only the object form includes
        return None
    if not isinstance(raw, dict) or _OTHER not in raw:
        raise _MalformedError
    children = {name: value for name, value in raw.items() if name != _OTHER}
    return parse_children(_literal(raw[_OTHER], legacy), children, legacy)


def parse_data_sync_selection(args: dict[str, Any]) -> Selection:
    """The ``selection`` of a data-sync request, typed strictly as upstream's ``DataSyncArgs``.

    Absent means everything; a value of the wrong shape fails the body's deserialization
    (400 ``BadJsonBody``). Names are checked later, by :func:`check_data_sync_selection`.
    """
    if "selection" not in args:
        return EVERYTHING
    try:
        return _parse_exact(args["selection"], legacy=False)
    except _MalformedError:
        raise ConvexError(
            400, "BadJsonBody", "Failed to deserialize the JSON body: invalid selection"
        ) from None


def check_data_sync_selection(selection: Selection) -> None:
    """The conversion's checks, failing with 400 ``InvalidDataSyncSelection``
    (``crates/local_backend/src/streaming_export.rs``).
    """

    def fail(message: str) -> ConvexError:
        return ConvexError(400, "InvalidDataSyncSelection", f"Invalid selection: {message}")

    _convert(selection, fail)


def _convert(selection: Selection, fail: Callable[[str], Exception] | None = None) -> None:
    """Upstream's conversion checks: names parse, and ``_id`` is never excluded.

    ``fail`` makes the error from a message; the legacy endpoints answer the opaque 500.
    """
    if fail is None:
        fail = _internal
    for path, component in selection.components.items():
        if not is_component_path(path):
            raise fail(f"invalid component path {path!r}")
        if component is None:
            continue
        for table, chosen in component.tables.items():
            if not is_identifier(table):  # a TableName; system names parse too
                raise fail(f"invalid table name {table!r}")
            if chosen is None:
                continue
            if not chosen.includes_column("_id"):
                raise fail("`_id` must be included in the column selection")
            for column in chosen.columns:
                if not is_field_name(column):
                    raise fail(f"invalid field name {column!r}")


def _internal(_message: str) -> Exception:
    return internal_error()
