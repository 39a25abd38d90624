"""Mode `current`: one row per key, the latest by `_ts`, published as whole generations.

Layout below ``<root>/<stream>/current/``::

    gen=<load_id>/part-<bucket>.parquet   the rows of one bucket as of that publication
    gen=<load_id>/tombstones.arrow        hard_delete only: (key, `_ts`) of removed rows
    _latest.json                          pointer and manifest: the files to read

Rows are split into `current_buckets` buckets by a stable hash of their key (one bucket by
default). A commit stages the batch in memory. At each checkpoint (before the target writes
STATE, and at the end of the input) :meth:`CurrentTable.publish` merges every staged event
into the buckets they fall into, one bucket in memory at a time, writes those buckets into
a new generation and then replaces ``_latest.json`` atomically: its ``files`` are the new
buckets and, for buckets without changes, the files of earlier generations. Readers that
follow the pointer see the old table or the new one, never a mix. Generations that neither
the new pointer nor the one it replaced refers to are removed.

How events change rows is `merge.py`'s job. Streams without `_id` are keyed by their key
properties.
"""

from __future__ import annotations

import bisect
import typing as t
import zlib

import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type hints
import pyarrow.compute as pc  # type: ignore[import-untyped]  # pyarrow ships no type hints

from target_parquet.events import Staging
from target_parquet.landing import DELETED, TABLE_VERSION, Scan, ts_range
from target_parquet.merge import Merge
from target_parquet.types import ARROW_TYPES, convert_table

if t.TYPE_CHECKING:
    from target_parquet.landing import Batch, Destination
    from target_parquet.storage import Storage

POINTER = "current/_latest.json"


class CurrentTable:
    """The materialised current state of one stream."""

    def __init__(
        self, destination: Destination, stream: str, *, hard_delete: bool, buckets: int = 1
    ) -> None:
        self._storage = destination.storage
        self._buckets = buckets
        self._stream = stream
        self._load_ids = destination.load_ids
        self._compression = destination.compression
        self._hard_delete = hard_delete
        self._pointer: dict[str, t.Any] = self._storage.read_json(self._rel(POINTER)) or {}
        self._staged = Staging(stream, dict(self._pointer.get("columns", {})))

    @property
    def columns(self) -> dict[str, str]:
        """The published columns and those of the staged batches, with their kinds."""
        return self._staged.columns

    def commit(self, batch: Batch) -> None:
        """Stage the batch; :meth:`publish` merges every staged batch in one pass."""
        self._staged.add(batch)

    @property
    def unpublished(self) -> bool:
        """Whether committed batches wait for the next `publish`."""
        return bool(self._staged)

    def publish(self) -> None:
        """Apply the staged batches to the published table and publish the result.

        Every staged event is merged at once, in arrival order, with each ACTIVATE_VERSION
        applied after the events that preceded it: one rewrite per checkpoint, not per
        batch. With buckets, only the buckets that events fall into are rewritten (all of
        them for an ACTIVATE_VERSION or a change of columns), one bucket in memory at a time.
        """
        if not self._staged:
            return
        load_id, batched_at = self._load_ids.new()
        staged = self._staged.take(self._pointer.get("columns", {}), load_id, batched_at)
        events, columns, keys = staged.table, staged.columns, staged.keys
        activations = staged.activations
        tombstones = self._pointer.get("tombstones")
        merge = Merge(
            keys,
            hard_delete=self._hard_delete,
            load_id=load_id,
            at=batched_at,
            tombstones=self._storage.read_ipc(self._rel(tombstones)) if tombstones else None,
        )
        published = {entry.get("bucket", 0): entry for entry in self._pointer.get("files", [])}
        order = list(dict.fromkeys([*self._pointer.get("column_order", []), *events.schema.names]))
        parts = _Parts(
            self._storage,
            self._rel,
            f"current/gen={load_id}",
            self._compression,
            _reference_schema(events.schema, columns, order),
        )
        if self._pointer and self._pointer.get("buckets", 1) != self._buckets:
            merged = merge.run(self._read([*published.values()], columns), events, activations)
            for bucket, rows in _split(merged, keys, self._buckets):
                parts.write(bucket, rows)
        else:
            old_columns = self._pointer.get("columns")
            changed = old_columns is not None and old_columns != columns
            rows_of = _rows_by_bucket(_bucket_ids(events, keys, self._buckets))
            touched = set(range(self._buckets))
            if self._buckets > 1 and not activations and not changed:
                touched = set(rows_of)
            for bucket in range(self._buckets):
                if bucket not in touched:
                    if bucket in published:
                        parts.keep(published[bucket])
                    continue
                stored = self._read([published[bucket]] if bucket in published else [], columns)
                if self._buckets == 1:
                    parts.write(bucket, merge.run(stored, events, activations))
                    continue
                rows = rows_of.get(bucket, pa.array([], pa.uint64()))
                local = _positions_within(rows, activations)
                parts.write(bucket, merge.run(stored, events.take(rows), local))
        self._publish(parts, merge, columns, activations)

    def compact(self, min_files: int) -> None:
        """Nothing to merge: each publication writes whole buckets."""

    def scan(self) -> Scan | None:
        """The files of the published generation, as the pointer lists them.

        Not lasting: a publication deletes the generations two publications old.
        """
        files = self._pointer.get("files")
        if not files:
            return None
        paths = tuple(self._storage.uri(self._rel(entry["path"])) for entry in files)
        columns = dict(self._pointer["columns"])
        return Scan(paths, change_log=False, columns=columns, lasting=False)

    def _read(self, entries: list[dict[str, t.Any]], columns: dict[str, str]) -> pa.Table | None:
        """Published files, in today's column kinds."""
        if not entries:
            return None
        parts = [self._storage.read_table(self._rel(entry["path"])) for entry in entries]
        table = pa.concat_tables(parts, promote_options="default")
        return convert_table(table, self._pointer["columns"], columns)

    def _publish(
        self,
        parts: _Parts,
        merge: Merge,
        columns: dict[str, str],
        activations: list[tuple[int, int]],
    ) -> None:
        """Write the tombstones and the pointer, then remove generations nobody reads."""
        entries = parts.finish()
        generation = parts.generation
        tombstones = None
        if merge.tombstones is not None and merge.tombstones.num_rows:
            tombstones = f"{generation}/tombstones.arrow"
            self._storage.write_ipc(self._rel(tombstones), merge.tombstones)
        activated = [version for _, version in activations]
        low = [entry["min_ts"] for entry in entries if entry.get("min_ts") is not None]
        high = [entry["max_ts"] for entry in entries if entry.get("max_ts") is not None]
        versions = [e["table_version"] for e in entries if e.get("table_version") is not None]
        previous = self._pointer
        self._pointer = {
            "format": 1,
            "mode": "current",
            "stream": self._stream,
            "load_id": merge.load_id,
            "committed_at": merge.at.isoformat(),
            "generation": generation,
            "buckets": self._buckets,
            "files": entries,
            "tombstones": tombstones,
            "rows": sum(entry["rows"] for entry in entries),
            "deleted_rows": sum(entry.get("deleted_rows", 0) for entry in entries),
            "min_ts": min(low, default=None),
            "max_ts": max(high, default=None),
            "table_version": max(versions, default=None),
            "activated_version": max([*activated, previous.get("activated_version") or 0]) or None,
            "columns": columns,
            "column_order": parts.schema.names,
        }
        self._storage.write_json(self._rel(POINTER), self._pointer)
        keep = {generation.split("/")[1]}
        for pointer in (self._pointer, previous):
            keep |= {entry["path"].split("/")[1] for entry in pointer.get("files", [])}
        for name in self._storage.list(self._rel("current")):
            if name.startswith("gen=") and name not in keep:
                self._storage.delete_dir(self._rel(f"current/{name}"))

    def _rel(self, path: str) -> str:
        return f"{self._stream}/{path}"


class _Parts:
    """The files of a new generation: rewritten buckets, and buckets kept as they were."""

    def __init__(
        self,
        storage: Storage,
        rel: t.Callable[[str], str],
        generation: str,
        compression: str,
        schema: pa.Schema,
    ) -> None:
        self._storage = storage
        self._rel = rel
        self.generation = generation
        self._compression = compression
        self.schema = schema
        self._entries: dict[int, dict[str, t.Any]] = {}

    def write(self, bucket: int, table: pa.Table) -> None:
        """Write a bucket (with every column of the table, null where it had none)."""
        if table.num_rows == 0:
            return
        for field in self.schema:
            if field.name not in table.column_names:
                table = table.append_column(field, pa.nulls(table.num_rows, field.type))
        table = table.select(self.schema.names).cast(self.schema)
        path = f"{self.generation}/part-{bucket:05d}.parquet"
        size = self._storage.write_table(self._rel(path), table, self._compression)
        min_ts, max_ts = ts_range(table)
        self._entries[bucket] = {
            "bucket": bucket,
            "path": path,
            "rows": table.num_rows,
            "bytes": size,
            "min_ts": min_ts,
            "max_ts": max_ts,
            "deleted_rows": pc.sum(table[DELETED]).as_py() or 0,
            "table_version": pc.max(table[TABLE_VERSION]).as_py(),
        }

    def keep(self, entry: dict[str, t.Any]) -> None:
        """Keep a bucket's file of an earlier generation."""
        self._entries[entry.get("bucket", 0)] = entry

    def finish(self) -> list[dict[str, t.Any]]:
        """The entries by bucket; an empty table still gets one (empty) file to read."""
        if not self._entries:
            empty = self.schema.empty_table()
            path = f"{self.generation}/part-00000.parquet"
            size = self._storage.write_table(self._rel(path), empty, self._compression)
            self._entries[0] = {"bucket": 0, "path": path, "rows": 0, "bytes": size}
        return [self._entries[bucket] for bucket in sorted(self._entries)]


def _reference_schema(events: pa.Schema, columns: dict[str, str], order: list[str]) -> pa.Schema:
    """Every column of the table, nullable, so that the files of every bucket share it.

    The order lasts: the published one, then new columns in their events' order. A column
    is typed as the events have it, else as its kind is stored.
    """
    names = [name for name in order if name in columns]
    names += sorted(set(columns) - set(names))
    types = {field.name: field.type for field in events}
    return pa.schema(
        [pa.field(name, types.get(name) or ARROW_TYPES[columns[name]]) for name in names]
    )


def _bucket_ids(table: pa.Table, keys: list[str], buckets: int) -> pa.Array:
    """The bucket of each row: a stable hash of its key (CRC-32 of its text)."""
    if buckets == 1:
        return pa.nulls(0, pa.int64())  # one bucket: every row is in it, nothing to compute
    rows = zip(*(table[key].to_pylist() for key in keys), strict=True)
    return pa.array(
        [zlib.crc32("\x1f".join(map(str, row)).encode()) % buckets for row in rows], pa.int64()
    )


def _split(table: pa.Table, keys: list[str], buckets: int) -> t.Iterator[tuple[int, pa.Table]]:
    """The table's rows by bucket, in bucket order."""
    if buckets == 1:
        yield 0, table
        return
    for bucket, rows in sorted(_rows_by_bucket(_bucket_ids(table, keys, buckets)).items()):
        yield bucket, table.take(rows)


def _rows_by_bucket(buckets: pa.Array) -> dict[int, pa.Array]:
    """The row numbers of each bucket, ascending (one stable sort, not a pass per bucket)."""
    order = pc.sort_indices(buckets)
    rows: dict[int, pa.Array] = {}
    start = 0
    for entry in pc.value_counts(buckets.take(order)).to_pylist():
        rows[entry["values"]] = order.slice(start, entry["counts"])
        start += entry["counts"]
    return rows


def _positions_within(rows: pa.Array, activations: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Activation positions among a bucket's rows (how many of them come before each)."""
    if not activations:
        return []
    numbers = rows.to_pylist()
    return [(bisect.bisect_left(numbers, position), version) for position, version in activations]
