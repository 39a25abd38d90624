"""Helpers for the end-to-end tests: run Meltano against the emulator and read the lake back."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import duckdb

from convex_emulator import EmulatorServer
from target_parquet.resolution import cdc_current_query

ROOT = Path(__file__).resolve().parents[2]
MELTANO = ROOT / ".venv-meltano" / "bin" / "meltano"


def meltano_env(emulator: EmulatorServer, workdir: Path, mode: str, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
        "MELTANO_DATABASE_URI": f"sqlite:///{workdir / 'meltano.db'}",
        "TAP_CONVEX_DEPLOYMENT_URL": emulator.url,
        "TAP_CONVEX_DEPLOY_KEY": emulator.admin_key,
        "TARGET_PARQUET_DESTINATION_PATH": str(workdir / "lake"),
        "TARGET_PARQUET_MODE": mode,
    }
    env.update(extra)
    return env


def meltano(
    *args: str, env: dict[str, str], timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(MELTANO), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return result


def cdc_current_state(lake: Path, stream: str) -> dict[str, dict[str, Any]]:
    """Resolve the change log by the README's recipe: rows of the last activated version
    on, then the latest row per _id by _ts, then drop deletes."""
    rows = duckdb.sql(cdc_current_query(str(lake / stream))).to_arrow_table().to_pylist()
    return {row["_id"]: row for row in rows}


def current_table(lake: Path, stream: str) -> list[dict[str, Any]]:
    """The published generation, found through the pointer file as a reader would."""
    pointer = json.loads((lake / stream / "current" / "_latest.json").read_text())
    files = [str(lake / stream / entry["path"]) for entry in pointer["files"]]
    return duckdb.sql(f"SELECT * FROM read_parquet({files!r})").to_arrow_table().to_pylist()
