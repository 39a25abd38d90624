"""What a Convex document may hold, checked on every write so the emulator stores only what
Convex would store (a tap test cannot then pass on data no real deployment can have).
"""

from __future__ import annotations

from typing import Any

from convex_emulator import formats


def check_document(document: dict[str, Any], *, allow_system_fields: bool) -> None:
    """Reject what Convex would reject: reserved top-level names, ``$`` keys, non-values.

    ``allow_system_fields`` lets a loader keep the ``_id`` and ``_creationTime`` it was given.
    """
    if not isinstance(document, dict):
        raise ValueError("a document must be an object")  # noqa: TRY004 - a user-facing 400
    for name, value in document.items():
        system = name in ("_id", "_creationTime")
        if name.startswith("_") and not (system and allow_system_fields):
            raise ValueError(f"top-level field {name!r} is reserved")
        if name == "_creationTime" and type(value) is not float:
            raise ValueError("_creationTime must be a float64")
        _check_value(value, name)


def _check_value(value: Any, path: str) -> None:
    kind = type(value)
    if kind is int:
        if not formats.INT64_MIN <= value <= formats.INT64_MAX:
            raise ValueError(f"{path}: integer does not fit in int64")
    elif kind is dict:
        for key, item in value.items():
            if not isinstance(key, str) or key.startswith("$"):
                raise ValueError(f"{path}: object keys must be strings not starting with '$'")
            _check_value(item, f"{path}.{key}")
    elif kind is list:
        for index, item in enumerate(value):
            _check_value(item, f"{path}[{index}]")
    elif not (value is None or kind in (bool, float, str, bytes)):
        raise ValueError(f"{path}: {kind.__name__} is not a Convex value")
