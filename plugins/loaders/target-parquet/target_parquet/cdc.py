"""Mode `cdc`: an append-only change log per stream (the bronze layer).

Layout below ``<root>/<stream>/``::

    date=<YYYY-MM-DD>/part-<load_id>.parquet   immutable data, one file per commit
    _manifests/<load_id>.json                    the commit record (commit point)
    _manifests/_pending/<load_id>.json           intent, written before the data file

A commit writes the intent, the data file, the manifest, then drops the intent. A run
that finds an intent without its manifest deletes the files the intent lists, so a
crash never leaves data from an uncommitted load behind.

Compaction (opt-in, at the end of a run) rewrites the small files of a day as one file,
rows and lineage unchanged, as a commit whose manifest names the loads it replaces
(``compacts``): intent and data file; ``_manifests/_compacted/<load_id>.json`` listing the
replaced manifests and files; the manifest; then the replaced manifests go. The replaced
data files go at the start of the next run, so a reader that listed them meanwhile can
still read them (a glob sees those rows twice until then; the resolution does not mind).
A run that starts after a crash completes committed compactions and forgets the others.

Replays: rows are facts keyed by (`_id`, `_ts`, `_sdc_table_version`). Duplicates
within a commit are dropped (last one wins), and rows already in a file committed by
an *earlier run* are skipped: the manifests' `_ts` ranges and table versions say which
files could hold them, and only those files' key columns are read, only when the row's
`_ts` is not above everything landed so far (fresh change events never pay for it).
"""

from __future__ import annotations

import logging
import typing as t
from dataclasses import dataclass

import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type hints
import pyarrow.compute as pc  # type: ignore[import-untyped]  # pyarrow ships no type hints

from target_parquet.landing import STAMPED_KINDS, TABLE_VERSION, stamp, ts_range
from target_parquet.types import convert_table

if t.TYPE_CHECKING:
    import datetime as dt

    from target_parquet.landing import Batch, Destination

MANIFESTS = "_manifests"
PENDING = "_manifests/_pending"
COMPACTED = "_manifests/_compacted"
#: Compaction rewrites files under this size, up to this much input per new file.
SMALL_FILE_BYTES = 64 << 20
COMPACT_GROUP_BYTES = 128 << 20
_KEY = ["_id", "_ts", TABLE_VERSION]
_NO_VERSION = -1  # stands in for a null version so that joins can match it


@dataclass(frozen=True)
class LandedFile:
    """A committed data file, as far as replay detection needs to know it."""

    path: str
    min_ts: int
    max_ts: int
    versions: frozenset[int | None]
    earlier_run: bool


class ChangeLog:
    """The change log of one stream."""

    unpublished = False  # each commit is durable and visible at once

    def __init__(self, destination: Destination, stream: str) -> None:
        self.columns: dict[str, str] = {}
        self._storage = destination.storage
        self._stream = stream
        self._load_ids = destination.load_ids
        self._compression = destination.compression
        self._files: list[LandedFile] = []
        self._max_ts: int | None = None
        self._logger = logging.getLogger(f"target-parquet.{stream}")
        self._roll_back_uncommitted()
        self._finish_compactions()
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
        table = stamp(table, load_id, batched_at)
        files = self._write(table, load_id, f"date={batched_at:%Y-%m-%d}")
        self.columns = {**self.columns, **batch.kinds, **STAMPED_KINDS}
        self._commit(
            load_id,
            batched_at,
            files,
            table,
            activations,
            duplicates_skipped=received - table.num_rows,
        )
        self._remember(files, earlier_run=False)

    def compact(self, min_files: int) -> None:
        """Rewrite the small files of each day that has at least `min_files` of them.

        They become one file per `COMPACT_GROUP_BYTES`.
        """
        days: dict[str, list[tuple[str, dict[str, t.Any]]]] = {}
        for name, manifest in self._manifests():
            files = manifest.get("files", [])
            if len(files) == 1 and files[0].get("bytes", SMALL_FILE_BYTES) < SMALL_FILE_BYTES:
                days.setdefault(files[0]["path"].split("/")[0], []).append((name, manifest))
        replaced = 0
        for small in days.values():
            if len(small) < min_files:
                continue
            for group in _groups(small):
                if len(group) > 1:
                    self._compact(group)
                    replaced += len(group)
        if replaced:
            self._logger.info("Compacted %d small files.", replaced)

    def _compact(self, group: list[tuple[str, dict[str, t.Any]]]) -> None:
        """One compaction, in the order the module docstring gives."""
        load_id, committed_at = self._load_ids.new()
        old_files = [manifest["files"][0]["path"] for _, manifest in group]
        table = pa.concat_tables(
            [
                convert_table(self._storage.read_table(self._rel(path)), m["columns"], self.columns)
                for path, (_, m) in zip(old_files, group, strict=True)
            ],
            promote_options="default",
        )
        files = self._write(table, load_id, old_files[0].split("/")[0])
        old_manifests = [name for name, _ in group]
        self._storage.write_json(
            self._rel(f"{COMPACTED}/{load_id}.json"),
            {"manifests": old_manifests, "files": old_files},
        )
        activations = [v for _, m in group for v in m.get("activate_versions", [])]
        self._commit(
            load_id,
            committed_at,
            files,
            table,
            list(dict.fromkeys(activations)),
            compacts=[name.removesuffix(".json") for name in old_manifests],
        )
        for name in old_manifests:
            self._storage.delete_file(self._rel(f"{MANIFESTS}/{name}"))

    def _write(self, table: pa.Table, load_id: str, day: str) -> list[dict[str, t.Any]]:
        """The intent, then the data file of a commit; returns its manifest entry."""
        if table.num_rows == 0:
            return []
        path = f"{day}/part-{load_id}.parquet"
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

    def _commit(
        self,
        load_id: str,
        committed_at: dt.datetime,
        files: list[dict[str, t.Any]],
        table: pa.Table,
        activations: list[int],
        **extra: object,
    ) -> None:
        """Write the manifest (the commit point), then drop the intent."""
        min_ts, max_ts = ts_range(table)
        manifest = {
            "format": 1,
            "mode": "cdc",
            "stream": self._stream,
            "load_id": load_id,
            "committed_at": committed_at.isoformat(),
            "files": files,
            "rows": table.num_rows,
            "duplicates_skipped": 0,
            "min_ts": min_ts,
            "max_ts": max_ts,
            "table_versions": _versions(table),
            "activate_versions": activations,
            "columns": self.columns,
            **extra,
        }
        self._storage.write_json(self._rel(f"{MANIFESTS}/{load_id}.json"), manifest)
        self._storage.delete_file(self._rel(f"{PENDING}/{load_id}.json"))

    def _skip_landed(self, table: pa.Table) -> pa.Table:
        """Drop rows whose key an earlier run already committed."""
        if self._max_ts is None:
            return table
        maybe = table.filter(pc.less_equal(table["_ts"], self._max_ts))
        if maybe.num_rows == 0:
            return table
        low, high = ts_range(maybe)
        if low is None or high is None:  # no `_ts` to go by
            return table
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

    def _finish_compactions(self) -> None:
        """Delete what committed compactions replaced; forget uncommitted ones."""
        for name in self._storage.list(self._rel(COMPACTED)):
            replaced = self._storage.read_json(self._rel(f"{COMPACTED}/{name}")) or {}
            if self._storage.read_json(self._rel(f"{MANIFESTS}/{name}")) is not None:
                for manifest in replaced.get("manifests", []):
                    self._storage.delete_file(self._rel(f"{MANIFESTS}/{manifest}"))
                for path in replaced.get("files", []):
                    self._storage.delete_file(self._rel(path))
            self._storage.delete_file(self._rel(f"{COMPACTED}/{name}"))

    def _manifests(self) -> list[tuple[str, dict[str, t.Any]]]:
        """The committed manifests, oldest first (load ids sort by time)."""
        names = [n for n in self._storage.list(self._rel(MANIFESTS)) if n.endswith(".json")]
        return [(n, self._storage.read_json(self._rel(f"{MANIFESTS}/{n}")) or {}) for n in names]

    def _read_manifests(self) -> None:
        """Learn the files and columns that earlier runs committed."""
        for _, manifest in self._manifests():
            self._remember(manifest.get("files", []), earlier_run=True)
            self.columns = manifest.get("columns", self.columns)

    def _remember(self, files: list[dict[str, t.Any]], *, earlier_run: bool) -> None:
        """Note committed files with their `_ts` range, for replay detection."""
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


def _groups(
    small: list[tuple[str, dict[str, t.Any]]],
) -> t.Iterator[list[tuple[str, dict[str, t.Any]]]]:
    """Consecutive files (in load order) of up to `COMPACT_GROUP_BYTES` together."""
    group: list[tuple[str, dict[str, t.Any]]] = []
    size = 0
    for entry in small:
        file_bytes = entry[1]["files"][0].get("bytes", 0)
        if group and size + file_bytes > COMPACT_GROUP_BYTES:
            yield group
            group, size = [], 0
        group.append(entry)
        size += file_bytes
    if group:
        yield group


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


def _versions(table: pa.Table) -> list[int | None]:
    if table.num_rows == 0:
        return []
    return sorted(pc.unique(table[TABLE_VERSION]).to_pylist(), key=lambda v: (v is not None, v))


def _ascending(rows: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Row numbers in arrival order, so that kept rows keep their order."""
    return rows.take(pc.sort_indices(rows))
