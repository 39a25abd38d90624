"""Fault injection: make chosen endpoints fail on demand, a bounded number of times.

A fault replaces the real answer of one request, after the request was served and logged, so
a client sees a failure (or a hostile answer) exactly where a real deployment or proxy could
give one. :func:`misbehave` writes that answer to the connection itself.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from convex_emulator.responses import json_bytes, reason_phrase, response_head

if TYPE_CHECKING:
    from io import BufferedIOBase

#: Hostile but well-formed answers: the real answer, rewritten by one protocol violation.
REWRITE_KINDS = (
    "null_cursor",
    "shift_snapshot",
    "rewind_cursor",
    "drop_field",
    "mistype_field",
    "drop_value_field",
    "mistype_value_field",
    "repeat_cursor",
    "unknown_status",
)
FAULT_KINDS = ("status", "drop", "slow", "truncate", "html", "trickle", *REWRITE_KINDS)

_DEFAULT_STATUS = 500
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

    * ``null_cursor``: ``cursor`` (data sync: ``pagination.nextCursor``) null while
      ``hasMore`` stays as it was.
    * ``shift_snapshot``: ``list_snapshot`` answers a different ``snapshot`` than the pinned one.
    * ``rewind_cursor``: ``document_deltas`` answers a cursor older than the one it was given.
    * ``drop_field``: the top-level key ``field`` is missing.
    * ``mistype_field``: the top-level key ``field`` holds a string.
    * ``drop_value_field``: the key ``field`` is missing from every value of the page.
    * ``mistype_value_field``: the key ``field`` of every value holds a list.
    * ``repeat_cursor``: the cursor answered is the one the request sent, so the client
      makes no progress (data sync: ``pagination.nextCursor``; a cold start has none to
      repeat and is answered as it was).
    * ``unknown_status``: a data-sync ``status`` whose ``type`` no backend sends.

    ``skip`` lets that many matching requests through first, so a fault can land mid-sync.
    """

    endpoint: str
    kind: str = "status"
    count: int = 1
    skip: int = 0
    status: int = _DEFAULT_STATUS
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
        """A fault from the admin API's JSON; an unknown field is an error, not ignored."""
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        return cls(**raw)

    def error_body(self) -> dict[str, str]:
        """The Convex error body a ``status`` fault answers with."""
        code = self.code or _DEFAULT_CODES.get(self.status, "InternalServerError")
        return {"code": code, "message": self.message or f"Injected fault ({code})."}

    def to_dict(self) -> dict[str, Any]:
        """The fault as the admin API lists it."""
        return asdict(self)


class FaultPlan:
    """Faults waiting to fire, matched by endpoint name (``*`` matches every API endpoint)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        """Plan ``fault``; it fires after the faults planned before it are used up."""
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        """Drop every planned fault."""
        with self._lock:
            self._faults.clear()

    def pending(self) -> list[Fault]:
        """The faults still to fire, in firing order."""
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


_TRICKLE_PIECE = 1024  # bytes a ``trickle`` fault sends at a time
_PROXY_ERROR = 502  # an ``html`` fault left at the default 500 looks like a proxy's 502


def fault_status(fault: Fault) -> int:
    """The status line a fault answers with (``drop``/``slow``/``truncate`` start a 200)."""
    if fault.kind == "status":
        return fault.status
    if fault.kind == "html":
        return fault.status if fault.status != _DEFAULT_STATUS else _PROXY_ERROR
    return 200


def misbehave(
    fault: Fault,
    payload: bytes,
    wfile: BufferedIOBase,
    connection: socket.socket,
    request: dict[str, Any] | None = None,
) -> bool:
    """Answer with ``fault`` instead of the real ``payload``; True if the connection is closed.

    ``request`` holds the request's arguments, for the faults that echo them.
    """
    kind = fault.kind
    if kind == "drop":
        wfile.write(response_head(200, len(payload)) + payload[: len(payload) // 2])
        wfile.flush()
        connection.shutdown(socket.SHUT_RDWR)
        return True
    if kind == "trickle":
        wfile.write(response_head(200, len(payload)))
        for start in range(0, len(payload), _TRICKLE_PIECE):
            time.sleep(fault.delay)
            wfile.write(payload[start : start + _TRICKLE_PIECE])
        return False
    wfile.write(_replacement(fault, payload, request or {}))
    return False


def _replacement(fault: Fault, payload: bytes, request: dict[str, Any]) -> bytes:
    """The whole response a fault answers with, for the kinds that send one at once."""
    kind = fault.kind
    if kind in REWRITE_KINDS:
        body = rewrite(fault, payload, request)
    elif kind == "slow":
        time.sleep(fault.delay)
        body = payload
    elif kind == "truncate":
        body = payload[: len(payload) // 2]
    elif kind == "html":
        status = fault_status(fault)
        heading = f"{status} {reason_phrase(status) or 'Error'}"
        page = f"<html><body><h1>{heading}</h1></body></html>".encode()
        return response_head(status, len(page), "text/html") + page
    else:
        body = json_bytes(fault.error_body())
        headers = {} if fault.retry_after is None else {"Retry-After": f"{fault.retry_after:g}"}
        return response_head(fault.status, len(body), extra_headers=headers) + body
    return response_head(200, len(body)) + body


def rewrite(fault: Fault, payload: bytes, request: dict[str, Any] | None = None) -> bytes:
    """The real answer with one protocol violation, still valid JSON.

    On a data-sync answer (it has a ``syncId``) the cursor is opaque, so ``rewind_cursor``
    answers the request's cursor as ``repeat_cursor`` does; ``shift_snapshot`` moves the
    status's ts; the value-field kinds reach into each value's document unless ``field``
    names one of the entry's own keys.
    """
    body = json.loads(payload)
    kind = fault.kind
    sync = "syncId" in body
    field = fault.field or ("_id" if kind.endswith("value_field") else "values")
    if kind in ("null_cursor", "repeat_cursor", "rewind_cursor"):
        _rewrite_cursor(body, kind, (request or {}).get("cursor"), sync=sync)
    elif kind == "unknown_status":
        body["status"] = {"type": "paused"}
    elif kind == "shift_snapshot" and sync:
        for key in ("snapshotTs", "syncedTs"):
            if key in body["status"]:
                body["status"][key] += 1
    elif kind == "shift_snapshot":
        body["snapshot"] = body["snapshot"] + 1
    elif kind.endswith("value_field"):
        for value in body["values"]:
            document = _document(value, field, sync=sync)
            if kind == "drop_value_field":
                document.pop(field, None)
            else:
                document[field] = ["unexpected"]
    elif kind == "drop_field":
        body.pop(field, None)
    else:
        body[field] = "unexpected"
    return json_bytes(body)


def _rewrite_cursor(body: dict[str, Any], kind: str, sent: Any, *, sync: bool) -> None:
    # The current data-sync answer keeps its cursor in ``pagination``; the others at the top.
    holder = body["pagination"] if isinstance(body.get("pagination"), dict) else body
    key = "nextCursor" if holder is not body else "cursor"
    if kind == "null_cursor":
        holder[key] = None
    elif kind == "repeat_cursor" or sync:
        if sent is not None:
            holder[key] = sent
    else:
        holder[key] = holder[key] - 1_000_000_000


def _document(value: dict[str, Any], field: str, *, sync: bool) -> dict[str, Any]:
    """Where a value's ``field`` lives: a data-sync entry's document, unless the entry's own."""
    document = value.get("value")
    if sync and field not in value and isinstance(document, dict):
        return document
    return value
