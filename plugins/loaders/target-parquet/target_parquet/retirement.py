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
import pyarrow.dataset as pads  # type: ignore[import-untyped]  # pyarrow ships no type hints

from target_parquet.landing import DELETED, RETIRED, SDC_DELETED_AT, TABLE_VERSION
from target_parquet.resolution import latest_per_key
from target_parquet.types import TIMESTAMP

if t.TYPE_CHECKING:
    from collections.abc import Callable, Iterable

#: What deciding retirements reads of each row; the carried ones are copied into them.
DECIDING = ("_id", "_ts", TABLE_VERSION, DELETED)
CARRIED = ("_component", "_table")

#: Reads the log's committed rows that match a filter, with the columns of a schema.
Reader: t.TypeAlias = "Callable[[pa.Schema, pads.Expression], Iterable[pa.Table]]"


def can_retire(schema: pa.Schema) -> bool:
    """Retirement rows need `_id`, an integer `_ts` and a boolean `_deleted`."""
    names = schema.names
    return (
        all(name in names for name in DECIDING)
        and pa.types.is_int64(schema.field("_ts").type)
        and pa.types.is_boolean(schema.field(DELETED).type)
    )


class Retirements:
    """Decides which documents each ACTIVATE_VERSION of one commit retires.

    Only rows of older versions can be retired, so those are read first (row groups whose
    statistics rule them out are skipped: a log that a re-sync retires nothing from costs
    next to nothing); then, for the `_id`s whose latest such row is not a delete, the rows
    of newer versions, which may have replaced them.
    """

    def __init__(self, read: Reader, schema: pa.Schema) -> None:
        names = [name for name in (*DECIDING, *CARRIED) if name in schema.names]
        self._schema = pa.schema([schema.field(name).with_nullable(True) for name in names])
        self._read = read
        self._new: list[pa.Table] = []

    def add(self, rows: pa.Table) -> None:
        """Rows of the commit that come before the next ACTIVATE_VERSION."""
        self._new.append(rows.select(self._schema.names).cast(self._schema))

    def retire(self, version: int, schema: pa.Schema) -> pa.Table:
        """The retirement rows of ACTIVATE_VERSION(`version`), in `schema` (see above).

        They count as rows of the commit for the ACTIVATE_VERSIONs after this one.
        """
        older = _older(version)
        candidates = latest_per_key(self._rows(older))
        candidates = candidates.filter(pc.invert(pc.fill_null(candidates[DELETED], False)))
        if candidates.num_rows:
            ids = pads.field("_id").cast(self._schema.field("_id").type)
            newer = self._rows(~older & ids.isin(candidates["_id"]))
            if newer.num_rows:
                latest = latest_per_key(pa.concat_tables([candidates, newer]))
                candidates = latest.filter(older)
        retired = _retirement_rows(candidates, version, schema)
        self.add(retired)
        return retired

    def _rows(self, where: pads.Expression) -> pa.Table:
        """The committed rows and the commit's own that match `where`."""
        tables = [*self._read(self._schema, where), *(rows.filter(where) for rows in self._new)]
        return pa.concat_tables([self._schema.empty_table(), *tables])


def _older(version: int) -> pads.Expression:
    field = pads.field(TABLE_VERSION)
    return field.is_null() | (field < version)


def _retirement_rows(gone: pa.Table, version: int, schema: pa.Schema) -> pa.Table:
    """One retirement row per row of `gone`, in `schema`."""
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
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))
