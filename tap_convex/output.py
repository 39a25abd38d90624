"""Singer output: msgspec serialisation, written in blocks and flushed at each checkpoint."""

from __future__ import annotations

import atexit
import sys
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, cast

from singer_sdk import singerlib as singer
from singer_sdk.contrib.msgspec import MsgSpecWriter, encoder

if TYPE_CHECKING:
    from tap_convex.pages import Records

BLOCK_BYTES = 1 << 16


class CheckpointFlushingWriter(MsgSpecWriter):
    """Collect messages in memory and write them out in blocks, always right after a STATE.

    Records precede the STATE that covers them in the same buffer, so a crash before a flush
    loses only records that no emitted STATE claims; the next run reads them again. Doing our
    own buffering keeps the cost per record low even when stdout is unbuffered
    (``PYTHONUNBUFFERED``, common in containers and CI).
    """

    def __init__(self) -> None:
        super().__init__()
        self._pending = bytearray()
        atexit.register(self.flush)

    def write_message(self, message: singer.Message) -> None:
        """Buffer a message; a STATE (or a full block) is written out at once."""
        self._pending += self.format_message(message)
        if message.type == singer.SingerMessageType.STATE or len(self._pending) >= BLOCK_BYTES:
            self.flush()

    def write_records(
        self,
        stream: str,
        records: Records,
        version: int | None,
        time_extracted: datetime,
    ) -> None:
        """RECORD messages of one stream, as ``write_message`` would encode them but without a
        message object per record (the hot path of a sync). Records may already be encoded
        JSON objects (pages that kept their values encoded) or dicts."""
        if records and type(records[0]) is not bytes:
            records = [encoder.encode(record) for record in records]
        head = b'{"type":"RECORD","stream":%s,"record":' % encoder.encode(stream)
        trailer: dict[str, Any] = {} if version is None else {"version": version}
        trailer["time_extracted"] = time_extracted.astimezone(timezone.utc)
        tail = b",%s\n" % encoder.encode(trailer)[1:]
        self._pending += head + (tail + head).join(cast("list[bytes]", records)) + tail
        if len(self._pending) >= BLOCK_BYTES:
            self.flush()

    def flush(self) -> None:
        """Write everything buffered to stdout."""
        if not self._pending:
            return
        out = sys.stdout.buffer
        view = memoryview(self._pending)
        while view:
            written = out.write(view)
            view = view[written if written is not None else 0 :]
        view.release()
        self._pending.clear()
        sys.stdout.flush()
