"""Contender: the declarative (manifest-only) Convex source of ``airbyte/source-convex``.

It runs from ``.venv-airbyte`` (``airbyte/ensure-venv`` makes it, as
``scripts/airbyte-source-convex`` does), with Airbyte's command-line protocol, like the
peer ``airbyte-source-convex``; its output is read with the same helpers.

Run alone, it is the snapshot head to head of the two Airbyte connectors (the goal is 2x the
peer's rows/s), measured as ``run.py`` measures them, without the other contenders::

    cd benchmarks && ../.venv/bin/python -m suite.declarative --docs 200000 --repeat 3
"""

from __future__ import annotations

import argparse
import functools
import json
import resource
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from suite.contenders import (
    airbyte_catalog,
    airbyte_records_and_state,
    ensure_peer,
    expect_rows,
    measure_airbyte,
)
from suite.processes import Emulator, run_measured
from suite.settings import AIRBYTE, DECLARATIVE, DECLARATIVE_VENV_TIMEOUT_S, REPO_ROOT

if TYPE_CHECKING:
    from collections.abc import Callable

    from suite.results import Sample

VENV_PYTHON = REPO_ROOT / ".venv-airbyte" / "bin" / "python"
RUN_SOURCE = REPO_ROOT / "airbyte" / "run_source.py"
ENSURE_VENV = REPO_ROOT / "airbyte" / "ensure-venv"


@functools.cache
def ensure_declarative() -> str | None:
    """Make ``.venv-airbyte`` if needed (once a run); None when ready, else why the
    contender is skipped."""
    try:
        subprocess.run(
            [str(ENSURE_VENV)],
            capture_output=True,
            text=True,
            timeout=DECLARATIVE_VENV_TIMEOUT_S,
            check=True,
        )
    except subprocess.TimeoutExpired:
        return f"creating .venv-airbyte took over {DECLARATIVE_VENV_TIMEOUT_S:.0f} s"
    except (OSError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", "") or str(error)
        return f"creating .venv-airbyte failed: {detail[-300:]}"
    return None


def _command(verb: str, config: Path, *extra: str) -> list[str]:
    return [str(VENV_PYTHON), str(RUN_SOURCE), verb, "--config", str(config), *extra]


def declarative_catalog(config: Path, work: Path, sync_mode: str) -> Path:
    """A configured catalog of every stream, from the connector's own ``discover``."""
    output = work / "declarative-discover.jsonl"
    run_measured(_command("discover", config), log=work / "declarative-discover.log", stdout=output)
    catalog = next(
        message["catalog"]
        for message in map(json.loads, output.read_text().splitlines())
        if message.get("type") == "CATALOG"
    )
    streams: list[dict[str, Any]] = []
    for stream in catalog["streams"]:
        configured: dict[str, Any] = {"stream": stream, "sync_mode": sync_mode}
        if sync_mode == "incremental":
            configured["destination_sync_mode"] = "append_dedup"
            configured["cursor_field"] = stream["default_cursor_field"]
            configured["primary_key"] = [["_id"]]
        else:
            configured["destination_sync_mode"] = "overwrite"
        streams.append(configured)
    path = work / f"declarative-catalog-{sync_mode}.json"
    path.write_text(json.dumps({"streams": streams}))
    return path


def measure_declarative(
    emulator: Emulator,
    catalog: Path,
    work: Path,
    *,
    state: Path | None = None,
    output: Path | None = None,
) -> Sample:
    """One ``read``; a full sync must be served every document."""
    extra = ["--catalog", str(catalog), *(["--state", str(state)] if state else [])]
    sample = emulator.measured(
        _command("read", emulator.airbyte_config(work), *extra),
        log=work / "declarative.log",
        stdout=output,
    )
    if state is None and sample.values.get("list_snapshot", 0) < emulator.docs:
        raise RuntimeError(
            f"{DECLARATIVE} was served {sample.values} values, fewer than {emulator.docs}"
        )
    return sample


def first_declarative_sync(emulator: Emulator, work: Path) -> tuple[Path, Path]:
    """An untimed first sync (every document checked); its incremental catalog and state."""
    catalog = declarative_catalog(emulator.airbyte_config(work), work, "incremental")
    first = work / "declarative-first-sync.jsonl"
    measure_declarative(emulator, catalog, work, output=first)
    records, states = airbyte_records_and_state(first)
    expect_rows(f"{DECLARATIVE} first sync", records, emulator.docs)
    state = work / "declarative-state.json"
    state.write_text(json.dumps(states))
    first.unlink()
    return catalog, state


def check_declarative_snapshot(emulator: Emulator, work: Path) -> Path:
    """The full-refresh catalog, after one untimed run that must deliver every document."""
    catalog = declarative_catalog(emulator.airbyte_config(work), work, "full_refresh")
    check = work / "declarative-check.jsonl"
    measure_declarative(emulator, catalog, work, output=check)
    expect_rows(DECLARATIVE, airbyte_records_and_state(check)[0], emulator.docs)
    check.unlink()
    return catalog


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def versus_peer(docs: int, repeat: int, work: Path) -> dict[str, list[tuple[float, float]]]:
    """The snapshot of ``docs`` documents by the peer and this connector, the contenders
    interleaved, ``repeat`` rounds, after the untimed checked run of each that ``run.py``
    makes: each run's wall time and CPU time (user + sys of the process and its children)."""
    peer = ensure_peer(DECLARATIVE_VENV_TIMEOUT_S)
    skipped = peer.skipped or ensure_declarative()
    if skipped:
        raise RuntimeError(skipped)
    runs: dict[str, list[tuple[float, float]]] = {AIRBYTE: [], DECLARATIVE: []}
    with Emulator(docs, 5, work) as emulator:
        catalog = airbyte_catalog(peer, emulator.airbyte_config(work), work, "full_refresh")
        check = work / "airbyte-check.jsonl"
        measure_airbyte(emulator, peer, catalog, work, output=check)
        expect_rows(AIRBYTE, airbyte_records_and_state(check)[0], docs)
        ours = check_declarative_snapshot(emulator, work)
        contenders: dict[str, Callable[[], Sample]] = {
            AIRBYTE: lambda: measure_airbyte(emulator, peer, catalog, work),
            DECLARATIVE: lambda: measure_declarative(emulator, ours, work),
        }
        for round_number in range(1, repeat + 1):
            for name, measure in contenders.items():
                cpu_before = _children_cpu_s()
                wall_s = measure().wall_s
                runs[name].append((wall_s, _children_cpu_s() - cpu_before))
                print(
                    f"round {round_number} {name}: {wall_s:.2f} s wall, "
                    f"{runs[name][-1][1]:.2f} s CPU, {docs / wall_s:,.0f} rows/s",
                    flush=True,
                )
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(
        description="The snapshot head to head: airbyte-source-convex and the declarative source."
    )
    parser.add_argument("--docs", type=int, default=200_000, help="documents (default 200,000)")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds (median)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="declarative-vs-peer-") as work:
        runs = versus_peer(args.docs, args.repeat, Path(work))
    medians = {
        name: (statistics.median(w for w, _ in samples), statistics.median(c for _, c in samples))
        for name, samples in runs.items()
    }
    print(f"\n{args.docs:,} documents, medians of {args.repeat} interleaved runs:")
    for name, (wall_s, cpu_s) in medians.items():
        print(f"  {name}: {wall_s:.2f} s wall, {cpu_s:.2f} s CPU, {args.docs / wall_s:,.0f} rows/s")
    ratio = medians[AIRBYTE][0] / medians[DECLARATIVE][0]
    print(
        f"  {DECLARATIVE} / {AIRBYTE} rows/s: {ratio:.2f}x (CPU time: "
        f"{medians[AIRBYTE][1] / medians[DECLARATIVE][1]:.2f}x)"
    )


if __name__ == "__main__":
    main()
