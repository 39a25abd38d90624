"""Singer output: msgspec serialisation, flushed at checkpoints instead of after every line."""

from __future__ import annotations

import sys

from singer_sdk import singerlib as singer
from singer_sdk.contrib.msgspec import MsgSpecWriter


class CheckpointFlushingWriter(MsgSpecWriter):
    """Write messages through stdout's buffer and flush after each STATE.

    Records always precede the STATE that covers them in the same buffer, so a crash before a
    flush loses only records that no emitted STATE claims; the next run re-reads them.
    """

    def write_message(self, message: singer.Message) -> None:
        sys.stdout.buffer.write(self.format_message(message))
        if message.type == singer.SingerMessageType.STATE:
            sys.stdout.flush()
