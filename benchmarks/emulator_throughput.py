"""How fast the Convex emulator serves ``list_snapshot`` and ``document_deltas`` pages.

The emulator (``python -m convex_emulator.cli --docs N --port 0``) runs in its own
process, so client and server do not share a GIL. One keep-alive ``httpx`` client then:

* walks ``list_snapshot`` end to end (POST, JSON body, page limit 1024): once **cold** (the
  first time each document is rendered) and ``--warm-runs`` times **warm** (median shown);
* walks ``document_deltas`` over the whole log, from just below the first commit, after
  raising ``deltas_page_limit`` to 1024 through the admin API (documents are already
  rendered by then, so this walk is warm too).

Every page is parsed with ``json.loads``, so a walk only counts valid pages. Requests are
sequential, so a walk's wall time splits into **fetch** (from sending a request to holding
the whole response body: emulator plus HTTP on both sides) and **client** (``json.loads``
and freeing the previous page). ``served docs/s`` is documents / fetch time, the rate the
emulator delivers pages at; ``end-to-end docs/s`` is documents / wall time, which on this
client is capped by ``json.loads`` itself. ``server s`` sums the emulator's own per-request
time from its request log. Also reported: the time until the server was ready (mostly
data generation) and its peak RSS (``VmHWM``, Linux only).

Run from the repository root::

    .venv/bin/python benchmarks/emulator_throughput.py --docs 200000
    .venv/bin/python benchmarks/emulator_throughput.py --docs 1000000 --format json --json out.json

The emulator's requirement is at least 200,000 documents/s served for warm
``list_snapshot``; the exit status is 1 when the median warm walk misses it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from convex_emulator.process import EmulatorProcess

REPO_ROOT = Path(__file__).resolve().parent.parent
TARGET_DOCS_PER_SECOND = 200_000


@dataclass
class Walk:
    name: str
    documents: int
    pages: int
    bytes: int
    wall_s: float
    fetch_s: float
    server_s: float

    @property
    def served_docs_per_s(self) -> float:
        return self.documents / self.fetch_s if self.fetch_s else 0.0

    @property
    def end_to_end_docs_per_s(self) -> float:
        return self.documents / self.wall_s if self.wall_s else 0.0


class Emulator(EmulatorProcess):
    """A ``convex-emulator`` child process serving ``docs`` generated documents."""

    def __init__(self, docs: int, tables: int) -> None:
        super().__init__("--docs", str(docs), "--tables", str(tables))

    def peak_rss_mib(self) -> float | None:
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return None
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return None


class Bench:
    def __init__(self, client: httpx.Client, fmt: str) -> None:
        self.client = client
        self.fmt = fmt
        self.fetch_s = 0.0  # time spent waiting for responses in the current walk

    def _post(self, path: str, body: dict[str, Any]) -> bytes:
        started = time.perf_counter()
        response = self.client.post(path, content=json.dumps(body).encode())
        content = response.content
        self.fetch_s += time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code} {response.text[:300]}")
        return content

    def _server_seconds(self, endpoint: str) -> float:
        entries = self.client.get(f"/_emulator/requests?endpoint={endpoint}").json()["requests"]
        self.client.delete("/_emulator/requests")
        return sum(entry["seconds"] for entry in entries)

    def snapshot_walk(self, name: str) -> tuple[Walk, int]:
        """A full walk; also returns the smallest ``_ts`` seen (the first commit)."""
        self.client.delete("/_emulator/requests")
        body: dict[str, Any] = {"format": self.fmt}
        documents = pages = size = 0
        min_ts = None
        self.fetch_s = 0.0
        started = time.perf_counter()
        while True:
            raw = self._post("/api/list_snapshot", body)
            page = json.loads(raw)
            values = page["values"]
            if values:
                first_ts = min(value["_ts"] for value in values)
                min_ts = first_ts if min_ts is None else min(min_ts, first_ts)
            documents += len(values)
            pages += 1
            size += len(raw)
            if not page["hasMore"]:
                break
            body = {"format": self.fmt, "snapshot": page["snapshot"], "cursor": page["cursor"]}
        wall_s = time.perf_counter() - started
        walk = Walk(
            name,
            documents,
            pages,
            size,
            wall_s,
            self.fetch_s,
            self._server_seconds("list_snapshot"),
        )
        return walk, (min_ts or 0)

    def deltas_walk(self, cursor: int) -> Walk:
        self.client.delete("/_emulator/requests")
        documents = pages = size = 0
        self.fetch_s = 0.0
        started = time.perf_counter()
        while True:
            raw = self._post("/api/document_deltas", {"format": self.fmt, "cursor": cursor})
            page = json.loads(raw)
            documents += len(page["values"])
            pages += 1
            size += len(raw)
            cursor = page["cursor"]
            if not page["hasMore"]:
                break
        wall_s = time.perf_counter() - started
        return Walk(
            "document_deltas",
            documents,
            pages,
            size,
            wall_s,
            self.fetch_s,
            self._server_seconds("document_deltas"),
        )


def _row(walk: Walk) -> str:
    return (
        f"| {walk.name} | {walk.documents:,} | {walk.pages:,} | {walk.bytes / 2**20:,.1f} "
        f"| {walk.wall_s:.2f} | {walk.fetch_s:.2f} | {walk.wall_s - walk.fetch_s:.2f} "
        f"| {walk.server_s:.2f} | {walk.served_docs_per_s:,.0f} "
        f"| {walk.end_to_end_docs_per_s:,.0f} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=200_000, help="documents to generate")
    parser.add_argument("--tables", type=int, default=5, help="tables to spread them over")
    parser.add_argument(
        "--format",
        default="convex_encoded_json",
        help="value format: json, convex_encoded_json or export_json",
    )
    parser.add_argument("--warm-runs", type=int, default=3, help="warm snapshot walks (>= 1)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write results here")
    args = parser.parse_args(argv)

    with Emulator(args.docs, args.tables) as emulator:
        headers = {
            "Authorization": f"Convex {emulator.admin_key}",
            "Content-Type": "application/json",
        }
        with httpx.Client(base_url=emulator.url, headers=headers, timeout=120) as client:
            bench = Bench(client, args.format)
            cold, first_ts = bench.snapshot_walk("list_snapshot cold")
            warm = [
                bench.snapshot_walk(f"list_snapshot warm {n + 1}")[0]
                for n in range(max(1, args.warm_runs))
            ]
            client.post("/_emulator/config", json={"deltas_page_limit": 1024}).raise_for_status()
            deltas = bench.deltas_walk(first_ts - 1)
        peak_rss = emulator.peak_rss_mib()
        ready_s = emulator.ready_s

    median = sorted(warm, key=lambda walk: walk.served_docs_per_s)[len(warm) // 2]
    walks = [cold, *warm, deltas]
    print(f"## Emulator throughput: {args.docs:,} documents, format `{args.format}`\n")
    print(
        "| walk | documents | pages | MiB | wall s | fetch s | client s | server s "
        "| served docs/s | end-to-end docs/s |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for walk in walks:
        print(_row(walk))
    passed = median.served_docs_per_s >= TARGET_DOCS_PER_SECOND
    print(
        f"\nWarm list_snapshot median: {median.served_docs_per_s:,.0f} docs/s served, "
        f"{median.end_to_end_docs_per_s:,.0f} docs/s end to end "
        f"({'meets' if passed else 'MISSES'} the {TARGET_DOCS_PER_SECOND:,} docs/s target)."
    )
    print(
        f"Server ready after {ready_s:.1f} s (start-up and data generation); "
        f"peak RSS {'n/a' if peak_rss is None else f'{peak_rss:,.0f} MiB'}."
    )
    if args.json:
        result = {
            "docs": args.docs,
            "format": args.format,
            "walks": [
                {
                    **asdict(walk),
                    "served_docs_per_s": walk.served_docs_per_s,
                    "end_to_end_docs_per_s": walk.end_to_end_docs_per_s,
                }
                for walk in walks
            ],
            "warm_median_served_docs_per_s": median.served_docs_per_s,
            "target_docs_per_s": TARGET_DOCS_PER_SECOND,
            "ready_s": ready_s,
            "peak_rss_mib": peak_rss,
        }
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
