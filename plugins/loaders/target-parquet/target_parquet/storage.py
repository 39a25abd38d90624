"""Destination roots on local disk or S3, with files that appear whole or not at all.

Local files are written under ``<root>/_tmp/``, fsynced and renamed into place (a rename
on one filesystem is atomic). S3 objects are written straight to their key: an object
becomes visible only when its upload completes, so it is atomic by itself.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import secrets
import threading
import time
import typing as t
import uuid
from urllib.parse import urlparse

import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type hints
import pyarrow.dataset as pads  # type: ignore[import-untyped]  # pyarrow ships no type hints
import pyarrow.fs as pafs  # type: ignore[import-untyped]  # pyarrow ships no type hints
import pyarrow.parquet as pq  # type: ignore[import-untyped]  # pyarrow ships no type hints

from target_parquet.errors import TargetError

if t.TYPE_CHECKING:
    from collections.abc import Callable, Mapping

_STALE_TMP_SECONDS = 3600


class Storage:
    """Read and atomically publish files below one destination root."""

    def __init__(
        self,
        fs: pafs.FileSystem,
        root: str,
        *,
        local: bool,
        delta_options: dict[str, str] | None = None,
    ) -> None:
        self.fs = fs
        self.root = root.rstrip("/")
        self.local = local
        self.delta_options = delta_options or {}
        """`storage_options` for `deltalake` (delta-rs), the same store and credentials."""
        if local:
            fs.create_dir(self.path("_tmp"), recursive=True)
            self._remove_stale_tmp()

    @classmethod
    def from_config(cls, config: Mapping[str, t.Any]) -> Storage:
        """Open `destination_path`: a local directory or ``s3://bucket/prefix``."""
        destination = str(config["destination_path"])
        if destination.startswith("s3://"):
            parsed = urlparse(destination)
            return cls(
                _s3_filesystem(config),
                f"{parsed.netloc}{parsed.path}",
                local=False,
                delta_options=_delta_s3_options(config),
            )
        if "://" in destination and not destination.startswith("file://"):
            raise TargetError(
                f"destination_path must be a local directory or s3:// URI: {destination}"
            )
        path = os.path.abspath(destination.removeprefix("file://"))
        return cls(pafs.LocalFileSystem(), path, local=True)

    def path(self, *parts: str) -> str:
        """Absolute filesystem path of a path relative to the root."""
        return "/".join((self.root, *parts))

    def uri(self, *parts: str) -> str:
        """The location of a path relative to the root as `deltalake` takes it."""
        return self.path(*parts) if self.local else f"s3://{self.path(*parts)}"

    # Publishing

    def write_table(self, relative: str, table: pa.Table, compression: str) -> int:
        """Publish a Parquet file; returns its size in bytes."""
        self._publish(relative, lambda out: pq.write_table(table, out, compression=compression))
        size: int = self.fs.get_file_info(self.path(relative)).size
        return size

    def write_ipc(self, relative: str, table: pa.Table) -> None:
        """Publish an Arrow IPC file (for side data that Parquet globs must not pick up)."""

        def write(out: pa.NativeFile) -> None:
            with pa.ipc.new_file(out, table.schema) as writer:
                writer.write_table(table)

        self._publish(relative, write)

    def write_json(self, relative: str, document: Mapping[str, t.Any]) -> None:
        """Publish a small JSON document (manifests, pointers)."""
        payload = json.dumps(document, indent=1, sort_keys=True).encode()
        self._publish(relative, lambda out: out.write(payload))

    def _publish(self, relative: str, write: Callable[[pa.NativeFile], object]) -> None:
        """Make the file appear whole or not at all (temp + fsync + rename, or one PUT)."""
        final = self.path(relative)
        parent = final.rsplit("/", 1)[0]
        if not self.local:
            with self.fs.open_output_stream(final) as out:
                write(out)
            return
        tmp = self.path("_tmp", f"{uuid.uuid4().hex}.{final.rsplit('/', 1)[1]}.tmp")
        try:
            with self.fs.open_output_stream(tmp) as out:
                write(out)
            _fsync(tmp)
            self.fs.create_dir(parent, recursive=True)
            os.replace(tmp, final)
        except BaseException:
            if os.path.exists(tmp):
                os.remove(tmp)
            raise
        _fsync(parent)

    # Reading and housekeeping

    def read_json(self, relative: str) -> dict[str, t.Any] | None:
        """Read a JSON document (this target writes objects), or None when it does not exist."""
        try:
            with self.fs.open_input_stream(self.path(relative)) as stream:
                document: dict[str, t.Any] = json.loads(stream.read())
        except FileNotFoundError:
            return None
        return document

    def read_table(
        self,
        relative: str,
        columns: list[str] | None = None,
        filters: list[tuple[str, str, t.Any]] | None = None,
    ) -> pa.Table:
        """Read one Parquet file (filters prune row groups by their statistics)."""
        return pq.read_table(
            self.path(relative), filesystem=self.fs, columns=columns, filters=filters
        )

    def dataset(self, relatives: list[str], schema: pa.Schema) -> pads.Dataset:
        """Parquet files read as one dataset of `schema` (null where a file lacks a column)."""
        paths = [self.path(relative) for relative in relatives]
        return pads.dataset(paths, schema=schema, format="parquet", filesystem=self.fs)

    def read_dataset(
        self, relatives: list[str], schema: pa.Schema, filter_: pads.Expression | None = None
    ) -> pa.Table:
        """Read the columns of `schema` from Parquet files (row groups pruned by `filter_`)."""
        return self.dataset(relatives, schema).to_table(filter=filter_)

    def read_ipc(self, relative: str) -> pa.Table:
        """Read one Arrow IPC file."""
        with self.fs.open_input_file(self.path(relative)) as source:
            return pa.ipc.open_file(source).read_all()

    def directories(self, relative: str) -> list[str]:
        """Names of the directories directly below a directory (empty if it does not exist)."""
        selector = pafs.FileSelector(self.path(relative), allow_not_found=True)
        infos = self.fs.get_file_info(selector)
        return sorted(info.base_name for info in infos if info.type == pafs.FileType.Directory)

    def list(self, relative: str) -> list[str]:
        """Names of the direct children of a directory (empty if it does not exist)."""
        selector = pafs.FileSelector(self.path(relative), allow_not_found=True)
        return sorted(info.base_name for info in self.fs.get_file_info(selector))

    def delete_file(self, relative: str) -> None:
        """Delete a file if it exists."""
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_file(self.path(relative))

    def delete_dir(self, relative: str) -> None:
        """Delete a directory and everything below it, if it exists."""
        with contextlib.suppress(FileNotFoundError):
            self.fs.delete_dir(self.path(relative))

    def _remove_stale_tmp(self) -> None:
        """Drop temp files that a crashed run left behind (never visible to readers)."""
        cutoff = time.time() - _STALE_TMP_SECONDS
        for info in self.fs.get_file_info(pafs.FileSelector(self.path("_tmp"))):
            if info.mtime is not None and info.mtime.timestamp() < cutoff:
                self.delete_file(f"_tmp/{info.base_name}")


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


#: S3 settings, with the names pyarrow's S3FileSystem and delta-rs (object_store) give them.
_S3_SETTINGS = (
    ("s3_region", "region", "AWS_REGION"),
    ("s3_access_key_id", "access_key", "AWS_ACCESS_KEY_ID"),
    ("s3_secret_access_key", "secret_key", "AWS_SECRET_ACCESS_KEY"),
    ("s3_session_token", "session_token", "AWS_SESSION_TOKEN"),
)


def _s3_filesystem(config: Mapping[str, t.Any]) -> pafs.S3FileSystem:
    options: dict[str, t.Any] = {}
    endpoint = config.get("s3_endpoint_override")
    if endpoint:
        scheme, _, host = endpoint.rpartition("://")
        options["endpoint_override"] = host
        options["scheme"] = scheme or "https"
    for setting, option, _ in _S3_SETTINGS:
        if config.get(setting):
            options[option] = config[setting]
    return pafs.S3FileSystem(**options)


def _delta_s3_options(config: Mapping[str, t.Any]) -> dict[str, str]:
    """The S3 settings as delta-rs takes them (`storage_options`)."""
    options: dict[str, str] = {}
    endpoint = config.get("s3_endpoint_override")
    if endpoint:
        options["AWS_ENDPOINT_URL"] = endpoint
        if endpoint.startswith("http://"):
            options["AWS_ALLOW_HTTP"] = "true"
    for setting, _, option in _S3_SETTINGS:
        if config.get(setting):
            options[option] = str(config[setting])
    return options


class LoadIds:
    """Time-sortable unique commit ids, e.g. ``20261121T235953123456Z-3f9a1c``.

    They sort by commit time as plain strings, so the newest manifest is the last name.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = dt.datetime.min.replace(tzinfo=dt.timezone.utc)

    def new(self) -> tuple[str, dt.datetime]:
        """Return a fresh id and the UTC time it stands for (never going backwards)."""
        with self._lock:
            now = dt.datetime.now(dt.timezone.utc)
            self._last = max(now, self._last + dt.timedelta(microseconds=1))
            stamp = self._last
        return f"{stamp:%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(3)}", stamp
