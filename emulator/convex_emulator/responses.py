"""Raw HTTP/1.1 responses, built byte for byte.

The server and the fault injector both write responses themselves (a fault may stop half way
through a body), so the bytes of a response head are made in one place.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any


def reason_phrase(status: int) -> str:
    """The standard reason phrase of ``status``, or ``""`` for a status without one."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def response_head(
    status: int,
    length: int,
    content_type: str = "application/json",
    extra_headers: dict[str, str] | None = None,
) -> bytes:
    """The status line and headers of a response whose body has ``length`` bytes."""
    lines = [
        f"HTTP/1.1 {status} {reason_phrase(status)}",
        f"Content-Type: {content_type}",
        f"Content-Length: {length}",
    ]
    lines.extend(f"{name}: {value}" for name, value in (extra_headers or {}).items())
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def json_bytes(payload: Any) -> bytes:
    """Compact UTF-8 JSON, as Convex sends it."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
