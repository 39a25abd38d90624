"""A re-sync in the rows of a `cdc` log: a delete row for every document it retired.

ACTIVATE_VERSION(v) says that a completed snapshot under table version v holds every live
document: a document whose latest row has an older version (or none) and is not a delete
is gone. The log says so in its own rows, so that a reader needs nothing but the table:
after every row that came before the ACTIVATE_VERSION, it gets one *retirement row* per
such `_id`:

============================  =====================================================
column                        value
============================  =====================================================
`_id`, `_component`, `_table`  those of the retired document's latest row
`_ts`                         ``max(v, latest _ts)``
`_deleted`                    true
`_sdc_deleted_at`             that `_ts` as a time (µs), if the column is a timestamp
`_sdc_table_version`          v
`_sdc_retired`                true (false on every other row)
anything else                 null
============================  =====================================================

tap-convex table versions are snapshot timestamps in ns: every change after the snapshot
has a `_ts` above v, and a retired document's last change one below it, so under "the
latest row per `_id` (`resolution.LATEST_FIRST`), unless it is a delete" the retirement
row sits exactly where the document disappeared. Where versions are not timestamps (v
below the latest `_ts`), the row takes the latest `_ts` and wins by its higher version.
A replayed ACTIVATE_VERSION adds nothing: the retired documents' latest rows are now
deletes.
"""

from __future__ import annotations

import typing as t

import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type hints
import pyarrow.compute as pc  # type: ignore[import-untyped]  # pyarrow ships no type hints

from target_parquet.landing import DELETED, RETIRED, SDC_DELETED_AT, TABLE_VERSION
from target_parquet.resolution import latest_per_key
from target_parquet.types import TIMESTAMP

if t.TYPE_CHECKING:
    from collections.abc import Iterable

#: What deciding retirements reads of each row; the carried ones are copied into them.
DECIDING = ("_id", "_ts", TABLE_VERSION, DELETED)
CARRIED = ("_component", "_table")
#: Rows gathered before the latest row of each `_id` is taken again (bounds the sorts).
_FOLD_ROWS = 1_000_000


def can_retire(schema: pa.Schema) -> bool:
    """Retirement rows need `_id`, an integer `_ts` and a boolean `_deleted`."""
    names = schema.names
    return (
        all(name in names for name in DECIDING)
        and pa.types.is_int64(schema.field("_ts").type)
        and pa.types.is_boolean(schema.field(DELETED).type)
    )


def state_schema(schema: pa.Schema) -> pa.Schema:
    """The columns of `schema` that deciding and writing retirements reads."""
    names = [name for name in (*DECIDING, *CARRIED) if name in schema.names]
    return pa.schema([schema.field(name).with_nullable(True) for name in names])


class LatestRows:
    """The latest row of each `_id`, gathered from a log's files and then its new rows."""

    def __init__(self, schema: pa.Schema, tables: Iterable[pa.Table]) -> None:
        self._schema = schema
        self._latest = schema.empty_table()
        self._waiting: list[pa.Table] = []
        for table in tables:
            self.add(table)

    def add(self, rows: pa.Table) -> None:
        """Take more rows into account (folded once enough of them wait)."""
        self._waiting.append(rows.select(self._schema.names).cast(self._schema))
        if sum(table.num_rows for table in self._waiting) >= _FOLD_ROWS:
            self._fold()

    def retire(self, version: int, schema: pa.Schema) -> pa.Table:
        """The retirement rows of ACTIVATE_VERSION(`version`), in `schema` (see above).

        They count as rows already seen for later calls.
        """
        self._fold()
        latest = self._latest
        old = pc.and_(
            pc.less(pc.fill_null(latest[TABLE_VERSION], -1), version),
            pc.invert(pc.fill_null(latest[DELETED], False)),
        )
        gone = latest.filter(old)
        rows = gone.num_rows
        ts = pc.max_element_wise(gone["_ts"], pa.scalar(version, pa.int64()))
        values = {
            "_ts": ts,
            DELETED: pa.array([True] * rows, pa.bool_()),
            TABLE_VERSION: pa.array([version] * rows, pa.int64()),
            RETIRED: pa.array([True] * rows, pa.bool_()),
            SDC_DELETED_AT: pc.divide(ts, 1000).cast(pa.int64()).cast(TIMESTAMP),
        }
        arrays = []
        for field in schema:
            if field.name in values and values[field.name].type == field.type:
                arrays.append(values[field.name])
            elif field.name in gone.column_names and field.name not in values:
                arrays.append(gone[field.name].cast(field.type))
            else:
                arrays.append(pa.nulls(rows, field.type))
        fields = [field.with_nullable(True) for field in schema]
        retired = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
        self.add(retired)
        return retired

    def _fold(self) -> None:
        if self._waiting:
            gathered = pa.concat_tables([self._latest, *self._waiting])
            self._latest = latest_per_key(gathered)
            self._waiting = []
