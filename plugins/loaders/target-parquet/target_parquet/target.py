"""The target: routes Singer messages to sinks, and decides when rows commit and STATE goes out.

Where rows land is up to the landing modes (`cdc.py`, `current.py`); this module wires them
to the SDK's message loop, keeps the fast path for records of plain streams (`reader.py`),
and drains every stream before each STATE so that STATE only covers published rows.
"""

from __future__ import annotations

import copy
import sys
import time
import typing as t

import msgspec
from singer_sdk.exceptions import (
    InvalidJSONSchema,
    InvalidRecord,
    MissingKeyPropertiesError,
    RecordsWithoutSchemaException,
)
from singer_sdk.helpers.capabilities import (
    CapabilitiesEnum,
    PluginCapabilities,
    TargetCapabilities,
)
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.singerlib.exceptions import InvalidInputLine

from target_parquet.cdc import ChangeLog
from target_parquet.current import CurrentTable
from target_parquet.errors import InputLineError, TargetError
from target_parquet.landing import Destination
from target_parquet.parquet_log import ParquetLog
from target_parquet.reader import LineReader
from target_parquet.sdk_adapter import TargetAdapter
from target_parquet.settings import CONFIG_JSONSCHEMA, Settings, drop_unsupported_builtins
from target_parquet.sinks import ParquetSink
from target_parquet.storage import LoadIds, Storage
from target_parquet.warehouse import Warehouse, warehouse_for

if t.TYPE_CHECKING:
    from singer_sdk.sinks import Sink

    from target_parquet.landing import Landing
    from target_parquet.reader import RecordLine

#: Errors caused by input or configuration: reported as one line, exit status 1.
_REPORTED = (
    TargetError,
    InvalidInputLine,
    InvalidRecord,
    InvalidJSONSchema,
    MissingKeyPropertiesError,
    RecordsWithoutSchemaException,
)


class TargetParquet(TargetAdapter):
    """Singer target writing Parquet: an append-only change log or a current-state table."""

    name = "target-parquet"
    package_name = "target-parquet-convex"
    default_sink_class = ParquetSink
    message_reader_class = LineReader
    capabilities: t.ClassVar[list[CapabilitiesEnum]] = [
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
        PluginCapabilities.STRUCTURED_LOGGING,
        PluginCapabilities.ACTIVATE_VERSION,
        TargetCapabilities.VALIDATE_RECORDS,
        TargetCapabilities.HARD_DELETE,
    ]

    config_jsonschema = CONFIG_JSONSCHEMA

    def __init__(self, **kwargs: t.Any) -> None:
        super().__init__(**kwargs)
        self._settings = Settings.from_config(self.config)
        # The SDK drains (commits) every sink and then emits STATE once this age passes.
        self.set_drain_interval(self._settings.state_interval_seconds)
        self._destination: Destination | None = None
        self._load_ids = LoadIds()
        self._landings: dict[str, Landing] = {}
        self._warehouse: Warehouse | None = None
        self._last_state: dict[str, t.Any] | None = None
        self._plain_sinks: dict[str, ParquetSink] = {}
        reader = self.message_reader
        if not isinstance(reader, LineReader):
            raise TypeError(f"{self.name} reads its input with LineReader, not {reader!r}")
        reader.route_record = self._route_record
        self._reader = reader

    def landing_for(self, stream: str) -> Landing:
        """The landing of a stream, shared by its successive sinks (schema changes)."""
        if stream not in self._landings:
            if "/" in stream or stream.startswith(("_", ".")):
                raise TargetError(f"stream name {stream!r} cannot be used as a directory name")
            if self._destination is None:
                self._destination = Destination(
                    Storage.from_config(self.config), self._load_ids, self._settings.compression
                )
                self._warehouse = warehouse_for(
                    self._destination.storage,
                    enabled=self._settings.duckdb_warehouse,
                    path=self._settings.duckdb_path,
                )
            self._landings[stream] = self._new_landing(self._destination, stream)
        return self._landings[stream]

    def _new_landing(self, destination: Destination, stream: str) -> Landing:
        """The landing that the `mode` and `format` settings choose."""
        settings = self._settings
        destination.claim(stream, settings.format)
        if settings.format == "delta":
            # deltalake is imported only by runs that write Delta (it costs ~20 MB of RSS)
            from target_parquet.delta_current import DeltaCurrentTable  # noqa: PLC0415
            from target_parquet.delta_table import DeltaStream  # noqa: PLC0415

            if settings.mode == "current":
                return DeltaCurrentTable(destination, stream, hard_delete=settings.hard_delete)
            return ChangeLog(DeltaStream(destination, stream), destination.load_ids, stream)
        if settings.mode == "current":
            return CurrentTable(
                destination,
                stream,
                hard_delete=settings.hard_delete,
                buckets=settings.current_buckets,
            )
        return ChangeLog(ParquetLog(destination, stream), destination.load_ids, stream)

    def _refresh_warehouse(self, streams: t.Iterable[str], *, end_of_run: bool) -> None:
        """Bring the views of these streams up to date with what they published.

        Mid-run only views whose files a later commit removes are rewritten: DuckDB is then
        loaded, if at all, when the batches' memory is free.
        """
        if self._warehouse is None:
            return
        scans = {stream: self._landings[stream].scan() for stream in streams}
        if not end_of_run:
            scans = {stream: scan for stream, scan in scans.items() if scan and not scan.lasting}
        self._warehouse.refresh(scans)

    def get_sink(
        self,
        stream_name: str,
        *,
        record: dict[str, t.Any] | None = None,
        schema: dict[str, t.Any] | None = None,
        key_properties: t.Sequence[str] | None = None,
    ) -> Sink:
        """Commit a sink replaced by a new SCHEMA at once, so commits keep message order."""
        if schema is None:
            return super().get_sink(stream_name, record=record)
        replaced = len(self.replaced_sinks)
        sink = super().get_sink(
            stream_name, record=record, schema=schema, key_properties=key_properties
        )
        for old in self.replaced_sinks[replaced:]:
            self.drain_one(old)
        return sink

    def process_schema_message(self, message_dict: dict[str, t.Any]) -> None:
        """Register the stream, then note whether its records can skip the SDK's path."""
        super().process_schema_message(message_dict)
        stream = message_dict["stream"]
        self._plain_sinks.pop(stream, None)
        maps = self.mapper.stream_maps.get(stream, [])
        if (
            len(maps) == 1
            and type(maps[0]) is SameRecordTransform
            and maps[0].stream_alias == stream
            and not maps[0].flattening_enabled
        ):
            sink = self.active_sinks.get(stream)
            if isinstance(sink, ParquetSink) and not sink.validate_schema:
                self._plain_sinks[stream] = sink

    def _route_record(self, line: RecordLine) -> bool:
        """Buffer the raw record of a plain stream; False sends the line the SDK's way."""
        sink = self._plain_sinks.get(line.stream)  # type: ignore[arg-type]  # UNSET finds none
        if sink is None or line.record is msgspec.UNSET:
            return False
        if sink.buffer_raw(line.record, line.version, line.time_extracted):
            self.logger.info(
                "Sink for '%s' is full (%d records); committing.",
                sink.stream_name,
                sink.current_size,
            )
            self.drain_one(sink)
        if time.time() > self.drain_due_at:
            self.drain_if_due()
        return True

    def process_state_message(self, message_dict: dict[str, t.Any]) -> None:
        """Pass STATE on at once if every row before it is landed and published.

        A tap's STATE before its first records then reaches the orchestrator before any of
        them can land. Otherwise STATE waits for the next checkpoint, whose interval is
        checked here too.
        """
        super().process_state_message(message_dict)
        sinks = [*self.replaced_sinks, *self.active_sinks.values()]
        if not any(sink.current_size for sink in sinks) and not any(
            landing.unpublished for landing in self._landings.values()
        ):
            self.drain_all()
        else:
            self.drain_if_due()

    def process_activate_version_message(self, message_dict: dict[str, t.Any]) -> None:
        """Name the line when the stream is unknown (the SDK raises a bare KeyError)."""
        self._reader.assert_line_requires(message_dict, requires={"stream", "version"})
        if message_dict["stream"] not in self.mapper.stream_maps:
            raise InputLineError(
                f"line {self._reader.line_number}: ACTIVATE_VERSION for stream "
                f"'{message_dict['stream']}' before its SCHEMA"
            )
        super().process_activate_version_message(message_dict)
        self.drain_if_due()

    def process_batch_message(
        self,
        message_dict: dict[str, t.Any],  # noqa: ARG002 - the SDK's signature; refused whole
    ) -> None:
        """BATCH files bypass the per-record metadata this target lands: refuse them."""
        raise InputLineError(
            f"line {self._reader.line_number}: BATCH messages are not supported; "
            "send RECORD messages"
        )

    def process_endofpipe(self) -> None:
        """Drain and write the last STATE, compact small files if configured, write views.

        Compaction leaves rows unchanged, and views are derived: neither needs a STATE.
        """
        super().process_endofpipe()
        min_files = self._settings.compact_min_files
        if min_files > 0:
            for landing in self._landings.values():
                landing.compact(min_files)
        self._refresh_warehouse(self._landings, end_of_run=True)

    def drain_sinks(self, sinks: list[Sink], parallelism: int) -> None:
        """Commit the sinks' batches, publish their streams' landings, refresh views that must.

        `drain_all` writes STATE right after this, so STATE only ever covers published rows.
        """
        super().drain_sinks(sinks, parallelism)
        streams = list(dict.fromkeys(sink.stream_name for sink in sinks))
        for stream in streams:
            self._landings[stream].publish()
        self._refresh_warehouse(streams, end_of_run=False)

    def write_state_message(self, state: dict[str, t.Any]) -> None:
        """Emit STATE (only after `drain_all` published), skipping unchanged repeats."""
        if state != self._last_state:
            super().write_state_message(state)
            self._last_state = copy.deepcopy(state)

    @classmethod
    def append_builtin_config(cls, config_jsonschema: dict[str, t.Any]) -> None:
        """Add the SDK's settings except those the target does not offer (`load_method`)."""
        super().append_builtin_config(config_jsonschema)
        drop_unsupported_builtins(config_jsonschema)

    @classmethod
    def invoke(cls, **kwargs: t.Any) -> None:
        """Run the target; bad input ends it with a one-line error and exit status 1."""
        try:
            super().invoke(**kwargs)
        except _REPORTED as exc:
            cls.logger.error("%s", " ".join(str(exc).split()))
            sys.exit(1)
