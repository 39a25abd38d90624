"""Build Singer messages shaped like tap-convex output, run the target, read what landed."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import typing as t
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from deltalake import DeltaTable

from target_parquet.resolution import cdc_current_query
from target_parquet.target import TargetParquet

CLI = str(Path(sys.executable).parent / "target-parquet")
EXTRACTED = "2026-08-10T10:21:41.234567Z"
SYSTEM_PROPERTIES = {
    "_id": {"type": "string"},
    "_creationTime": {"type": ["string", "null"], "format": "date-time"},
    "_ts": {"type": "integer"},
    "_deleted": {"type": "boolean"},
    "_component": {"type": "string"},
    "_table": {"type": "string"},
    "_sdc_deleted_at": {"type": ["string", "null"], "format": "date-time"},
}
LINEAGE = ("_sdc_extracted_at", "_sdc_batched_at", "_load_id")
#: A user property of every kind the target maps (see target_parquet.types).
EVERY_KIND = {
    "i": {"type": ["integer", "null"]},
    "n": {"type": ["number", "null"]},
    "b": {"type": ["boolean", "null"]},
    "s": {"type": ["string", "null"]},
    "when": {"type": ["string", "null"], "format": "date-time"},
    "blob": {"type": ["string", "null"], "contentEncoding": "base64"},
    "obj": {"type": ["object", "null"]},
    "arr": {"type": ["array", "null"], "items": {"type": "integer"}},
    "perm": {"type": ["array", "boolean", "integer", "null", "number", "object", "string"]},
    "anything": {},
    "union": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
    "int_or_num": {"type": ["integer", "number", "null"]},
    "plain": {"type": "string"},
}


def schema(stream: str, **user: dict) -> dict:
    """A SCHEMA message with the given user properties plus Convex system fields."""
    return {
        "type": "SCHEMA",
        "stream": stream,
        "schema": {"type": "object", "properties": {**user, **SYSTEM_PROPERTIES}},
        "key_properties": ["_id"],
        "bookmark_properties": ["_ts"],
    }


def upsert(stream: str, doc_id: str, ts: int, *, version: int | None = 1, **fields: t.Any) -> dict:
    """A RECORD for a live document."""
    record = {
        **fields,
        "_id": doc_id,
        "_creationTime": "2026-08-10T10:00:00.000001+00:00",
        "_ts": ts,
        "_deleted": False,
        "_component": "",
        "_table": stream,
        "_sdc_deleted_at": None,
    }
    return _record(stream, record, version)


def delete(stream: str, doc_id: str, ts: int, *, version: int | None = 1) -> dict:
    """A RECORD for a delete event: only the id and system fields."""
    record = {
        "_id": doc_id,
        "_creationTime": None,
        "_ts": ts,
        "_deleted": True,
        "_component": "",
        "_table": stream,
        "_sdc_deleted_at": "2026-08-10T10:30:00.000000+00:00",
    }
    return _record(stream, record, version)


def _record(stream: str, record: dict, version: int | None) -> dict:
    message = {"type": "RECORD", "stream": stream, "record": record, "time_extracted": EXTRACTED}
    if version is not None:
        message["version"] = version
    return message


def state(value: t.Any) -> dict:
    """A STATE message."""
    return {"type": "STATE", "value": {"n": value}}


def activate(stream: str, version: int) -> dict:
    """An ACTIVATE_VERSION message."""
    return {"type": "ACTIVATE_VERSION", "stream": stream, "version": version}


def singer_lines(messages: list[dict]) -> str:
    """Messages as Singer input text."""
    return "".join(json.dumps(message) + "\n" for message in messages)


def run(config: dict, messages: list[dict]) -> list[dict]:
    """Run the target in-process to the end of input; returns the STATE values it emitted."""
    target = TargetParquet(config=config)
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        target.listen(io.StringIO(singer_lines(messages)))
    return [json.loads(line) for line in stdout.getvalue().splitlines() if line.strip()]


def run_cli(config: dict, text: str, workdir: Path) -> subprocess.CompletedProcess:
    """Run the `target-parquet` console script on `text` and wait for it."""
    config_file = workdir / "config.json"
    config_file.write_text(json.dumps(config))
    return subprocess.run(
        [CLI, "--config", str(config_file)],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def manifests(root: Path, stream: str) -> list[dict]:
    """Committed cdc manifests of a stream, oldest first."""
    return [
        json.loads(p.read_text()) for p in sorted((root / stream / "_manifests").glob("*.json"))
    ]


def cdc_files(root: Path, stream: str) -> list[str]:
    """Data files that committed manifests list."""
    return [str(root / stream / f["path"]) for m in manifests(root, stream) for f in m["files"]]


def data_files(root: Path, stream: str) -> list[str]:
    """Every Parquet file below the stream directory, committed or not."""
    return sorted(str(p) for p in (root / stream).rglob("*.parquet"))


def read_cdc(root: Path, stream: str) -> pa.Table:
    """The whole change log, read as DuckDB reads it (union by name)."""
    files = cdc_files(root, stream)
    return duckdb.sql(f"SELECT * FROM read_parquet({files}, union_by_name=true)").to_arrow_table()


def resolve_cdc(root: Path, stream: str) -> list[dict]:
    """Current state by the documented recipe (`cdc_current_query`), lineage left out."""
    query = cdc_current_query(str(root / stream))
    rows = duckdb.sql(
        f"SELECT * EXCLUDE ({', '.join(LINEAGE)}, date) FROM ({query})"
    ).to_arrow_table()
    return sorted(rows.to_pylist(), key=lambda r: r["_id"])


def pointer(root: Path, stream: str) -> dict:
    """The `current` mode pointer of a stream."""
    return json.loads((root / stream / "current" / "_latest.json").read_text())


def read_current(root: Path, stream: str) -> pa.Table:
    """The published `current` table, found through its pointer."""
    files = [str(root / stream / f["path"]) for f in pointer(root, stream)["files"]]
    return pa.concat_tables(pq.read_table(path) for path in files)


def by_id(table: pa.Table) -> dict[str, dict]:
    """Rows keyed by `_id`."""
    return {row["_id"]: row for row in table.to_pylist()}


def delta_table(root: Path, stream: str) -> DeltaTable:
    """A stream's Delta table (format `delta`)."""
    return DeltaTable(str(root / stream))


def read_delta(root: Path, stream: str) -> pa.Table:
    """Every row of a stream's Delta table, read with deltalake."""
    return delta_table(root, stream).to_pyarrow_table()


def add_actions(table: DeltaTable) -> list[dict]:
    """The table's live data files with their statistics."""
    return pa.table(table.get_add_actions(flatten=True)).to_pylist()
