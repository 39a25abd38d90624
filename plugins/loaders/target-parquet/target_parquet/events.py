"""Mode `current`, either format: batches staged until a checkpoint, then one table of events.

A `current` table takes batches as they commit and merges them only when it publishes
(`merge.py` says how); this is what both formats share in between: the key check, the
columns the staged batches bring, and the events of every staged batch as one table, in
arrival order, with the positions of their ACTIVATE_VERSIONs.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type hints

from target_parquet.errors import TargetError
from target_parquet.landing import DELETED, DELETED_AT, LANDING_KINDS, STAMPED_KINDS, stamp
from target_parquet.merge import with_delete_columns
from target_parquet.types import convert_table

if t.TYPE_CHECKING:
    import datetime as dt

    from target_parquet.landing import Batch


@dataclass(frozen=True)
class Events:
    """The staged events, ready to merge."""

    table: pa.Table
    """Every staged row in arrival order, stamped, with `_deleted` and `_deleted_at`."""
    columns: dict[str, str]
    """The table's columns from now on (published ones, staged ones, landing ones)."""
    keys: list[str]
    activations: list[tuple[int, int]]
    """(position among the events, version) of each ACTIVATE_VERSION."""


class Staging:
    """The batches of one stream that wait for the next publication."""

    def __init__(self, stream: str, columns: dict[str, str]) -> None:
        self._stream = stream
        self._batches: list[Batch] = []
        self.columns = columns
        """The published columns and those of the staged batches, with their kinds."""

    def __bool__(self) -> bool:
        return bool(self._batches)

    def add(self, batch: Batch) -> None:
        """Stage a batch (it must have a key to merge by)."""
        keys = keys_of(batch)
        missing = [key for key in keys if key not in batch.table.column_names]
        if not keys or missing:
            raise TargetError(
                f"stream '{self._stream}': mode 'current' needs `_id` or key properties "
                f"present in the schema (missing: {missing or 'no key'})"
            )
        self._batches.append(batch)
        self.columns = {**self.columns, **batch.kinds}

    def take(self, published: dict[str, str], load_id: str, at: dt.datetime) -> Events:
        """Every staged batch as one table of events in today's column kinds, and unstage them.

        `published` are the columns of the table the events will merge into.
        """
        staged, self._batches = self._batches, []
        columns = dict(published)
        for batch in staged:
            columns.update(batch.kinds)
        columns.update(STAMPED_KINDS)
        columns[DELETED] = LANDING_KINDS[DELETED]
        columns[DELETED_AT] = LANDING_KINDS[DELETED_AT]
        events = pa.concat_tables(
            [convert_table(batch.table, batch.kinds, columns) for batch in staged],
            promote_options="default",
        )
        activations: list[tuple[int, int]] = []
        offset = 0
        for batch in staged:
            activations += [(offset + position, version) for position, version in batch.activations]
            offset += batch.table.num_rows
        return Events(
            with_delete_columns(stamp(events, load_id, at), at),
            columns,
            keys_of(staged[-1]),
            activations,
        )


def keys_of(batch: Batch) -> list[str]:
    """What a `current` table is keyed by: `_id`, else the stream's key properties."""
    return ["_id"] if "_id" in batch.table.column_names else list(batch.key_properties)
