"""Mode `cdc`: an append-only change log per stream (the bronze layer), in either format.

What the log holds is decided here; how its files are committed is up to its format:
Parquet files with manifests (`parquet_log.py`) or a Delta table (`delta_table.py`).

Replays: rows are facts keyed by (`_id`, `_ts`, `_sdc_table_version`). Duplicates
within a commit are dropped (last one wins), and rows already in a file committed before
this run are skipped: the files' `_ts` ranges (and table versions, where known) say which
files could hold them, and only those files' key columns are read, only when the row's
`_ts` is not above everything landed so far (fresh change events never pay for it).
"""

from __future__ import annotations

import logging
import typing as t
from dataclasses import dataclass

import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type hints
import pyarrow.compute as pc  # type: ignore[import-untyped]  # pyarrow ships no type hints
import pyarrow.dataset as pads  # type: ignore[import-untyped]  # pyarrow ships no type hints

from target_parquet.landing import STAMPED_KINDS, TABLE_VERSION, stamp, ts_range

if t.TYPE_CHECKING:
    import datetime as dt

    from target_parquet.landing import Batch
    from target_parquet.storage import LoadIds

_KEY = ["_id", "_ts", TABLE_VERSION]
_NO_VERSION = -1  # stands in for a null version so that joins can match it
_POSITION = "__position"


@dataclass(frozen=True)
class LandedFile:
    """A committed data file, as far as replay detection needs to know it."""

    path: str
    min_ts: int
    max_ts: int
    versions: frozenset[int | None] | None
    """The table versions of its rows; None when the format does not record them."""


@dataclass(frozen=True)
class Commit:
    """What a commit of the change log records besides its rows."""

    load_id: str
    at: dt.datetime
    activations: list[int]
    """The versions of the ACTIVATE_VERSIONs among the rows."""
    duplicates_skipped: int


class LogStore(t.Protocol):
    """How a format commits the change log of one stream."""

    columns: dict[str, str]
    """Every column landed so far, with its kind."""

    def landed(self) -> list[LandedFile]:
        """The committed files that have a `_ts` range."""

    def read(
        self, path: str, schema: pa.Schema, filter_: pads.Expression | None = None
    ) -> pa.Table:
        """The columns of `schema` in a committed file (null where it lacks one)."""

    def append(self, table: pa.Table, columns: dict[str, str], commit: Commit) -> None:
        """Commit the stamped rows atomically; `columns` are the stream's kinds from now on."""

    def rewrite(self, columns: dict[str, str]) -> None:
        """Convert committed rows to the kinds of `columns` (one commit of its own)."""

    def compact(self, min_files: int) -> None:
        """Merge small files, rows unchanged, if there are at least `min_files` of them."""


class ChangeLog:
    """The change log of one stream."""

    unpublished = False  # each commit is durable and visible at once

    def __init__(self, store: LogStore, load_ids: LoadIds, stream: str) -> None:
        self._store = store
        self._load_ids = load_ids
        self._logger = logging.getLogger(f"target-parquet.{stream}")
        self._earlier: list[LandedFile] = store.landed()
        self._max_ts: int | None = max((f.max_ts for f in self._earlier), default=None)

    @property
    def columns(self) -> dict[str, str]:
        """Every column landed so far, with its (widest) kind."""
        return self._store.columns

    def publish(self) -> None:
        """Nothing waits: each commit is already durable and visible."""

    def compact(self, min_files: int) -> None:
        """Merge small files if there are at least `min_files` of them (end of a run)."""
        self._store.compact(min_files)

    def commit(self, batch: Batch) -> None:
        """Land new rows of the batch in one commit."""
        table = batch.table
        received = table.num_rows
        if _keyed(table):
            table = self._skip_landed(_last_per_key(table))
        activations = [version for _, version in batch.activations]
        if table.num_rows == 0 and not activations:
            self._logger.info("All %d rows were landed before; nothing to commit.", received)
            return
        load_id, batched_at = self._load_ids.new()
        table = stamp(table, load_id, batched_at)
        self._store.append(
            table,
            {**self.columns, **batch.kinds, **STAMPED_KINDS},
            Commit(load_id, batched_at, activations, received - table.num_rows),
        )
        high = ts_range(table)[1]
        if high is not None and (self._max_ts is None or high > self._max_ts):
            self._max_ts = high

    def _skip_landed(self, table: pa.Table) -> pa.Table:
        """Drop rows whose key was committed before this run."""
        if self._max_ts is None:
            return table
        maybe = table.filter(pc.less_equal(table["_ts"], self._max_ts))
        if maybe.num_rows == 0:
            return table
        low, high = ts_range(maybe)
        if low is None or high is None:  # no `_ts` to go by
            return table
        versions = frozenset(pc.unique(maybe[TABLE_VERSION]).to_pylist())
        candidates = [
            f
            for f in self._earlier
            if f.max_ts >= low
            and f.min_ts <= high
            and (f.versions is None or f.versions & versions)
        ]
        if not candidates:
            return table
        bounds = (pads.field("_ts") >= low) & (pads.field("_ts") <= high)
        schema = pa.schema([table.schema.field(name).with_nullable(True) for name in _KEY])
        landed = pa.concat_tables(
            _key_table(self._store.read(f.path, schema, bounds)) for f in candidates
        )
        keys = _key_table(table).append_column(_POSITION, _positions(table.num_rows))
        fresh = keys.join(landed, keys=_KEY, join_type="left anti")[_POSITION]
        return table.take(_ascending(fresh))


def _keyed(table: pa.Table) -> bool:
    """Replay detection needs `_id` and an integer `_ts`."""
    names = table.column_names
    return "_id" in names and "_ts" in names and pa.types.is_int64(table.schema.field("_ts").type)


def _key_table(table: pa.Table) -> pa.Table:
    return pa.table(
        {
            "_id": table["_id"],
            "_ts": table["_ts"],
            TABLE_VERSION: pc.fill_null(table[TABLE_VERSION], _NO_VERSION),
        }
    )


def _last_per_key(table: pa.Table) -> pa.Table:
    """Keep the last arrival of each (`_id`, `_ts`, version) in the batch."""
    rows = _key_table(table).append_column(_POSITION, _positions(table.num_rows))
    last = rows.group_by(_KEY, use_threads=False).aggregate([(_POSITION, "max")])
    if last.num_rows == table.num_rows:
        return table
    return table.take(_ascending(last[f"{_POSITION}_max"]))


def _positions(rows: int) -> pa.Array:
    return pa.array(range(rows), pa.int64())


def _ascending(rows: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Row numbers in arrival order, so that kept rows keep their order."""
    return rows.take(pc.sort_indices(rows))
