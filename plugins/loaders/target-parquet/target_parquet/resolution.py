"""How a `cdc` change log reads as the current state: the rules, in one place.

Which of a key's rows is the latest (`LATEST_FIRST`) decides everything else: the current
state is the latest row of each `_id` unless it is a delete; `current` mode merges by the
same order; retirement rows (`retirement.py`) are placed by it. The DuckDB recipe that the
README documents is written here from the same rule, so tests and demos run one recipe.
"""

from __future__ import annotations

import typing as t

import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type hints
import pyarrow.compute as pc  # type: ignore[import-untyped]  # pyarrow ships no type hints

from target_parquet.landing import TABLE_VERSION

if t.TYPE_CHECKING:
    from collections.abc import Sequence

#: Of two rows of one key, the latest is the one with the newer `_ts`; at equal `_ts`, the
#: one with the higher table version (a re-snapshot confirms a row). Nulls come last.
LATEST_FIRST: list[tuple[str, t.Literal["descending"]]] = [
    ("_ts", "descending"),
    (TABLE_VERSION, "descending"),
]

_PARQUET_SCAN = """read_parquet('{root}/date=*/*.parquet', hive_partitioning = true,
                           union_by_name = true)"""

_CURRENT_QUERY = """\
SELECT * FROM {scan}
QUALIFY row_number() OVER (PARTITION BY _id ORDER BY {order}) = 1
  AND NOT _deleted"""


def current_query(scan: str) -> str:
    """The DuckDB query for the current state of the change log that `scan` reads.

    The latest row of each `_id` (by `LATEST_FIRST`) wins, and deletes are dropped:
    re-syncs are in the rows (retirement rows), so nothing else is read.
    """
    order = ", ".join(f"{name} DESC NULLS LAST" for name, _ in LATEST_FIRST)
    return _CURRENT_QUERY.format(scan=scan, order=order)


def cdc_current_query(stream_root: str) -> str:
    """The current-state query over one stream's Parquet change log (its files by glob)."""
    return current_query(_PARQUET_SCAN.format(root=stream_root))


def delta_current_query(files: Sequence[str]) -> str:
    """The current-state query over a Delta change log's data files.

    `files` are the table's live files (`deltalake.DeltaTable(uri).file_uris()`): DuckDB
    reads them as Parquet, without its `delta` extension.
    """
    listed = ", ".join("'" + path.replace("'", "''") + "'" for path in files)
    return current_query(f"read_parquet([{listed}], union_by_name = true)")


def latest_per_key(table: pa.Table, keys: Sequence[str] = ("_id",)) -> pa.Table:
    """The latest row of each key (by `LATEST_FIRST`), in key order."""
    order = [(key, "ascending") for key in keys] + LATEST_FIRST
    ranked = table.take(pc.sort_indices(table, sort_keys=order))  # nulls at the end
    return ranked.filter(first_per_key(ranked, keys))


def first_per_key(table: pa.Table, keys: Sequence[str]) -> pa.Array:
    """Mask of the first row of each run of equal keys in a key-sorted table."""
    if table.num_rows == 0:
        return pa.array([], pa.bool_())
    changed = pa.array([False] * (table.num_rows - 1), pa.bool_())
    for key in keys:
        column = table[key].combine_chunks()
        changed = pc.or_(changed, pc.not_equal(column[1:], column[:-1]))
    return pa.concat_arrays([pa.array([True]), changed])


_SPARK_CURRENT = """\
SELECT * EXCEPT (_row) FROM (
  SELECT *, row_number() OVER (PARTITION BY _id ORDER BY {order}) AS _row FROM {view})
WHERE _row = 1 AND NOT _deleted"""

_SPARK_HISTORY = """\
WITH changes AS (
  SELECT * EXCEPT (_copy) FROM (
    SELECT *, row_number() OVER (PARTITION BY _id, _ts ORDER BY {order}) AS _copy
    FROM {view})
  WHERE _copy = 1),
timeline AS (
  SELECT *, lead(_ts) OVER (PARTITION BY _id ORDER BY _ts) AS _next_ts,
            lead(_deleted) OVER (PARTITION BY _id ORDER BY _ts) AS _next_deleted
  FROM changes)
SELECT * EXCEPT (_next_ts, _next_deleted, _deleted),
       timestamp_micros(div(_ts, 1000)) AS _valid_from,
       timestamp_micros(div(_next_ts, 1000)) AS _valid_to,
       _next_ts IS NULL AS _is_current,
       coalesce(_next_deleted, false) AS _deleted,
       _ts AS _valid_from_ts,
       _next_ts AS _valid_to_ts
FROM timeline
WHERE NOT _deleted"""


def spark_current_sql(view: str) -> str:
    """Spark SQL for the current state of the change log registered as `view`.

    The same rule as `current_query` (and as AUTO CDC with `KEYS (_id)`, `SEQUENCE BY _ts`,
    `APPLY AS DELETE WHEN _deleted`, SCD type 1).
    """
    order = ", ".join(f"{name} DESC NULLS LAST" for name, _ in LATEST_FIRST)
    return _SPARK_CURRENT.format(view=view, order=order)


def spark_history_sql(view: str) -> str:
    """Spark SQL for every version of every document (SCD type 2) of the change log `view`.

    A version lasts from its change (`_valid_from`, commit time; `_valid_from_ts` in ns) to
    the next change of its `_id` (`_valid_to`, null while current); a delete or a re-sync's
    retirement row ends the last version (`_deleted` true) and leaves no current one. A change
    landed twice (a re-snapshot re-reads a document) counts once.
    """
    order = ", ".join(f"{name} DESC NULLS LAST" for name, _ in LATEST_FIRST)
    return _SPARK_HISTORY.format(view=view, order=order)
