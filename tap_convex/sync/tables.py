"""The selected tables of a sync: their streams, their bookmarks, and how pages are written.

Values are routed to streams by (``_component``, ``_table``). After each page, the records of
that page are written first (grouped by stream, in page order within a stream) and the
bookmarks that cover them second, so a STATE never claims a record that is not out.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from tap_convex.errors import TapConvexError
from tap_convex.selection import build_selection, selectable_columns
from tap_convex.state import Bookmark, Snapshotting

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from tap_convex.client import ConvexClient
    from tap_convex.errors import PositionExpiredError
    from tap_convex.pages import Key, PageValues
    from tap_convex.progress import Progress
    from tap_convex.streams import ConvexTableStream

logger = logging.getLogger("tap_convex")


class SyncedTables:
    """What both walks share: the client, the streams, their bookmarks and the checkpoints."""

    def __init__(
        self,
        client: ConvexClient,
        streams: Iterable[ConvexTableStream],
        *,
        write_state: Callable[[], None],
        resnapshot_expired: bool,
        progress: Progress,
    ) -> None:
        self.client = client
        self.progress = progress
        self.streams = {stream.key: stream for stream in streams}
        self.bookmarks: dict[Key, Bookmark] = {
            key: stream.read_bookmark() for key, stream in self.streams.items()
        }
        self._write_state = write_state
        self._resnapshot_expired = resnapshot_expired
        self._excluded = {key: self._selectable(stream) for key, stream in self.streams.items()}

    @staticmethod
    def _selectable(stream: ConvexTableStream) -> list[str]:
        """Deselected columns to exclude in the request; a name Convex's field-name rule
        rejects would fail the request, so that column is dropped from records here instead."""
        valid, invalid = selectable_columns(stream.excluded_columns())
        if invalid:
            logger.info(
                "%s: deselected column(s) %s are not valid Convex field names, so they are "
                "dropped from records by the tap instead of excluded in the request.",
                stream.name,
                ", ".join(repr(name) for name in sorted(invalid)),
            )
        return valid

    def selection(self, keys: Iterable[Key]) -> dict[str, Any]:
        """The exact ``selection`` of these tables and their selected columns."""
        return build_selection((*key, self._excluded[key]) for key in keys)

    def keep_encoded(self, keys: Iterable[Key]) -> bool:
        """Pages may keep their values encoded when every stream writes records as built."""
        return all(self.streams[key].plain_output for key in keys)

    def write_page(
        self,
        values: PageValues,
        wanted: Callable[[Key, int], bool],
        versions: dict[Key, int | None],
    ) -> dict[Key, int]:
        """Write the records of a page's wanted values, stream by stream; counts per stream."""
        extracted_at = datetime.now(timezone.utc)
        written = {}
        # Converters are looked up per page: a stream whose schema drifted has a new one.
        builders = {key: stream.converter for key, stream in self.streams.items()}
        for key, records in values.records(builders, wanted).items():
            self.streams[key].write_records(records, versions[key], extracted_at)
            written[key] = len(records)
        return written

    def checkpoint(self, keys: Iterable[Key]) -> None:
        """Save these bookmarks in the tap's state and emit a STATE (after the records)."""
        for key in keys:
            self.streams[key].write_bookmark(self.bookmarks[key])
        self._write_state()

    def names(self, keys: Iterable[Key]) -> str:
        """Stream names for a message, sorted."""
        return ", ".join(sorted(self.streams[key].name for key in keys))

    def restart_expired(self, keys: list[Key], error: PositionExpiredError) -> None:
        """Re-snapshot tables whose position expired, loudly; or stop, if so configured."""
        names = self.names(keys)
        if not self._resnapshot_expired:
            raise TapConvexError(
                f"The saved position of {names} has expired ({error}). Remove those streams' "
                "bookmarks to re-snapshot them, or set on_expired_position to resnapshot."
            )
        logger.warning(
            "RE-SNAPSHOT: the saved position of %s has expired (%s); re-snapshotting them. "
            "Their ACTIVATE_VERSION will retire rows that no longer exist.",
            names,
            error.code,
        )
        for key in keys:
            self.bookmarks[key] = self.bookmarks[key].restarted()

    def snapshotting(self, key: Key) -> Snapshotting:
        """The bookmark of a table that a snapshot walk covers."""
        bookmark = self.bookmarks[key]
        if not isinstance(bookmark, Snapshotting):
            raise TypeError(f"{self.streams[key].name} is not being snapshotted")
        return bookmark
