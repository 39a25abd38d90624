"""Contender: the declarative (manifest-only) Convex source of ``airbyte/source-convex``.

It runs from ``.venv-airbyte`` (``airbyte/ensure-venv`` makes it, as
``scripts/airbyte-source-convex`` does), with Airbyte's command-line protocol, like the
peer ``airbyte-source-convex``; its output is read with the same helpers.
"""

from __future__ import annotations

import functools
import json
import subprocess
from typing import TYPE_CHECKING, Any

from suite.contenders import airbyte_records_and_state, expect_rows
from suite.processes import run_measured
from suite.settings import DECLARATIVE, DECLARATIVE_VENV_TIMEOUT_S, REPO_ROOT

if TYPE_CHECKING:
    from pathlib import Path

    from suite.processes import Emulator
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
