"""Convex's name rules, written once: everything the emulator names is checked here.

A deployment that accepted a name Convex rejects (or the reverse) would let a tap pass tests
it fails in production, so these are upstream's rules to the letter, with its messages.
Source: get-convex/convex-backend ``crates/convex/sync_types/src/identifier.rs``
(``check_valid_identifier``, ``check_valid_field_name``); system fields from
``crates/common/src/document.rs``, user tables from
``crates/database/src/bootstrap_model/user_facing.rs``, component paths from
``crates/common/src/components/component_path.rs``.

* An identifier (a table name, a component name) starts with an ASCII letter or ``_``,
  continues with ASCII letters, digits and ``_``, is not all ``_``, and has at most 64 bytes.
* A field name (any object key, top-level or nested, and a selected column) is printable
  ASCII (``" "`` to ``"~"``), does not start with ``$`` and has at most 1024 bytes. The empty
  name is allowed (upstream allows it since April 2024).
* A user table's name and a top-level user field do not start with ``_`` (``_id`` and
  ``_creationTime`` are the only top-level system fields).
* A component path is ``""`` (the root) or identifiers joined by ``/``.
"""

from __future__ import annotations

import re
import string

from convex_emulator.failures import ConvexError

MAX_IDENTIFIER_LEN = 64
MAX_FIELD_NAME_LENGTH = 1024
SYSTEM_FIELDS = frozenset({"_id", "_creationTime"})

_IDENTIFIER_START = frozenset(string.ascii_letters + "_")
_NOT_IDENTIFIER_CHAR = re.compile(r"[^A-Za-z0-9_]")
_NOT_FIELD_NAME_CHAR = re.compile(r"[^ -~]")  # anything but non-control ASCII


class InvalidNameError(ConvexError, ValueError):
    """A name Convex rejects: a 400 with upstream's code, and a ``ValueError`` in Python."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(400, code, message)


def identifier_problem(name: str) -> str | None:
    """Upstream's complaint about ``name`` as an identifier, or ``None`` if it is one."""
    if not name:
        return "Identifier cannot be empty"
    if name[0] not in _IDENTIFIER_START:
        return (
            f"Invalid first character {name[0]!r} in {name}: Identifiers must start with an "
            "alphabetic character or underscore"
        )
    problem = _content_problem(
        name,
        "Identifier",
        _NOT_IDENTIFIER_CHAR,
        "Identifiers can only contain alphanumeric characters or underscores",
        MAX_IDENTIFIER_LEN,
    )
    if problem is not None:
        return problem
    if not name.strip("_"):
        return f"Identifier {name} cannot have exclusively underscores"
    return None


def field_name_problem(name: str) -> str | None:
    """Upstream's complaint about ``name`` as a field name, or ``None`` if it is one."""
    if name.startswith("$"):
        return f"Field name {name} starts with '$', which is reserved."
    return _content_problem(
        name,
        "Field name",
        _NOT_FIELD_NAME_CHAR,
        "Field names can only contain non-control ASCII characters",
        MAX_FIELD_NAME_LENGTH,
    )


def _content_problem(
    name: str, noun: str, bad_char: re.Pattern[str], allowed: str, limit: int
) -> str | None:
    """The checks both rules end with: allowed characters only, then a length limit.

    The limit is in bytes; only ASCII is left by then, so characters are bytes.
    """
    bad = bad_char.search(name)
    if bad is not None:
        return f"{noun} {name} has invalid character {bad.group()!r}: {allowed}"
    if len(name) > limit:
        return f"{noun} is too long ({len(name)} > maximum {limit})"
    return None


def top_level_field_problem(name: str, *, allow_system_fields: bool) -> str | None:
    """A field name that, at the top of a document, is not a reserved ``_`` name.

    ``allow_system_fields`` admits ``_id`` and ``_creationTime``, which a loader may carry.
    """
    problem = field_name_problem(name)
    if problem is None and name.startswith("_"):
        if allow_system_fields and name in SYSTEM_FIELDS:
            return None
        return (
            f"Field '{name}' starts with an underscore, which is only allowed for system "
            "fields like '_id'"
        )
    return problem


def user_table_problem(name: str) -> str | None:
    """An identifier that is not a system (``_``) table name: what a write may create."""
    problem = identifier_problem(name)
    if problem is None and name.startswith("_"):
        return f"Invalid table name {name} starts with metadata prefix '_'"
    return problem


def component_path_problem(path: str) -> str | None:
    """``""`` for the root, else ``/``-separated component names, each an identifier."""
    if path == "":
        return None
    for segment in path.split("/"):
        problem = identifier_problem(segment)
        if problem is not None:
            return f"Invalid component path {path!r}: {problem}"
    return None


def is_identifier(name: str) -> bool:
    """Whether ``name`` passes ``check_valid_identifier`` (a table name in a selection)."""
    return identifier_problem(name) is None


def is_field_name(name: str) -> bool:
    """Whether ``name`` passes ``check_valid_field_name`` (a column in a selection)."""
    return field_name_problem(name) is None


def is_component_path(path: str) -> bool:
    """Whether ``path`` parses as a ``ComponentPath``."""
    return component_path_problem(path) is None


def check_user_table(name: str) -> None:
    """Raise 400 ``InvalidTableName`` unless a write may create a table called ``name``."""
    _raise_if("InvalidTableName", user_table_problem(name))


def check_component_path(path: str) -> None:
    """Raise 400 ``InvalidComponentName`` unless ``path`` is a component path."""
    _raise_if("InvalidComponentName", component_path_problem(path))


def check_field_name(name: str, *, top_level: bool, allow_system_fields: bool = False) -> None:
    """Raise 400 ``InvalidConvexValue`` unless ``name`` may name a field of a stored document."""
    if top_level:
        problem = top_level_field_problem(name, allow_system_fields=allow_system_fields)
    else:
        problem = field_name_problem(name)
    _raise_if("InvalidConvexValue", problem)


def _raise_if(code: str, problem: str | None) -> None:
    if problem is not None:
        raise InvalidNameError(code, problem)
