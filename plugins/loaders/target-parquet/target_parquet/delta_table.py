"""A stream's Delta Lake table (format `delta`), written with delta-rs (`deltalake`).

The table lives at ``<root>/<stream>/`` (its ``_delta_log/`` and data files), locally or
on S3. Each field's metadata records the column's kind (``target_parquet.kind``), so JSON
text and plain strings, both STRING, stay apart, and a later run knows them.

Every commit the target makes carries the application transaction (``txn``)
``target-parquet-convex`` with a version that counts the target's commits to the table.
Before each commit the target checks that this version is still the one it last saw, so a
second writer of the same stream fails the run instead of interleaving its loads. Commits
from elsewhere (OPTIMIZE, VACUUM) do not move it.
"""

from __future__ import annotations

import contextlib
import logging
import typing as t
from urllib.parse import unquote

import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type hints
from deltalake import (
    CommitProperties,
    DeltaTable,
    Schema,
    Transaction,
    WriterProperties,
    write_deltalake,
)
from deltalake.exceptions import TableNotFoundError
from deltalake.transaction import create_table_with_add_actions

from target_parquet.cdc import Commit, LandedFile
from target_parquet.delta_files import write_data_file
from target_parquet.errors import TargetError
from target_parquet.landing import Scan
from target_parquet.types import ARROW_TYPES, convert_table

if t.TYPE_CHECKING:
    import pyarrow.dataset as pads  # type: ignore[import-untyped]  # pyarrow ships no type hints

    from target_parquet.landing import Destination

APP_ID = "target-parquet-convex"
KIND = "target_parquet.kind"
#: OPTIMIZE counts files under this size as small (as Parquet compaction does).
SMALL_FILE_BYTES = 64 << 20
_COMPRESSION: dict[str, t.Literal["ZSTD", "SNAPPY", "GZIP", "LZ4_RAW", "UNCOMPRESSED"]] = {
    "zstd": "ZSTD",
    "snappy": "SNAPPY",
    "gzip": "GZIP",
    "lz4": "LZ4_RAW",
    "none": "UNCOMPRESSED",
}
_KIND_OF_TYPE = {str(arrow_type): kind for kind, arrow_type in reversed(ARROW_TYPES.items())}


class DeltaStream:
    """One stream's Delta table: its column kinds, commits, rewrites and maintenance."""

    def __init__(self, destination: Destination, stream: str) -> None:
        self._storage = destination.storage
        self._stream = stream
        self._logger = logging.getLogger(f"target-parquet.{stream}")
        self.uri = destination.storage.uri(stream)
        self.options = destination.storage.delta_options
        self._compression = destination.compression
        self.writer = WriterProperties(compression=_COMPRESSION[destination.compression])
        self.table: DeltaTable | None = None
        with contextlib.suppress(TableNotFoundError):  # not `is_deltatable`: it hangs on S3
            self.table = DeltaTable(self.uri, storage_options=self.options)
        self._txn = (self.table.transaction_version(APP_ID) or 0) if self.table else 0
        self.columns: dict[str, str] = self._kinds()
        """Every column of the table, with its kind."""

    # Change log (`cdc.LogStore`)

    def landed(self) -> list[LandedFile]:
        """The table's data files with the `_ts` range their statistics give."""
        actions = pa.table(self.table.get_add_actions(flatten=True)) if self.table else None
        if actions is None or "min._ts" not in actions.column_names:
            return []
        return [
            LandedFile(row["path"], row["min._ts"], row["max._ts"], None)
            for row in actions.select(["path", "min._ts", "max._ts"]).to_pylist()
            if row["min._ts"] is not None
        ]

    def activated(self) -> int | None:
        """None: Delta tables have had retirement rows from their first commit."""
        return None

    def scan(self, *, change_log: bool = True) -> Scan | None:
        """The data files of the table's current version, as its log lists them."""
        if self.table is None:
            return None
        files = tuple(self.table.file_uris())
        return Scan(files, change_log=change_log, columns=dict(self.columns))

    def read(
        self, path: str, schema: pa.Schema, filter_: pads.Expression | None = None
    ) -> pa.Table:
        """The columns of `schema` in one data file of the table."""
        return self._storage.read_dataset([self._rel(path)], schema, filter_)

    def dataset(self) -> pads.Dataset:
        """The table's current version as a pyarrow dataset (its files, its schema)."""
        if self.table is None:
            raise TargetError(f"stream '{self._stream}': no Delta table at {self.uri} yet")
        return self.table.to_pyarrow_dataset()

    def append(self, table: pa.Table, columns: dict[str, str], commit: Commit) -> None:
        """Append the rows as one commit (new columns join the table's schema).

        No rows, no commit: what an ACTIVATE_VERSION says is in the rows (`retirement.py`).
        """
        if table.num_rows == 0:
            return
        rows = typed(table, columns)
        properties = self.commit_properties(
            load_id=commit.load_id,
            activate_versions=commit.activations,
            duplicates_skipped=commit.duplicates_skipped,
        )
        if self.table is not None and not _fits(self.table, rows.schema):
            # New columns: delta-rs writes the rows and evolves the table's schema.
            write_deltalake(
                self.table,
                rows,
                mode="append",
                schema_mode="merge",
                storage_options=self.options,
                writer_properties=self.writer,
                commit_properties=properties,
            )
        else:
            action = write_data_file(self._storage, self._stream, rows, self._compression)
            if self.table is None:
                create_table_with_add_actions(
                    self.uri,
                    Schema.from_arrow(rows.schema),
                    [action],
                    mode="append",
                    storage_options=self.options,
                    commit_properties=properties,
                )
            else:
                self.table.create_write_transaction(
                    [action],
                    mode="append",
                    schema=self.table.schema(),
                    commit_properties=properties,
                )
        self.committed(columns)

    def rewrite(self, columns: dict[str, str]) -> None:
        """Rewrite the table with columns of other kinds converted, as one commit.

        The rows stream through (a batch at a time) into an overwrite that replaces the
        schema: readers see the old table or the new one.
        """
        old = self.columns
        changed = {name for name, kind in old.items() if columns.get(name, kind) != kind}
        if self.table is None or not changed:
            return
        kinds = {name: columns.get(name, kind) for name, kind in old.items()}
        stored = pa.schema(self.table.schema().to_arrow())
        schema = pa.schema(
            [
                _field(
                    field.name,
                    ARROW_TYPES[kinds[field.name]] if field.name in changed else field.type,
                    kinds[field.name],
                )
                for field in stored
            ]
        )
        batches = (
            convert_table(pa.Table.from_batches([batch]), old, kinds).cast(schema).to_batches()
            for batch in self.dataset().to_batches()
        )
        reader = pa.RecordBatchReader.from_batches(
            schema, (batch for converted in batches for batch in converted)
        )
        write_deltalake(
            self.table,
            reader,
            mode="overwrite",
            schema_mode="overwrite",
            storage_options=self.options,
            writer_properties=self.writer,
            commit_properties=self.commit_properties(rewrite=sorted(changed)),
        )
        self.committed(kinds)

    # Commits

    @property
    def version(self) -> int | None:
        """The table's version, or None before its first commit."""
        return None if self.table is None else self.table.version()

    def commit_properties(self, **metadata: object) -> CommitProperties:
        """The next commit's application transaction, once no other writer moved it."""
        if self.table is not None:
            self.table.update_incremental()
            seen = self.table.transaction_version(APP_ID) or 0
            if seen != self._txn:
                raise TargetError(
                    f"stream '{self._stream}': another writer committed to {self.uri} "
                    f"(application transaction {APP_ID} at {seen}, expected {self._txn}); "
                    "only one target may write a stream at a time"
                )
        return CommitProperties(
            custom_metadata={f"target_parquet.{key}": value for key, value in metadata.items()},
            app_transactions=[Transaction(APP_ID, self._txn + 1)],
        )

    def committed(self, columns: dict[str, str]) -> None:
        """Note a commit made with `commit_properties`, and load the table's new version."""
        self._txn += 1
        if self.table is None:
            self.table = DeltaTable(self.uri, storage_options=self.options)
        else:
            self.table.update_incremental()
        self.columns = {**self.columns, **columns}

    # Maintenance

    def compact(self, min_files: int) -> None:
        """OPTIMIZE (compact) the table if it has at least `min_files` small files.

        Rows are unchanged; the replaced files stay for readers and time travel until
        VACUUM.
        """
        small = [row for row in self._add_actions() if row["size_bytes"] < SMALL_FILE_BYTES]
        if self.table is not None and len(small) >= max(min_files, 2):
            metrics = self.table.optimize.compact(writer_properties=self.writer)
            self.table.update_incremental()
            self._logger.info(
                "OPTIMIZE: %s files into %s.", metrics["numFilesRemoved"], metrics["numFilesAdded"]
            )

    def files(self) -> int:
        """How many data files the table's current version has."""
        return len(self._add_actions())

    def vacuum(self, retention_hours: float) -> list[str]:
        """Delete the files that no table version of the last `retention_hours` uses.

        Returns their paths. Time travel to older versions, and readers still reading them,
        end with it; Delta's own default keeps 168 hours.
        """
        if self.table is None:
            return []
        return self.table.vacuum(
            retention_hours=int(retention_hours),
            dry_run=False,
            enforce_retention_duration=False,
        )

    def _add_actions(self) -> list[dict[str, t.Any]]:
        if self.table is None:
            return []
        actions = pa.table(self.table.get_add_actions(flatten=True))
        return list(actions.select(["path", "size_bytes"]).to_pylist())

    def _rel(self, path: str) -> str:
        """A data file's path below the destination root (add actions give it URL-encoded)."""
        return f"{self._stream}/{unquote(path)}"

    def _kinds(self) -> dict[str, str]:
        if self.table is None:
            return {}
        kinds = {}
        for field in pa.schema(self.table.schema().to_arrow()):
            recorded = (field.metadata or {}).get(KIND.encode())
            kind = recorded.decode() if recorded else _KIND_OF_TYPE.get(str(field.type))
            if kind is None:
                raise TargetError(
                    f"stream '{self._stream}': column '{field.name}' of {self.uri} has type "
                    f"{field.type}, which this target does not write"
                )
            kinds[field.name] = kind
        return kinds


def typed(table: pa.Table, columns: dict[str, str]) -> pa.Table:
    """The table with every field nullable and carrying its kind (Delta's schema keeps both)."""
    return table.cast(
        pa.schema([_field(field.name, field.type, columns[field.name]) for field in table.schema])
    )


def _fits(table: DeltaTable, schema: pa.Schema) -> bool:
    """Whether the table has every field of `schema`, with the same type and kind."""
    stored = {field.name: field for field in pa.schema(table.schema().to_arrow())}
    return all(
        field.name in stored
        and stored[field.name].type == field.type
        and stored[field.name].metadata == field.metadata
        for field in schema
    )


def _field(name: str, arrow_type: pa.DataType, kind: str) -> pa.Field:
    return pa.field(name, arrow_type, nullable=True, metadata={KIND: kind})
