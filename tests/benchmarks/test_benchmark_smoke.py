"""The benchmark's CI smoke mode runs every contender end to end and writes its results.

Structure only: timing assertions are forbidden in tests (the figures depend on the machine).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
RUN = ROOT / "benchmarks" / "run.py"


def test_smoke_run_reports_every_contender(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(RUN), "--smoke", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]

    report = json.loads((tmp_path / "results.json").read_text())
    assert (tmp_path / "RESULTS.md").read_text().startswith("# tap-convex benchmarks")
    throughput = report["throughput"]
    for name in (
        "raw-fetch",
        "tap-convex",
        "end-to-end",
        "target-parquet alone",
        "target-parquet alone (Delta)",
    ):
        assert isinstance(throughput[name]["rows_per_s"], (int, float)), name
        assert throughput[name]["rows_per_s"] > 0, name
        assert isinstance(throughput[name]["peak_rss_mib"], (int, float)), name
    airbyte = throughput["airbyte-source-convex"]
    assert airbyte["skipped"] or isinstance(airbyte["rows_per_s"], (int, float))
    declarative = throughput["source-convex (declarative)"]
    assert declarative["skipped"] is None, declarative["skipped"]
    assert declarative["rows_per_s"] > 0

    incremental = report["incremental"]
    assert incremental["log_rows"] >= incremental["changes"] > 0
    assert incremental["minimum_deltas_requests"] >= 1
    tap_runs = incremental["results"]["tap-convex"]["samples"]
    assert tap_runs
    assert all(run["requests"]["document_deltas"] >= 1 for run in tap_runs)
    declarative_runs = incremental["results"]["source-convex (declarative)"]["samples"]
    assert declarative_runs
    assert all(run["requests"]["document_deltas"] >= 20 for run in declarative_runs)  # per table

    assert len(report["memory"]) == 2
    for pair in report["memory"].values():
        assert isinstance(pair["tap-convex"]["peak_rss_mib"], (int, float))
        assert pair["end-to-end"]["rows_per_s"] > 0
        assert pair["target-parquet alone (Delta)"]["rows_per_s"] > 0
    assert set(report["targets"]) >= {
        "tap_vs_airbyte",
        "declarative_vs_airbyte",
        "tap_vs_raw",
        "end_to_end",
        "incremental_requests",
        "peak_rss",
        "rss_flat",
        "delta_vs_parquet",
        "delta_rss_flat",
    }
    assert "## Landing formats" in (tmp_path / "RESULTS.md").read_text()
