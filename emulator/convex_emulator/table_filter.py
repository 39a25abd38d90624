"""The ``selection`` argument of ``list_snapshot`` and ``document_deltas``.

Upstream parses the selection fields as an untagged enum, trying in order: an exact
``selection`` object, a single table (``table_name``/``tableName`` plus ``component``), a
single component (``component``), and finally "everything". Anything malformed therefore
silently means "everything"; this module reproduces that on purpose.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from convex_emulator.failures import internal_error

_INCLUDED = frozenset({"included", "incl"})
_EXCLUDED = frozenset({"excluded", "excl"})
_LEGACY_INCLUDED = frozenset({"incl"})
_LEGACY_EXCLUDED = frozenset({"excl"})

_TABLE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_COMPONENT_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")


@dataclass(frozen=True)
class TableSelection:
    other: bool
    columns: dict[str, bool] = field(default_factory=dict)

    def includes_column(self, column: str) -> bool:
        return self.columns.get(column, self.other)

    @property
    def is_all_columns(self) -> bool:
        return self.other and all(self.columns.values())


@dataclass(frozen=True)
class ComponentSelection:
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


class _Malformed(Exception):
    pass


def parse_selection_args(
    args: dict[str, Any], *, legacy_literals: bool = False, ignore_table_name_alias: bool = False
) -> Selection:
    """Resolve the flattened selection fields of a request, as the server does.

    ``legacy_literals`` mimics servers that only knew ``incl``/``excl``;
    ``ignore_table_name_alias`` mimics servers that silently ignored ``tableName``.
    """
    if "selection" in args:
        try:
            selection = _parse_exact(args["selection"], legacy_literals)
        except _Malformed:
            pass
        else:
            _validate(selection)
            return selection
    table = args.get("table_name")
    if table is None and not ignore_table_name_alias:
        table = args.get("tableName")
    component = args.get("component", "")
    if isinstance(table, str) and isinstance(component, str):
        selection = Selection(
            other=False,
            components={component: ComponentSelection(False, {table: ALL_COLUMNS})},
            kind="single_table",
        )
        _validate(selection)
        return selection
    if "component" in args and isinstance(component, str):
        selection = Selection(
            other=False, components={component: ComponentSelection(True)}, kind="single_component"
        )
        _validate(selection)
        return selection
    return EVERYTHING


def _literal(value: Any, legacy: bool) -> bool:
    included, excluded = (_LEGACY_INCLUDED, _LEGACY_EXCLUDED) if legacy else (_INCLUDED, _EXCLUDED)
    if isinstance(value, str):
        if value in included:
            return True
        if value in excluded:
            return False
    raise _Malformed


def _parse_exact(raw: Any, legacy: bool) -> Selection:
    if not isinstance(raw, dict) or "_other" not in raw:
        raise _Malformed
    components: dict[str, ComponentSelection | None] = {}
    for path, value in raw.items():
        if path != "_other":
            components[path] = _parse_component(value, legacy)
    return Selection(other=_literal(raw["_other"], legacy), components=components)


def _parse_component(raw: Any, legacy: bool) -> ComponentSelection | None:
    if isinstance(raw, str):
        if _literal(raw, legacy):
            raise _Malformed
        return None
    if not isinstance(raw, dict) or "_other" not in raw:
        raise _Malformed
    tables = {name: _parse_table(value, legacy) for name, value in raw.items() if name != "_other"}
    return ComponentSelection(other=_literal(raw["_other"], legacy), tables=tables)


def _parse_table(raw: Any, legacy: bool) -> TableSelection | None:
    if isinstance(raw, str):
        if _literal(raw, legacy):
            raise _Malformed
        return None
    if not isinstance(raw, dict) or "_other" not in raw:
        raise _Malformed
    columns = {name: _literal(value, legacy) for name, value in raw.items() if name != "_other"}
    return TableSelection(other=_literal(raw["_other"], legacy), columns=columns)


def _validate(selection: Selection) -> None:
    """Name and ``_id`` checks; upstream reports these as a bare 500."""
    for path, component in selection.components.items():
        if not is_component_path(path):
            raise internal_error()
        if component is None:
            continue
        for table, chosen in component.tables.items():
            if not _TABLE_NAME.fullmatch(table):
                raise internal_error()
            if chosen is None:
                continue
            if not chosen.includes_column("_id"):
                raise internal_error()
            for column in chosen.columns:
                if not _FIELD_NAME.fullmatch(column):
                    raise internal_error()


def is_component_path(path: str) -> bool:
    """``""`` is the root; otherwise ``/``-joined identifiers that are not all underscores."""
    if path == "":
        return True
    return all(_COMPONENT_NAME.fullmatch(part) and part.strip("_") for part in path.split("/"))


def is_table_name(name: str) -> bool:
    return bool(_TABLE_NAME.fullmatch(name))
