"""Mode `cdc`: an append-only change log per stream (the bronze layer), in either format.

What the log holds is decided here; how its files are committed is up to its format:
Parquet files with manifests (`parquet_log.py`) or a Delta table (`delta_table.py`).
Each ACTIVATE_VERSION adds retirement rows (`retirement.py`) to the commit, after the rows
that came before it; `_sdc_retired` is false on every other row.

Replays: rows are facts keyed by (`_id`, `_ts`, `_sdc_table_version`). Duplicates
within a commit are dropped (the first arrival is kept), and rows already in a file committed before
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

from target_parquet.landing import (
    LANDING_KINDS,
    RETIRED,
    STAMPED_KINDS,
    TABLE_VERSION,
    Batch,
    stamp,
    ts_range,
)
from target_parquet.retirement import Retirements, can_retire
from target_parquet.types import ARROW_TYPES

if t.TYPE_CHECKING:
    import datetime as dt

    from target_parquet.landing import Scan
    from target_parquet.storage import LoadIds

_KEY = ["_id", "_ts", TABLE_VERSION]
_NO_VERSION = -1  # stands in for a null version so that joins can match it
_POSITION = "__position"
_ARRIVAL = "__arrival"
#: Columns every commit of the log adds to the batch's.
_LOG_KINDS = {RETIRED: LANDING_KINDS[RETIRED], **STAMPED_KINDS}


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

    def activated(self) -> int | None:
        """The last ACTIVATE_VERSION recorded beside the rows (logs older than `_sdc_retired`)."""

    def scan(self) -> Scan | None:
        """The committed rows as a reader finds them; None while there are none."""


class ChangeLog:
    """The change log of one stream."""

    unpublished = False  # each commit is durable and visible at once

    def __init__(self, store: LogStore, load_ids: LoadIds, stream: str) -> None:
        self._store = store
        self._load_ids = load_ids
        self._logger = logging.getLogger(f"target-parquet.{stream}")
        self._earlier: list[LandedFile] = store.landed()
        self._max_ts: int | None = max((f.max_ts for f in self._earlier), default=None)
        activated = store.activated()
        if activated is not None and RETIRED not in store.columns:
            self._upgrade(activated)

    @property
    def columns(self) -> dict[str, str]:
        """Every column landed so far, with its (widest) kind."""
        return self._store.columns

    def publish(self) -> None:
        """Nothing waits: each commit is already durable and visible."""

    def compact(self, min_files: int) -> None:
        """Merge small files if there are at least `min_files` of them (end of a run)."""
        self._store.compact(min_files)

    def scan(self) -> Scan | None:
        """The committed change log, as its format's readers find it."""
        return self._store.scan()

    def commit(self, batch: Batch) -> None:
        """Land the batch's new rows, and its ACTIVATE_VERSIONs' retirement rows, in one commit."""
        self._follow_drift(batch.kinds)
        table = batch.table
        activations = batch.activations
        if _keyed(table):
            arrivals = _positions(table.num_rows)
            table = self._skip_landed(_first_per_key(table.append_column(_ARRIVAL, arrivals)))
            kept = table[_ARRIVAL]
            table = table.drop_columns([_ARRIVAL])
            activations = [(pc.sum(pc.less(kept, p)).as_py() or 0, v) for p, v in activations]
        skipped = batch.table.num_rows - table.num_rows
        table = table.append_column(
            pa.field(RETIRED, pa.bool_(), nullable=False),
            pa.array([False] * table.num_rows, pa.bool_()),
        )
        if activations and can_retire(table.schema):
            table = self._with_retirements(table, activations)
        if table.num_rows == 0 and not activations:
            self._logger.info("All %d rows were landed before; nothing to commit.", skipped)
            return
        load_id, batched_at = self._load_ids.new()
        table = stamp(table, load_id, batched_at)
        self._store.append(
            table,
            {**self.columns, **batch.kinds, **_LOG_KINDS},
            Commit(load_id, batched_at, [version for _, version in activations], skipped),
        )
        high = ts_range(table)[1]
        if high is not None and (self._max_ts is None or high > self._max_ts):
            self._max_ts = high

    def _follow_drift(self, kinds: dict[str, str]) -> None:
        """Convert committed rows first if the batch has columns of other kinds (`widen`).

        The sink has widened them already; the log follows in a commit of its own, so every
        file keeps one type per column.
        """
        columns = self.columns
        changed = {name: kind for name, kind in kinds.items() if columns.get(name, kind) != kind}
        if changed:
            self._logger.info("Column kinds changed (%s); rewriting the log.", changed)
            self._store.rewrite({**columns, **changed})
            self._earlier = self._store.landed()

    def _upgrade(self, version: int) -> None:
        """Give a log landed before retirement rows existed those of its last re-sync.

        Until then, its ACTIVATE_VERSIONs were recorded only in its manifests.
        """
        columns = {k: v for k, v in self.columns.items() if k not in _LOG_KINDS}
        schema = pa.schema([(name, ARROW_TYPES[kind]) for name, kind in columns.items()])
        self.commit(Batch(schema.empty_table(), columns, [], [(0, version)]))

    def _with_retirements(self, table: pa.Table, activations: list[tuple[int, int]]) -> pa.Table:
        """The rows with each ACTIVATE_VERSION's retirement rows at its position.

        Which documents are gone is decided on the committed rows and the rows of this
        batch before the ACTIVATE_VERSION (only the few columns that decide it are read).
        """
        files = self._store.landed()
        retirements = Retirements(
            lambda schema, where: (self._store.read(f.path, schema, where) for f in files),
            table.schema,
        )
        parts = []
        start = 0
        for position, version in activations:
            before = table.slice(start, position - start)
            retirements.add(before)
            retired = retirements.retire(version, table.schema)
            parts += [before, retired]
            start = position
            if retired.num_rows:
                self._logger.info(
                    "ACTIVATE_VERSION %d retires %d documents.", version, retired.num_rows
                )
        parts.append(table.slice(start))
        return pa.concat_tables(parts, promote_options="default")

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


def _first_per_key(table: pa.Table) -> pa.Table:
    """Keep the first arrival of each (`_id`, `_ts`, version) in the batch.

    Duplicates are one fact; the first arrival is the one that came before any
    ACTIVATE_VERSION that a later copy follows.
    """
    rows = _key_table(table).append_column(_POSITION, _positions(table.num_rows))
    first = rows.group_by(_KEY, use_threads=False).aggregate([(_POSITION, "min")])
    if first.num_rows == table.num_rows:
        return table
    return table.take(_ascending(first[f"{_POSITION}_min"]))


def _positions(rows: int) -> pa.Array:
    return pa.array(range(rows), pa.int64())


def _ascending(rows: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Row numbers in arrival order, so that kept rows keep their order."""
    return rows.take(pc.sort_indices(rows))
