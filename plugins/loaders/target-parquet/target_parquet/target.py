"""target-parquet: lands Singer streams as Parquet on local disk or S3."""

from __future__ import annotations

import copy
import sys
import time
import typing as t
from collections import Counter

import msgspec
from singer_sdk import Target
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecReader, decoder
from singer_sdk.exceptions import (
    InvalidJSONSchema,
    InvalidRecord,
    MissingKeyPropertiesError,
    RecordsWithoutSchemaException,
)
from singer_sdk.helpers.capabilities import PluginCapabilities, TargetCapabilities
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.singerlib.exceptions import InvalidInputLine

from target_parquet.cdc import ChangeLog
from target_parquet.current import CurrentTable
from target_parquet.errors import InputLineError, TargetError
from target_parquet.sinks import ParquetSink
from target_parquet.storage import LoadIds, Storage

if t.TYPE_CHECKING:
    from singer_sdk.sinks import Sink

    from target_parquet.landing import Landing

#: Errors caused by input or configuration: reported as one line, exit status 1.
_REPORTED = (
    TargetError,
    InvalidInputLine,
    InvalidRecord,
    InvalidJSONSchema,
    MissingKeyPropertiesError,
    RecordsWithoutSchemaException,
)


class RecordLine(msgspec.Struct):
    """A message decoded only as far as routing needs: a RECORD's record stays raw JSON."""

    type: str
    stream: str | msgspec.UnsetType = msgspec.UNSET
    record: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    version: int | None = None
    time_extracted: str | None = None


_route_decoder = msgspec.json.Decoder(RecordLine)


class LineReader(MsgSpecReader):
    """Reads Singer lines, handing RECORDs of plain streams over undecoded; names bad lines.

    A RECORD whose stream needs no per-record SDK work (no stream maps, flattening or
    validation) goes to `route_record` with its record as raw JSON, which the sink decodes
    a whole batch at a time. Every other line takes the SDK's path.
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
        file_input: t.IO | None,
        callbacks: dict[str, t.Callable[[dict], None]],
    ) -> t.Counter[str]:
        """Dispatch each line; a RECORD that `route_record` accepts skips the SDK's path."""
        stats: t.Counter[str] = Counter()
        route = self.route_record
        routed_records = 0
        for line in file_input or self.default_input:
            self.line_number += 1
            self._current_message = line
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
                self._process_unknown_message(message)
            else:
                callback(message)
            stats[kind] += 1
        stats["RECORD"] += routed_records
        return stats

    def deserialize_json(self, line: str | bytes) -> dict:
        """Parse one message (floats become Decimal, as in the SDK reader)."""
        try:
            message = decoder.decode(line)
        except msgspec.DecodeError as exc:
            raise InputLineError(f"line {self.line_number}: not valid JSON ({exc})") from exc
        if not isinstance(message, dict):
            raise InputLineError(f"line {self.line_number}: not a JSON object")
        return message

    def assert_line_requires(self, line_dict: dict, requires: set[str]) -> None:
        """Name the line, message type and stream when a message lacks a key."""
        if requires.issubset(line_dict):
            return
        missing = sorted(requires - line_dict.keys())
        if missing:
            kind = line_dict.get("type", "message")
            stream = f" for stream '{line_dict['stream']}'" if "stream" in line_dict else ""
            raise InputLineError(
                f"line {self.line_number}: {kind}{stream} lacks {', '.join(missing)}"
            )

    def _process_unknown_message(self, message_dict: dict) -> None:
        raise InputLineError(
            f"line {self.line_number}: unknown message type {message_dict['type']!r}"
        )


class TargetParquet(Target):
    """Singer target writing Parquet: an append-only change log or a current-state table."""

    name = "target-parquet"
    package_name = "target-parquet-convex"
    default_sink_class = ParquetSink
    message_reader_class = LineReader
    capabilities: t.ClassVar = [
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
        PluginCapabilities.STRUCTURED_LOGGING,
        PluginCapabilities.ACTIVATE_VERSION,
        TargetCapabilities.VALIDATE_RECORDS,
        TargetCapabilities.HARD_DELETE,
    ]

    config_jsonschema = th.PropertiesList(
        th.Property(
            "destination_path",
            th.StringType(nullable=False),
            required=True,
            title="Destination",
            description="Local directory or `s3://bucket/prefix` under which each stream "
            "lands in its own directory.",
        ),
        th.Property(
            "mode",
            th.StringType(nullable=False),
            default="cdc",
            allowed_values=["cdc", "current"],
            description="`cdc`: append-only change log partitioned by landing date. "
            "`current`: one row per `_id` (the latest by `_ts`), republished per checkpoint.",
        ),
        th.Property(
            "hard_delete",
            th.BooleanType(nullable=False),
            default=False,
            description="Mode `current`: remove deleted rows instead of keeping them with "
            "`_deleted = true` and `_deleted_at`.",
        ),
        th.Property(
            "current_buckets",
            th.IntegerType(nullable=False, minimum=1, maximum=4096),
            default=1,
            description="Mode `current`: split each table into this many files by a hash of "
            "its key, so that a checkpoint rewrites, and holds in memory, only the buckets "
            "its changes fall into (at most 4096; changing it rewrites the table once).",
        ),
        th.Property(
            "state_interval_seconds",
            th.NumberType(nullable=False),
            default=60,
            description="Commit all streams and emit STATE at least this often while "
            "messages arrive. STATE always follows the data it covers.",
        ),
        th.Property(
            "batch_size_rows",
            th.IntegerType(nullable=False),
            default=ParquetSink.MAX_SIZE_DEFAULT,
            description="Rows buffered per stream before a commit (one file per commit in "
            "`cdc`; in `current` committed batches wait for the next checkpoint).",
        ),
        th.Property(
            "compact_min_files",
            th.IntegerType(nullable=False),
            default=0,
            description="Mode `cdc`: at the end of a run, rewrite the small files (under "
            "64 MiB) of each day that has at least this many as one file; 0 never does. "
            "Leave 0 if a reader ingests the files themselves by name.",
        ),
        th.Property(
            "compression",
            th.StringType(nullable=False),
            default="zstd",
            allowed_values=["zstd", "snappy", "gzip", "lz4", "none"],
            description="Parquet compression codec.",
        ),
        th.Property(
            "validate_records",
            th.BooleanType(nullable=False),
            default=False,
            description="Validate every record against its JSON schema (slow). Values are "
            "always checked against their column type at commit.",
        ),
        th.Property(
            "s3_endpoint_override",
            th.StringType,
            description="Endpoint of an S3-compatible store, e.g. `http://127.0.0.1:9000`.",
        ),
        th.Property("s3_region", th.StringType, description="S3 region."),
        th.Property(
            "s3_access_key_id",
            th.StringType,
            secret=True,
            description="S3 access key id (default: the AWS credential chain).",
        ),
        th.Property(
            "s3_secret_access_key", th.StringType, secret=True, description="S3 secret key."
        ),
        th.Property(
            "s3_session_token", th.StringType, secret=True, description="S3 session token."
        ),
    ).to_dict()

    def __init__(self, **kwargs: t.Any) -> None:
        super().__init__(**kwargs)
        # The SDK drains (commits) every sink and then emits STATE once this age passes.
        self._MAX_RECORD_AGE_IN_MINUTES = float(self.config["state_interval_seconds"]) / 60
        self._storage: Storage | None = None
        self._load_ids = LoadIds()
        self._landings: dict[str, Landing] = {}
        self._last_state: dict | None = None
        self._plain_sinks: dict[str, ParquetSink] = {}
        self.message_reader.route_record = self._route_record

    def landing_for(self, stream: str) -> Landing:
        """The landing of a stream, shared by its successive sinks (schema changes)."""
        if stream not in self._landings:
            if "/" in stream or stream.startswith(("_", ".")):
                raise TargetError(f"stream name {stream!r} cannot be used as a directory name")
            if self._storage is None:
                self._storage = Storage.from_config(self.config)
            compression = self.config["compression"]
            if self.config["mode"] == "current":
                self._landings[stream] = CurrentTable(
                    self._storage,
                    stream,
                    self._load_ids,
                    compression,
                    hard_delete=bool(self.config["hard_delete"]),
                    buckets=int(self.config["current_buckets"]),
                )
            else:
                self._landings[stream] = ChangeLog(
                    self._storage, stream, self._load_ids, compression
                )
        return self._landings[stream]

    def get_sink(
        self,
        stream_name: str,
        *,
        record: dict | None = None,
        schema: dict | None = None,
        key_properties: t.Sequence[str] | None = None,
    ) -> Sink:
        """Commit a sink replaced by a new SCHEMA at once, so commits keep message order."""
        if schema is None:
            return super().get_sink(stream_name, record=record)
        replaced = len(self._sinks_to_clear)
        sink = super().get_sink(
            stream_name, record=record, schema=schema, key_properties=key_properties
        )
        for old in self._sinks_to_clear[replaced:]:
            self.drain_one(old)
        return sink

    def _process_schema_message(self, message_dict: dict) -> None:
        """Register the stream, then note whether its records can skip the SDK's path."""
        super()._process_schema_message(message_dict)
        stream = message_dict["stream"]
        self._plain_sinks.pop(stream, None)
        maps = self.mapper.stream_maps.get(stream, [])
        if (
            len(maps) == 1
            and type(maps[0]) is SameRecordTransform
            and maps[0].stream_alias == stream
            and not maps[0].flattening_enabled
        ):
            sink = self._sinks_active.get(stream)
            if isinstance(sink, ParquetSink) and not sink.validate_schema:
                self._plain_sinks[stream] = sink

    def _route_record(self, line: RecordLine) -> bool:
        """Buffer the raw record of a plain stream; False sends the line the SDK's way."""
        sink = self._plain_sinks.get(line.stream)  # type: ignore[arg-type]
        if sink is None or line.record is msgspec.UNSET:
            return False
        if sink.buffer_raw(line.record, line.version, line.time_extracted):
            self.logger.info(
                "Sink for '%s' is full (%d records); committing.",
                sink.stream_name,
                sink.current_size,
            )
            self.drain_one(sink)
        # The SDK's own age check, without its property chain on every record.
        if time.time() - self._last_full_drain_at > self._MAX_RECORD_AGE_IN_MINUTES * 60:
            self._handle_max_record_age()
        return True

    def _process_state_message(self, message_dict: dict) -> None:
        """Pass STATE on at once when every row before it is landed and published (a tap's
        STATE before its first records then reaches the orchestrator before any of them
        can land); otherwise at the next checkpoint, whose interval is checked here too."""
        super()._process_state_message(message_dict)
        sinks = [*self._sinks_to_clear, *self._sinks_active.values()]
        if not any(sink.current_size for sink in sinks) and not any(
            landing.unpublished for landing in self._landings.values()
        ):
            self.drain_all()
        else:
            self._handle_max_record_age()

    def _process_activate_version_message(self, message_dict: dict) -> None:
        """Name the line when the stream is unknown (the SDK raises a bare KeyError)."""
        self._assert_line_requires(message_dict, requires={"stream", "version"})
        if message_dict["stream"] not in self.mapper.stream_maps:
            raise InputLineError(
                f"line {self.message_reader.line_number}: ACTIVATE_VERSION for stream "
                f"'{message_dict['stream']}' before its SCHEMA"
            )
        super()._process_activate_version_message(message_dict)
        self._handle_max_record_age()

    def _process_batch_message(self, message_dict: dict) -> None:
        """BATCH files bypass the per-record metadata this target lands: refuse them."""
        raise InputLineError(
            f"line {self.message_reader.line_number}: BATCH messages are not supported; "
            "send RECORD messages"
        )

    def process_endofpipe(self) -> None:
        """Drain and write the last STATE, then compact small `cdc` files if configured."""
        super().process_endofpipe()
        min_files = int(self.config.get("compact_min_files") or 0)
        if min_files > 0:
            for landing in self._landings.values():
                if isinstance(landing, ChangeLog):
                    landing.compact(min_files)

    def _drain_all(self, sink_list: t.Iterable[Sink], parallelism: int) -> None:
        """Commit the sinks' batches, then publish their streams' landings: `drain_all`
        writes STATE right after this, so STATE only ever covers published rows."""
        sinks = list(sink_list)
        super()._drain_all(sinks, parallelism)
        for stream in dict.fromkeys(sink.stream_name for sink in sinks):
            self._landings[stream].publish()

    def _write_state_message(self, state: dict) -> None:
        """Emit STATE (only after `drain_all` published), skipping unchanged repeats."""
        if state != self._last_state:
            super()._write_state_message(state)
            self._last_state = copy.deepcopy(state)

    @classmethod
    def append_builtin_config(cls, config_jsonschema: dict) -> None:
        """Add the SDK's settings except `load_method`: the mode decides how rows land."""
        super().append_builtin_config(config_jsonschema)
        config_jsonschema["properties"].pop("load_method", None)

    @classmethod
    def invoke(cls, **kwargs: t.Any) -> None:
        """Run the target; bad input ends it with a one-line error and exit status 1."""
        try:
            super().invoke(**kwargs)
        except _REPORTED as exc:
            cls.logger.error("%s", " ".join(str(exc).split()))
            sys.exit(1)
