"""The merge rules of mode `current`: how events and ACTIVATE_VERSIONs change stored rows.

Per key, an event replaces the stored row only if its `_ts` is newer (equal or older
events are late or replayed and ignored; at equal `_ts` a higher table version wins, so
a re-snapshot confirms the rows it still holds). A delete keeps the row with its last-known
values and sets `_deleted`/`_deleted_at`, or removes it with `hard_delete`, remembering
a tombstone so that late events cannot resurrect it. `ACTIVATE_VERSION(v)` retires rows
whose `_sdc_table_version` is below v (or null) the same way. Streams without `_ts`
order by arrival.

These rules are kept apart from `current.py`, which decides which rows to merge (buckets)
and how a result is published (generations and the pointer).
"""

from __future__ import annotations

import typing as t

import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type hints
import pyarrow.compute as pc  # type: ignore[import-untyped]  # pyarrow ships no type hints

from target_parquet.landing import (
    BATCHED_AT,
    DELETED,
    DELETED_AT,
    LANDING_KINDS,
    LOAD_ID,
    SDC_DELETED_AT,
    TABLE_VERSION,
)
from target_parquet.resolution import LATEST_FIRST, first_per_key
from target_parquet.types import TIMESTAMP

if t.TYPE_CHECKING:
    import datetime as dt

_TOMB_TS = "__tomb_ts"
_SRC, _ROW = "__src", "__row"
_ORDER, _CARRIER = "__order", "__carrier"
#: Columns that describe the event rather than the document: a soft delete takes these
#: from the delete event and every other column from the last row that had values.
_EVENT_COLUMNS = {"_ts", SDC_DELETED_AT, *LANDING_KINDS}


class Merge:
    """Applies events and activations to in-memory tables (see the module docstring).

    One merge serves a whole publication (every bucket it rewrites): `load_id` and `at`
    stamp the rows it retires, and `tombstones` (hard_delete) collects the removed keys.
    """

    def __init__(
        self,
        keys: list[str],
        *,
        hard_delete: bool,
        load_id: str,
        at: dt.datetime,
        tombstones: pa.Table | None,
    ) -> None:
        self.keys = keys
        self.hard_delete = hard_delete
        self.load_id = load_id
        self.at = at
        self.tombstones = tombstones

    def apply(self, stored: pa.Table | None, events: pa.Table) -> pa.Table:
        """Merge events into the stored rows: per key, the newest wins (in key order).

        The order is decided on the few columns that decide it, and whole rows are copied
        once, when the result is taken: the inputs and the result are in memory at once,
        not also sorted and filtered copies of everything.
        """
        has_ts = "_ts" in events.column_names
        if has_ts and self.tombstones is not None:
            events = self._drop_buried(events)
        if stored is None:
            stored = events.slice(0, 0)
        combined = pa.concat_tables([_tag(stored, 0), _tag(events, 1)], promote_options="default")
        combined = combined.append_column(_ROW, pa.array(range(combined.num_rows), pa.int64()))
        # Equal `_ts`: a newer table version wins (a re-snapshot confirms the row), then
        # the stored row (a replay changes nothing). Without `_ts` the later arrival wins.
        order = [(key, "ascending") for key in self.keys]
        if has_ts:
            order += [*LATEST_FIRST, (_SRC, "ascending")]
        else:
            order += [(_SRC, "descending")]
        deciding = [name for name, _ in order]
        if "_ts" in combined.column_names:
            deciding.append("_ts")
        ranked = combined.select(list(dict.fromkeys([*deciding, DELETED, _ROW])))
        ranked = ranked.take(pc.sort_indices(ranked, sort_keys=[*order, (_ROW, "descending")]))
        winners = ranked.filter(first_per_key(ranked, self.keys))
        if self.hard_delete:
            dead = winners[DELETED]
            if "_ts" in winners.column_names:
                self._remember(winners.filter(dead))
            result = combined.take(winners.filter(pc.invert(dead))[_ROW])
        else:
            fresh_delete = pc.and_(winners[DELETED], pc.equal(winners[_SRC], 1))
            if not pc.any(fresh_delete).as_py():
                result = combined.take(winners[_ROW])
            else:
                carriers = ranked.filter(
                    pc.or_(pc.equal(ranked[_SRC], 0), pc.invert(ranked[DELETED]))
                )
                carriers = carriers.filter(first_per_key(carriers, self.keys))
                deletes = _keep_last_values(
                    combined.take(winners.filter(fresh_delete)[_ROW]),
                    combined,
                    carriers.select([*self.keys, _ROW]),
                    self.keys,
                )
                # Each winner's row: its own, or (for a fresh delete) the delete built above.
                slots = pc.add(
                    pc.subtract(pc.cumulative_sum(fresh_delete.cast(pa.int64())), 1),
                    combined.num_rows,
                )
                rows = pa.concat_tables([combined, deletes], promote_options="default")
                result = rows.take(pc.if_else(fresh_delete, slots, winners[_ROW]))
        return result.drop_columns([_SRC, _ROW])

    def run(
        self, stored: pa.Table | None, events: pa.Table, activations: list[tuple[int, int]]
    ) -> pa.Table:
        """Apply events in order, each ACTIVATE_VERSION after the events before its position."""
        start = 0
        for position, version in [*activations, (events.num_rows, None)]:
            stored = self.apply(stored, events.slice(start, position - start))
            start = position
            if version is not None:
                stored = self.retire(stored, version)
        return stored

    def retire(self, table: pa.Table, version: int) -> pa.Table:
        """Retire rows of versions older than `version` (ACTIVATE_VERSION)."""
        old = pc.and_(
            pc.or_kleene(pc.is_null(table[TABLE_VERSION]), pc.less(table[TABLE_VERSION], version)),
            pc.invert(table[DELETED]),
        )
        if self.hard_delete:
            return self._bury(table, old)
        changes = {
            DELETED: pa.scalar(True),
            DELETED_AT: pa.scalar(self.at, TIMESTAMP),
            BATCHED_AT: pa.scalar(self.at, TIMESTAMP),
            LOAD_ID: pa.scalar(self.load_id),
        }
        for name, value in changes.items():
            index = table.column_names.index(name)
            table = table.set_column(index, name, pc.if_else(old, value, table[name]))
        return table

    def _bury(self, table: pa.Table, condemned: pa.ChunkedArray) -> pa.Table:
        """Remove condemned rows (hard delete), remembering their keys and `_ts`."""
        if "_ts" in table.column_names:
            self._remember(table.filter(condemned))
        return table.filter(pc.invert(condemned))

    def _remember(self, dead: pa.Table) -> None:
        """Keep the newest `_ts` of each removed key, so late events cannot resurrect it."""
        dead = dead.select([*self.keys, "_ts"]).rename_columns([*self.keys, _TOMB_TS])
        known = [dead] if self.tombstones is None else [self.tombstones, dead]
        self.tombstones = (
            pa.concat_tables(known, promote_options="default")
            .group_by(self.keys, use_threads=False)
            .aggregate([(_TOMB_TS, "max")])
            .rename_columns([*self.keys, _TOMB_TS])
        )

    def _drop_buried(self, events: pa.Table) -> pa.Table:
        """Drop events not newer than the tombstone of their key."""
        rows = events.select([*self.keys, "_ts"]).append_column(
            _ROW, pa.array(range(events.num_rows), pa.int64())
        )
        joined = rows.join(self.tombstones, keys=self.keys, join_type="left outer")
        alive = pc.or_kleene(
            pc.is_null(joined[_TOMB_TS]), pc.greater(joined["_ts"], joined[_TOMB_TS])
        )
        kept = joined.filter(alive)[_ROW]
        return events.take(kept.take(pc.sort_indices(kept)))


def _tag(table: pa.Table, source: int) -> pa.Table:
    return table.append_column(_SRC, pa.array([source] * table.num_rows, pa.int8()))


def with_delete_columns(table: pa.Table, at: dt.datetime) -> pa.Table:
    """Add `_deleted` (non-null) and `_deleted_at` to incoming events."""
    deleted = pa.array([False] * table.num_rows, pa.bool_())
    if DELETED in table.column_names:
        if pa.types.is_boolean(table.schema.field(DELETED).type):
            deleted = pc.fill_null(table[DELETED], False)
        table = table.drop_columns([DELETED])
    at_scalar = pa.scalar(at, TIMESTAMP)
    deleted_at = at_scalar
    if SDC_DELETED_AT in table.column_names:
        marked_at = table[SDC_DELETED_AT]
        deleted = pc.or_(deleted, pc.is_valid(marked_at))
        if marked_at.type == TIMESTAMP:
            deleted_at = pc.coalesce(marked_at, at_scalar)
    deleted_at = pc.if_else(deleted, deleted_at, pa.scalar(None, TIMESTAMP))
    table = table.append_column(pa.field(DELETED, pa.bool_(), nullable=False), deleted)
    return table.append_column(pa.field(DELETED_AT, TIMESTAMP), deleted_at.cast(TIMESTAMP))


def _keep_last_values(
    deletes: pa.Table, rows: pa.Table, carriers: pa.Table, keys: list[str]
) -> pa.Table:
    """Soft deletes: event columns from the delete, the rest from the last known row.

    `carriers` holds the keys and row numbers (in `rows`) of each key's last known values;
    the deletes keep their order.
    """
    event = [name for name in deletes.column_names if name in _EVENT_COLUMNS or name in keys]
    event += [_SRC, _ROW]
    values = [name for name in deletes.column_names if name not in event]
    found = (
        deletes.select(keys)
        .append_column(_ORDER, pa.array(range(deletes.num_rows), pa.int64()))
        .join(carriers.rename_columns([*keys, _CARRIER]), keys=keys, join_type="left outer")
    )
    found = found.take(pc.sort_indices(found[_ORDER]))
    carried = rows.select(values).take(found[_CARRIER])
    table = deletes.select(event)
    for name in values:
        table = table.append_column(pa.field(name, carried.schema.field(name).type), carried[name])
    return table.select(deletes.column_names)
