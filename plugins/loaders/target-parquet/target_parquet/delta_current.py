"""Format `delta`, mode `current`: one row per key, published by a Delta MERGE per checkpoint.

The rules are mode `current`'s, applied by the same code (`merge.py`), so both formats give
the same table. At each checkpoint the rows that the staged events touch are read from the
table (those of the events' keys, plus, for an ACTIVATE_VERSION, the live rows of older
versions), the events are merged into them in memory, and the result goes into the table
by one MERGE on the key: matched rows are replaced, new ones inserted, rows that
`hard_delete` removed deleted. One commit per checkpoint, so readers see the table before
or after it, never between; STATE follows it.

With `hard_delete`, the keys and `_ts` of removed rows (tombstones, so that late events
cannot resurrect them) are kept in ``<stream>/_target_parquet/tombstones-<version>.arrow``,
written after the MERGE of that table version. Delta readers and VACUUM ignore directories
that start with ``_``. A crash between the two leaves the tombstones of an earlier version
in force; the rerun of the same events writes them again.
"""

from __future__ import annotations

import functools
import operator
import typing as t

import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type hints
import pyarrow.compute as pc  # type: ignore[import-untyped]  # pyarrow ships no type hints
import pyarrow.dataset as pads  # type: ignore[import-untyped]  # pyarrow ships no type hints
from deltalake import write_deltalake

from target_parquet.delta_table import DeltaStream, typed
from target_parquet.events import Staging
from target_parquet.landing import DELETED, TABLE_VERSION
from target_parquet.merge import Merge

if t.TYPE_CHECKING:
    from target_parquet.events import Events
    from target_parquet.landing import Batch, Destination, Scan

TOMBSTONES = "_target_parquet"
_REMOVED = "__removed"


class DeltaCurrentTable:
    """The current state of one stream as a Delta table, merged per checkpoint."""

    def __init__(self, destination: Destination, stream: str, *, hard_delete: bool) -> None:
        self._delta = DeltaStream(destination, stream)
        self._storage = destination.storage
        self._stream = stream
        self._load_ids = destination.load_ids
        self._hard_delete = hard_delete
        self._staged = Staging(stream, dict(self._delta.columns))

    @property
    def columns(self) -> dict[str, str]:
        """The table's columns and those of the staged batches, with their kinds."""
        return self._staged.columns

    @property
    def unpublished(self) -> bool:
        """Whether committed batches wait for the next `publish`."""
        return bool(self._staged)

    def commit(self, batch: Batch) -> None:
        """Stage the batch; :meth:`publish` merges every staged batch in one MERGE."""
        self._staged.add(batch)

    def compact(self, min_files: int) -> None:
        """OPTIMIZE the table if it has at least `min_files` small files."""
        self._delta.compact(min_files)

    def scan(self) -> Scan | None:
        """The data files of the table's current version."""
        return self._delta.scan(change_log=False)

    def publish(self) -> None:
        """Merge the staged events into the table (one commit; see the module docstring)."""
        if not self._staged:
            return
        load_id, at = self._load_ids.new()
        events = self._staged.take(self._delta.columns, load_id, at)
        self._delta.rewrite(events.columns)  # a column of another kind: converted first
        merge = Merge(
            events.keys,
            hard_delete=self._hard_delete,
            load_id=load_id,
            at=at,
            tombstones=self._read_tombstones(),
        )
        stored = self._touched(events)
        result = merge.run(stored, events.table, events.activations)
        removed = None
        if stored is not None and self._hard_delete:
            removed = stored.select(events.keys).join(
                result.select(events.keys), keys=events.keys, join_type="left anti"
            )
        self._write(result, removed, events, load_id)
        if merge.tombstones is not None and merge.tombstones.num_rows:
            self._write_tombstones(merge.tombstones, self._delta.version)

    def _touched(self, events: Events) -> pa.Table | None:
        """The stored rows the events can change: their keys', and those a re-sync retires."""
        if self._delta.table is None:
            return None
        dataset = self._delta.dataset()
        keys = events.keys
        touched = events.table.select(keys).group_by(keys, use_threads=False).aggregate([])
        # The cast keeps pyarrow from comparing row-group statistics that MERGE wrote as
        # `string_view` with `string` values (it has no kernel for that).
        wanted = functools.reduce(
            operator.and_,
            [
                pads.field(key).cast(dataset.schema.field(key).type).isin(pc.unique(touched[key]))
                for key in keys
            ],
        )
        rows = dataset.to_table(filter=wanted)
        if len(keys) > 1:  # each key column matched; now the combinations
            rows = rows.join(touched, keys=keys, join_type="left semi")
        if events.activations:
            newest = max(version for _, version in events.activations)
            version = pads.field(TABLE_VERSION)
            older = (version.is_null() | (version < newest)) & ~pads.field(DELETED)
            retired = dataset.to_table(filter=older)
            retired = retired.join(touched, keys=keys, join_type="left anti")
            rows = pa.concat_tables([rows, retired.select(rows.schema.names)])
        return rows

    def _write(
        self, result: pa.Table, removed: pa.Table | None, events: Events, load_id: str
    ) -> None:
        """One commit: the first write creates the table, later ones MERGE by the key."""
        delta = self._delta
        columns = events.columns
        schema = typed(result, columns).schema
        if delta.table is None:
            write_deltalake(
                delta.uri,
                typed(result, columns),
                mode="append",
                storage_options=delta.options,
                writer_properties=delta.writer,
                commit_properties=delta.commit_properties(load_id=load_id),
            )
            delta.committed(columns)
            return
        source = typed(result, columns).append_column(
            _REMOVED, pa.array([False] * result.num_rows, pa.bool_())
        )
        if removed is not None and removed.num_rows:
            gone = removed.cast(pa.schema([schema.field(key) for key in events.keys]))
            gone = gone.append_column(_REMOVED, pa.array([True] * gone.num_rows, pa.bool_()))
            source = pa.concat_tables([source, gone], promote_options="default")
        if source.num_rows == 0:
            return  # delta-rs makes no commit for an empty MERGE: nothing changes
        on = " AND ".join(f"t.`{key}` = s.`{key}`" for key in events.keys)
        (
            delta.table.merge(
                source,
                on,
                source_alias="s",
                target_alias="t",
                merge_schema=True,
                writer_properties=delta.writer,
                commit_properties=delta.commit_properties(load_id=load_id),
            )
            .when_matched_delete(predicate=f"s.{_REMOVED}")
            .when_matched_update_all(predicate=f"NOT s.{_REMOVED}", except_cols=[_REMOVED])
            .when_not_matched_insert_all(predicate=f"NOT s.{_REMOVED}", except_cols=[_REMOVED])
            .execute()
        )
        delta.committed(columns)

    def _read_tombstones(self) -> pa.Table | None:
        """The tombstones of the newest MERGE that wrote any (at most the table's version)."""
        version = self._delta.version
        if version is None:
            return None
        names = [
            name
            for name in self._storage.list(self._rel(TOMBSTONES))
            if name.startswith("tombstones-") and _version_of(name) <= version
        ]
        if not names:
            return None
        return self._storage.read_ipc(self._rel(f"{TOMBSTONES}/{max(names)}"))

    def _write_tombstones(self, tombstones: pa.Table, version: int | None) -> None:
        """Publish the tombstones of the table version just merged; drop older ones."""
        name = f"tombstones-{version or 0:020d}.arrow"
        self._storage.write_ipc(self._rel(f"{TOMBSTONES}/{name}"), tombstones)
        for old in self._storage.list(self._rel(TOMBSTONES)):
            if old.startswith("tombstones-") and old < name:
                self._storage.delete_file(self._rel(f"{TOMBSTONES}/{old}"))

    def _rel(self, path: str) -> str:
        return f"{self._stream}/{path}"


def _version_of(name: str) -> int:
    return int(name.removeprefix("tombstones-").removesuffix(".arrow"))
