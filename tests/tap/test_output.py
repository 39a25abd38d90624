"""Singer output: buffered in blocks, flushed at each STATE, records always before their STATE."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout

from singer_sdk import singerlib as singer

from tap_convex.output import CheckpointFlushingWriter


def test_records_are_held_until_the_state_that_covers_them_then_written_in_order() -> None:
    raw = io.BytesIO()
    with redirect_stdout(io.TextIOWrapper(raw, write_through=True)):
        writer = CheckpointFlushingWriter()
        for number in range(3):
            writer.write_message(singer.RecordMessage(stream="s", record={"n": number}))
        assert raw.getvalue() == b""
        writer.write_message(singer.StateMessage(value={"bookmarks": {"s": {"n": 2}}}))
        written = [json.loads(line) for line in raw.getvalue().splitlines()]
    assert [m["type"] for m in written] == ["RECORD", "RECORD", "RECORD", "STATE"]
    assert [m["record"]["n"] for m in written[:3]] == [0, 1, 2]


def test_large_output_is_written_in_blocks_before_any_state() -> None:
    raw = io.BytesIO()
    with redirect_stdout(io.TextIOWrapper(raw, write_through=True)):
        writer = CheckpointFlushingWriter()
        for number in range(2000):
            writer.write_message(
                singer.RecordMessage(stream="s", record={"text": "x" * 100, "n": number})
            )
        assert 0 < len(raw.getvalue().splitlines()) < 2000
        writer.flush()
        assert len(raw.getvalue().splitlines()) == 2000
