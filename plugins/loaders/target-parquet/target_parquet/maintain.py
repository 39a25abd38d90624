"""`target-parquet-maintain`: compact and vacuum the tables that a target configuration writes.

    target-parquet-maintain --config target.json [--stream NAME ...] [--optimize]
                            [--min-files N] [--vacuum-hours H]

(or ``python -m target_parquet.maintain ...``). It reads the target's own config file:
`destination_path`, `format`, `mode`, `compression`, the `duckdb_*` and the `s3_*` settings.

Format `delta`: `--optimize` runs OPTIMIZE (compact) on every table with at least
`--min-files` (default 2) small files; `--vacuum-hours H` runs VACUUM with a retention of
H hours: data files that no table version of the last H hours uses are deleted, and time
travel further back ends (Delta's own default is 168 hours; this command applies the H it
is given). Format `parquet`, mode `cdc`: `--optimize` compacts each day with at least
`--min-files` small files, as `compact_min_files` does at the end of a run; opening the
log deletes what earlier compactions replaced, which is Parquet's vacuum. Parquet
`current` tables prune their own generations.

Run it while no target writes the same streams. OPTIMIZE and VACUUM do not move the
target's application transaction, so the next run of the target goes on as usual. Prints
one JSON line per stream. Then it rewrites the DuckDB warehouse's views of the Delta tables
it touched (`duckdb_warehouse`, `duckdb_path`), whose files changed.
"""

from __future__ import annotations

import argparse
import json
import sys
import typing as t
from pathlib import Path

from target_parquet.delta_table import DeltaStream
from target_parquet.landing import Destination
from target_parquet.parquet_log import ParquetLog
from target_parquet.storage import LoadIds, Storage
from target_parquet.warehouse import warehouse_for

if t.TYPE_CHECKING:
    from target_parquet.landing import Scan


def main(argv: list[str] | None = None) -> int:
    """Maintain every stream (or the named ones) of a destination; see the module docstring."""
    parser = argparse.ArgumentParser(
        prog="target-parquet-maintain", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--config", type=Path, required=True, help="the target's config file")
    parser.add_argument("--stream", action="append", help="a stream to maintain (default: all)")
    parser.add_argument("--optimize", action="store_true", help="compact small files")
    parser.add_argument("--min-files", type=int, default=2, help="small files worth compacting")
    parser.add_argument("--vacuum-hours", type=float, help="Delta: VACUUM with this retention")
    args = parser.parse_args(argv)
    config = json.loads(args.config.read_text())
    storage = Storage.from_config(config)
    destination = Destination(storage, LoadIds(), str(config.get("compression") or "zstd"))
    fmt = config.get("format") or "parquet"
    listed = storage.directories("")
    streams = args.stream or [name for name in listed if not name.startswith(("_", "."))]
    scans: dict[str, Scan | None] = {}
    for stream in streams:
        report: dict[str, object] = {"stream": stream, "format": fmt}
        if fmt == "delta":
            table = DeltaStream(destination, stream)
            if table.table is None:
                report["skipped"] = "not a Delta table"
            else:
                before = table.files()
                if args.optimize:
                    table.compact(args.min_files)
                report["files"] = {"before": before, "after": table.files()}
                if args.vacuum_hours is not None:
                    report["vacuumed_files"] = len(table.vacuum(args.vacuum_hours))
                scans[stream] = table.scan(change_log=(config.get("mode") or "cdc") == "cdc")
        elif (config.get("mode") or "cdc") == "cdc":
            log = ParquetLog(destination, stream)
            before = len(log.landed())
            if args.optimize:
                log.compact(args.min_files)
            report["files"] = {"before": before, "after": len(log.landed())}
        print(json.dumps(report))
    warehouse = warehouse_for(
        storage,
        enabled=bool(config.get("duckdb_warehouse", True)),
        path=config.get("duckdb_path"),
    )
    if warehouse is not None:  # OPTIMIZE and VACUUM change a Delta table's files
        warehouse.refresh(scans)
    return 0


if __name__ == "__main__":
    sys.exit(main())
