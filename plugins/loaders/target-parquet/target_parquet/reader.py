"""The input reader: Singer lines in, messages out, RECORDs of plain streams left as raw JSON.

Decoding every record into Python objects only to turn them into Arrow columns is most of
a simple target's cost, so RECORDs that need no per-record SDK work skip it: the reader
decodes just their envelope and hands the record's JSON text to the target, and the sink
decodes a whole batch at a time. Every other line takes the SDK's path, and a bad line is
reported by its number.
"""

from __future__ import annotations

import sys
import typing as t
from collections import Counter

import msgspec
from singer_sdk.contrib.msgspec import decoder
from singer_sdk.singerlib.encoding.base import GenericSingerReader

from target_parquet.errors import InputLineError


class RecordLine(msgspec.Struct):
    """A message decoded only as far as routing needs: a RECORD's record stays raw JSON."""

    type: str
    stream: str | msgspec.UnsetType = msgspec.UNSET
    record: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    version: int | None = None
    time_extracted: str | None = None


_route_decoder = msgspec.json.Decoder(RecordLine)


class LineReader(GenericSingerReader[bytes]):
    """Reads Singer lines (bytes from stdin; text works too), numbering them for errors.

    A RECORD whose stream needs no per-record SDK work (no stream maps, flattening or
    validation) goes to `route_record` with its record as raw JSON; every other line goes
    to the SDK's callback for its message type.
    """

    def __init__(self) -> None:
        super().__init__()
        self.line_number = 0
        self.route_record: t.Callable[[RecordLine], bool] | None = None

    @property
    def default_input(self) -> t.IO[bytes]:
        """Standard input as bytes: lines are parsed without decoding them to text first."""
        return sys.stdin.buffer

    def process_lines(
        self,
        file_input: t.IO[bytes] | None,
        callbacks: dict[str, t.Callable[[dict[str, t.Any]], None]],
    ) -> t.Counter[str]:
        """Dispatch each line; a RECORD that `route_record` accepts skips the SDK's path."""
        stats: t.Counter[str] = Counter()
        route = self.route_record
        routed_records = 0
        for line in file_input or self.default_input:
            self.line_number += 1
            if route is not None:
                try:
                    routed = _route_decoder.decode(line)
                except msgspec.DecodeError:  # also a wrong type: the full decode explains
                    routed = None
                if routed is not None and routed.type == "RECORD" and route(routed):
                    routed_records += 1
                    continue
            message = self.deserialize_json(line)
            self.assert_line_requires(message, requires={"type"})
            kind = message["type"]
            callback = callbacks.get(kind) if isinstance(kind, str) else None
            if callback is None:
                raise InputLineError(f"line {self.line_number}: unknown message type {kind!r}")
            callback(message)
            stats[kind] += 1
        stats["RECORD"] += routed_records
        return stats

    def deserialize_json(self, line: bytes) -> dict[str, t.Any]:
        """Parse one message (floats become Decimal, as in the SDK reader)."""
        try:
            message = decoder.decode(line)
        except msgspec.DecodeError as exc:
            raise InputLineError(f"line {self.line_number}: not valid JSON ({exc})") from exc
        if not isinstance(message, dict):
            raise InputLineError(f"line {self.line_number}: not a JSON object")
        return message

    def assert_line_requires(  # type: ignore[override]  # the SDK's is static; this names the line
        self, line_dict: dict[str, t.Any], requires: set[str]
    ) -> None:
        """Name the line, message type and stream when a message lacks a key."""
        if requires.issubset(line_dict):
            return
        missing = ", ".join(sorted(requires - line_dict.keys()))
        kind = line_dict.get("type", "message")
        stream = f" for stream '{line_dict['stream']}'" if "stream" in line_dict else ""
        raise InputLineError(f"line {self.line_number}: {kind}{stream} lacks {missing}")
