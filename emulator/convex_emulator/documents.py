"""What a Convex document may hold, checked on every write.

The emulator stores only what Convex would store, so a tap cannot pass its tests on data no
real deployment can have. Names follow :mod:`convex_emulator.names`; values are the Convex
types of :mod:`convex_emulator.formats`.
"""

from __future__ import annotations

from typing import Any

from convex_emulator import formats
from convex_emulator.names import check_field_name


def check_document(document: dict[str, Any], *, allow_system_fields: bool) -> None:
    """Reject what Convex would reject: bad or reserved field names, and non-values.

    ``allow_system_fields`` lets a loader keep the ``_id`` and ``_creationTime`` it was given.
    """
    if not isinstance(document, dict):
        raise ValueError("a document must be an object")
    for name, value in document.items():
        _check_key(name, top_level=True, allow_system_fields=allow_system_fields)
        if name == "_creationTime" and type(value) is not float:
            raise ValueError("_creationTime must be a float64")
        _check_value(value, name)


def _check_key(key: object, *, top_level: bool, allow_system_fields: bool = False) -> None:
    if not isinstance(key, str):
        raise ValueError(f"object keys must be strings, not {type(key).__name__}")
    check_field_name(key, top_level=top_level, allow_system_fields=allow_system_fields)


def _check_value(value: Any, path: str) -> None:
    kind = type(value)
    if kind is int:
        if not formats.INT64_MIN <= value <= formats.INT64_MAX:
            raise ValueError(f"{path}: integer does not fit in int64")
    elif kind is dict:
        for key, item in value.items():
            _check_key(key, top_level=False)
            _check_value(item, f"{path}.{key}")
    elif kind is list:
        for index, item in enumerate(value):
            _check_value(item, f"{path}[{index}]")
    elif not (value is None or kind in (bool, float, str, bytes)):
        raise ValueError(f"{path}: {kind.__name__} is not a Convex value")
