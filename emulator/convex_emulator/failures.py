"""Errors with the status, code and message that a Convex deployment answers with."""

from __future__ import annotations


class ConvexError(Exception):
    """An API error, rendered as ``{"code": ..., "message": ...}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, str]:
        """The JSON error body, exactly the two keys Convex sends."""
        return {"code": self.code, "message": self.message}


def internal_error() -> ConvexError:
    """The opaque 500 that Convex returns for unclassified failures."""
    return ConvexError(
        500, "InternalServerError", "Your request couldn't be completed. Try again later."
    )
