"""Paths, names, sizes and the targets of the benchmark."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BENCH_DIR = REPO_ROOT / "benchmarks"
RUN_SCRIPT = BENCH_DIR / "run.py"
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
TAP_DATA_SYNC = "tap-convex (data_sync)"  # transport: data_sync, Convex's Data Sync API (beta)
DATA_SYNC_ENDPOINT = "v1/data/sync"
AIRBYTE = "airbyte-source-convex"
DECLARATIVE = "source-convex (declarative)"  # airbyte/source-convex, on airbyte-cdk 7
E2E = "end-to-end"
TARGET = "target-parquet alone"
TARGET_DELTA = "target-parquet alone (Delta)"  # format: delta, the same recorded input

# Targets (measured and reported, never asserted).
TAP_VS_AIRBYTE = 3.0
DECLARATIVE_VS_AIRBYTE = 2.0
DECLARATIVE_VENV_TIMEOUT_S = 900.0
TAP_VS_RAW = 0.5
E2E_ROWS_PER_S = 50_000
INCREMENTAL_VS_MINIMUM = 1.1
RSS_LIMIT_MIB = 250.0
RSS_GROWTH = 0.10
DELTA_VS_PARQUET = 0.9
