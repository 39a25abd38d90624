"""The scenarios: full-snapshot throughput, fixed costs, incremental cost, memory and scale."""

from __future__ import annotations

import json
import math
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

from suite.contenders import (
    airbyte_catalog,
    airbyte_records_and_state,
    expect_rows,
    last_state,
    measure_airbyte,
    measure_end_to_end,
    measure_raw_fetch,
    measure_tap,
    measure_target,
    singer_record_ids,
)
from suite.declarative import (
    check_declarative_snapshot,
    ensure_declarative,
    first_declarative_sync,
    measure_declarative,
)
from suite.processes import Emulator
from suite.results import Incremental, PeerInstall, Result
from suite.settings import (
    AIRBYTE,
    CHANGES_PER_TRANSACTION,
    DECLARATIVE,
    DELTAS_PAGE_LIMIT,
    E2E,
    FIXED_COST_DOCS,
    RAW,
    TAP,
    TAP_DATA_SYNC,
    TARGET,
    TARGET_DELTA,
)

if TYPE_CHECKING:
    from pathlib import Path


def _progress(message: str) -> None:
    print(f"[{datetime.now().astimezone():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def run_throughput(docs: int, repeat: int, peer: PeerInstall, work: Path) -> dict[str, Result]:
    """Full snapshot of ``docs`` documents by every contender, interleaved, ``repeat`` rounds."""
    results = {
        RAW: Result(RAW, docs, "process start to exit: all pages fetched, parsed, written"),
        TAP: Result(
            TAP, docs, "`tap-convex --config` to /dev/null, start-up and discovery included"
        ),
        TAP_DATA_SYNC: Result(
            TAP_DATA_SYNC,
            docs,
            "`tap-convex --config` with `transport: data_sync` to /dev/null, start-up included",
        ),
        AIRBYTE: Result(
            AIRBYTE,
            docs,
            "`source-convex read` (full_refresh) to /dev/null, start-up included",
            skipped=peer.skipped,
        ),
        DECLARATIVE: Result(
            DECLARATIVE,
            docs,
            "`airbyte/run_source.py read` (full_refresh, .venv-airbyte) to /dev/null, "
            "start-up included",
            skipped=ensure_declarative(),
        ),
        E2E: Result(E2E, docs, "`meltano run tap-convex target-parquet` into local Parquet"),
        TARGET: Result(TARGET, docs, "`target-parquet` reading the recorded tap output"),
        TARGET_DELTA: Result(
            TARGET_DELTA, docs, "`target-parquet` with `format: delta`, the same input"
        ),
    }
    _progress(f"starting the emulator with {docs:,} documents")
    with Emulator(docs, 5, work) as emulator:
        _progress(f"emulator ready after {emulator.ready_s:.1f} s; untimed runs (checks, warm-up)")
        recorded = work / "recorded-tap-output.jsonl"
        measure_tap(emulator, work, output=recorded)
        expect_rows("recorded tap output", singer_record_ids(recorded, 0)[0], docs)
        measure_tap(emulator, work, transport="data_sync")  # checks it serves every row
        full_catalog = None
        if peer.executable is not None:
            full_catalog = airbyte_catalog(
                peer, emulator.airbyte_config(work), work, "full_refresh"
            )
            check = work / "airbyte-check.jsonl"
            measure_airbyte(emulator, peer, full_catalog, work, output=check)
            expect_rows(AIRBYTE, airbyte_records_and_state(check)[0], docs)
            check.unlink()
        declarative_catalog = None
        if not results[DECLARATIVE].skipped:
            declarative_catalog = check_declarative_snapshot(emulator, work)
        for round_number in range(1, repeat + 1):
            _progress(f"throughput round {round_number}/{repeat}")
            results[RAW].samples.append(measure_raw_fetch(emulator, work))
            results[TAP].samples.append(measure_tap(emulator, work))
            results[TAP_DATA_SYNC].samples.append(
                measure_tap(emulator, work, transport="data_sync")
            )
            if full_catalog is not None:
                results[AIRBYTE].samples.append(measure_airbyte(emulator, peer, full_catalog, work))
            if declarative_catalog is not None:
                results[DECLARATIVE].samples.append(
                    measure_declarative(emulator, declarative_catalog, work)
                )
            results[E2E].samples.append(measure_end_to_end(emulator, work, round_number))
            results[TARGET].samples.append(measure_target(recorded, docs, work, round_number))
            results[TARGET_DELTA].samples.append(
                measure_target(recorded, docs, work, round_number, "delta")
            )
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
        first_data_sync = work / "tap-data-sync-first-sync.jsonl"
        measure_tap(emulator, work, output=first_data_sync, transport="data_sync")
        data_sync_state = work / "tap-data-sync-state.json"
        data_sync_state.write_text(json.dumps(last_state(first_data_sync)))
        first_data_sync.unlink()
        airbyte_state = catalog = None
        if peer.executable is not None:
            catalog = airbyte_catalog(peer, emulator.airbyte_config(work), work, "incremental")
            first_airbyte = work / "airbyte-first-sync.jsonl"
            measure_airbyte(emulator, peer, catalog, work, output=first_airbyte)
            records, states = airbyte_records_and_state(first_airbyte)
            expect_rows(f"{AIRBYTE} first incremental sync", records, docs)
            airbyte_state = work / "airbyte-state.json"
            airbyte_state.write_text(json.dumps(states))
            first_airbyte.unlink()
        declarative_skipped = ensure_declarative()
        declarative_first = None if declarative_skipped else first_declarative_sync(emulator, work)

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
        data_sync = Result(
            TAP_DATA_SYNC, changes, "`tap-convex --state` with `transport: data_sync`"
        )
        airbyte = Result(
            AIRBYTE,
            changes,
            "`source-convex read --state` (incremental) to /dev/null",
            skipped=peer.skipped,
        )
        declarative = Result(
            DECLARATIVE,
            changes,
            "`airbyte/run_source.py read --state` (incremental, .venv-airbyte) to /dev/null",
            skipped=declarative_skipped,
        )
        for round_number in range(1, repeat + 1):
            _progress(f"incremental round {round_number}/{repeat}")
            sample = measure_tap(emulator, work, state=tap_state)
            expect_rows(
                f"{TAP} incremental", sample.values.get("document_deltas", 0), scenario.log_rows
            )
            tap.samples.append(sample)
            data_sync.samples.append(
                measure_tap(emulator, work, state=data_sync_state, transport="data_sync")
            )
            if airbyte_state is not None and catalog is not None:
                airbyte.samples.append(
                    measure_airbyte(emulator, peer, catalog, work, state=airbyte_state)
                )
            if declarative_first is not None:
                catalog_path, state_path = declarative_first
                declarative.samples.append(
                    measure_declarative(emulator, catalog_path, work, state=state_path)
                )
        scenario.results = {
            TAP: tap,
            TAP_DATA_SYNC: data_sync,
            AIRBYTE: airbyte,
            DECLARATIVE: declarative,
        }
    return scenario


def run_memory(
    sizes: list[int], repeat: int, reuse: dict[int, dict[str, Result]], work: Path
) -> dict[int, dict[str, Result]]:
    """The tap's full sync, the Meltano pipeline and the target alone in either format at each
    size, with raw-fetch at that size as their baseline (the throughput runs are reused for
    their size)."""
    results: dict[int, dict[str, Result]] = {}
    for docs in sizes:
        if docs in reuse:
            results[docs] = reuse[docs]
            continue
        _progress(f"memory: starting the emulator with {docs:,} documents")
        with Emulator(docs, 5, work) as emulator:
            measure_raw_fetch(emulator, work)  # warms the emulator; not reported
            recorded = work / "recorded-tap-output.jsonl"
            measure_tap(emulator, work, output=recorded)
            raw = Result(RAW, docs, "process start to exit")
            tap = Result(TAP, docs, "`tap-convex --config` to /dev/null")
            e2e = Result(E2E, docs, "`meltano run tap-convex target-parquet`")
            target = Result(TARGET, docs, "`target-parquet` reading the recorded tap output")
            delta = Result(TARGET_DELTA, docs, "the same, `format: delta`")
            for round_number in range(1, repeat + 1):
                _progress(f"memory at {docs:,}: round {round_number}/{repeat}")
                raw.samples.append(measure_raw_fetch(emulator, work))
                tap.samples.append(measure_tap(emulator, work))
                e2e.samples.append(measure_end_to_end(emulator, work, round_number))
                target.samples.append(measure_target(recorded, docs, work, round_number))
                delta.samples.append(measure_target(recorded, docs, work, round_number, "delta"))
            recorded.unlink()
            results[docs] = {RAW: raw, TAP: tap, E2E: e2e, TARGET: target, TARGET_DELTA: delta}
    return results
