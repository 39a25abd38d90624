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

Peak RSS is the kernel's ``ru_maxrss`` of the process (for Meltano: the largest of Meltano,
tap and target); ``tree RSS`` is the largest sum over the whole process tree, sampled every
0.1 s. Targets are stated next to the figures and measured, never assumed; the exit status
is non-zero only when a contender fails to run or delivers the wrong number of rows.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tap_convex.emulator.client import EmulatorClient
from tap_convex.emulator.process import EmulatorProcess

REPO_ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO_ROOT / "benchmarks"
BIN = REPO_ROOT / ".venv" / "bin"
MELTANO = REPO_ROOT / ".venv-meltano" / "bin" / "meltano"
PEER_VENV = BENCH_DIR / ".peer-venv"
PEER_PACKAGE = "airbyte-source-convex"
PEER_COMPLETE_MARKER = ".installed"

SNAPSHOT_FORMAT = "convex_encoded_json"
DELTAS_PAGE_LIMIT = 128  # Convex's DOCUMENT_DELTAS_LIMIT; the emulator is started with it
CHANGES_PER_TRANSACTION = 10
FIXED_COST_DOCS = 100  # a deployment small enough that a run is all start-up and exit
PROCESS_TIMEOUT_S = 3600.0

RAW = "raw-fetch"
TAP = "tap-convex"
AIRBYTE = "airbyte-source-convex"
E2E = "end-to-end"
TARGET = "target-parquet alone"

# Targets (measured and reported, never asserted).
TAP_VS_AIRBYTE = 3.0
TAP_VS_RAW = 0.5
E2E_ROWS_PER_S = 50_000
INCREMENTAL_VS_MINIMUM = 1.1
RSS_LIMIT_MIB = 250.0
RSS_GROWTH = 0.10


# ---- results --------------------------------------------------------------------------------


@dataclass
class Sample:
    """One timed process run."""

    wall_s: float
    peak_rss_mib: float  # largest single process (ru_maxrss)
    tree_rss_mib: float  # largest sampled sum over the process tree
    requests: dict[str, int] = field(default_factory=dict)  # API requests by endpoint
    values: dict[str, int] = field(default_factory=dict)  # values served, by endpoint


@dataclass
class Result:
    """One contender in one scenario: the runs and how they are summarised."""

    name: str
    rows: int
    timed: str  # what the clock covers
    samples: list[Sample] = field(default_factory=list)
    skipped: str | None = None

    @property
    def wall_s(self) -> float | None:
        return statistics.median(s.wall_s for s in self.samples) if self.samples else None

    @property
    def rows_per_s(self) -> float | None:
        wall = self.wall_s
        return self.rows / wall if wall else None

    @property
    def peak_rss_mib(self) -> float | None:
        return max(s.peak_rss_mib for s in self.samples) if self.samples else None

    @property
    def tree_rss_mib(self) -> float | None:
        return max(s.tree_rss_mib for s in self.samples) if self.samples else None

    def median_requests(self, endpoint: str) -> int | None:
        if not self.samples:
            return None
        return int(statistics.median(s.requests.get(endpoint, 0) for s in self.samples))

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "wall_s": self.wall_s,
            "rows_per_s": self.rows_per_s,
            "peak_rss_mib": self.peak_rss_mib,
            "tree_rss_mib": self.tree_rss_mib,
        }


@dataclass
class Incremental:
    """The incremental scenario: what was written, the minimum cost and each connector's."""

    tables: int
    documents: int
    changes: int
    log_rows: int  # change-log rows written after the first syncs (every revision)
    deltas_page_limit: int
    results: dict[str, Result] = field(default_factory=dict)

    @property
    def minimum_requests(self) -> int:
        return max(1, math.ceil(self.log_rows / self.deltas_page_limit))

    def to_json(self) -> dict[str, Any]:
        return {
            "tables": self.tables,
            "documents": self.documents,
            "changes": self.changes,
            "log_rows": self.log_rows,
            "deltas_page_limit": self.deltas_page_limit,
            "minimum_deltas_requests": self.minimum_requests,
            "results": {name: result.to_json() for name, result in self.results.items()},
        }


@dataclass
class PeerInstall:
    """The Airbyte connector's venv, or why it is missing."""

    executable: Path | None
    skipped: str | None = None
    python: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    created_now: bool = False
    install_s: float | None = None


@dataclass
class Verdict:
    goal: str
    measured: str
    met: bool | None  # None: not measured


# ---- processes --------------------------------------------------------------------------------


def _process_tree_rss_bytes(root: int) -> int:
    """The resident memory of ``root`` and all its descendants, from /proc (Linux)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        rss[pid] = int(fields[21]) * page
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(rss.get(pid, 0) for pid in tree)


class _TreeSampler(threading.Thread):
    def __init__(self, pid: int, interval_s: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.interval_s = interval_s
        self.peak_bytes = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            self.peak_bytes = max(self.peak_bytes, _process_tree_rss_bytes(self.pid))
            self.done.wait(self.interval_s)


def run_measured(
    command: list[str],
    *,
    log: Path,
    stdin: Path | None = None,
    stdout: Path | None = None,
    env: dict[str, str] | None = None,
    timeout_s: float = PROCESS_TIMEOUT_S,
) -> Sample:
    """Run ``command`` to completion; its wall time, its peak RSS and its tree's peak RSS.

    stdout goes to ``stdout`` (default /dev/null), stderr to ``log``. A non-zero exit raises.
    """
    with (
        open(stdin or os.devnull, "rb") as source,
        open(stdout or os.devnull, "wb") as sink,
        open(log, "wb") as errors,
    ):
        started = time.perf_counter()
        process = subprocess.Popen(
            command,
            stdin=source,
            stdout=sink,
            stderr=errors,
            env=env,
            cwd=REPO_ROOT,
            start_new_session=True,
        )
        sampler = _TreeSampler(process.pid)
        sampler.start()
        killer = threading.Timer(timeout_s, os.killpg, (process.pid, signal.SIGKILL))
        killer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            killer.cancel()
            sampler.done.set()
        wall_s = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        sampler.join()
    if process.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{' '.join(command[:3])} ... exited {process.returncode}:\n{tail}")
    return Sample(
        wall_s=wall_s, peak_rss_mib=usage.ru_maxrss / 1024, tree_rss_mib=sampler.peak_bytes / 2**20
    )


class Emulator(EmulatorProcess):
    """A ``convex-emulator`` child process with its admin client; stopped on exit."""

    def __init__(self, docs: int, tables: int, work: Path) -> None:
        self.log = work / f"emulator-{docs}-{tables}.log"
        super().__init__(
            "--docs",
            str(docs),
            "--tables",
            str(tables),
            "--deltas-page-limit",
            str(DELTAS_PAGE_LIMIT),
            stderr_path=self.log,
        )
        self.key = self.admin_key
        self.admin = EmulatorClient(self.url, self.key, timeout=600)
        self.docs = docs
        self.tables = tables

    def tap_config(self, work: Path) -> Path:
        path = work / f"tap-config-{self.docs}-{self.tables}.json"
        path.write_text(json.dumps({"deployment_url": self.url, "deploy_key": self.key}))
        return path

    def airbyte_config(self, work: Path) -> Path:
        path = work / f"airbyte-config-{self.docs}-{self.tables}.json"
        path.write_text(json.dumps({"deployment_url": self.url, "access_key": self.key}))
        return path

    def measured(self, command: list[str], **kwargs: Any) -> Sample:
        """``run_measured``, with the API requests it made counted from the request log."""
        self.admin.clear_requests()
        sample = run_measured(command, **kwargs)
        entries = self.admin.requests()
        sample.requests = dict(Counter(entry["endpoint"] for entry in entries))
        values: Counter[str] = Counter()
        for entry in entries:
            values[entry["endpoint"]] += entry.get("values") or 0
        sample.values = dict(values)
        return sample

    def log_rows(self) -> int:
        return int(self.admin.stats()["log_rows"])


# ---- contender 1: raw fetch -----------------------------------------------------------------


def raw_fetch_worker(config_path: Path) -> int:
    """The baseline client: page through ``list_snapshot``, parse, write JSON lines to /dev/null."""
    config = json.loads(config_path.read_text())
    url = urlsplit(config["deployment_url"])
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=120)
    headers = {
        "Authorization": f"Convex {config['deploy_key']}",
        "Content-Type": "application/json",
        "Convex-Client": "raw-fetch-0.0.0",
    }
    snapshot = cursor = None
    rows = 0
    with open(os.devnull, "w", encoding="utf-8") as sink:
        while True:
            body = json.dumps({"snapshot": snapshot, "cursor": cursor, "format": SNAPSHOT_FORMAT})
            connection.request("POST", "/api/list_snapshot", body=body, headers=headers)
            response = connection.getresponse()
            raw = response.read()
            if response.status != 200:
                print(f"list_snapshot: {response.status} {raw[:300]!r}", file=sys.stderr)
                return 1
            page = json.loads(raw)
            for value in page["values"]:
                sink.write(json.dumps(value))
                sink.write("\n")
            rows += len(page["values"])
            if not page["hasMore"]:
                break
            snapshot, cursor = page["snapshot"], page["cursor"]
    connection.close()
    print(rows)
    return 0


def measure_raw_fetch(emulator: Emulator, work: Path) -> Sample:
    count_file = work / "raw-fetch.count"
    sample = emulator.measured(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--raw-fetch-worker",
            str(emulator.tap_config(work)),
        ],
        log=work / "raw-fetch.log",
        stdout=count_file,
    )
    _expect_rows(RAW, int(count_file.read_text()), emulator.docs)
    return sample


# ---- contender 2: tap-convex ---------------------------------------------------------------


def tap_command(config: Path, state: Path | None = None) -> list[str]:
    command = [str(BIN / "tap-convex"), "--config", str(config)]
    return command + ["--state", str(state)] if state else command


def measure_tap(
    emulator: Emulator, work: Path, *, state: Path | None = None, output: Path | None = None
) -> Sample:
    """A tap run to /dev/null (or ``output``); a full sync must serve every document once."""
    sample = emulator.measured(
        tap_command(emulator.tap_config(work), state), log=work / "tap.log", stdout=output
    )
    if state is None:
        _expect_rows(TAP, sample.values.get("list_snapshot", 0), emulator.docs)
    return sample


def last_state(singer_output: Path) -> dict[str, Any]:
    """The value of the last STATE message of a Singer output file."""
    state = None
    with singer_output.open("rb") as lines:
        for line in lines:
            if line.startswith(b'{"type":"STATE"'):
                state = line
    if state is None:
        raise RuntimeError(f"{singer_output} has no STATE message")
    return json.loads(state)["value"]


def singer_record_ids(singer_output: Path, per_stream: int) -> tuple[int, dict[str, list[str]]]:
    """How many RECORD messages a Singer file holds, and the first ids of each stream."""
    records = 0
    ids: dict[str, list[str]] = {}
    with singer_output.open("rb") as lines:
        for line in lines:
            if not line.startswith(b'{"type":"RECORD"'):
                continue
            records += 1
            message = json.loads(line)
            stream_ids = ids.setdefault(message["stream"], [])
            if len(stream_ids) < per_stream:
                stream_ids.append(message["record"]["_id"])
    return records, ids


# ---- contender 3: airbyte-source-convex -------------------------------------------------------


def _peer_python() -> tuple[str, str] | None:
    """A Python 3.9-3.11 interpreter (the connector's wheel requires <3.12) and its version."""
    candidates = ["python3.11", "python3.10", "python3.9", sys.executable, "python3"]
    for candidate in candidates:
        path = shutil.which(candidate) or (candidate if Path(candidate).exists() else None)
        if path is None:
            continue
        try:
            version = subprocess.run(
                [path, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            continue
        if (3, 9) <= tuple(int(part) for part in version.split(".")[:2]) < (3, 12):
            return path, version
    return None


def _run_bounded(command: list[str], timeout_s: float) -> None:
    """Run a command in its own process group; past the timeout, kill the whole group
    (pip may be building a wheel in a child) and raise ``TimeoutExpired``."""
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        _, errors = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, command, stderr=errors)


def ensure_peer(timeout_s: float) -> PeerInstall:
    """``benchmarks/.peer-venv`` with ``pip install airbyte-source-convex``, made on first use."""
    executable = PEER_VENV / "bin" / "source-convex"
    created_now, install_s = False, None
    if not ((PEER_VENV / PEER_COMPLETE_MARKER).exists() and os.access(executable, os.X_OK)):
        interpreter = _peer_python()
        if interpreter is None:
            return PeerInstall(
                None,
                skipped="no Python 3.9-3.11 found for the connector "
                "(its wheel requires Python <3.12)",
            )
        shutil.rmtree(PEER_VENV, ignore_errors=True)
        print(
            f"creating {PEER_VENV.relative_to(REPO_ROOT)} with Python {interpreter[1]} "
            f"and installing {PEER_PACKAGE} ...",
            file=sys.stderr,
            flush=True,
        )
        started = time.perf_counter()
        try:
            _run_bounded([interpreter[0], "-m", "venv", str(PEER_VENV)], timeout_s)
            _run_bounded(
                [
                    str(PEER_VENV / "bin" / "pip"),
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    PEER_PACKAGE,
                ],
                max(1.0, timeout_s - (time.perf_counter() - started)),
            )
        except subprocess.TimeoutExpired:
            shutil.rmtree(PEER_VENV, ignore_errors=True)
            return PeerInstall(
                None, skipped=f"installing {PEER_PACKAGE} took over {timeout_s:.0f} s"
            )
        except (OSError, subprocess.CalledProcessError) as error:
            shutil.rmtree(PEER_VENV, ignore_errors=True)
            detail = getattr(error, "stderr", b"") or b""
            return PeerInstall(
                None,
                skipped=f"installing {PEER_PACKAGE} failed: "
                f"{detail.decode(errors='replace')[-300:] or error}",
            )
        install_s = time.perf_counter() - started
        created_now = True
        (PEER_VENV / PEER_COMPLETE_MARKER).write_text(f"{PEER_PACKAGE}\n")
    freeze = subprocess.run(
        [str(PEER_VENV / "bin" / "pip"), "freeze", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    versions = dict(line.split("==", 1) for line in freeze.splitlines() if "==" in line)
    python = subprocess.run(
        [str(PEER_VENV / "bin" / "python"), "--version"], capture_output=True, text=True, check=True
    ).stdout.split()[-1]
    return PeerInstall(
        executable, python=python, versions=versions, created_now=created_now, install_s=install_s
    )


def airbyte_catalog(peer: PeerInstall, config: Path, work: Path, sync_mode: str) -> Path:
    """A configured catalog of every stream, from the connector's own ``discover``."""
    assert peer.executable is not None
    output = work / "airbyte-discover.jsonl"
    run_measured(
        [str(peer.executable), "discover", "--config", str(config)],
        log=work / "airbyte-discover.log",
        stdout=output,
    )
    catalog = next(
        message["catalog"]
        for message in map(json.loads, output.read_text().splitlines())
        if message.get("type") == "CATALOG"
    )
    streams = []
    for stream in catalog["streams"]:
        if sync_mode == "incremental":
            streams.append(
                {
                    "stream": stream,
                    "sync_mode": "incremental",
                    "destination_sync_mode": "append",
                    "cursor_field": ["_ts"],
                    "primary_key": [["_id"]],
                }
            )
        else:
            streams.append(
                {
                    "stream": stream,
                    "sync_mode": "full_refresh",
                    "destination_sync_mode": "overwrite",
                }
            )
    path = work / f"airbyte-catalog-{sync_mode}.json"
    path.write_text(json.dumps({"streams": streams}))
    return path


def airbyte_command(
    peer: PeerInstall, config: Path, catalog: Path, state: Path | None = None
) -> list[str]:
    assert peer.executable is not None
    command = [str(peer.executable), "read", "--config", str(config), "--catalog", str(catalog)]
    return command + ["--state", str(state)] if state else command


def measure_airbyte(
    emulator: Emulator,
    peer: PeerInstall,
    catalog: Path,
    work: Path,
    *,
    state: Path | None = None,
    output: Path | None = None,
) -> Sample:
    sample = emulator.measured(
        airbyte_command(peer, emulator.airbyte_config(work), catalog, state),
        log=work / "airbyte.log",
        stdout=output,
    )
    if state is None and sample.values.get("list_snapshot", 0) < emulator.docs:
        raise RuntimeError(
            f"{AIRBYTE} was served {sample.values} values, fewer than the {emulator.docs} documents"
        )
    return sample


def airbyte_records_and_state(output: Path) -> tuple[int, list[dict[str, Any]]]:
    """RECORD count and the last per-stream STATE of a ``source-convex read`` output, in the
    form ``read --state`` takes (an array of per-stream state messages)."""
    records = 0
    states: dict[str, dict[str, Any]] = {}
    with output.open("rb") as lines:
        for line in lines:
            message = json.loads(line)
            if message["type"] == "RECORD":
                records += 1
            elif message["type"] == "STATE":
                state = message["state"]
                states[state["stream"]["stream_descriptor"]["name"]] = {
                    "type": state["type"],
                    "stream": state["stream"],
                }
    return records, list(states.values())


# ---- contender 4: end to end, and the target alone ----------------------------------------


def ensure_meltano_plugins(work: Path) -> None:
    """``meltano install`` the two plugins once, if ``.meltano/`` lacks them."""
    tap = REPO_ROOT / ".meltano/extractors/tap-convex/venv/bin/tap-convex"
    target = REPO_ROOT / ".meltano/loaders/target-parquet/venv/bin/target-parquet"
    if tap.exists() and target.exists():
        return
    print("meltano install tap-convex target-parquet ...", file=sys.stderr, flush=True)
    run_measured(
        [str(MELTANO), "install", "tap-convex", "target-parquet"],
        log=work / "meltano-install.log",
        env=meltano_env(None, work / "install"),
    )


def meltano_env(emulator: Emulator | None, run_dir: Path) -> dict[str, str]:
    run_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
        "MELTANO_DATABASE_URI": f"sqlite:///{run_dir / 'meltano.db'}",
        "TARGET_PARQUET_DESTINATION_PATH": str(run_dir / "lake"),
    }
    if emulator is not None:
        env["TAP_CONVEX_DEPLOYMENT_URL"] = emulator.url
        env["TAP_CONVEX_DEPLOY_KEY"] = emulator.key
    return env


def landed_rows(lake: Path) -> int:
    """Rows the committed ``cdc`` manifests of every stream account for."""
    return sum(
        json.loads(manifest.read_text())["rows"] for manifest in lake.glob("*/_manifests/*.json")
    )


def measure_end_to_end(emulator: Emulator, work: Path, round_number: int) -> Sample:
    run_dir = work / f"meltano-{round_number}"
    sample = emulator.measured(
        [str(MELTANO), "run", "tap-convex", "target-parquet"],
        log=work / "meltano.log",
        env=meltano_env(emulator, run_dir),
    )
    _expect_rows(E2E, landed_rows(run_dir / "lake"), emulator.docs)
    shutil.rmtree(run_dir, ignore_errors=True)
    return sample


def measure_target(recorded: Path, rows: int, work: Path, round_number: int) -> Sample:
    run_dir = work / f"target-{round_number}"
    run_dir.mkdir()
    config = run_dir / "config.json"
    config.write_text(json.dumps({"destination_path": str(run_dir / "lake"), "mode": "cdc"}))
    sample = run_measured(
        [str(BIN / "target-parquet"), "--config", str(config)],
        stdin=recorded,
        log=work / "target.log",
    )
    _expect_rows(TARGET, landed_rows(run_dir / "lake"), rows)
    shutil.rmtree(run_dir, ignore_errors=True)
    return sample


def _expect_rows(name: str, got: int, expected: int) -> None:
    if got != expected:
        raise RuntimeError(f"{name} delivered {got:,} rows, expected {expected:,}")


# ---- scenarios ----------------------------------------------------------------------------


def _progress(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def run_throughput(docs: int, repeat: int, peer: PeerInstall, work: Path) -> dict[str, Result]:
    """Full snapshot of ``docs`` documents by every contender, interleaved, ``repeat`` rounds."""
    results = {
        RAW: Result(RAW, docs, "process start to exit: all pages fetched, parsed, written"),
        TAP: Result(
            TAP, docs, "`tap-convex --config` to /dev/null, start-up and discovery included"
        ),
        AIRBYTE: Result(
            AIRBYTE,
            docs,
            "`source-convex read` (full_refresh) to /dev/null, start-up included",
            skipped=peer.skipped,
        ),
        E2E: Result(E2E, docs, "`meltano run tap-convex target-parquet` into local Parquet"),
        TARGET: Result(TARGET, docs, "`target-parquet` reading the recorded tap output"),
    }
    _progress(f"starting the emulator with {docs:,} documents")
    with Emulator(docs, 5, work) as emulator:
        _progress(f"emulator ready after {emulator.ready_s:.1f} s; untimed runs (checks, warm-up)")
        recorded = work / "recorded-tap-output.jsonl"
        measure_tap(emulator, work, output=recorded)
        _expect_rows("recorded tap output", singer_record_ids(recorded, 0)[0], docs)
        full_catalog = None
        if peer.executable is not None:
            full_catalog = airbyte_catalog(
                peer, emulator.airbyte_config(work), work, "full_refresh"
            )
            check = work / "airbyte-check.jsonl"
            measure_airbyte(emulator, peer, full_catalog, work, output=check)
            _expect_rows(AIRBYTE, airbyte_records_and_state(check)[0], docs)
            check.unlink()
        for round_number in range(1, repeat + 1):
            _progress(f"throughput round {round_number}/{repeat}")
            results[RAW].samples.append(measure_raw_fetch(emulator, work))
            results[TAP].samples.append(measure_tap(emulator, work))
            if full_catalog is not None:
                results[AIRBYTE].samples.append(measure_airbyte(emulator, peer, full_catalog, work))
            results[E2E].samples.append(measure_end_to_end(emulator, work, round_number))
            results[TARGET].samples.append(measure_target(recorded, docs, work, round_number))
        recorded.unlink()
    return results


def run_fixed_costs(repeat: int, work: Path) -> dict[str, Result]:
    """tap-convex and the Meltano pipeline on a 100-document deployment: what every run pays
    whatever its size (start-up, discovery, Meltano's own work, exit)."""
    _progress(f"fixed costs: starting the emulator with {FIXED_COST_DOCS} documents")
    results = {
        TAP: Result(TAP, FIXED_COST_DOCS, "`tap-convex --config` to /dev/null"),
        E2E: Result(E2E, FIXED_COST_DOCS, "`meltano run tap-convex target-parquet`"),
    }
    with Emulator(FIXED_COST_DOCS, 5, work) as emulator:
        measure_tap(emulator, work)  # warm-up
        for round_number in range(1, repeat + 1):
            _progress(f"fixed costs: round {round_number}/{repeat}")
            results[TAP].samples.append(measure_tap(emulator, work))
            results[E2E].samples.append(measure_end_to_end(emulator, work, round_number))
    return results


def marginal_rows_per_s(full: Result, fixed: Result) -> float | None:
    """Rows/s once started: (rows - fixed rows) / (wall - fixed wall)."""
    if full.wall_s is None or fixed.wall_s is None or full.wall_s <= fixed.wall_s:
        return None
    return (full.rows - fixed.rows) / (full.wall_s - fixed.wall_s)


def change_operations(
    transaction: int, tables: list[str], ids: dict[str, list[str]]
) -> list[dict[str, Any]]:
    """Ten inserts and updates of one transaction, spread over the tables."""
    ops: list[dict[str, Any]] = []
    for offset in range(CHANGES_PER_TRANSACTION):
        number = transaction * CHANGES_PER_TRANSACTION + offset
        table = tables[number % len(tables)]
        targets = ids.get(table) or []
        if (number // len(tables)) % 2 == 0 or not targets:
            ops.append(
                {
                    "op": "insert",
                    "table": table,
                    "doc": {
                        "kind": "change",
                        "userId": f"user_{number % 9973:06d}",
                        "seq": number,
                        "amount": number * 0.5 + 0.25,
                        "ok": number % 2 == 0,
                        "tags": ["bench"],
                        "meta": {"source": "bench", "n": number},
                        "note": f"inserted change {number}",
                    },
                }
            )
        else:
            ops.append(
                {
                    "op": "patch",
                    "id": targets[number % len(targets)],
                    "fields": {"note": f"updated by change {number}", "amount": number + 0.5},
                }
            )
    return ops


def run_incremental(
    docs: int, tables: int, changes: int, repeat: int, peer: PeerInstall, work: Path
) -> Incremental:
    _progress(f"starting the emulator with {docs:,} documents in {tables} tables")
    with Emulator(docs, tables, work) as emulator:
        _progress("first syncs (untimed)")
        first_tap = work / "tap-first-sync.jsonl"
        measure_tap(emulator, work, output=first_tap)
        tap_state = work / "tap-state.json"
        tap_state.write_text(json.dumps(last_state(first_tap)))
        _, ids = singer_record_ids(first_tap, per_stream=100)
        first_tap.unlink()
        airbyte_state = catalog = None
        if peer.executable is not None:
            catalog = airbyte_catalog(peer, emulator.airbyte_config(work), work, "incremental")
            first_airbyte = work / "airbyte-first-sync.jsonl"
            measure_airbyte(emulator, peer, catalog, work, output=first_airbyte)
            records, states = airbyte_records_and_state(first_airbyte)
            _expect_rows(f"{AIRBYTE} first incremental sync", records, docs)
            airbyte_state = work / "airbyte-state.json"
            airbyte_state.write_text(json.dumps(states))
            first_airbyte.unlink()

        _progress(f"writing {changes:,} changes in transactions of {CHANGES_PER_TRANSACTION}")
        table_names = sorted(ids)
        rows_before = emulator.log_rows()
        for transaction in range(math.ceil(changes / CHANGES_PER_TRANSACTION)):
            emulator.admin.transaction(change_operations(transaction, table_names, ids))
        scenario = Incremental(
            tables=tables,
            documents=docs,
            changes=changes,
            log_rows=emulator.log_rows() - rows_before,
            deltas_page_limit=DELTAS_PAGE_LIMIT,
        )
        tap = Result(TAP, changes, "`tap-convex --state` to /dev/null")
        airbyte = Result(
            AIRBYTE,
            changes,
            "`source-convex read --state` (incremental) to /dev/null",
            skipped=peer.skipped,
        )
        for round_number in range(1, repeat + 1):
            _progress(f"incremental round {round_number}/{repeat}")
            sample = measure_tap(emulator, work, state=tap_state)
            _expect_rows(
                f"{TAP} incremental", sample.values.get("document_deltas", 0), scenario.log_rows
            )
            tap.samples.append(sample)
            if airbyte_state is not None and catalog is not None:
                airbyte.samples.append(
                    measure_airbyte(emulator, peer, catalog, work, state=airbyte_state)
                )
        scenario.results = {TAP: tap, AIRBYTE: airbyte}
    return scenario


def run_memory(
    sizes: list[int], repeat: int, reuse: dict[int, dict[str, Result]], work: Path
) -> dict[int, dict[str, Result]]:
    """The tap's full sync and the Meltano pipeline at each size, with raw-fetch at that size
    as their baseline (the throughput runs are reused for their size)."""
    results: dict[int, dict[str, Result]] = {}
    for docs in sizes:
        if docs in reuse:
            results[docs] = reuse[docs]
            continue
        _progress(f"memory: starting the emulator with {docs:,} documents")
        with Emulator(docs, 5, work) as emulator:
            measure_raw_fetch(emulator, work)  # warms the emulator; not reported
            raw = Result(RAW, docs, "process start to exit")
            tap = Result(TAP, docs, "`tap-convex --config` to /dev/null")
            e2e = Result(E2E, docs, "`meltano run tap-convex target-parquet`")
            for round_number in range(1, repeat + 1):
                _progress(f"memory at {docs:,}: round {round_number}/{repeat}")
                raw.samples.append(measure_raw_fetch(emulator, work))
                tap.samples.append(measure_tap(emulator, work))
                e2e.samples.append(measure_end_to_end(emulator, work, round_number))
            results[docs] = {RAW: raw, TAP: tap, E2E: e2e}
    return results


# ---- report -------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo", encoding="utf-8") as info:
        total_kib = next(int(line.split()[1]) for line in info if line.startswith("MemTotal:"))
    return {
        "cpu_model": cpu,
        "cores": os.cpu_count(),
        "ram_gib": round(total_kib / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average_at_end": [round(load, 2) for load in os.getloadavg()],
    }


MEASURED_CODE = (
    "tap_convex",
    "plugins/loaders/target-parquet/target_parquet",
    "meltano.yml",
    "pyproject.toml",
    "plugins/loaders/target-parquet/pyproject.toml",
)


def code_version() -> dict[str, Any]:
    """The commit, the uncommitted changes to the measured code, and a hash of that code's
    content (someone editing the tap during a run changes what is measured)."""

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=30
            ).stdout.rstrip()
        except (OSError, subprocess.SubprocessError):
            return ""

    changed = [line[3:] for line in git("status", "--porcelain", "--", *MEASURED_CODE).splitlines()]
    files = sorted(
        set(
            git(
                "ls-files", "--cached", "--others", "--exclude-standard", "--", *MEASURED_CODE
            ).splitlines()
        )
    )
    digest = hashlib.sha256()
    for name in files:
        path = REPO_ROOT / name
        if path.is_file():
            digest.update(name.encode() + b"\0" + path.read_bytes())
    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted": changed,
        "measured_code_sha256": digest.hexdigest()[:16],
    }


def _fmt(value: float | None, digits: int = 0, suffix: str = "") -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}{suffix}"


def _ratio(value: float | None, base: float | None) -> float | None:
    return value / base if value is not None and base else None


def verdicts(
    throughput: dict[str, Result], incremental: Incremental, memory: dict[int, dict[str, Result]]
) -> dict[str, Verdict]:
    tap = throughput[TAP].rows_per_s
    vs_airbyte = _ratio(tap, throughput[AIRBYTE].rows_per_s)
    vs_raw = _ratio(tap, throughput[RAW].rows_per_s)
    e2e_by_size = {docs: pair[E2E].rows_per_s for docs, pair in memory.items() if E2E in pair}
    e2e_largest = max(e2e_by_size, default=None)
    e2e = e2e_by_size.get(e2e_largest) if e2e_largest else throughput[E2E].rows_per_s
    e2e_text = (
        "; ".join(
            f"{_fmt(rate)} rows/s at {docs:,} documents"
            for docs, rate in sorted(e2e_by_size.items())
        )
        or f"{_fmt(e2e)} rows/s"
    )
    deltas = incremental.results[TAP].median_requests("document_deltas")
    vs_min = _ratio(deltas, incremental.minimum_requests)
    rss = {docs: pair[TAP].peak_rss_mib for docs, pair in memory.items()}
    worst_rss = max((value for value in rss.values() if value is not None), default=None)
    sizes = sorted(rss)
    growth = (_ratio(rss[sizes[-1]], rss[sizes[0]]) or 1) - 1 if len(sizes) > 1 else None
    out = {}
    for key, goal, measured, ok, text in (
        (
            "tap_vs_airbyte",
            f"tap-convex ≥ {TAP_VS_AIRBYTE:g}× airbyte docs/s",
            vs_airbyte,
            (vs_airbyte or 0) >= TAP_VS_AIRBYTE,
            f"{_fmt(vs_airbyte, 2)}×",
        ),
        (
            "tap_vs_raw",
            f"tap-convex ≥ {TAP_VS_RAW:.0%} of raw-fetch docs/s",
            vs_raw,
            (vs_raw or 0) >= TAP_VS_RAW,
            f"{_fmt(vs_raw and vs_raw * 100, 0)}%",
        ),
        (
            "end_to_end",
            f"end to end into Parquet ≥ {E2E_ROWS_PER_S:,} rows/s (judged at the largest size, "
            "where Meltano's fixed cost per run weighs least)",
            e2e,
            (e2e or 0) >= E2E_ROWS_PER_S,
            e2e_text,
        ),
        (
            "incremental_requests",
            f"incremental over {incremental.tables} tables ≤ "
            f"{INCREMENTAL_VS_MINIMUM:g}× the minimum document_deltas requests of one walk",
            vs_min,
            (vs_min or math.inf) <= INCREMENTAL_VS_MINIMUM,
            f"{deltas} requests = {_fmt(vs_min, 2)}× the minimum {incremental.minimum_requests}",
        ),
        (
            "peak_rss",
            f"tap-convex peak RSS < {RSS_LIMIT_MIB:g} MiB",
            worst_rss,
            (worst_rss or math.inf) < RSS_LIMIT_MIB,
            f"{_fmt(worst_rss, 1)} MiB (largest)",
        ),
        (
            "rss_flat",
            f"peak RSS at {_fmt(sizes[-1]) if sizes else '?'} ≤ {RSS_GROWTH:.0%} "
            f"above {_fmt(sizes[0]) if sizes else '?'} documents",
            growth,
            (growth if growth is not None else math.inf) <= RSS_GROWTH,
            f"{_fmt(growth and growth * 100, 1, '%')} ({' → '.join(_fmt(rss[s], 1) for s in sizes)}"
            " MiB)",
        ),
    ):
        out[key] = (
            Verdict(goal, text, ok) if measured is not None else Verdict(goal, "not measured", None)
        )
    return out


def _mark(verdict: Verdict) -> str:
    return {True: "met", False: "**MISSED**", None: "not measured"}[verdict.met]


def render_markdown(
    report: dict[str, Any],
    throughput: dict[str, Result],
    fixed: dict[str, Result],
    incremental: Incremental,
    memory: dict[int, dict[str, Result]],
    checks: dict[str, Verdict],
    peer: PeerInstall,
) -> str:
    raw_rate = throughput[RAW].rows_per_s
    airbyte_rate = throughput[AIRBYTE].rows_per_s
    box = report["machine"]
    lines = [
        "# tap-convex benchmarks",
        "",
        f"Generated by `{report['command']}` on {report['date']}.",
        "",
        f"* Machine: {box['cpu_model']}, {box['cores']} cores, {box['ram_gib']} GiB RAM, "
        f"Linux {box['kernel']}; Python {box['python']} (tap, target, raw-fetch), "
        f"Python {peer.python or '–'} (airbyte-source-convex). Load average when done: "
        f"{', '.join(map(str, box['load_average_at_end']))}.",
        f"* Code: commit `{report['code']['commit']}`"
        + (
            f", with uncommitted changes to {', '.join(report['code']['uncommitted'])}"
            if report["code"]["uncommitted"]
            else ", no uncommitted change to the measured code"
        )
        + f" (tap, target, Meltano project; content hash "
        f"`{report['code']['measured_code_sha256']}`)."
        + (
            " **The measured code changed during the run**, so some runs measured other code "
            f"(hash at the end `{report['code_changed_during_run']['measured_code_sha256']}`)."
            if report["code_changed_during_run"]
            else ""
        ),
        f"* Every figure is the median of {report['repeat']} run(s); peak RSS is the largest "
        "run. Each run is a whole process (start-up, discovery, exit). The emulator runs in "
        "its own process on the same machine, so it shares the cores with the contenders.",
        "",
        f"## Full snapshot: {report['docs']:,} documents (one table `events` and 4 small ones)",
        "",
        "| contender | what is timed | rows | median s | rows/s | vs raw-fetch | vs airbyte "
        "| peak RSS MiB | tree RSS MiB | target | |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    row_target = {TAP: [checks["tap_vs_raw"], checks["tap_vs_airbyte"]]}
    for name, result in throughput.items():
        goals = row_target.get(name, [])
        if result.skipped:
            lines.append(f"| {name} | skipped: {result.skipped} | | | | | | | | | |")
            continue
        lines.append(
            f"| {name} | {result.timed} | {result.rows:,} | {_fmt(result.wall_s, 2)} "
            f"| {_fmt(result.rows_per_s)} | {_fmt(_ratio(result.rows_per_s, raw_rate), 2, '×')} "
            f"| {_fmt(_ratio(result.rows_per_s, airbyte_rate), 2, '×')} "
            f"| {_fmt(result.peak_rss_mib, 1)} | {_fmt(result.tree_rss_mib, 1)} "
            f"| {'; '.join(g.goal for g in goals)} | {'; '.join(_mark(g) for g in goals)} |"
        )
    lines += [
        "",
        f"### Fixed cost per run ({FIXED_COST_DOCS}-document deployment)",
        "",
        "What a run costs whatever its size; the marginal rate is the rate once started, "
        f"(rows − {FIXED_COST_DOCS}) / (median s − fixed median s).",
        "",
        f"| contender | median s at {FIXED_COST_DOCS} docs | share of the {report['docs']:,}-doc "
        "run | marginal rows/s | vs raw-fetch | peak RSS MiB | tree RSS MiB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, result in fixed.items():
        marginal = marginal_rows_per_s(throughput[name], result)
        share = _ratio(result.wall_s, throughput[name].wall_s)
        lines.append(
            f"| {name} | {_fmt(result.wall_s, 2)} | {_fmt(share and share * 100, 0, '%')} "
            f"| {_fmt(marginal)} | {_fmt(_ratio(marginal, raw_rate), 2, '×')} "
            f"| {_fmt(result.peak_rss_mib, 1)} | {_fmt(result.tree_rss_mib, 1)} |"
        )
    airbyte_inc = incremental.results[AIRBYTE]
    lines += [
        "",
        f"## Incremental: {incremental.tables} tables, {incremental.documents:,} documents, "
        f"then {incremental.changes:,} inserts and updates",
        "",
        f"Changes were written as {math.ceil(incremental.changes / CHANGES_PER_TRANSACTION):,} "
        f"transactions of {CHANGES_PER_TRANSACTION}, spread over the {incremental.tables} "
        f"tables: {incremental.log_rows:,} change-log rows after the saved cursors. The minimum "
        f"for one walk of the change log is ceil({incremental.log_rows:,} / "
        f"{incremental.deltas_page_limit}) = **{incremental.minimum_requests}** "
        "`document_deltas` requests (a page never splits a transaction, so it can carry a few "
        "rows more than the limit and a walk can need slightly fewer). Request counts come from "
        "the emulator's request log; both connectors select all 20 tables.",
        "",
        "| connector | what is timed | changes | document_deltas requests | vs minimum "
        "| other requests | median s | docs/s | vs airbyte | peak RSS MiB | target | |",
        "|---|---|---:|---:|---:|---|---:|---:|---:|---:|---|---|",
    ]
    for name, result in incremental.results.items():
        if result.skipped:
            lines.append(f"| {name} | skipped: {result.skipped} | | | | | | | | | | |")
            continue
        deltas = result.median_requests("document_deltas")
        others = ", ".join(
            f"{endpoint} {result.median_requests(endpoint)}"
            for endpoint in sorted(result.samples[0].requests)
            if endpoint != "document_deltas"
        )
        goal = checks["incremental_requests"] if name == TAP else None
        lines.append(
            f"| {name} | {result.timed} | {result.rows:,} | {deltas:,} "
            f"| {_fmt(_ratio(deltas, incremental.minimum_requests), 2, '×')} | {others} "
            f"| {_fmt(result.wall_s, 2)} | {_fmt(result.rows_per_s)} "
            f"| {_fmt(_ratio(result.rows_per_s, airbyte_inc.rows_per_s), 2, '×')} "
            f"| {_fmt(result.peak_rss_mib, 1)} | {goal.goal if goal else ''} "
            f"| {_mark(goal) if goal else ''} |"
        )
    smallest = memory[min(memory)][TAP].peak_rss_mib if memory else None
    lines += [
        "",
        "## Memory: tap-convex full sync to /dev/null",
        "",
        "| documents | median s | rows/s | raw-fetch rows/s | vs raw-fetch | peak RSS MiB "
        "| vs smallest | target | |",
        "|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    goals = [checks["peak_rss"], checks["rss_flat"]]
    for docs, pair in sorted(memory.items()):
        tap, raw = pair[TAP], pair[RAW]
        lines.append(
            f"| {docs:,} | {_fmt(tap.wall_s, 2)} | {_fmt(tap.rows_per_s)} "
            f"| {_fmt(raw.rows_per_s)} | {_fmt(_ratio(tap.rows_per_s, raw.rows_per_s), 2, '×')} "
            f"| {_fmt(tap.peak_rss_mib, 1)} | {_fmt(_ratio(tap.peak_rss_mib, smallest), 3, '×')} "
            f"| {'; '.join(g.goal for g in goals)} | {'; '.join(_mark(g) for g in goals)} |"
        )
    lines += [
        "",
        "## End to end by size: `meltano run tap-convex target-parquet` into local Parquet",
        "",
        "Each run pays Meltano's fixed cost (start-up, discovery, plugin start, exit; see the "
        "fixed-cost table), so the rate grows with the size of the deployment.",
        "",
        "| documents | median s | rows/s | raw-fetch rows/s | vs raw-fetch | tree RSS MiB "
        "| target | |",
        "|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for docs, pair in sorted(memory.items()):
        if E2E not in pair:
            continue
        e2e, raw = pair[E2E], pair[RAW]
        goal = checks["end_to_end"] if docs == max(memory) else None
        lines.append(
            f"| {docs:,} | {_fmt(e2e.wall_s, 2)} | {_fmt(e2e.rows_per_s)} "
            f"| {_fmt(raw.rows_per_s)} | {_fmt(_ratio(e2e.rows_per_s, raw.rows_per_s), 2, '×')} "
            f"| {_fmt(e2e.tree_rss_mib, 1)} | {goal.goal if goal else ''} "
            f"| {_mark(goal) if goal else ''} |"
        )
    lines += ["", "## Targets", "", "| target | measured | |", "|---|---|---|"]
    lines += [f"| {v.goal} | {v.measured} | {_mark(v)} |" for v in checks.values()]
    lines += ["", "## airbyte-source-convex", ""]
    if peer.skipped:
        lines.append(f"Skipped: {peer.skipped}.")
    else:
        made = (
            f"created by this run in {peer.install_s:.0f} s"
            if peer.created_now
            else "reused from an earlier run"
        )
        lines.append(
            f"`{PEER_PACKAGE}=={peer.versions.get(PEER_PACKAGE, '?')}` with "
            f"`airbyte-cdk=={peer.versions.get('airbyte-cdk', '?')}` in "
            f"`benchmarks/.peer-venv` (Python {peer.python}; `pip install {PEER_PACKAGE}`, "
            f"{made}). Its configured catalogs come from its own `discover`: `full_refresh` / "
            "`overwrite` for the snapshot, `incremental` / `append` with cursor `_ts` for the "
            "incremental run, whose `--state` is the last per-stream STATE of its first sync."
        )
    return "\n".join(lines) + "\n"


# ---- command line -------------------------------------------------------------------------


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
            {args.docs: {RAW: throughput[RAW], TAP: throughput[TAP], E2E: throughput[E2E]}},
            work,
        )
    checks = verdicts(throughput, incremental, memory)
    code_at_end = code_version()
    code_changed = code_at_end["measured_code_sha256"] != code_at_start["measured_code_sha256"]
    shown = [arg for arg in (sys.argv[1:] if argv is None else argv)]
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
