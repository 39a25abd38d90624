"""The target's settings: their JSON schema (what `--about` lists) and a typed view of them.

The SDK validates the config against `CONFIG_JSONSCHEMA` and fills in its defaults, but
hands it over as an untyped mapping; `Settings` reads each setting the target uses, with its
type, in one place.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from singer_sdk import typing as th

if t.TYPE_CHECKING:
    from collections.abc import Mapping

#: Rows buffered per stream before a commit, unless `batch_size_rows` says otherwise.
DEFAULT_BATCH_SIZE_ROWS = 100_000

#: Built-in SDK settings this target does not offer: the mode decides how rows land.
UNSUPPORTED_BUILTIN_SETTINGS = ("load_method",)

CONFIG_JSONSCHEMA = th.PropertiesList(
    th.Property(
        "destination_path",
        th.StringType(nullable=False),
        required=True,
        title="Destination",
        description="Local directory or `s3://bucket/prefix` under which each stream "
        "lands in its own directory.",
    ),
    th.Property(
        "mode",
        th.StringType(nullable=False),
        default="cdc",
        allowed_values=["cdc", "current"],
        description="`cdc`: append-only change log partitioned by landing date. "
        "`current`: one row per `_id` (the latest by `_ts`), republished per checkpoint.",
    ),
    th.Property(
        "format",
        th.StringType(nullable=False),
        default="parquet",
        allowed_values=["parquet", "delta"],
        description="`parquet`: Parquet files with the target's own manifests. `delta`: a "
        "Delta Lake table per stream (delta-rs), readable by Spark, Databricks and "
        "anything else that reads Delta.",
    ),
    th.Property(
        "hard_delete",
        th.BooleanType(nullable=False),
        default=False,
        description="Mode `current`: remove deleted rows instead of keeping them with "
        "`_deleted = true` and `_deleted_at`.",
    ),
    th.Property(
        "current_buckets",
        th.IntegerType(nullable=False, minimum=1, maximum=4096),
        default=1,
        description="Mode `current`: split each table into this many files by a hash of "
        "its key, so that a checkpoint rewrites, and holds in memory, only the buckets "
        "its changes fall into (at most 4096; changing it rewrites the table once).",
    ),
    th.Property(
        "state_interval_seconds",
        th.NumberType(nullable=False),
        default=60,
        description="Commit all streams and emit STATE at least this often while "
        "messages arrive. STATE always follows the data it covers.",
    ),
    th.Property(
        "batch_size_rows",
        th.IntegerType(nullable=False),
        default=DEFAULT_BATCH_SIZE_ROWS,
        description="Rows buffered per stream before a commit (one file per commit in "
        "`cdc`; in `current` committed batches wait for the next checkpoint).",
    ),
    th.Property(
        "compact_min_files",
        th.IntegerType(nullable=False),
        default=0,
        description="At the end of a run, compact small files (under 64 MiB): Parquet "
        "`cdc` rewrites those of each day that has at least this many as one file; Delta "
        "runs OPTIMIZE (compact) on a table that has at least this many; 0 never does. "
        "Leave 0 if a reader ingests Parquet files themselves by name.",
    ),
    th.Property(
        "compression",
        th.StringType(nullable=False),
        default="zstd",
        allowed_values=["zstd", "snappy", "gzip", "lz4", "none"],
        description="Parquet compression codec.",
    ),
    th.Property(
        "validate_records",
        th.BooleanType(nullable=False),
        default=False,
        description="Validate every record against its JSON schema (slow). Values are "
        "always checked against their column type at commit.",
    ),
    th.Property(
        "duckdb_warehouse",
        th.BooleanType(nullable=False),
        default=True,
        description="Keep a DuckDB database file of views over the lake, for each stream: "
        "`<stream>` (current state), `<stream>__history` (every version, SCD type 2) and "
        "`<stream>__changes` (the change log); mode `current` has the first only.",
    ),
    th.Property(
        "duckdb_path",
        th.StringType,
        description="Where the DuckDB warehouse file goes (a local path; default "
        "`<destination_path>/warehouse.duckdb`). Needed, with DuckDB's httpfs extension "
        "at query time, for an S3 destination.",
    ),
    th.Property(
        "s3_endpoint_override",
        th.StringType,
        description="Endpoint of an S3-compatible store, e.g. `http://127.0.0.1:9000`.",
    ),
    th.Property("s3_region", th.StringType, description="S3 region."),
    th.Property(
        "s3_access_key_id",
        th.StringType,
        secret=True,
        description="S3 access key id (default: the AWS credential chain).",
    ),
    th.Property("s3_secret_access_key", th.StringType, secret=True, description="S3 secret key."),
    th.Property("s3_session_token", th.StringType, secret=True, description="S3 session token."),
).to_dict()


def drop_unsupported_builtins(config_jsonschema: dict[str, t.Any]) -> None:
    """Remove the SDK's built-in settings that this target does not offer."""
    for name in UNSUPPORTED_BUILTIN_SETTINGS:
        config_jsonschema["properties"].pop(name, None)


@dataclass(frozen=True)
class Settings:
    """The settings the target and its sinks read, typed."""

    mode: str
    """`cdc` or `current`."""
    format: str
    """`parquet` or `delta`."""
    compression: str
    """The Parquet compression codec."""
    hard_delete: bool
    """Mode `current`: remove deleted rows instead of flagging them."""
    current_buckets: int
    """Mode `current`: the number of files per table."""
    state_interval_seconds: float
    """How often, at least, every stream is committed and STATE written."""
    compact_min_files: int
    """Small files that trigger a compaction at the end of a run (0: never)."""
    validate_records: bool
    """Whether every record is validated against its JSON schema."""
    add_record_metadata: bool
    """Whether the optional `_sdc_*` landing columns are written too."""
    duckdb_warehouse: bool = True
    """Whether the DuckDB file of views over the lake is kept up to date."""
    duckdb_path: str | None = None
    """Where that file goes (None: below a local destination)."""

    @classmethod
    def from_config(cls, config: Mapping[str, t.Any]) -> Settings:
        """Read the settings from a config that the SDK validated and filled defaults into."""
        return cls(
            mode=str(config["mode"]),
            format=str(config.get("format") or "parquet"),
            compression=str(config["compression"]),
            hard_delete=bool(config["hard_delete"]),
            current_buckets=int(config["current_buckets"]),
            state_interval_seconds=float(config["state_interval_seconds"]),
            compact_min_files=int(config.get("compact_min_files") or 0),
            validate_records=bool(config.get("validate_records", False)),
            add_record_metadata=bool(config.get("add_record_metadata")),
            duckdb_warehouse=bool(config.get("duckdb_warehouse", True)),
            duckdb_path=config.get("duckdb_path") or None,
        )
