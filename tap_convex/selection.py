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


def build_selection(tables: Iterable[tuple[str, str, Iterable[str]]]) -> dict[str, Any]:
    """Select exactly the given ``(component, table, excluded_columns)``, nothing else."""
    selection: dict[str, Any] = {"_other": EXCLUDED}
    for component, table, excluded_columns in tables:
        chosen: dict[str, Any] = {"_other": INCLUDED}
        for column in sorted(set(excluded_columns) - {"_id"}):
            chosen[column] = EXCLUDED
        selection.setdefault(component, {"_other": EXCLUDED})[table] = chosen
    return selection
