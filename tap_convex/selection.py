"""Exact ``selection`` objects for the streaming-export API, built from the catalog.

Convex silently exports *everything* when a selection is malformed, so selections are always
built here, in one way: ``incl``/``excl`` literals (understood by old and new servers),
``_other`` at every level, and ``_id`` never excluded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable

INCLUDED = "incl"
EXCLUDED = "excl"
MAX_FIELD_NAME_BYTES = 1024
_DELETE = 0x7F
_FIRST_PRINTABLE = 0x20


def is_valid_field_name(name: str) -> bool:
    """Convex's rule for a field name, in documents and selections alike (upstream's
    ``check_valid_field_name``): non-control ASCII, no leading ``$``, at most 1024 bytes
    (the empty name is allowed). Upstream answers a selection naming any other with a 500."""
    return (
        len(name) <= MAX_FIELD_NAME_BYTES
        and not name.startswith("$")
        and all(_FIRST_PRINTABLE <= ord(char) < _DELETE for char in name)
    )


def selectable_columns(columns: Iterable[str]) -> tuple[list[str], list[str]]:
    """Split columns into those a selection may name and those Convex would refuse there."""
    valid: list[str] = []
    invalid: list[str] = []
    for column in columns:
        (valid if is_valid_field_name(column) else invalid).append(column)
    return valid, invalid


def build_selection(tables: Iterable[tuple[str, str, Iterable[str]]]) -> dict[str, Any]:
    """Select exactly the given ``(component, table, excluded_columns)``, nothing else."""
    selection: dict[str, Any] = {"_other": EXCLUDED}
    for component, table, excluded_columns in tables:
        chosen: dict[str, Any] = {"_other": INCLUDED}
        for column in sorted(set(excluded_columns) - {"_id"}):
            chosen[column] = EXCLUDED
        selection.setdefault(component, {"_other": EXCLUDED})[table] = chosen
    return selection
