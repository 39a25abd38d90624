"""Fault injection: make chosen endpoints fail on demand, a bounded number of times."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, fields
from typing import Any

#: Hostile but well-formed answers: the real answer, rewritten by one protocol violation.
REWRITE_KINDS = (
    "null_cursor",
    "shift_snapshot",
    "rewind_cursor",
    "drop_field",
    "mistype_field",
    "drop_value_field",
    "mistype_value_field",
)
FAULT_KINDS = ("status", "drop", "slow", "truncate", "html", "trickle", *REWRITE_KINDS)

_DEFAULT_CODES = {429: "RateLimited", 500: "InternalServerError", 503: "Overloaded"}


@dataclass
class Fault:
    """One planned misbehaviour.

    * ``status``: answer ``status`` with a Convex error body (and ``Retry-After`` if set).
    * ``drop``: send the headers and half of the real body, then close the connection.
    * ``slow``: wait ``delay`` seconds, then answer normally.
    * ``truncate``: answer 200 with the real body cut in half (invalid JSON).
    * ``html``: answer ``status`` (default 502) with an HTML page, as a proxy would.
    * ``trickle``: send the real body in 1 KiB pieces, ``delay`` seconds apart.

    Hostile but well-formed answers (200 and valid JSON), to test a client's protocol checks:

    * ``null_cursor``: ``cursor`` null while ``hasMore`` stays as it was.
    * ``shift_snapshot``: ``list_snapshot`` answers a different ``snapshot`` than the pinned one.
    * ``rewind_cursor``: ``document_deltas`` answers a cursor older than the one it was given.
    * ``drop_field``: the top-level key ``field`` is missing.
    * ``mistype_field``: the top-level key ``field`` holds a string.
    * ``drop_value_field``: the key ``field`` is missing from every value of the page.
    * ``mistype_value_field``: the key ``field`` of every value holds a list.

    ``skip`` lets that many matching requests through first, so a fault can land mid-sync.
    """

    endpoint: str
    kind: str = "status"
    count: int = 1
    skip: int = 0
    status: int = 500
    code: str | None = None
    message: str | None = None
    retry_after: float | None = None
    delay: float = 0.0
    field: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {FAULT_KINDS}")
        if self.count < 1 or self.skip < 0:
            raise ValueError("count must be at least 1 and skip at least 0")

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Fault:
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        return cls(**raw)

    def error_body(self) -> dict[str, str]:
        code = self.code or _DEFAULT_CODES.get(self.status, "InternalServerError")
        return {"code": code, "message": self.message or f"Injected fault ({code})."}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class FaultPlan:
    """Faults waiting to fire, matched by endpoint name (``*`` matches every API endpoint)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def take(self, endpoint: str) -> Fault | None:
        """Consume one firing of the first fault that matches ``endpoint``."""
        with self._lock:
            for fault in self._faults:
                if fault.endpoint not in (endpoint, "*"):
                    continue
                if fault.skip:
                    fault.skip -= 1
                    return None
                fault.count -= 1
                if fault.count == 0:
                    self._faults.remove(fault)
                return fault
            return None
