"""Errors the tap reports as one clear line (and a non-zero exit), never as a raw traceback."""

from __future__ import annotations


class TapConvexError(Exception):
    """A problem the user can act on; the message says what is wrong and what to do."""


class ConfigError(TapConvexError):
    """The tap's settings are invalid."""


class StateError(TapConvexError):
    """The STATE given to the tap cannot be used."""


class ConvexApiError(TapConvexError):
    """The deployment answered with an error that retrying will not fix."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class ConvexAuthError(ConvexApiError):
    """The deploy key was refused or lacks permission."""


class PositionExpiredError(ConvexApiError):
    """A saved snapshot or delta cursor is older than the deployment keeps history for."""


class ProtocolError(TapConvexError):
    """The deployment's answer does not follow the streaming-export protocol."""
