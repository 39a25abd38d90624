"""The Singer stream of one Convex table, and the one place that touches SDK internals.

Records of every stream come from one shared walk (see :mod:`tap_convex.sync`), so the sync
engine writes messages through the small adapter methods below rather than ``Stream.sync``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

from singer_sdk import Stream
from singer_sdk import singerlib as singer
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform

from tap_convex.convert import RecordConverter
from tap_convex.discovery import TableInfo
from tap_convex.selection import build_selection
from tap_convex.state import Bookmark, from_state

if TYPE_CHECKING:
    from tap_convex.tap import TapConvex


@dataclass(slots=True)
class ConvexStreamMetadata(singer.StreamMetadata):
    """Stream metadata plus the raw Convex identity (``convex-component``, ``convex-table``)."""

    convex_component: str | None = None
    convex_table: str | None = None


class ConvexTableStream(Stream):
    """One (component, table) of the deployment."""

    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE  # values are built to fit the schema
    primary_keys = ["_id"]  # noqa: RUF012 - the SDK expects a list
    replication_key = "_ts"
    is_sorted = False

    def __init__(self, tap: TapConvex, info: TableInfo) -> None:
        super().__init__(tap, schema=info.schema, name=info.stream_name)
        self.info = info
        self._plain_output: bool | None = None
        self.converter = RecordConverter(info.number_only_fields, list(info.schema["properties"]))

    @property
    def key(self) -> tuple[str, str]:
        return self.info.component, self.info.table

    @property
    def metadata(self) -> singer.MetadataMapping:
        mapping = super().metadata
        root = mapping.root
        if not isinstance(root, ConvexStreamMetadata):
            values = {f.name: getattr(root, f.name) for f in fields(root)}
            mapping[()] = ConvexStreamMetadata(
                **values, convex_component=self.info.component, convex_table=self.info.table
            )
        return mapping

    @property
    def _singer_catalog_entry(self) -> singer.CatalogEntry:
        entry = super()._singer_catalog_entry
        entry.database = self.info.component
        entry.table = self.info.table
        return entry

    def excluded_columns(self) -> list[str]:
        """User fields deselected in the catalog; they are excluded server-side."""
        mask = self.mask
        return [
            name
            for name in self.schema["properties"]
            if not name.startswith("_") and not mask.get(("properties", name), True)
        ]

    # ---- bookmarks -------------------------------------------------------------------------

    def read_bookmark(self) -> Bookmark:
        raw = self.tap_state.get("bookmarks", {}).get(self.name)
        return from_state(self.name, raw, self.info.component, self.info.table)

    def write_bookmark(self, bookmark: Bookmark) -> None:
        state = self.stream_state
        state.clear()
        state.update(bookmark.to_state())

    # ---- message adapters (SDK internals, isolated here) -----------------------------------

    def write_schema(self) -> None:
        self._write_schema_message()

    @property
    def plain_output(self) -> bool:
        """Records go out as the converter built them: no maps, flattening or deselected
        fields need the SDK's per-record transforms (the converter builds records that fit
        the schema)."""
        if self._plain_output is None:
            self._plain_output = (
                len(self.stream_maps) == 1
                and type(self.stream_maps[0]) is SameRecordTransform
                and not self.stream_maps[0].flattening_enabled
                and all(self.mask.values())
            )
        return self._plain_output

    def write_records(
        self, records: list[dict[str, Any]], version: int | None, extracted_at: datetime
    ) -> None:
        if self.plain_output:
            self._tap.message_writer.write_records(self.name, records, version, extracted_at)
            self.state_manager.is_flushed = False
        else:
            self._stream_version = version
            for record in records:
                self._write_record_message(record)

    def write_encoded_records(
        self, records: list[bytes], version: int | None, extracted_at: datetime
    ) -> None:
        """Write records already encoded as JSON; only for a stream with ``plain_output``."""
        self._tap.message_writer.write_encoded_records(self.name, records, version, extracted_at)
        self.state_manager.is_flushed = False

    def activate_version(self, version: int) -> None:
        self._write_activate_version_message(version)

    # ---- standalone reads (connection tests and dry runs) ----------------------------------

    def get_records(self, context: dict[str, Any] | None) -> Iterator[dict[str, Any]]:
        """Read this table alone from a fresh snapshot; a full sync never comes through here."""
        client = self._tap.client
        selection = build_selection([(*self.key, self.excluded_columns())])
        snapshot: int | None = None
        cursor: str | None = None
        while True:
            page = client.list_snapshot(snapshot, cursor, selection)
            snapshot, cursor = page.snapshot, page.cursor
            for value in page.values:
                if (value.get("_component"), value.get("_table")) == self.key:
                    yield self.converter.document(value, deleted=False)
            if not page.has_more:
                return
