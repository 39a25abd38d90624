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

_SCAN = """read_parquet('{root}/date=*/*.parquet', hive_partitioning = true,
                           union_by_name = true)"""

_CURRENT_QUERY = """\
SELECT * FROM {scan}
WHERE coalesce(_sdc_table_version, 0) >= (
  SELECT coalesce(max(v), 0) FROM (
    SELECT unnest(activate_versions) AS v FROM read_json_auto('{root}/_manifests/*.json')))
QUALIFY row_number() OVER (PARTITION BY _id ORDER BY {order}) = 1
  AND NOT _deleted"""


def _sql_order() -> str:
    return ", ".join(f"{name} DESC NULLS LAST" for name, _ in LATEST_FIRST)


def cdc_current_query(stream_root: str) -> str:
    """The DuckDB query for the current state of one stream's Parquet change log.

    Rows older than the stream's last ACTIVATE_VERSION are gone (a completed snapshot
    confirmed everything still there); of the rest, the latest row per `_id` wins, and
    deleted ones are dropped.
    """
    return _CURRENT_QUERY.format(
        scan=_SCAN.format(root=stream_root), root=stream_root, order=_sql_order()
    )


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
