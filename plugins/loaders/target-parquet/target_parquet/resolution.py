"""How to read a `cdc` change log as the current state: the recipe the README documents.

Other code (tests, demos) runs this query with DuckDB, so the recipe has one source.
"""

from __future__ import annotations

_CURRENT_QUERY = """\
SELECT * FROM read_parquet('{root}/date=*/*.parquet', hive_partitioning = true,
                           union_by_name = true)
WHERE coalesce(_sdc_table_version, 0) >= (
  SELECT coalesce(max(v), 0) FROM (
    SELECT unnest(activate_versions) AS v FROM read_json_auto('{root}/_manifests/*.json')))
QUALIFY row_number() OVER (PARTITION BY _id ORDER BY _ts DESC,
                           _sdc_table_version DESC NULLS LAST) = 1
  AND NOT _deleted"""


def cdc_current_query(stream_root: str) -> str:
    """The DuckDB query for the current state of one stream's change log.

    Rows older than the stream's last ACTIVATE_VERSION are gone (a completed snapshot
    confirmed everything still there); of the rest, the latest row per `_id` by `_ts` wins,
    and deleted ones are dropped.
    """
    return _CURRENT_QUERY.format(root=stream_root)
