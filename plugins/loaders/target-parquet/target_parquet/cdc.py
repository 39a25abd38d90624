"""Mode `cdc`: an append-only change log per stream (the bronze layer).

Layout below ``<root>/<stream>/``::

    date=<YYYY-MM-DD>/part-<load_id>.parquet   immutable data, one file per commit
    _manifests/<load_id>.json                    the commit record (commit point)
    _manifests/_pending/<load_id>.json           intent, written before the data file

A commit writes the intent, the data file, the manifest, then drops the intent. A run
that finds an intent without its manifest deletes the files the intent lists, so a
crash never leaves data from an uncommitted load behind.

Replays: rows are facts keyed by (`_id`, `_ts`, `_sdc_table_version`). Duplicates
within a commit are dropped (last one wins), and rows already in a file committed by
an *earlier run* are skipped: the manifests' `_ts` ranges and table versions say which
files could hold them, and only those files' key columns are read, only when the row's
`_ts` is not above everything landed so far (fresh change events never pay for it).
"""

from __future__ import annotations

import datetime
import logging
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from target_parquet.landing import STAMPED_KINDS, TABLE_VERSION, Batch, stamp, ts_range
from target_parquet.storage import LoadIds, Storage

MANIFESTS = "_manifests"
PENDING = "_manifests/_pending"
_KEY = ["_id", "_ts", TABLE_VERSION]
_NO_VERSION = -1  # stands in for a null version so that joins can match it


@dataclass(frozen=True)
class LandedFile:
    """A committed data file, as far as replay detection needs to know it."""

    path: str
    min_ts: int
    max_ts: int
    versions: frozenset
    earlier_run: bool


class ChangeLog:
    """The change log of one stream."""

    def __init__(self, storage: Storage, stream: str, load_ids: LoadIds, compression: str) -> None:
        self.columns: dict[str, str] = {}
        self._storage = storage
        self._stream = stream
        self._load_ids = load_ids
        self._compression = compression
        self._files: list[LandedFile] = []
        self._max_ts: int | None = None
        self._logger = logging.getLogger(f"target-parquet.{stream}")
        self._roll_back_uncommitted()
        self._read_manifests()

    def publish(self) -> None:
        """Nothing waits: each commit is already durable and visible."""

    def commit(self, batch: Batch) -> None:
        """Land new rows of the batch under a fresh manifest."""
        table = batch.table
        received = table.num_rows
        if _keyed(table):
            table = self._skip_landed(_last_per_key(table))
        activations = [version for _, version in batch.activations]
        if table.num_rows == 0 and not activations:
            self._logger.info("All %d rows were landed before; nothing to commit.", received)
            return
        load_id, batched_at = self._load_ids.new()
        files = self._write(stamp(table, load_id, batched_at), load_id, batched_at)
        min_ts, max_ts = ts_range(table)
        columns = {**self.columns, **batch.kinds, **STAMPED_KINDS}
        self._storage.write_json(
            self._rel(f"{MANIFESTS}/{load_id}.json"),
            {
                "format": 1,
                "mode": "cdc",
                "stream": self._stream,
                "load_id": load_id,
                "committed_at": batched_at.isoformat(),
                "files": files,
                "rows": table.num_rows,
                "duplicates_skipped": received - table.num_rows,
                "min_ts": min_ts,
                "max_ts": max_ts,
                "table_versions": _versions(table),
                "activate_versions": activations,
                "columns": columns,
            },
        )
        self.columns = columns
        self._storage.delete_file(self._rel(f"{PENDING}/{load_id}.json"))
        self._remember(files, earlier_run=False)

    def _write(self, table: pa.Table, load_id: str, batched_at: datetime.datetime) -> list[dict]:
        if table.num_rows == 0:
            return []
        path = f"date={batched_at:%Y-%m-%d}/part-{load_id}.parquet"
        self._storage.write_json(self._rel(f"{PENDING}/{load_id}.json"), {"files": [path]})
        size = self._storage.write_table(self._rel(path), table, self._compression)
        min_ts, max_ts = ts_range(table)
        return [
            {
                "path": path,
                "rows": table.num_rows,
                "bytes": size,
                "min_ts": min_ts,
                "max_ts": max_ts,
                "table_versions": _versions(table),
            }
        ]

    def _skip_landed(self, table: pa.Table) -> pa.Table:
        """Drop rows whose key an earlier run already committed."""
        if self._max_ts is None:
            return table
        maybe = table.filter(pc.less_equal(table["_ts"], self._max_ts))
        if maybe.num_rows == 0:
            return table
        low, high = ts_range(maybe)
        versions = frozenset(_versions(maybe))
        candidates = [
            f
            for f in self._files
            if f.earlier_run and f.max_ts >= low and f.min_ts <= high and f.versions & versions
        ]
        if not candidates:
            return table
        bounds = [("_ts", ">=", low), ("_ts", "<=", high)]
        landed = pa.concat_tables(
            _key_table(self._storage.read_table(self._rel(f.path), _KEY, bounds))
            for f in candidates
        )
        keys = _key_table(table).append_column("__row", pa.array(range(table.num_rows), pa.int64()))
        fresh = keys.join(landed, keys=_KEY, join_type="left anti")["__row"]
        return table.take(_ascending(fresh))

    def _roll_back_uncommitted(self) -> None:
        committed = set(self._storage.list(self._rel(MANIFESTS)))
        for name in self._storage.list(self._rel(PENDING)):
            intent = self._storage.read_json(self._rel(f"{PENDING}/{name}")) or {}
            if name not in committed:
                self._logger.warning("Removing files of uncommitted load %s.", name[:-5])
                for path in intent.get("files", []):
                    self._storage.delete_file(self._rel(path))
            self._storage.delete_file(self._rel(f"{PENDING}/{name}"))

    def _read_manifests(self) -> None:
        for name in self._storage.list(self._rel(MANIFESTS)):
            if name.endswith(".json"):
                manifest = self._storage.read_json(self._rel(f"{MANIFESTS}/{name}")) or {}
                self._remember(manifest.get("files", []), earlier_run=True)
                self.columns = manifest.get("columns", self.columns)

    def _remember(self, files: list[dict], *, earlier_run: bool) -> None:
        for entry in files:
            if entry.get("min_ts") is None:
                continue
            self._files.append(
                LandedFile(
                    entry["path"],
                    entry["min_ts"],
                    entry["max_ts"],
                    frozenset(entry.get("table_versions", [])),
                    earlier_run,
                )
            )
            if self._max_ts is None or entry["max_ts"] > self._max_ts:
                self._max_ts = entry["max_ts"]

    def _rel(self, path: str) -> str:
        return f"{self._stream}/{path}"


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
    rows = _key_table(table).append_column("__row", pa.array(range(table.num_rows), pa.int64()))
    last = rows.group_by(_KEY, use_threads=False).aggregate([("__row", "max")])["__row_max"]
    if len(last) == table.num_rows:
        return table
    return table.take(_ascending(last))


def _versions(table: pa.Table) -> list:
    if table.num_rows == 0:
        return []
    return sorted(pc.unique(table[TABLE_VERSION]).to_pylist(), key=lambda v: (v is not None, v))


def _ascending(rows: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Row numbers in arrival order, so that kept rows keep their order."""
    return rows.take(pc.sort_indices(rows))
