"""Does a materialized history table pay? The `__history` view against a table of its rows.

target-parquet offers history (SCD type 2) as a DuckDB view over the change log. A
`mode: history` that wrote the versions as a table would spare each query the window over
the log, at the price of a second copy of the data and a rewrite of every version a change
closes. This script lands a change log of ``--docs`` documents with ``--versions`` versions
each (one in ten deleted at the end) through ``target-parquet``, then times, in one DuckDB
process, the queries history is for, over the view and over the same rows written once as a
Parquet table:

* the versions as of a time (point in time);
* one document's versions;
* every version counted (a full pass).

Run from the repository root (the tap's venv has the target and DuckDB)::

    .venv/bin/python benchmarks/history_views.py --docs 200000 --versions 5

Work goes to ``benchmarks/out/history/`` (git-ignored), replaced on each run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import duckdb

REPO_ROOT = Path(__file__).resolve().parent.parent
WORK = REPO_ROOT / "benchmarks" / "out" / "history"
TARGET = Path(sys.executable).parent / "target-parquet"
START_NS = 1_750_000_000_000_000_000
STEP_NS = 1_000_000  # 1 ms between commits
PROPERTIES = {
    "_id": {"type": "string"},
    "_ts": {"type": "integer"},
    "_deleted": {"type": "boolean"},
    "_component": {"type": "string"},
    "_table": {"type": "string"},
    "name": {"type": ["string", "null"]},
    "likes": {"type": ["integer", "null"]},
    "profile": {"type": ["object", "null"]},
}


def singer_input(path: Path, docs: int, versions: int) -> int:
    """Write the Singer messages: every document's versions, round by round. Returns rows."""
    rows = 0
    ts = START_NS
    with path.open("w") as out:
        schema = {"type": "object", "properties": PROPERTIES}
        out.write(
            json.dumps(
                {"type": "SCHEMA", "stream": "t", "schema": schema, "key_properties": ["_id"]}
            )
            + "\n"
        )
        for version in range(versions):
            for doc in range(docs):
                ts += STEP_NS
                fields = {
                    "name": f"v{version}",
                    "likes": 2**60 + version,
                    "profile": {"v": version},
                }
                out.write(record_line(doc, ts, deleted=False, **fields))
                rows += 1
            out.write(json.dumps({"type": "STATE", "value": {"round": version}}) + "\n")
        for doc in range(0, docs, 10):
            ts += STEP_NS
            out.write(record_line(doc, ts, deleted=True))
            rows += 1
        out.write(json.dumps({"type": "STATE", "value": {"round": "deletes"}}) + "\n")
    return rows


def record_line(doc: int, ts: int, *, deleted: bool, **fields: object) -> str:
    """One RECORD message: a version of document `doc`, or its delete."""
    record = {
        "_id": f"doc{doc:08d}",
        "_ts": ts,
        "_deleted": deleted,
        "_component": "",
        "_table": "t",
        **fields,
    }
    return json.dumps({"type": "RECORD", "stream": "t", "record": record}) + "\n"


def timed(connection: duckdb.DuckDBPyConnection, sql: str, repeat: int) -> tuple[float, object]:
    """Median seconds of `repeat` runs of a query, and its result."""
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = connection.execute(sql).fetchall()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--docs", type=int, default=200_000)
    parser.add_argument("--versions", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    lake = WORK / "lake"
    (WORK / "config.json").write_text(json.dumps({"destination_path": str(lake)}))
    rows = singer_input(WORK / "input.jsonl", args.docs, args.versions)
    with (WORK / "input.jsonl").open("rb") as stdin:
        subprocess.run(
            [str(TARGET), "--config", str(WORK / "config.json")],
            stdin=stdin,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=True,
        )

    connection = duckdb.connect(str(lake / "warehouse.duckdb"), read_only=True)
    middle = START_NS + (args.docs * args.versions // 2) * STEP_NS
    probe = f"doc{args.docs // 2:08d}"
    started = time.perf_counter()
    materialized = WORK / "history.parquet"
    connection.execute(f"COPY (FROM t__history) TO '{materialized}' (FORMAT parquet)")
    write_s = time.perf_counter() - started
    queries = {
        "as of a time": "SELECT count(*), sum(likes) FROM {h} WHERE _valid_from_ts <= {m} "
        "AND ({m} < _valid_to_ts OR _valid_to_ts IS NULL)",
        "one document": "SELECT _valid_from_ts, name FROM {h} WHERE _id = '{p}' ORDER BY 1",
        "full pass": "SELECT count(*), count(*) FILTER (WHERE _is_current) FROM {h}",
    }
    print(
        f"change log: {rows:,} rows ({args.docs:,} documents x {args.versions} versions, "
        f"{args.docs // 10:,} deletes); materializing the history took {write_s:.2f} s"
    )
    print("| query | view s | table s | view / table |\n|---|---:|---:|---:|")
    for name, template in queries.items():
        view_s, view_result = timed(
            connection, template.format(h="t__history", m=middle, p=probe), args.repeat
        )
        table_s, table_result = timed(
            connection, template.format(h=f"'{materialized}'", m=middle, p=probe), args.repeat
        )
        assert view_result == table_result, (name, view_result, table_result)
        print(f"| {name} | {view_s:.3f} | {table_s:.3f} | {view_s / table_s:.1f}x |")


if __name__ == "__main__":
    main()
