"""Errors that the CLI reports as one line instead of a traceback."""

from __future__ import annotations


class TargetError(Exception):
    """Bad input or configuration: the run stops, committed data stays as it was."""


class InputLineError(TargetError):
    """A line of input that is not a usable Singer message."""


class RecordError(TargetError):
    """A record value that does not fit the column its SCHEMA declared."""

    def __init__(self, stream: str, field: str, detail: str) -> None:
        super().__init__(f"stream '{stream}', field '{field}': {detail}")
        self.stream = stream
        self.field = field
