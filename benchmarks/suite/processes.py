"""Measured processes (wall time, peak RSS of the process and its tree), and the emulator."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from typing import TYPE_CHECKING, Any

from convex_emulator import EmulatorClient
from convex_emulator.process import EmulatorProcess
from suite.results import Sample
from suite.settings import DELTAS_PAGE_LIMIT, PROCESS_TIMEOUT_S, REPO_ROOT

if TYPE_CHECKING:
    from pathlib import Path


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

    def tap_config(self, work: Path, transport: str = "streaming_export") -> Path:
        path = work / f"tap-config-{self.docs}-{self.tables}-{transport}.json"
        config = {"deployment_url": self.url, "deploy_key": self.key, "transport": transport}
        path.write_text(json.dumps(config))
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
