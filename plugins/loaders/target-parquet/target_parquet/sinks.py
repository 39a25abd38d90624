"""The sink: buffers records of one stream and turns them into typed Arrow batches."""

from __future__ import annotations

import contextlib
import gc
import time
import typing as t
from itertools import repeat

import msgspec
import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type hints
import pyarrow.compute as pc  # type: ignore[import-untyped]  # pyarrow ships no type hints
from singer_sdk.contrib.msgspec import decoder
from singer_sdk.exceptions import InvalidRecord, MissingKeyPropertiesError

from target_parquet.errors import RecordError
from target_parquet.landing import (
    EXTRACTED_AT,
    LANDING_KINDS,
    RECEIVED_AT,
    RESERVED,
    SEQUENCE,
    SYNC_STARTED_AT,
    TABLE_VERSION,
    Batch,
)
from target_parquet.sdk_adapter import SinkAdapter
from target_parquet.settings import DEFAULT_BATCH_SIZE_ROWS, Settings
from target_parquet.types import (
    TIMESTAMP,
    BadValueError,
    Column,
    column_array,
    kind_of,
    row_decoder,
    widen,
)

if t.TYPE_CHECKING:
    from target_parquet.landing import Landing
    from target_parquet.target import TargetParquet

#: A buffered record: a dict from the SDK's path, or JSON text from the fast path.
Record: t.TypeAlias = "dict[str, t.Any] | msgspec.Raw"

#: The identity of a change event: never null, like key properties.
_IDENTITY = ("_id", "_ts")
#: Records turned into Arrow columns at a time while a batch fills: bounds the Python objects
#: alive at once (a batch waits for its commit as compact Arrow chunks).
DECODE_CHUNK_ROWS = 10_000


@contextlib.contextmanager
def _collector_paused() -> t.Iterator[None]:
    """Pause the cyclic garbage collector while a chunk is decoded.

    Decoding allocates many containers and no cycles: the collector would only rescan them
    (half the decoding time), so it waits until the end.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class ParquetSink(SinkAdapter):
    """Collects records and message metadata as Arrow chunks; a drain commits them as one batch."""

    MAX_SIZE_DEFAULT = DEFAULT_BATCH_SIZE_ROWS
    _META: t.ClassVar[dict[str, str]] = {EXTRACTED_AT: "extracted", TABLE_VERSION: "versions"}

    def __init__(
        self,
        target: TargetParquet,
        stream_name: str,
        schema: dict[str, t.Any],
        key_properties: t.Sequence[str] | None,
    ) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        self._landing: Landing = target.landing_for(stream_name)
        self._full_metadata = Settings.from_config(self.config).add_record_metadata
        self._sync_started_at = target.initialized_at
        self._columns = [
            Column(name, *kind_of(prop))
            for name, prop in self.schema.get("properties", {}).items()
            if name not in RESERVED
        ]
        self._must_have = {*self.key_properties, *_IDENTITY}
        self._max_rows = self.max_size
        self._open_batch: dict[str, t.Any] | None = None  # the fast path's batch context

    # The SDK passes the RECORD message (time_extracted, version) only to the metadata
    # hook, and strips `_sdc_deleted_at` otherwise: so metadata is always "on" here and
    # the hooks below decide what lands.

    @property
    def include_sdc_metadata_properties(self) -> bool:
        """Always route records through `add_sdc_metadata_to_record`."""
        return True

    @property
    def validate_schema(self) -> bool:
        """Per-record JSON-schema validation is opt-in: values are checked per column."""
        return Settings.from_config(self.config).validate_records

    def add_sdc_metadata_to_schema(self) -> None:
        """Landing columns are typed by the sink, not added to the JSON schema."""

    def start_batch(self, context: dict[str, t.Any]) -> None:
        """Set up a batch's context.

        Records wait in `records` (message metadata beside them, in arrival order) until a
        chunk's worth is converted into Arrow arrays in `chunks`.
        """
        context.update(
            records=[],
            extracted=[],
            versions=[],
            received=[],
            chunks=[],
            converted=0,
            raw=0,
            columns=None,
            activations=[],
        )

    def add_sdc_metadata_to_record(
        self,
        record: dict[str, t.Any],  # noqa: ARG002 - the SDK's signature; metadata lands apart
        message: dict[str, t.Any],
        context: dict[str, t.Any],
    ) -> None:
        """Note the message's metadata beside the record, for the landing columns."""
        context["extracted"].append(message.get("time_extracted"))
        context["versions"].append(message.get("version"))
        if self._full_metadata:
            context["received"].append(time.time_ns() // 1000)

    def validate_and_parse(self, record: dict[str, t.Any]) -> dict[str, t.Any]:
        """Validate only if asked; date-times are parsed per column at commit."""
        validator = self.record_validator
        if validator is not None:
            try:
                validator.validate(record)
            except InvalidRecord as exc:
                path = getattr(exc.__cause__, "absolute_path", None) or ["(record)"]
                field = ".".join(str(part) for part in path)
                raise RecordError(self.stream_name, field, str(exc)) from exc
        return record

    def buffer_raw(self, record: msgspec.Raw, version: int | None, extracted: str | None) -> bool:
        """Buffer a record still in JSON text, with its message metadata; True when full.

        This is the fast path: it does the SDK's per-record bookkeeping itself, and keeps
        the batch's context at hand rather than asking the SDK for it per record.
        """
        context = self._open_batch
        if context is None:
            context = self._open_batch = self.batch_context()
        context["extracted"].append(extracted)
        context["versions"].append(version)
        if self._full_metadata:
            context["received"].append(time.time_ns() // 1000)
        context["raw"] += 1
        self.tally_record_read()
        self.process_record(record, context)
        return self.current_size >= self._max_rows

    def process_record(self, record: Record, context: dict[str, t.Any]) -> None:
        """Buffer one record; every `DECODE_CHUNK_ROWS` records become Arrow arrays."""
        records = context["records"]
        records.append(record)
        if len(records) >= DECODE_CHUNK_ROWS:
            self._convert(context)

    def singer_validate_message(self, record: dict[str, t.Any]) -> None:
        """Name the stream and key in the SDK's missing-key error."""
        for key in self.key_properties:
            if key not in record:
                raise MissingKeyPropertiesError(
                    f"stream '{self.stream_name}', field '{key}': key property missing from record"
                )

    def activate_version(self, new_version: int) -> None:
        """Apply ACTIVATE_VERSION after the records that preceded it (at commit)."""
        context = self.pending_batch
        buffered = context["converted"] + len(context["records"]) if context else 0
        if context and buffered:
            context["activations"].append((buffered, new_version))
            return
        empty: dict[str, t.Any] = {}
        self.start_batch(empty)
        empty["activations"].append((0, new_version))
        self._landing.commit(self._batch(empty))

    def process_batch(self, context: dict[str, t.Any]) -> None:
        """Commit the drained records (and activations) through the landing mode."""
        self._open_batch = None  # the SDK starts a new context for the next record
        if context["raw"]:  # the SDK counts the records that took its own path
            self.record_counter_metric.increment(context["raw"])
        self._landing.commit(self._batch(context))

    def _batch(self, context: dict[str, t.Any]) -> Batch:
        """The batch's chunks as one table, with the kinds and activations to commit."""
        self._convert(context)
        columns = context["columns"] or self._commit_columns()
        chunks = context["chunks"]
        arrays = [
            pa.chunked_array([chunk[index] for chunk in chunks], column.field.type)
            for index, column in enumerate(columns)
        ]
        fields = [
            # Absent optional properties are valid JSON; the file's column allows null.
            column.field.with_nullable(True) if array.null_count else column.field
            for column, array in zip(columns, arrays, strict=True)
        ]
        return Batch(
            table=pa.Table.from_arrays(arrays, schema=pa.schema(fields)),
            kinds={column.name: column.kind for column in columns},
            key_properties=list(self.key_properties),
            activations=context["activations"],
        )

    def _commit_columns(self) -> list[Column]:
        """User columns, widened to what the stream has landed so far, then landing columns.

        Only this stream's commits change what has landed, so the columns hold for a batch.
        """
        columns = [
            Column(c.name, widen(self._landing.columns.get(c.name, c.kind), c.kind), c.nullable)
            for c in self._columns
        ]
        names = [EXTRACTED_AT, TABLE_VERSION]
        if self._full_metadata:
            names += [RECEIVED_AT, SEQUENCE, SYNC_STARTED_AT]
        return columns + [Column(name, LANDING_KINDS[name]) for name in names]

    def _convert(self, context: dict[str, t.Any]) -> None:
        """Turn the waiting records and their metadata into one chunk of Arrow arrays."""
        records = context["records"]
        if not records:
            return
        if context["columns"] is None:
            context["columns"] = self._commit_columns()
        user = context["columns"][: len(self._columns)]
        offset = context["converted"]
        values_of = self._column_values(records, user, offset)
        arrays = [self._build(column, values_of(column.name), records, offset) for column in user]
        for name in (EXTRACTED_AT, TABLE_VERSION):
            column = Column(name, LANDING_KINDS[name])
            arrays.append(self._build(column, context[self._META[name]], records, offset))
        if self._full_metadata:
            micros = pa.array(context["received"], pa.int64())
            arrays += [
                micros.cast(TIMESTAMP),
                pc.divide(micros, 1000),
                pa.array([self._sync_started_at] * len(micros), pa.int64()),
            ]
        context["chunks"].append(arrays)
        context["converted"] = offset + len(records)
        for key in ("records", "extracted", "versions", "received"):
            context[key] = []

    def _column_values(
        self, records: list[Record], columns: list[Column], offset: int
    ) -> t.Callable[[str], list[t.Any]]:
        """How to read one column's values out of buffered records.

        Records buffered as raw JSON are decoded straight into rows typed by their
        columns; if any value does not fit its column, each record is decoded as a plain
        object instead, and the per-column coercion names (or accepts) the odd value.
        """
        if _all_raw(records):
            typed, attribute = row_decoder(columns, self._must_have)
            try:
                with _collector_paused():
                    rows = list(map(typed.decode, records))
            except msgspec.ValidationError:
                pass
            else:
                return lambda name: list(map(attribute[name], rows))
        for index, record in enumerate(records):
            if type(record) is msgspec.Raw:
                decoded = self._decode_record(record, offset + index)
                self.singer_validate_message(decoded)
                records[index] = decoded
        objects = t.cast("list[dict[str, t.Any]]", records)  # every record is decoded now
        return lambda name: list(map(dict.get, objects, repeat(name)))

    def _decode_record(self, record: msgspec.Raw, index: int) -> dict[str, t.Any]:
        """One record's JSON text as an object (a record that is not one fails the batch)."""
        value = decoder.decode(record)
        if not isinstance(value, dict):
            raise RecordError(
                self.stream_name, "(record)", f"not a JSON object (record {index + 1} of the batch)"
            )
        return value

    def _build(
        self, column: Column, values: list[t.Any], records: list[Record], offset: int
    ) -> pa.Array:
        """One typed column (chunk); a value that does not fit names stream, field and record."""
        try:
            array = column_array(values, column.kind)
        except BadValueError as exc:
            where = self._describe(records, exc.index, offset)
            raise RecordError(self.stream_name, column.name, f"{exc} ({where})") from exc
        if array.null_count and column.name in self._must_have:
            first = next(i for i, value in enumerate(values) if value is None)
            raise RecordError(
                self.stream_name,
                column.name,
                f"missing or null but required ({self._describe(records, first, offset)})",
            )
        return array

    def _describe(self, records: list[Record], index: int, offset: int) -> str:
        """Name a record in an error: by its keys, else by its position in the batch."""
        buffered = records[index] if index < len(records) else {}
        record = decoder.decode(buffered) if type(buffered) is msgspec.Raw else buffered
        if not isinstance(record, dict):
            record = {}
        keys = [k for k in ("_id", *self.key_properties) if record.get(k) is not None]
        if keys:
            return ", ".join(f"{k}={record[k]!r}" for k in dict.fromkeys(keys))
        return f"record {offset + index + 1} of the batch"


def _all_raw(records: list[Record]) -> t.TypeGuard[list[msgspec.Raw]]:
    """Whether there are records and all of them are still JSON text."""
    return bool(records) and all(type(record) is msgspec.Raw for record in records)
