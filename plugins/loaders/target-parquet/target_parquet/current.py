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

Rules: an event replaces the stored row only if its `_ts` is newer (equal or older
events are late or replayed and ignored; at equal `_ts` a higher table version wins, so
a re-snapshot confirms the rows it still holds). A delete keeps the row with its last-known
values and sets `_deleted`/`_deleted_at`, or removes it with `hard_delete`, remembering
a tombstone so that late events cannot resurrect it. `ACTIVATE_VERSION(v)` retires rows
whose `_sdc_table_version` is below v (or null) the same way. Streams without `_ts`
order by arrival; streams without `_id` use their key properties.
"""

from __future__ import annotations

import bisect
import datetime
import typing as t
import zlib

import pyarrow as pa
import pyarrow.compute as pc

from target_parquet.errors import TargetError
from target_parquet.landing import (
    BATCHED_AT,
    DELETED,
    DELETED_AT,
    LANDING_KINDS,
    LOAD_ID,
    SDC_DELETED_AT,
    STAMPED_KINDS,
    TABLE_VERSION,
    Batch,
    stamp,
    ts_range,
)
from target_parquet.storage import LoadIds, Storage
from target_parquet.types import ARROW_TYPES, TIMESTAMP, convert_table

POINTER = "current/_latest.json"
_TOMB_TS = "__tomb_ts"
_SRC, _ROW = "__src", "__row"
_ORDER, _CARRIER = "__order", "__carrier"
#: Columns that describe the event rather than the document: a soft delete takes these
#: from the delete event and every other column from the last row that had values.
_EVENT_COLUMNS = {"_ts", SDC_DELETED_AT, *LANDING_KINDS}


class CurrentTable:
    """The materialised current state of one stream."""

    def __init__(
        self,
        storage: Storage,
        stream: str,
        load_ids: LoadIds,
        compression: str,
        *,
        hard_delete: bool,
        buckets: int = 1,
    ) -> None:
        self._storage = storage
        self._buckets = buckets
        self._stream = stream
        self._load_ids = load_ids
        self._compression = compression
        self._hard_delete = hard_delete
        self._pointer = storage.read_json(self._rel(POINTER)) or {}
        self.columns: dict[str, str] = self._pointer.get("columns", {})
        self._staged: list[Batch] = []

    def commit(self, batch: Batch) -> None:
        """Stage the batch; :meth:`publish` merges every staged batch in one pass."""
        keys = self._keys(batch)
        missing = [key for key in keys if key not in batch.table.column_names]
        if not keys or missing:
            raise TargetError(
                f"stream '{self._stream}': mode 'current' needs `_id` or key properties "
                f"present in the schema (missing: {missing or 'no key'})"
            )
        self._staged.append(batch)
        self.columns = {**self.columns, **batch.kinds}

    @property
    def unpublished(self) -> bool:
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
        staged, self._staged = self._staged, []
        load_id, batched_at = self._load_ids.new()
        columns = dict(self._pointer.get("columns", {}))
        for batch in staged:
            columns.update(batch.kinds)
        columns.update(STAMPED_KINDS)
        columns[DELETED] = LANDING_KINDS[DELETED]
        columns[DELETED_AT] = LANDING_KINDS[DELETED_AT]
        keys = self._keys(staged[-1])
        merge = _Merge(keys, self._hard_delete, load_id, batched_at)
        tombstones = self._pointer.get("tombstones")
        if tombstones:
            merge.tombstones = self._storage.read_ipc(self._rel(tombstones))
        events = pa.concat_tables(
            [convert_table(batch.table, batch.kinds, columns) for batch in staged],
            promote_options="default",
        )
        events = _with_delete_columns(stamp(events, load_id, batched_at), batched_at)
        activations = []
        offset = 0
        for batch in staged:
            activations += [(offset + position, version) for position, version in batch.activations]
            offset += batch.table.num_rows
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
        self._publish(parts, merge, columns, load_id, batched_at, activations)

    def _keys(self, batch: Batch) -> list[str]:
        return ["_id"] if "_id" in batch.table.column_names else list(batch.key_properties)

    def _read(self, entries: list[dict], columns: dict[str, str]) -> pa.Table | None:
        """Published files, in today's column kinds."""
        if not entries:
            return None
        parts = [self._storage.read_table(self._rel(entry["path"])) for entry in entries]
        table = pa.concat_tables(parts, promote_options="default")
        return convert_table(table, self._pointer["columns"], columns)

    def _publish(
        self,
        parts: _Parts,
        merge: _Merge,
        columns: dict[str, str],
        load_id: str,
        batched_at: datetime.datetime,
        activations: list[tuple[int, int]],
    ) -> None:
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
            "load_id": load_id,
            "committed_at": batched_at.isoformat(),
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
        self.columns = self._pointer["columns"]
        keep = {generation.split("/")[1]}
        for pointer in (self._pointer, previous):
            keep |= {entry["path"].split("/")[1] for entry in pointer.get("files", [])}
        for name in self._storage.list(self._rel("current")):
            if name.startswith("gen=") and name not in keep:
                self._storage.delete_dir(self._rel(f"current/{name}"))

    def _rel(self, path: str) -> str:
        return f"{self._stream}/{path}"


class _Merge:
    """Applies events and activations to an in-memory table (see the module docstring)."""

    def __init__(
        self, keys: list[str], hard_delete: bool, load_id: str, at: datetime.datetime
    ) -> None:
        self.keys = keys
        self.hard_delete = hard_delete
        self.load_id = load_id
        self.at = at
        self.tombstones: pa.Table | None = None

    def apply(self, stored: pa.Table | None, events: pa.Table) -> pa.Table:
        """Merge events into the stored rows: per key, the newest wins; the result is in key
        order.

        The order is decided on the few columns that decide it, and whole rows are copied
        once, when the result is taken: the inputs and the result are in memory at once,
        not also sorted and filtered copies of everything.
        """
        has_ts = "_ts" in events.column_names
        if has_ts and self.tombstones is not None:
            events = self._drop_buried(events)
        if stored is None:
            stored = events.slice(0, 0)
        combined = pa.concat_tables([_tag(stored, 0), _tag(events, 1)], promote_options="default")
        combined = combined.append_column(_ROW, pa.array(range(combined.num_rows), pa.int64()))
        # Equal `_ts`: a newer table version wins (a re-snapshot confirms the row), then
        # the stored row (a replay changes nothing). Without `_ts` the later arrival wins.
        order = [(key, "ascending") for key in self.keys]
        if has_ts:
            order += [("_ts", "descending"), (TABLE_VERSION, "descending"), (_SRC, "ascending")]
        else:
            order += [(_SRC, "descending")]
        deciding = [name for name, _ in order]
        if "_ts" in combined.column_names:
            deciding.append("_ts")
        ranked = combined.select(list(dict.fromkeys([*deciding, DELETED, _ROW])))
        ranked = ranked.take(pc.sort_indices(ranked, sort_keys=[*order, (_ROW, "descending")]))
        winners = ranked.filter(_first_per_key(ranked, self.keys))
        if self.hard_delete:
            dead = winners[DELETED]
            if "_ts" in winners.column_names:
                self._remember(winners.filter(dead))
            result = combined.take(winners.filter(pc.invert(dead))[_ROW])
        else:
            fresh_delete = pc.and_(winners[DELETED], pc.equal(winners[_SRC], 1))
            if not pc.any(fresh_delete).as_py():
                result = combined.take(winners[_ROW])
            else:
                carriers = ranked.filter(
                    pc.or_(pc.equal(ranked[_SRC], 0), pc.invert(ranked[DELETED]))
                )
                carriers = carriers.filter(_first_per_key(carriers, self.keys))
                deletes = _keep_last_values(
                    combined.take(winners.filter(fresh_delete)[_ROW]),
                    combined,
                    carriers.select([*self.keys, _ROW]),
                    self.keys,
                )
                # Each winner's row: its own, or (for a fresh delete) the delete built above.
                slots = pc.add(
                    pc.subtract(pc.cumulative_sum(fresh_delete.cast(pa.int64())), 1),
                    combined.num_rows,
                )
                rows = pa.concat_tables([combined, deletes], promote_options="default")
                result = rows.take(pc.if_else(fresh_delete, slots, winners[_ROW]))
        return result.drop_columns([_SRC, _ROW])

    def run(
        self, stored: pa.Table | None, events: pa.Table, activations: list[tuple[int, int]]
    ) -> pa.Table:
        """Apply events in order, each ACTIVATE_VERSION after the events before its position."""
        start = 0
        for position, version in [*activations, (events.num_rows, None)]:
            stored = self.apply(stored, events.slice(start, position - start))
            start = position
            if version is not None:
                stored = self.retire(stored, version)
        return stored

    def retire(self, table: pa.Table, version: int) -> pa.Table:
        """Retire rows of versions older than `version` (ACTIVATE_VERSION)."""
        old = pc.and_(
            pc.or_kleene(pc.is_null(table[TABLE_VERSION]), pc.less(table[TABLE_VERSION], version)),
            pc.invert(table[DELETED]),
        )
        if self.hard_delete:
            return self._bury(table, old)
        changes = {
            DELETED: pa.scalar(True),
            DELETED_AT: pa.scalar(self.at, TIMESTAMP),
            BATCHED_AT: pa.scalar(self.at, TIMESTAMP),
            LOAD_ID: pa.scalar(self.load_id),
        }
        for name, value in changes.items():
            index = table.column_names.index(name)
            table = table.set_column(index, name, pc.if_else(old, value, table[name]))
        return table

    def _bury(self, table: pa.Table, condemned: pa.ChunkedArray) -> pa.Table:
        """Remove condemned rows (hard delete), remembering their keys and `_ts`."""
        if "_ts" in table.column_names:
            self._remember(table.filter(condemned))
        return table.filter(pc.invert(condemned))

    def _remember(self, dead: pa.Table) -> None:
        """Keep the newest `_ts` of each removed key, so late events cannot resurrect it."""
        dead = dead.select([*self.keys, "_ts"]).rename_columns([*self.keys, _TOMB_TS])
        known = [dead] if self.tombstones is None else [self.tombstones, dead]
        self.tombstones = (
            pa.concat_tables(known, promote_options="default")
            .group_by(self.keys, use_threads=False)
            .aggregate([(_TOMB_TS, "max")])
            .rename_columns([*self.keys, _TOMB_TS])
        )

    def _drop_buried(self, events: pa.Table) -> pa.Table:
        """Drop events not newer than the tombstone of their key."""
        rows = events.select([*self.keys, "_ts"]).append_column(
            _ROW, pa.array(range(events.num_rows), pa.int64())
        )
        joined = rows.join(self.tombstones, keys=self.keys, join_type="left outer")
        alive = pc.or_kleene(
            pc.is_null(joined[_TOMB_TS]), pc.greater(joined["_ts"], joined[_TOMB_TS])
        )
        kept = joined.filter(alive)[_ROW]
        return events.take(kept.take(pc.sort_indices(kept)))


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
        self._entries: dict[int, dict] = {}

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

    def keep(self, entry: dict) -> None:
        self._entries[entry.get("bucket", 0)] = entry

    def finish(self) -> list[dict]:
        """The entries by bucket; an empty table still gets one (empty) file to read."""
        if not self._entries:
            empty = self.schema.empty_table()
            path = f"{self.generation}/part-00000.parquet"
            size = self._storage.write_table(self._rel(path), empty, self._compression)
            self._entries[0] = {"bucket": 0, "path": path, "rows": 0, "bytes": size}
        return [self._entries[bucket] for bucket in sorted(self._entries)]


def _reference_schema(events: pa.Schema, columns: dict[str, str], order: list[str]) -> pa.Schema:
    """Every column of the table, in a lasting order (the published one, then new ones in
    their events' order), typed as the events have it, else as its kind is stored; all
    nullable, so that the files of every bucket have the very same schema."""
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
    rows = zip(*(table[key].to_pylist() for key in keys))
    return pa.array(
        [zlib.crc32("\x1f".join(map(str, row)).encode()) % buckets for row in rows], pa.int64()
    )


def _split(table: pa.Table, keys: list[str], buckets: int) -> t.Iterator[tuple[int, pa.Table]]:
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


def _tag(table: pa.Table, source: int) -> pa.Table:
    return table.append_column(_SRC, pa.array([source] * table.num_rows, pa.int8()))


def _first_per_key(table: pa.Table, keys: list[str]) -> pa.Array:
    """Mask of the first row of each run of equal keys in a key-sorted table."""
    if table.num_rows == 0:
        return pa.array([], pa.bool_())
    changed = pa.array([False] * (table.num_rows - 1), pa.bool_())
    for key in keys:
        column = table[key].combine_chunks()
        changed = pc.or_(changed, pc.not_equal(column[1:], column[:-1]))
    return pa.concat_arrays([pa.array([True]), changed])


def _with_delete_columns(table: pa.Table, at: datetime.datetime) -> pa.Table:
    """Add `_deleted` (non-null) and `_deleted_at` to incoming events."""
    deleted = pa.array([False] * table.num_rows, pa.bool_())
    if DELETED in table.column_names:
        if pa.types.is_boolean(table.schema.field(DELETED).type):
            deleted = pc.fill_null(table[DELETED], False)
        table = table.drop_columns([DELETED])
    at_scalar = pa.scalar(at, TIMESTAMP)
    deleted_at = at_scalar
    if SDC_DELETED_AT in table.column_names:
        marked_at = table[SDC_DELETED_AT]
        deleted = pc.or_(deleted, pc.is_valid(marked_at))
        if marked_at.type == TIMESTAMP:
            deleted_at = pc.coalesce(marked_at, at_scalar)
    deleted_at = pc.if_else(deleted, deleted_at, pa.scalar(None, TIMESTAMP))
    table = table.append_column(pa.field(DELETED, pa.bool_(), nullable=False), deleted)
    return table.append_column(pa.field(DELETED_AT, TIMESTAMP), deleted_at.cast(TIMESTAMP))


def _keep_last_values(
    deletes: pa.Table, rows: pa.Table, carriers: pa.Table, keys: list[str]
) -> pa.Table:
    """Soft deletes: event columns from the delete, the rest from the last known row.

    `carriers` holds the keys and row numbers (in `rows`) of each key's last known values;
    the deletes keep their order.
    """
    event = [name for name in deletes.column_names if name in _EVENT_COLUMNS or name in keys]
    event += [_SRC, _ROW]
    values = [name for name in deletes.column_names if name not in event]
    found = (
        deletes.select(keys)
        .append_column(_ORDER, pa.array(range(deletes.num_rows), pa.int64()))
        .join(carriers.rename_columns([*keys, _CARRIER]), keys=keys, join_type="left outer")
    )
    found = found.take(pc.sort_indices(found[_ORDER]))
    carried = rows.select(values).take(found[_CARRIER])
    table = deletes.select(event)
    for name in values:
        table = table.append_column(pa.field(name, carried.schema.field(name).type), carried[name])
    return table.select(deletes.column_names)
