"""The Parquet files and manifests of a `cdc` change log (format `parquet`).

Layout below ``<root>/<stream>/``::

    date=<YYYY-MM-DD>/part-<load_id>.parquet   immutable data, one file per commit
    _manifests/<load_id>.json                    the commit record (commit point)
    _manifests/_pending/<load_id>.json           intent, written before the data files
    _manifests/_compacted/<load_id>.json         what a replacement replaced (transient)

A commit writes the intent, the data file, the manifest, then drops the intent. A run
that finds an intent without its manifest deletes the files the intent lists, so a
crash never leaves data from an uncommitted load behind.

A *replacement* rewrites committed files as new ones, rows and lineage unchanged, columns
converted to today's kinds, as a commit whose manifest names the loads it replaces
(``compacts``): intent and data files; ``_manifests/_compacted/<load_id>.json`` listing
the replaced manifests and files; the manifest; then the replaced manifests go. Compaction
(opt-in, at the end of a run) replaces a day's small files; the replaced data files go at
the start of the next run, so a reader that listed them meanwhile can still read them (a
glob sees those rows twice until then; the resolution does not mind). A type change
replaces every file written with the old type, and the replaced files go at once: a glob
that met files of both types would not read as one table (Spark's `mergeSchema`). A run
that starts after a crash completes committed replacements and forgets the others.
"""

from __future__ import annotations

import logging
import typing as t

import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type hints
import pyarrow.compute as pc  # type: ignore[import-untyped]  # pyarrow ships no type hints

from target_parquet.cdc import Commit, LandedFile
from target_parquet.landing import TABLE_VERSION, ts_range
from target_parquet.resolution import parquet_log_scan
from target_parquet.types import convert_table

if t.TYPE_CHECKING:
    import datetime as dt

    import pyarrow.dataset as pads  # type: ignore[import-untyped]  # pyarrow ships no type hints

    from target_parquet.landing import Destination, Scan

MANIFESTS = "_manifests"
PENDING = "_manifests/_pending"
COMPACTED = "_manifests/_compacted"
#: Compaction rewrites files under this size, up to this much input per new file.
SMALL_FILE_BYTES = 64 << 20
COMPACT_GROUP_BYTES = 128 << 20

#: A committed manifest: its file name and its content.
Manifest: t.TypeAlias = "tuple[str, dict[str, t.Any]]"
#: The tables of one new file (read when its turn comes, one file in memory at a time).
Parts: t.TypeAlias = "list[t.Callable[[], pa.Table]]"


class ParquetLog:
    """The committed files of one stream's change log, and how to add or replace them."""

    def __init__(self, destination: Destination, stream: str) -> None:
        self._storage = destination.storage
        self._stream = stream
        self._load_ids = destination.load_ids
        self._compression = destination.compression
        self._logger = logging.getLogger(f"target-parquet.{stream}")
        self._roll_back_uncommitted()
        self._finish_replacements()
        self.columns: dict[str, str] = {}
        """Every column landed so far, with its kind (the last manifest's record)."""
        seen: dict[str, set[str]] = {}
        for _, manifest in self._manifests():
            self.columns = manifest.get("columns", self.columns)
            for name, kind in self.columns.items():
                seen.setdefault(name, set()).add(kind)
        mixed = {name: "json" for name, kinds in seen.items() if len(kinds) > 1}
        if mixed:  # widened by an earlier release, which left old files in the old type
            self.rewrite({**self.columns, **mixed})

    def landed(self) -> list[LandedFile]:
        """The committed files with a `_ts` range (those replay detection may read)."""
        return [
            LandedFile(
                entry["path"],
                entry["min_ts"],
                entry["max_ts"],
                frozenset(entry.get("table_versions", [])),
            )
            for _, manifest in self._manifests()
            for entry in manifest.get("files", [])
            if entry.get("min_ts") is not None
        ]

    def activated(self) -> int | None:
        """The last ACTIVATE_VERSION that the manifests record."""
        versions = [v for _, m in self._manifests() for v in m.get("activate_versions", [])]
        return max(versions, default=None)

    def scan(self) -> Scan | None:
        """Every day's files, by glob (`resolution.parquet_log_scan`); None before a commit."""
        if not self.columns:
            return None
        return parquet_log_scan(self._storage.uri(self._stream), self.columns)

    def read(
        self, path: str, schema: pa.Schema, filter_: pads.Expression | None = None
    ) -> pa.Table:
        """The columns of `schema` in one committed file."""
        return self._storage.read_dataset([self._rel(path)], schema, filter_)

    def append(self, table: pa.Table, columns: dict[str, str], commit: Commit) -> None:
        """Commit the stamped rows as one file under a new manifest."""
        files = self._write(commit.load_id, [(f"date={commit.at:%Y-%m-%d}", [lambda: table])])
        self.columns = columns
        self._commit(
            commit.load_id,
            commit.at,
            files,
            commit.activations,
            duplicates_skipped=commit.duplicates_skipped,
        )

    def rewrite(self, columns: dict[str, str]) -> None:
        """Convert every file that holds a column in another kind than `columns` says.

        One replacement for all of them; the replaced files are deleted at once.
        """
        self.columns = columns
        stale = [
            (name, manifest)
            for name, manifest in self._manifests()
            if manifest.get("files")
            and any(columns.get(c, k) != k for c, k in manifest.get("columns", {}).items())
        ]
        if stale:
            self._replace(stale, remove_now=True)
            self._logger.info("Rewrote %d loads in today's column kinds.", len(stale))

    def compact(self, min_files: int) -> None:
        """Replace the small files of each day that has at least `min_files` of them."""
        days: dict[str, list[Manifest]] = {}
        for name, manifest in self._manifests():
            files = manifest.get("files", [])
            if len(files) == 1 and files[0].get("bytes", SMALL_FILE_BYTES) < SMALL_FILE_BYTES:
                days.setdefault(files[0]["path"].split("/")[0], []).append((name, manifest))
        small = [
            entry for entries in days.values() if len(entries) >= min_files for entry in entries
        ]
        if small:
            self._replace(small, remove_now=False)
            self._logger.info("Compacted %d small files.", len(small))

    def _replace(self, replaced: list[Manifest], *, remove_now: bool) -> None:
        """One replacement, in the order the module docstring gives."""
        load_id, committed_at = self._load_ids.new()
        old_files = [
            (entry["path"], manifest["columns"])
            for _, manifest in replaced
            for entry in manifest["files"]
        ]
        sizes = {entry["path"]: entry.get("bytes", 0) for _, m in replaced for entry in m["files"]}
        groups = [
            (
                group[0][0].split("/")[0],
                [self._converted(path, kinds) for path, kinds in group],
            )
            for group in _groups(old_files, sizes)
        ]
        files = self._write(load_id, groups)
        old_manifests = [name for name, _ in replaced]
        old_paths = [path for path, _ in old_files]
        record = self._rel(f"{COMPACTED}/{load_id}.json")
        self._storage.write_json(record, {"manifests": old_manifests, "files": old_paths})
        activations = [v for _, m in replaced for v in m.get("activate_versions", [])]
        self._commit(
            load_id,
            committed_at,
            files,
            list(dict.fromkeys(activations)),
            compacts=[name.removesuffix(".json") for name in old_manifests],
        )
        for name in old_manifests:
            self._storage.delete_file(self._rel(f"{MANIFESTS}/{name}"))
        if remove_now:
            for path in old_paths:
                self._storage.delete_file(self._rel(path))
            self._storage.delete_file(record)

    def _converted(self, path: str, kinds: dict[str, str]) -> t.Callable[[], pa.Table]:
        """A reader of a committed file in today's column kinds (called when its turn comes)."""
        return lambda: convert_table(self._storage.read_table(self._rel(path)), kinds, self.columns)

    def _write(self, load_id: str, groups: list[tuple[str, Parts]]) -> list[dict[str, t.Any]]:
        """The intent, then one data file per group of tables, in its day's directory.

        Returns the manifest entries of the files.
        """
        groups = [(day, parts) for day, parts in groups if parts]
        suffixes = [""] if len(groups) == 1 else [f"-{n:04d}" for n in range(len(groups))]
        paths = [
            f"{day}/part-{load_id}{s}.parquet" for (day, _), s in zip(groups, suffixes, strict=True)
        ]
        if not paths:
            return []
        self._storage.write_json(self._rel(f"{PENDING}/{load_id}.json"), {"files": paths})
        entries = []
        for path, (_, parts) in zip(paths, groups, strict=True):
            table = pa.concat_tables([part() for part in parts], promote_options="default")
            if table.num_rows == 0:
                continue
            size = self._storage.write_table(self._rel(path), table, self._compression)
            min_ts, max_ts = ts_range(table)
            entries.append(
                {
                    "path": path,
                    "rows": table.num_rows,
                    "bytes": size,
                    "min_ts": min_ts,
                    "max_ts": max_ts,
                    "table_versions": versions_of(table),
                }
            )
        return entries

    def _commit(
        self,
        load_id: str,
        committed_at: dt.datetime,
        files: list[dict[str, t.Any]],
        activations: list[int],
        **extra: object,
    ) -> None:
        """Write the manifest (the commit point), then drop the intent."""
        low = [entry["min_ts"] for entry in files if entry["min_ts"] is not None]
        high = [entry["max_ts"] for entry in files if entry["max_ts"] is not None]
        versions = {v for entry in files for v in entry["table_versions"]}
        manifest = {
            "format": 1,
            "mode": "cdc",
            "stream": self._stream,
            "load_id": load_id,
            "committed_at": committed_at.isoformat(),
            "files": files,
            "rows": sum(entry["rows"] for entry in files),
            "duplicates_skipped": 0,
            "min_ts": min(low, default=None),
            "max_ts": max(high, default=None),
            "table_versions": sorted(versions, key=_version_order),
            "activate_versions": activations,
            "columns": self.columns,
            **extra,
        }
        self._storage.write_json(self._rel(f"{MANIFESTS}/{load_id}.json"), manifest)
        self._storage.delete_file(self._rel(f"{PENDING}/{load_id}.json"))

    def _roll_back_uncommitted(self) -> None:
        committed = set(self._storage.list(self._rel(MANIFESTS)))
        for name in self._storage.list(self._rel(PENDING)):
            intent = self._storage.read_json(self._rel(f"{PENDING}/{name}")) or {}
            if name not in committed:
                self._logger.warning("Removing files of uncommitted load %s.", name[:-5])
                for path in intent.get("files", []):
                    self._storage.delete_file(self._rel(path))
            self._storage.delete_file(self._rel(f"{PENDING}/{name}"))

    def _finish_replacements(self) -> None:
        """Delete what committed replacements replaced; forget uncommitted ones."""
        for name in self._storage.list(self._rel(COMPACTED)):
            replaced = self._storage.read_json(self._rel(f"{COMPACTED}/{name}")) or {}
            if self._storage.read_json(self._rel(f"{MANIFESTS}/{name}")) is not None:
                for manifest in replaced.get("manifests", []):
                    self._storage.delete_file(self._rel(f"{MANIFESTS}/{manifest}"))
                for path in replaced.get("files", []):
                    self._storage.delete_file(self._rel(path))
            self._storage.delete_file(self._rel(f"{COMPACTED}/{name}"))

    def _manifests(self) -> list[Manifest]:
        """The committed manifests, oldest first (load ids sort by time)."""
        names = [n for n in self._storage.list(self._rel(MANIFESTS)) if n.endswith(".json")]
        return [(n, self._storage.read_json(self._rel(f"{MANIFESTS}/{n}")) or {}) for n in names]

    def _rel(self, path: str) -> str:
        return f"{self._stream}/{path}"


def _groups(
    files: list[tuple[str, dict[str, str]]], sizes: dict[str, int]
) -> t.Iterator[list[tuple[str, dict[str, str]]]]:
    """Consecutive files of one day (in load order), up to `COMPACT_GROUP_BYTES` together."""
    group: list[tuple[str, dict[str, str]]] = []
    size = 0
    for entry in sorted(files, key=lambda entry: entry[0].split("/")[0]):
        day = entry[0].split("/")[0]
        file_bytes = sizes.get(entry[0], 0)
        if group and (size + file_bytes > COMPACT_GROUP_BYTES or group[0][0].split("/")[0] != day):
            yield group
            group, size = [], 0
        group.append(entry)
        size += file_bytes
    if group:
        yield group


def versions_of(table: pa.Table) -> list[int | None]:
    """The table versions of the rows, nulls first."""
    if table.num_rows == 0 or TABLE_VERSION not in table.column_names:
        return []
    return sorted(pc.unique(table[TABLE_VERSION]).to_pylist(), key=_version_order)


def _version_order(version: int | None) -> tuple[bool, int]:
    return (version is not None, version or 0)
