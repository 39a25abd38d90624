"""The DuckDB warehouse: one database file of views over the landed lake.

For each stream it holds

=====================  ============================================================
view                   what it is
=====================  ============================================================
``<stream>``           the current state: one row per live document
``<stream>__history``  every version of every document (SCD type 2; `cdc` only)
``<stream>__changes``  the change log as landed (`cdc` only)
=====================  ============================================================

The views are the documented recipes (`resolution.py`) over the stream's files, so they
hold no data: a Parquet `cdc` view reads its stream by glob and sees every later commit;
Delta and `current` views list the files of one version. The target rewrites a view only
when its SQL changes, at the end of a run, or after each commit for a Parquet `current`
table (whose publications delete older files). A Delta view one run old reads an older
version of its table, whose files stay until VACUUM.

The file is the target's: it is written as a copy, then moved over the old one, so that
a reader that has it open (the `duckdb` CLI, a BI tool) never blocks a run and keeps
reading the views it opened until it opens the file again. Objects of one's own go in
another database that ATTACHes this one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import typing as t
from dataclasses import dataclass

import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type hints

from target_parquet.resolution import current_query as current_state_query
from target_parquet.resolution import (
    duckdb_source,
    history_query,
    quote_identifier,
    quote_literal,
    resolvable,
)

if t.TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from target_parquet.landing import Scan
    from target_parquet.storage import Storage

#: The default file name, below a local `destination_path`.
DEFAULT_NAME = "warehouse.duckdb"
#: A new file is written in DuckDB 1.0's storage format, which every DuckDB since reads:
#: without it DuckDB 2 writes files that DuckDB 1.x cannot open.
_STORAGE_VERSION = "v1.0.0"
#: Every view's comment starts so; the rest names its role and stream.
_OWNER = "target-parquet:"
_logger = logging.getLogger("target-parquet.warehouse")


@dataclass(frozen=True)
class View:
    """One view of one stream."""

    name: str
    stream: str
    role: t.Literal["current", "history", "changes"]
    sql: str

    @property
    def comment(self) -> str:
        """Who owns the view, written as its COMMENT."""
        return f"{_OWNER} {self.role} of stream {self.stream}"


def views_of(stream: str, scan: Scan) -> list[View]:
    """The views of one stream, its current state first."""
    source = duckdb_source(scan)
    if not scan.change_log:
        live = " WHERE NOT coalesce(_deleted, false)" if "_deleted" in scan.columns else ""
        query = f"SELECT * FROM {source}{live}"  # noqa: S608 - duckdb_source quotes its parts
        return [View(stream, stream, "current", query)]
    views = []
    if resolvable(scan.columns):
        views.append(View(stream, stream, "current", current_state_query(source)))
        views.append(View(f"{stream}__history", stream, "history", history_query(source)))
    changes = f"SELECT * FROM {source}"  # noqa: S608 - duckdb_source quotes its parts
    views.append(View(f"{stream}__changes", stream, "changes", changes))
    return views


def warehouse_for(storage: Storage, *, enabled: bool, path: str | None) -> Warehouse | None:
    """The warehouse the settings `duckdb_warehouse` and `duckdb_path` ask for.

    None when it is off, and by default for an S3 destination (the file must be local).
    """
    if not enabled:
        return None
    if path:
        s3 = None if storage.local else storage.delta_options
        return Warehouse(os.path.abspath(path), s3=s3)
    return Warehouse(storage.path(DEFAULT_NAME)) if storage.local else None


class Warehouse:
    """Keeps the views of a run's streams up to date in one DuckDB file.

    Beside it, ``<file>.views.json`` records the SQL each view was written with (and locks
    the file while it is rewritten), so that a run whose views have not changed (an
    incremental run into a Parquet `cdc` lake) does not load DuckDB at all.
    """

    def __init__(self, path: str, *, s3: Mapping[str, str] | None = None) -> None:
        self.path = path
        self._s3 = s3
        """An S3 lake's settings (as delta-rs takes them), for DuckDB's httpfs; None: local."""
        self._record = f"{path}.views.json"
        self._written: dict[str, str] | None = None  # view name -> the SQL it was written with

    def refresh(self, scans: Mapping[str, Scan | None]) -> None:
        """Write the views of these streams whose SQL is not the one the file holds.

        A view DuckDB cannot create is left out with a warning: the landed data is intact,
        and the next refresh tries again.
        """
        views = [view for stream, scan in scans.items() if scan for view in views_of(stream, scan)]
        if self._written is None:
            self._written = _read_record(self._record) if os.path.exists(self.path) else {}
        written = self._written
        changed = [view for view in views if written.get(view.name) != view.sql]
        if changed:
            written.update(self._write(sorted(changed, key=lambda view: view.role != "current")))

    def _write(self, views: list[View]) -> dict[str, str]:
        """Write the views into a copy of the file, then move it over; returns those settled."""
        import duckdb  # noqa: PLC0415 - its import costs ~0.1 s; runs without changes skip it

        pa.default_memory_pool().release_unused()  # DuckDB's memory comes on top of what is kept
        staging = f"{self.path}.tmp-{os.getpid()}"
        with _locked(self._record):  # other runs into this destination wait
            recorded = _read_record(self._record) if os.path.exists(self.path) else {}
            _remove(staging)
            try:
                connection = _open_copy(duckdb, self.path, staging)
            except duckdb.Error as exc:
                _logger.warning(
                    "%s is not a DuckDB database the target can read (%s); writing a new one",
                    self.path,
                    " ".join(str(exc).split()),
                )
                _remove(staging)
                connection = duckdb.connect(
                    staging, config={"storage_compatibility_version": _STORAGE_VERSION}
                )
                recorded = {}
            with contextlib.closing(connection):
                reached = self._s3 is None or _reach_s3(connection, self._s3, duckdb.Error)
                written = _create_all(connection, views, duckdb.Error) if reached else {}
            if not reached:
                _remove(staging)
                return {}
            os.replace(staging, self.path)
            _write_record(self._record, {**recorded, **written})
        return written


def _create_all(connection: t.Any, views: list[View], error: type[Exception]) -> dict[str, str]:
    """Create the views whose names are free or theirs; returns those settled, with their SQL.

    A view left out for its name counts as settled, so that it is reported once.
    """
    owners = dict(
        connection.execute(
            "SELECT lower(view_name), comment FROM duckdb_views() WHERE NOT internal"
        ).fetchall()
    )
    settled = {}
    for view in views:
        taken_by = owners.get(view.name.lower())
        if not _may_replace(view, taken_by):
            _logger.warning(
                "DuckDB view %s of stream %s is left out: the name is taken (%s)",
                quote_identifier(view.name),
                view.stream,
                taken_by or "not by target-parquet",
            )
            settled[view.name] = view.sql
            continue
        try:
            _create(connection, view)
        except error as exc:
            _logger.warning(
                "DuckDB view %s could not be created: %s",
                quote_identifier(view.name),
                " ".join(str(exc).split()),
            )
            continue
        owners[view.name.lower()] = view.comment
        settled[view.name] = view.sql
    return settled


def _reach_s3(connection: t.Any, options: Mapping[str, str], error: type[Exception]) -> bool:
    """Load httpfs and give this connection (only: the secret is never stored) the lake's S3
    credentials, so that DuckDB can bind views over ``s3://`` files; False, with a warning,
    if it cannot."""
    try:
        connection.execute("INSTALL httpfs")
        connection.execute("LOAD httpfs")
    except error as exc:
        _logger.warning(
            "DuckDB's httpfs extension could not be loaded (%s); the views of this S3 lake "
            "are not written",
            " ".join(str(exc).split()),
        )
        return False
    try:
        connection.execute(s3_secret(options))
    except error:  # its message would quote the statement, credentials included
        _logger.warning("DuckDB refused the S3 settings as a secret; the views are not written")
        return False
    return True


def s3_secret(options: Mapping[str, str]) -> str:
    """DuckDB's CREATE SECRET for the lake's S3 settings (`Storage.delta_options` names).

    Temporary: it lives in one connection and is never written to the database file.
    Without keys it takes the AWS credential chain, as the target does.
    """
    parts = ["TYPE s3"]
    if "AWS_ACCESS_KEY_ID" in options:
        parts.append(f"KEY_ID {quote_literal(options['AWS_ACCESS_KEY_ID'])}")
        parts.append(f"SECRET {quote_literal(options.get('AWS_SECRET_ACCESS_KEY', ''))}")
        if "AWS_SESSION_TOKEN" in options:
            parts.append(f"SESSION_TOKEN {quote_literal(options['AWS_SESSION_TOKEN'])}")
    else:
        parts.append("PROVIDER credential_chain")
    if "AWS_REGION" in options:
        parts.append(f"REGION {quote_literal(options['AWS_REGION'])}")
    endpoint = options.get("AWS_ENDPOINT_URL")
    if endpoint:
        scheme, _, host = endpoint.rpartition("://")
        parts += [f"ENDPOINT {quote_literal(host.rstrip('/'))}", "URL_STYLE 'path'"]
        parts.append(f"USE_SSL {'false' if scheme == 'http' else 'true'}")
    return f"CREATE OR REPLACE TEMPORARY SECRET target_parquet_s3 ({', '.join(parts)})"


def _read_record(path: str) -> dict[str, str]:
    """The views' SQL as last recorded; nothing if the record is missing or unreadable."""
    try:
        with open(path, encoding="utf-8") as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _write_record(path: str, record: dict[str, str]) -> None:
    """Replace the record (the lock held on the path stays with the old inode's readers)."""
    with open(path, "r+", encoding="utf-8") as handle:
        handle.truncate(0)
        json.dump(record, handle, indent=1, sort_keys=True)


def _open_copy(duckdb: t.Any, path: str, staging: str) -> t.Any:
    """A connection to a copy of the warehouse at `staging` (a new one if there is none)."""
    if os.path.exists(path):
        shutil.copyfile(path, staging)
    return duckdb.connect(staging, config={"storage_compatibility_version": _STORAGE_VERSION})


@contextlib.contextmanager
def _locked(path: str) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if missing)."""
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _create(connection: t.Any, view: View) -> None:
    name = quote_identifier(view.name)
    connection.execute("BEGIN")
    try:
        connection.execute(f"CREATE OR REPLACE VIEW {name} AS {view.sql}")
        connection.execute(f"COMMENT ON VIEW {name} IS {quote_literal(view.comment)}")
        connection.execute("COMMIT")
    except Exception:
        connection.execute("ROLLBACK")
        raise


def _may_replace(view: View, owner: str | None) -> bool:
    """A name is free, ours, or another stream's derived view that a current state outranks.

    DuckDB's names ignore case, so `Users` and `users` are one name: the first stream to
    take it keeps it.
    """
    if owner is None or owner == view.comment:
        return True
    if not owner.startswith(_OWNER):
        return False
    return view.role == "current" and not owner.startswith(f"{_OWNER} current ")


def _remove(path: str) -> None:
    """Remove a database file and its write-ahead log, if they exist."""
    for leftover in (path, f"{path}.wal"):
        with contextlib.suppress(FileNotFoundError):
            os.remove(leftover)
