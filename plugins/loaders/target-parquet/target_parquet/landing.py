"""What the sink and the landing modes share.

The batch a sink hands over, the destination every mode writes to, the protocol a mode
follows, and the landing columns that every landed row carries.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type hints
import pyarrow.compute as pc  # type: ignore[import-untyped]  # pyarrow ships no type hints

from target_parquet.errors import TargetError
from target_parquet.types import TIMESTAMP

if t.TYPE_CHECKING:
    import datetime as dt

    from target_parquet.storage import LoadIds, Storage

EXTRACTED_AT = "_sdc_extracted_at"
BATCHED_AT = "_sdc_batched_at"
TABLE_VERSION = "_sdc_table_version"
LOAD_ID = "_load_id"
RECEIVED_AT = "_sdc_received_at"
SEQUENCE = "_sdc_sequence"
SYNC_STARTED_AT = "_sdc_sync_started_at"
DELETED = "_deleted"
DELETED_AT = "_deleted_at"
SDC_DELETED_AT = "_sdc_deleted_at"
RETIRED = "_sdc_retired"

#: Names the target fills itself; a SCHEMA property of the same name is ignored.
RESERVED = frozenset(
    {
        EXTRACTED_AT,
        BATCHED_AT,
        TABLE_VERSION,
        LOAD_ID,
        RECEIVED_AT,
        SEQUENCE,
        SYNC_STARTED_AT,
        DELETED_AT,
        RETIRED,
    }
)

#: Kinds of the landing columns, recorded in manifests next to the user columns.
#: `_deleted` and `_deleted_at` are landing columns of mode `current` only, `_sdc_retired`
#: of mode `cdc` only.
LANDING_KINDS = {
    EXTRACTED_AT: "timestamp",
    BATCHED_AT: "timestamp",
    TABLE_VERSION: "integer",
    LOAD_ID: "string",
    RECEIVED_AT: "timestamp",
    SEQUENCE: "integer",
    SYNC_STARTED_AT: "integer",
    DELETED: "boolean",
    DELETED_AT: "timestamp",
    RETIRED: "boolean",
}
STAMPED_KINDS = {BATCHED_AT: LANDING_KINDS[BATCHED_AT], LOAD_ID: LANDING_KINDS[LOAD_ID]}


#: What each format keeps in a stream's directory that the other one does not.
_FORMAT_MARKS = {"parquet": {"_manifests", "current"}, "delta": {"_delta_log"}}


@dataclass(frozen=True)
class Destination:
    """Where and how every landing of a run writes: one root, one clock of load ids."""

    storage: Storage
    load_ids: LoadIds
    compression: str

    def claim(self, stream: str, fmt: str) -> None:
        """Refuse a stream directory that the other format wrote.

        The two do not mix: Delta's VACUUM deletes every file that its log does not list,
        Parquet files included.
        """
        names = set(self.storage.list(stream))
        for other, marks in _FORMAT_MARKS.items():
            if other != fmt and marks & names:
                raise TargetError(
                    f"stream '{stream}': {self.storage.path(stream)} holds a {other} table; "
                    f"format '{fmt}' needs a destination_path of its own"
                )


@dataclass
class Batch:
    """Rows of one stream ready to commit, plus the ACTIVATE_VERSIONs seen among them.

    `activations` holds (row position, version): the version was activated after the
    rows before that position arrived, so modes can apply it in message order.
    """

    table: pa.Table
    kinds: dict[str, str]
    key_properties: list[str]
    activations: list[tuple[int, int]] = field(default_factory=list)


@dataclass(frozen=True)
class Scan:
    """What a reader of one stream reads now: its files, and what kind of table they make."""

    files: tuple[str, ...]
    """Absolute paths of the data files, or of one glob over them."""
    change_log: bool
    """True: every change (mode `cdc`); False: one row per key (mode `current`)."""
    columns: dict[str, str]
    """The landed columns, with their kinds."""
    hive_partitioning: bool = False
    """Whether the paths carry hive partitions (`date=...`) that are columns too."""
    lasting: bool = True
    """Whether the files stay readable through the run's later commits (a glob does; Delta
    keeps files until VACUUM), so that views over them can wait for the end of the run."""


class Landing(t.Protocol):
    """A landing mode for one stream."""

    @property
    def columns(self) -> dict[str, str]:
        """Every column landed so far for the stream, by name, with its (widest) kind."""

    @property
    def unpublished(self) -> bool:
        """Whether batches taken by `commit` still wait for `publish`."""

    def commit(self, batch: Batch) -> None:
        """Take the batch: durable and visible as one unit now, or at the next `publish`."""

    def publish(self) -> None:
        """Make every batch taken so far durable and visible (before STATE is written)."""

    def compact(self, min_files: int) -> None:
        """Merge small files if there are at least `min_files` of them (end of a run)."""

    def scan(self) -> Scan | None:
        """What a reader reads now (published rows only); None before the first commit."""


def stamp(table: pa.Table, load_id: str, batched_at: dt.datetime) -> pa.Table:
    """Add the per-commit lineage columns `_sdc_batched_at` and `_load_id`."""
    rows = table.num_rows
    table = table.append_column(
        pa.field(BATCHED_AT, TIMESTAMP, nullable=False),
        pa.array([batched_at] * rows, TIMESTAMP),
    )
    return table.append_column(
        pa.field(LOAD_ID, pa.string(), nullable=False), pa.array([load_id] * rows, pa.string())
    )


def ts_range(table: pa.Table) -> tuple[int | None, int | None]:
    """Min and max of `_ts`, or (None, None) when the stream has no `_ts`."""
    if "_ts" not in table.column_names or table.num_rows == 0:
        return None, None
    bounds = pc.min_max(table["_ts"]).as_py()
    return bounds["min"], bounds["max"]
