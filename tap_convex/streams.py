"""The Singer stream of one Convex table, and the one place that touches SDK internals.

Records of every stream come from one shared walk (see :mod:`tap_convex.sync`), so the sync
writes messages through the small adapter methods below rather than ``Stream.sync``. No
other module of the tap uses a private name of the SDK.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, cast

from singer_sdk import Stream, Tap
from singer_sdk import singerlib as singer
from singer_sdk.helpers._catalog import get_selected_schema
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform

from tap_convex.convert import RecordConverter
from tap_convex.drift import SchemaGuard, widened
from tap_convex.selection import build_selection
from tap_convex.state import Bookmark, from_state

logger = logging.getLogger("tap_convex")

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping
    from datetime import datetime

    from tap_convex.discovery import TableInfo
    from tap_convex.output import CheckpointFlushingWriter
    from tap_convex.pages import Records
    from tap_convex.tap import TapConvex


@dataclass(slots=True)
class ConvexStreamMetadata(singer.StreamMetadata):
    """Stream metadata plus the raw Convex identity (``convex-component``, ``convex-table``)."""

    convex_component: str | None = None
    convex_table: str | None = None


class ConvexTableStream(Stream):
    """One (component, table) of the deployment."""

    TYPE_CONFORMANCE_LEVEL = TypeConformanceLevel.NONE  # values are built to fit the schema
    primary_keys = ["_id"]  # noqa: RUF012 - the SDK declares it as a list attribute
    replication_key = "_ts"
    is_sorted = False

    def __init__(self, tap: TapConvex, info: TableInfo) -> None:
        super().__init__(tap, schema=info.schema, name=info.stream_name)
        self.info = info
        self._plain_output: bool | None = None
        self.converter = RecordConverter(info.number_only_fields, list(info.schema["properties"]))
        self._guard = SchemaGuard(info.schema)

    @property
    def key(self) -> tuple[str, str]:
        """The table's identity: (component path, table name)."""
        return self.info.component, self.info.table

    @property
    def metadata(self) -> singer.MetadataMapping:
        """The SDK's metadata, with the raw Convex identity on the stream's root entry."""
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

    def apply_catalog(self, catalog: singer.Catalog) -> None:
        """Take streams, columns and keys from the catalog, but types from the deployment.

        A saved catalog's types go stale when a field changes type in Convex; announcing them
        would send records that their own SCHEMA rejects. The deployment decides the types.
        """
        super().apply_catalog(catalog)
        self._input_schema = None

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
        """This stream's bookmark in the tap's state (a fresh snapshot when absent)."""
        raw = self.tap_state.get("bookmarks", {}).get(self.name)
        return from_state(self.name, raw, self.info.component, self.info.table)

    def write_bookmark(self, bookmark: Bookmark) -> None:
        """Put the bookmark in the tap's state; the next STATE message carries it."""
        state = self.stream_state
        state.clear()
        state.update(bookmark.to_state())

    # ---- message adapters (SDK internals, isolated here) -----------------------------------

    def write_schema(self) -> None:
        """Emit this stream's SCHEMA message."""
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

    def write_records(self, records: Records, version: int | None, extracted_at: datetime) -> None:
        """Write a page's records of this stream: encoded JSON objects (only pages of
        streams with ``plain_output``) or dicts."""
        misfits = self._guard.misfits(records)
        if misfits:
            self._widen(misfits)
        if self.plain_output:
            writer = cast("CheckpointFlushingWriter", self._tap.message_writer)
            writer.write_records(self.name, records, version, extracted_at)
            self.state_manager.is_flushed = False
        else:
            self._stream_version = version
            for record in cast("list[dict[str, Any]]", records):
                self._write_record_message(record)

    def _widen(self, fields: list[str]) -> None:
        """Make ``fields`` permissive and announce the new SCHEMA before any record needs it."""
        logger.warning(
            "%s: field(s) %s changed type or appeared since discovery; they become "
            "permissive (any JSON) columns from here on.",
            self.name,
            ", ".join(repr(name) for name in fields),
        )
        schema = widened(self.schema, fields)
        self._schema = schema
        self._tap.mapper.register_raw_stream_schema(
            self.name, get_selected_schema(self.name, schema, self.mask), self.primary_keys
        )
        self._stream_maps = []  # the mapper's new maps, on next use
        self._plain_output = None
        self.converter = RecordConverter(
            self.info.number_only_fields - set(fields), list(schema["properties"])
        )
        self._guard = SchemaGuard(schema)
        self.write_schema()

    def activate_version(self, version: int) -> None:
        """Emit ACTIVATE_VERSION: targets drop this stream's rows of older versions."""
        self._write_activate_version_message(version)

    # ---- standalone reads (connection tests and dry runs) ----------------------------------

    def get_records(self, context: Mapping[str, Any] | None) -> Iterator[dict[str, Any]]:  # noqa: ARG002 - one table has no partitions
        """Read this table alone from a fresh snapshot; a full sync never comes through here."""
        client = cast("TapConvex", self._tap).client
        selection = build_selection([(*self.key, self.excluded_columns())])
        snapshot: int | None = None
        cursor: str | None = None
        builders = {self.key: self.converter}
        while True:
            page = client.list_snapshot(snapshot, cursor, selection)
            snapshot, cursor = page.snapshot, page.cursor
            for records in page.values.records(builders, self._is_own).values():
                yield from cast("list[dict[str, Any]]", records)
            if not page.has_more:
                return

    def _is_own(self, key: tuple[str, str], _ts: int) -> bool:
        return key == self.key


def deployment_catalog(streams: Iterable[ConvexTableStream]) -> singer.Catalog:
    """The catalog of these streams: the deployment's types, with the selection metadata an
    input catalog gave them (see :meth:`ConvexTableStream.apply_catalog`)."""
    return singer.Catalog(
        (stream.tap_stream_id, stream._singer_catalog_entry) for stream in streams
    )


def reset_state_progress_markers(tap: Tap) -> None:
    """What the SDK's own ``sync_all`` does first: clear progress markers left in the state."""
    tap._reset_state_progress_markers()
