"""Throughput, memory and request cost of tap-convex, against Airbyte's connector and raw fetching.

One command, from the repository root (after ``scripts/test`` or ``scripts/demo`` created
``.venv`` and ``.venv-meltano``)::

    .venv/bin/python benchmarks/run.py --docs 200000

It writes ``benchmarks/RESULTS.md`` and ``benchmarks/results.json`` (``--out DIR`` writes them
elsewhere) and prints the Markdown. ``--smoke`` is the CI variant (5,000 documents, one run
of each contender, about a minute); ``tests/benchmarks/test_benchmark_smoke.py`` runs it.

Every contender reads the same emulated deployment, served by a separate ``convex-emulator``
process (``--docs N``: one large table ``events`` and small ones, ~200-byte documents), and
every figure is the **median of ``--repeat`` runs** (default 3; peak RSS is the largest of
them). Each run is a whole process, start-up included; the contenders are interleaved round
by round so that drift on the machine hits them alike. Before timing, one untimed run of each
connector checks that it delivers every document and warms the emulator (which renders each
document once per value format).

1. **raw-fetch**: the physical limit here. A minimal ``http.client`` keep-alive loop over
   ``list_snapshot`` (POST, ``convex_encoded_json``) that ``json.loads`` each page and writes
   every value as a JSON line to /dev/null (this file, run with ``--raw-fetch-worker``).
2. **tap-convex**: ``.venv/bin/tap-convex --config cfg.json > /dev/null``, no state.
3. **airbyte-source-convex** (PyPI), in its own venv ``benchmarks/.peer-venv/`` made on first
   use with a Python < 3.12: ``source-convex read`` with a full-refresh catalog built from its
   own ``discover``, to /dev/null.
4. **end-to-end**: ``.venv-meltano/bin/meltano run tap-convex target-parquet`` into a fresh
   directory with a throwaway system database (so no state: a full sync); and
   **target-parquet alone** fed a recorded tap output file. The tap and the pipeline also
   run on a 100-document deployment: their fixed cost per run, and the marginal rate
   (rows/s once started) that follows from it.
5. **incremental**: a second emulator with 20 tables; a first sync of each connector
   (untimed, its state kept), then ``--changes`` inserts and updates (transactions of 10,
   spread over the 20 tables) through the admin API; then each connector's incremental sync
   from its saved state, ``--repeat`` times (the same work each time). The emulator's request
   log counts its ``document_deltas`` requests, compared with the minimum for one walk over
   the change log: ceil(log rows since the cursor / deltas_page_limit).
6. **memory and scale**: peak RSS of the tap's full sync at each size of ``--memory-docs``,
   and the Meltano pipeline at each size (its end-to-end target is judged at the largest,
   where Meltano's fixed cost per run weighs least; every size is reported).

The code: this file is the command line; ``suite/`` holds one module per job (``settings``,
``results``, ``processes``, ``contenders``, ``scenarios``, ``report``).

Peak RSS is the kernel's ``ru_maxrss`` of the process (for Meltano: the largest of Meltano,
tap and target); ``tree RSS`` is the largest sum over the whole process tree, sampled every
0.1 s. Targets are stated next to the figures and measured, never assumed; the exit status
is non-zero only when a contender fails to run or delivers the wrong number of rows.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from suite.contenders import ensure_meltano_plugins, ensure_peer, raw_fetch_worker
from suite.report import code_version, machine, render_markdown, verdicts
from suite.scenarios import (
    marginal_rows_per_s,
    run_fixed_costs,
    run_incremental,
    run_memory,
    run_throughput,
)
from suite.settings import (
    AIRBYTE,
    BENCH_DIR,
    BIN,
    E2E,
    MELTANO,
    RAW,
    REPO_ROOT,
    TAP,
    TARGET,
    TARGET_DELTA,
)

if TYPE_CHECKING:
    from collections.abc import Iterator


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark tap-convex against raw fetching, airbyte-source-convex and "
        "its own Meltano pipeline; writes RESULTS.md and results.json."
    )
    parser.add_argument(
        "--docs",
        type=int,
        default=200_000,
        help="documents for the throughput runs (default 200,000)",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    parser.add_argument(
        "--memory-docs",
        default="200000,1000000",
        help="comma-separated sizes for the tap's peak RSS and the pipeline's rate "
        "(default 200000,1000000)",
    )
    parser.add_argument(
        "--changes",
        type=int,
        default=20_000,
        help="inserts and updates for the incremental run (default 20,000)",
    )
    parser.add_argument("--incremental-tables", type=int, default=20)
    parser.add_argument(
        "--incremental-docs", type=int, help="documents before the changes (default: --docs)"
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="CI smoke run: 5,000 documents, 1 run, 2,000 changes, memory at "
        "5,000 and 25,000 (overrides those options)",
    )
    parser.add_argument(
        "--peer-install-timeout",
        type=float,
        help="seconds allowed to create the airbyte venv "
        "(default 900; 120 with --smoke); on timeout airbyte is skipped",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=BENCH_DIR,
        help="directory for RESULTS.md and results.json (default benchmarks/)",
    )
    parser.add_argument(
        "--keep-work",
        action="store_true",
        help="keep the scratch directory (logs, configs, catalogs, states)",
    )
    parser.add_argument("--raw-fetch-worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.smoke:
        args.docs, args.repeat, args.changes = 5_000, 1, 2_000
        args.memory_docs = "5000,25000"
        args.incremental_docs = 5_000
    args.incremental_docs = args.incremental_docs or args.docs
    args.memory_sizes = sorted({int(size) for size in args.memory_docs.split(",") if size.strip()})
    if args.peer_install_timeout is None:
        args.peer_install_timeout = 120.0 if args.smoke else 900.0
    if args.repeat < 1 or args.docs < 1:
        parser.error("--repeat and --docs must be at least 1")
    return args


@contextmanager
def scratch_directory(keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="tap-convex-bench-"))
    try:
        yield path
    finally:
        if keep:
            print(f"scratch files kept in {path}", file=sys.stderr)
        else:
            shutil.rmtree(path, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.raw_fetch_worker:
        return raw_fetch_worker(args.raw_fetch_worker)
    for needed in (BIN / "tap-convex", BIN / "convex-emulator", BIN / "target-parquet", MELTANO):
        if not needed.exists():
            print(
                f"run.py: {needed.relative_to(REPO_ROOT)} is missing; run scripts/test first "
                "(it creates .venv and .venv-meltano)",
                file=sys.stderr,
            )
            return 2
    started = time.perf_counter()
    code_at_start = code_version()
    with scratch_directory(args.keep_work) as work:
        peer = ensure_peer(args.peer_install_timeout)
        if peer.skipped:
            print(f"{AIRBYTE}: skipped: {peer.skipped}", file=sys.stderr)
        ensure_meltano_plugins(work)
        throughput = run_throughput(args.docs, args.repeat, peer, work)
        fixed = run_fixed_costs(args.repeat, work)
        incremental = run_incremental(
            args.incremental_docs, args.incremental_tables, args.changes, args.repeat, peer, work
        )
        memory = run_memory(
            args.memory_sizes,
            args.repeat,
            {args.docs: {name: throughput[name] for name in (RAW, TAP, E2E, TARGET, TARGET_DELTA)}},
            work,
        )
    checks = verdicts(throughput, incremental, memory)
    code_at_end = code_version()
    code_changed = code_at_end["measured_code_sha256"] != code_at_start["measured_code_sha256"]
    shown = list(sys.argv[1:] if argv is None else argv)
    report: dict[str, Any] = {
        "command": " ".join([".venv/bin/python benchmarks/run.py", *shown]),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "code": code_at_start,
        "code_changed_during_run": code_at_end if code_changed else None,
        "docs": args.docs,
        "repeat": args.repeat,
        "smoke": args.smoke,
        "duration_s": round(time.perf_counter() - started, 1),
        "throughput": {name: result.to_json() for name, result in throughput.items()},
        "fixed_costs": {
            name: {
                **result.to_json(),
                "marginal_rows_per_s_at_docs": marginal_rows_per_s(throughput[name], result),
            }
            for name, result in fixed.items()
        },
        "incremental": incremental.to_json(),
        "memory": {
            str(docs): {name: result.to_json() for name, result in pair.items()}
            for docs, pair in memory.items()
        },
        "targets": {key: asdict(verdict) for key, verdict in checks.items()},
        "airbyte_install": {
            **asdict(peer),
            "executable": None
            if peer.executable is None
            else str(peer.executable.relative_to(REPO_ROOT)),
        },
    }
    markdown = render_markdown(report, throughput, fixed, incremental, memory, checks, peer)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "RESULTS.md").write_text(markdown, encoding="utf-8")
    (args.out / "results.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(markdown)
    print(
        f"written: {args.out / 'RESULTS.md'}, {args.out / 'results.json'} "
        f"({report['duration_s']} s)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
