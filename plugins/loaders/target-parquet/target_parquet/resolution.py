"""How a `cdc` change log reads as the current state: the rules, in one place.

Which of a key's rows is the latest (`LATEST_FIRST`) decides everything else: the current
state is the latest row of each `_id` unless it is a delete; `current` mode merges by the
same order; retirement rows (`retirement.py`) are placed by it. The DuckDB recipe that the
README documents is written here from the same rule, so tests and demos run one recipe;
so is the history (SCD type 2): every version of every document, from its change to the
next change of its `_id`, for DuckDB (`history_query`, the warehouse's views) and Spark
(`spark_history_sql`) alike.
"""

from __future__ import annotations

import typing as t

import pyarrow as pa  # type: ignore[import-untyped]  # pyarrow ships no type hints
import pyarrow.compute as pc  # type: ignore[import-untyped]  # pyarrow ships no type hints

from target_parquet.landing import DELETED, TABLE_VERSION, Scan

if t.TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

#: Of two rows of one key, the latest is the one with the newer `_ts`; at equal `_ts`, the
#: one with the higher table version (a re-snapshot confirms a row). Nulls come last.
LATEST_FIRST: list[tuple[str, t.Literal["descending"]]] = [
    ("_ts", "descending"),
    (TABLE_VERSION, "descending"),
]

_CURRENT_QUERY = """\
SELECT * FROM {scan}
QUALIFY row_number() OVER (PARTITION BY _id ORDER BY {order}) = 1
  AND NOT _deleted"""


def current_query(scan: str) -> str:
    """The DuckDB query for the current state of the change log that `scan` reads.

    The latest row of each `_id` (by `LATEST_FIRST`) wins, and deletes are dropped:
    re-syncs are in the rows (retirement rows), so nothing else is read.
    """
    return _CURRENT_QUERY.format(scan=scan, order=_order())


#: History, after a CTE `changes` that keeps one row per (`_id`, `_ts`, `_deleted`). At one
#: `_ts` an upsert comes before a delete (a retirement row that met its document's last
#: change there). The placeholders are the dialect's.
_HISTORY_FROM_CHANGES = """\
timeline AS (
  SELECT *,
         lead(_ts) OVER (PARTITION BY _id ORDER BY _ts, _deleted) AS _next_ts,
         lead(_deleted) OVER (PARTITION BY _id ORDER BY _ts, _deleted) AS _next_deleted
  FROM changes)
SELECT * {exclude} (_next_ts, _next_deleted, _deleted),
       {valid_from} AS _valid_from,
       {valid_to} AS _valid_to,
       _next_ts IS NULL AS _is_current,
       coalesce(_next_deleted, false) AS _deleted,
       _ts AS _valid_from_ts,
       _next_ts AS _valid_to_ts
FROM timeline
WHERE NOT _deleted"""

_DUCKDB_CHANGES = """\
WITH changes AS (
  SELECT * FROM {scan}
  QUALIFY row_number() OVER (PARTITION BY _id, _ts, _deleted ORDER BY {order}) = 1),
"""

_DUCKDB_HISTORY = _DUCKDB_CHANGES + _HISTORY_FROM_CHANGES.format(
    exclude="EXCLUDE",
    valid_from="timezone('UTC', make_timestamp(_ts // 1000))",
    valid_to="timezone('UTC', make_timestamp(_next_ts // 1000))",
)

#: The columns the current-state and history rules read.
RESOLVED_BY = frozenset({"_id", "_ts", DELETED, TABLE_VERSION})


def history_query(scan: str) -> str:
    """The DuckDB query for every version of every document of the change log `scan` reads.

    A version lasts from its change (`_valid_from`, the commit time; `_valid_from_ts`, its
    `_ts` in ns) to the next change of its `_id` (`_valid_to`, `_valid_to_ts`; null while it
    is current, `_is_current`). A delete, or a re-sync's retirement row, ends the last
    version (`_deleted` true) and starts none, so a deleted document has no current version.
    A change landed more than once (a replayed batch, a re-snapshot reading an unchanged
    document again) counts once. Intervals are half-open: a version is the document's state
    at every time t with `_valid_from <= t < _valid_to`.
    """
    return _DUCKDB_HISTORY.format(scan=scan, order=_order())


#: The DuckDB type of each column kind (`types.py`).
DUCKDB_TYPES = {
    "integer": "BIGINT",
    "number": "DOUBLE",
    "boolean": "BOOLEAN",
    "string": "VARCHAR",
    "text": "VARCHAR",
    "json": "JSON",
    "timestamp": "TIMESTAMPTZ",
    "binary": "BLOB",
}


def duckdb_source(scan: Scan) -> str:
    """DuckDB's FROM clause for a landed table: its files, nested values typed JSON.

    A table without files (every row of a `current` table hard-deleted) is an empty
    relation with the table's columns.
    """
    if not scan.files:
        columns = ", ".join(
            f"CAST(NULL AS {DUCKDB_TYPES.get(kind, 'VARCHAR')}) AS {quote_identifier(name)}"
            for name, kind in scan.columns.items()
            if name
        )
        return f"(SELECT {columns} WHERE false)"
    listed = ", ".join(quote_literal(path) for path in scan.files)
    options = "union_by_name = true"
    if scan.hive_partitioning:
        options += ", hive_partitioning = true"
    reader = f"read_parquet([{listed}], {options})"
    nested = [quote_identifier(n) for n, kind in scan.columns.items() if kind == "json" and n]
    if not nested:
        return reader
    casts = ", ".join(f"CAST({name} AS JSON) AS {name}" for name in nested)
    return f"(SELECT * REPLACE ({casts}) FROM {reader})"  # noqa: S608 - all quoted above


def resolvable(columns: Mapping[str, str]) -> bool:
    """Whether a change log has what the current-state and history rules read."""
    return columns.keys() >= RESOLVED_BY


def quote_identifier(name: str) -> str:
    """A SQL identifier for any name (DuckDB, Spark with ANSI quoting, Postgres)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """A SQL string literal for any text."""
    return "'" + text.replace("'", "''") + "'"


def _order() -> str:
    return ", ".join(f"{name} DESC NULLS LAST" for name, _ in LATEST_FIRST)


def parquet_log_scan(stream_root: str, columns: Mapping[str, str] | None = None) -> Scan:
    """A stream's Parquet change log as a reader finds it: every day's files, by glob (new
    commits join it without anything rewritten)."""
    files = (f"{stream_root}/date=*/*.parquet",)
    return Scan(files, change_log=True, columns=dict(columns or {}), hive_partitioning=True)


def cdc_current_query(stream_root: str) -> str:
    """The current-state query over one stream's Parquet change log (its files by glob)."""
    return current_query(duckdb_source(parquet_log_scan(stream_root)))


def delta_current_query(files: Sequence[str]) -> str:
    """The current-state query over a Delta change log's data files.

    `files` are the table's live files (`deltalake.DeltaTable(uri).file_uris()`): DuckDB
    reads them as Parquet, without its `delta` extension.
    """
    return current_query(duckdb_source(Scan(tuple(files), change_log=True, columns={})))


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

_SPARK_CHANGES = """\
WITH changes AS (
  SELECT * EXCEPT (_copy) FROM (
    SELECT *, row_number() OVER (PARTITION BY _id, _ts, _deleted ORDER BY {order}) AS _copy
    FROM {view})
  WHERE _copy = 1),
"""

_SPARK_HISTORY = _SPARK_CHANGES + _HISTORY_FROM_CHANGES.format(
    exclude="EXCEPT",
    valid_from="timestamp_micros(div(_ts, 1000))",
    valid_to="timestamp_micros(div(_next_ts, 1000))",
)


def spark_current_sql(view: str) -> str:
    """Spark SQL for the current state of the change log registered as `view`.

    The same rule as `current_query` (and as AUTO CDC with `KEYS (_id)`, `SEQUENCE BY _ts`,
    `APPLY AS DELETE WHEN _deleted`, SCD type 1).
    """
    return _SPARK_CURRENT.format(view=view, order=_order())


def spark_history_sql(view: str) -> str:
    """Spark SQL for every version of every document (SCD type 2) of the change log `view`.

    The same rule and columns as `history_query`.
    """
    return _SPARK_HISTORY.format(view=view, order=_order())
