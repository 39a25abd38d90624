"""How fast ``target-parquet`` lands Convex-like RECORD messages (local dir, ``cdc`` by default).

The script writes a Singer file first (one SCHEMA, N RECORDs whose records are about
250 bytes of JSON each, about 390 bytes per message with the RECORD envelope,
shaped like tap-convex output: ``_id``, ``_creationTime`` as a date-time string, user
fields of every common type including int64 values beyond 2^53, ``_ts`` in ns,
``_deleted``, ``_component``, ``_table``, ``_sdc_deleted_at``; 1 % are deletes; a STATE
every 10,000 records and an ACTIVATE_VERSION after the first half). Then it times one
``target-parquet --config ... --input FILE`` process from start to exit (Python start-up
included), checks that the committed manifests account for every row (``cdc``), and
prints rows/s. ``--mode current`` times the materialised mode instead; ``--format delta``
lands Delta tables instead of Parquet files (the rows are then counted from the table).

The target needs its own venv (see ``plugins/loaders/target-parquet/README.md``)::

    python3 -m venv plugins/loaders/target-parquet/.venv
    plugins/loaders/target-parquet/.venv/bin/pip install -e 'plugins/loaders/target-parquet[test]'

Run from the repository root::

    plugins/loaders/target-parquet/.venv/bin/python benchmarks/target_throughput.py
    plugins/loaders/target-parquet/.venv/bin/python benchmarks/target_throughput.py \
        --records 1000000 --batch-size-rows 200000
    plugins/loaders/target-parquet/.venv/bin/python benchmarks/target_throughput.py --mode current
    plugins/loaders/target-parquet/.venv/bin/python benchmarks/target_throughput.py --format delta

Input and output go to ``benchmarks/out/target-parquet/`` (git-ignored) and are replaced
on each run.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
TARGET = REPO_ROOT / "plugins/loaders/target-parquet/.venv/bin/target-parquet"
STREAM = "messages"
SCHEMA = {
    "type": "SCHEMA",
    "stream": STREAM,
    "key_properties": ["_id"],
    "bookmark_properties": ["_ts"],
    "schema": {
        "type": "object",
        "properties": {
            "author": {"type": ["string", "null"]},
            "body": {"type": ["string", "null"]},
            "likes": {"type": ["integer", "null"]},
            "score": {"type": ["number", "null"]},
            "pinned": {"type": ["boolean", "null"]},
            "meta": {"type": ["object", "null"]},
            "_id": {"type": "string"},
            "_creationTime": {"type": ["string", "null"], "format": "date-time"},
            "_ts": {"type": "integer"},
            "_deleted": {"type": "boolean"},
            "_component": {"type": "string"},
            "_table": {"type": "string"},
            "_sdc_deleted_at": {"type": ["string", "null"], "format": "date-time"},
        },
    },
}


def generate(path: Path, records: int, seed: int = 7) -> int:
    """Write the Singer input file; returns its size in bytes."""
    rng = random.Random(seed)
    base_ts = 1_786_000_000_000_000_000
    version = base_ts // 1_000_000_000
    extracted = datetime(2026, 8, 10, 10, 21, 41, tzinfo=timezone.utc)
    with path.open("w") as out:
        out.write(json.dumps(SCHEMA) + "\n")
        for n in range(records):
            ts = base_ts + n * 1_000 + rng.randrange(1_000)
            doc_id = f"{rng.getrandbits(128):032x}"
            record: dict = {"_id": doc_id, "_ts": ts, "_component": "", "_table": STREAM}
            if rng.random() < 0.01:
                at = datetime.fromtimestamp(ts / 1e9, timezone.utc).isoformat()
                record.update(_deleted=True, _sdc_deleted_at=at, _creationTime=None)
            else:
                created = extracted - timedelta(seconds=rng.randrange(10**7))
                record.update(
                    _deleted=False,
                    _sdc_deleted_at=None,
                    _creationTime=created.isoformat(),
                    author=f"u{rng.randrange(10_000)}",
                    body=rng.choice(["hi", "ok", "lgtm", "ship it"]),
                    likes=rng.choice([rng.randrange(1000), rng.randrange(2**62)]),
                    score=round(rng.random() * 100, 3),
                    pinned=rng.random() < 0.1,
                    meta={"n": rng.randrange(100)},
                )
            message = {
                "type": "RECORD",
                "stream": STREAM,
                "record": record,
                "version": version,
                "time_extracted": extracted.isoformat().replace("+00:00", "Z"),
            }
            out.write(json.dumps(message, separators=(",", ":")) + "\n")
            if n == records // 2:
                out.write(
                    json.dumps({"type": "ACTIVATE_VERSION", "stream": STREAM, "version": version})
                    + "\n"
                )
            if (n + 1) % 10_000 == 0:
                out.write(json.dumps({"type": "STATE", "value": {"n": n + 1}}) + "\n")
    return path.stat().st_size


def landed_rows(lake: Path, fmt: str) -> int:
    """Rows recorded by the committed manifests of the stream, or by its Delta table."""
    if fmt == "delta":
        from deltalake import DeltaTable  # noqa: PLC0415 - the target's venv has it

        return int(DeltaTable(str(lake / STREAM)).count())
    return sum(
        json.loads(manifest.read_text())["rows"]
        for manifest in (lake / STREAM / "_manifests").glob("*.json")
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--batch-size-rows", type=int, default=100_000)
    parser.add_argument("--mode", choices=["cdc", "current"], default="cdc")
    parser.add_argument("--format", choices=["parquet", "delta"], default="parquet")
    parser.add_argument("--target", type=Path, default=TARGET)
    parser.add_argument("--workdir", type=Path, default=REPO_ROOT / "benchmarks/out/target-parquet")
    args = parser.parse_args()

    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    messages = args.workdir / "input.singer"
    lake = args.workdir / "lake"
    config = args.workdir / "config.json"
    config.write_text(
        json.dumps(
            {
                "destination_path": str(lake),
                "mode": args.mode,
                "format": args.format,
                "batch_size_rows": args.batch_size_rows,
            }
        )
    )

    started = time.perf_counter()
    size = generate(messages, args.records)
    print(
        f"generated {args.records:,} records, {size / 1e6:.1f} MB "
        f"({size / args.records:.0f} B/message) in {time.perf_counter() - started:.1f} s"
    )

    started = time.perf_counter()
    result = subprocess.run(
        [str(args.target), "--config", str(config), "--input", str(messages)],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        print(result.stderr[-3000:], file=sys.stderr)
        return 1
    rows = args.records
    if args.mode == "cdc" and (landed := landed_rows(lake, args.format)) != rows:
        print(f"expected {rows} landed rows, the log says {landed}", file=sys.stderr)
        return 1
    print(
        f"target-parquet ({args.mode}, {args.format}, local): {rows:,} rows in {wall:.2f} s "
        f"= {rows / wall:,.0f} rows/s, {size / wall / 1e6:.1f} MB/s of input"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
