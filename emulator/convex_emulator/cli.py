"""``convex-emulator``: serve an emulated Convex deployment on loopback."""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import signal
import sys
from pathlib import Path

from convex_emulator import datasets
from convex_emulator.clock import Clock
from convex_emulator.server import EmulatorServer, ServerOptions
from convex_emulator.store import DAY_SECONDS, Store, StoreConfig


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="convex-emulator",
        description="Serve Convex's streaming-export API from memory, for tests and demos.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default loopback)")
    parser.add_argument("--port", type=int, default=0, help="port (default: any free port)")
    parser.add_argument("--admin-key", help="the deploy key to accept (default: a random one)")
    parser.add_argument("--demo", action="store_true", help="seed the demo dataset")
    parser.add_argument("--docs", type=int, default=0, help="generate this many documents")
    parser.add_argument("--tables", type=int, default=5, help="tables for --docs (default 5)")
    parser.add_argument("--load", type=Path, help="load a JSONL file or a directory of them")
    parser.add_argument("--seed", type=int, default=0, help="seed for ids and tablet order")
    parser.add_argument(
        "--frozen-clock",
        type=int,
        metavar="NS",
        help="start the clock at this ns timestamp; it moves only when advanced",
    )
    parser.add_argument("--snapshot-page-limit", type=int, default=1024)
    parser.add_argument("--deltas-page-limit", type=int, default=128)
    parser.add_argument("--retention-days", type=float, default=14)
    parser.add_argument("--snapshot-max-age-days", type=float, default=5)
    parser.add_argument(
        "--disable-streaming-export",
        action="store_true",
        help="answer 403 StreamingExportNotEnabled, as a non-Pro deployment does",
    )
    parser.add_argument(
        "--ready-file",
        type=Path,
        help="also write the URL and key as JSON to this file once serving",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Load the data asked for, print the ready line, serve until SIGTERM or Ctrl-C."""
    args = _parser().parse_args(argv)
    config = StoreConfig(
        snapshot_page_limit=args.snapshot_page_limit,
        deltas_page_limit=args.deltas_page_limit,
        retention_seconds=args.retention_days * DAY_SECONDS,
        snapshot_max_age_seconds=args.snapshot_max_age_days * DAY_SECONDS,
    )
    store = Store(seed=args.seed, clock=Clock(args.frozen_clock), config=config)
    try:
        if args.demo:
            datasets.load_demo(store)
        if args.docs:
            datasets.generate(store, args.docs, tables=args.tables)
        if args.load:
            datasets.load_jsonl(store, args.load)
    except (OSError, ValueError) as error:
        print(f"convex-emulator: cannot load data: {error}", file=sys.stderr)
        return 2
    if args.docs or args.load:
        # Loaded data lives as long as the process: keep full collections from rescanning it.
        gc.freeze()
    options = ServerOptions(streaming_export_enabled=not args.disable_streaming_export)
    server = EmulatorServer(
        store, host=args.host, port=args.port, admin_key=args.admin_key, options=options
    )
    ready = {"url": server.url, "admin_key": server.admin_key}
    if args.ready_file:
        args.ready_file.write_text(json.dumps(ready))
    print(json.dumps(ready), flush=True)
    print(f"convex-emulator serving {server.url} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    signal.signal(signal.SIGTERM, _interrupt)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


def _interrupt(_signum: int, _frame: object) -> None:
    """Turn SIGTERM into the same clean stop as Ctrl-C."""
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
