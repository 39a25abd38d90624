"""Randomized convergence: random histories, page limits, faults and SIGKILLs, then resume.

Invariant after every history: replaying everything emitted reproduces the source exactly;
change-log positions never move backwards; no stream is skipped. `scripts/test` runs the
fixed-seed fast profile; `scripts/test --profile long -k convergence` tries 300 histories.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from convex_emulator import EmulatorServer, Fault, Store
from tests.tap.harness import Output, Replica, run_and_kill, run_tap, source_documents

pytestmark = pytest.mark.slow

TABLES = [("", "alpha"), ("", "beta"), ("team", "alpha"), ("team/sub", "gamma")]
FAULTS = [
    Fault("list_snapshot", "status", status=503),
    Fault("list_snapshot", "drop"),
    Fault("document_deltas", "status", status=429, retry_after=0.01),
    Fault("document_deltas", "truncate"),
    Fault("list_snapshot", "slow", delay=0.05),
]


def random_value(rng: random.Random) -> Any:
    kind = rng.randrange(7)
    if kind == 0:
        return rng.randrange(-(2**63), 2**63)
    if kind == 1:
        return rng.choice([rng.random() * 1e6, -0.0, float("nan"), float("inf")])
    if kind == 2:
        return rng.choice(["", "text", "é✓", "x" * rng.randrange(200)])
    if kind == 3:
        return None
    if kind == 4:
        return rng.randbytes(rng.randrange(8))
    if kind == 5:
        return [rng.randrange(2**62) for _ in range(rng.randrange(4))]
    return {"n": rng.randrange(-(2**63), 2**63), "nested": {"flag": rng.random() < 0.5}}


def random_history(store: Store, rng: random.Random, transactions: int) -> None:
    for _ in range(transactions):
        live = [(key, doc_id) for key, docs in store.documents().items() for doc_id in docs]
        with store.transaction() as tx:
            for _ in range(rng.randrange(1, 12)):
                choice = rng.random()
                if choice < 0.5 or not live:
                    component, table = rng.choice(TABLES)
                    tx.insert(table, {f"f{rng.randrange(5)}": random_value(rng)}, component)
                elif choice < 0.8:
                    _, doc_id = rng.choice(live)
                    tx.patch(doc_id, {f"f{rng.randrange(5)}": random_value(rng)})
                else:
                    _, doc_id = live.pop(rng.randrange(len(live)))
                    tx.delete(doc_id)


def stream_name(component: str, table: str) -> str:
    return table if not component else component.replace("/", "__") + "__" + table


def test_random_history_with_crashes_converges(
    history_seed: int,
    store: Store,
    emulator: EmulatorServer,
    config: dict[str, Any],
    tmp_path: Path,
) -> None:
    rng = random.Random(history_seed)
    snapshot_limit, deltas_limit = rng.choice([1, 3, 8, 64]), rng.choice([1, 2, 5, 128])
    emulator.configure({"snapshot_page_limit": snapshot_limit, "deltas_page_limit": deltas_limit})
    for component in ("team", "team/sub"):
        store.add_component(component)
    random_history(store, rng, 30)
    outputs: list[Output] = []
    state: dict[str, Any] | None = None
    cursors: dict[str, int] = {}
    crashes = 0
    for round_number in range(rng.randrange(3, 7)):
        random_history(store, rng, rng.randrange(0, 25))
        for fault in rng.sample(FAULTS, k=rng.randrange(3)):
            emulator.faults.add(Fault(**{**fault.to_dict(), "skip": rng.randrange(4)}))
        if rng.random() < 0.6:
            run_dir = tmp_path / f"round{round_number}"
            run_dir.mkdir()
            output = run_and_kill(config, state, run_dir, rng.randrange(1, 150), require_kill=False)
            crashes += 1
        else:
            output = run_tap(config, state=state)
        outputs.append(output)
        state = output.last_state or state
        for stream, bookmark in (state or {}).get("bookmarks", {}).items():
            if bookmark.get("deltas_cursor") is not None:
                assert bookmark["deltas_cursor"] >= cursors.get(stream, 0), "state moved back"
                cursors[stream] = bookmark["deltas_cursor"]
    emulator.faults.clear()
    outputs.append(run_tap(config, state=state))
    replica = Replica()
    for output in outputs:
        replica.apply(output)
    # Each crash repeats at most the page it interrupted (a transaction is never split, and one
    # holds at most 11 writes, which can stretch a change-log page past its limit).
    seen = Counter((r["_id"], r["_ts"]) for output in outputs for r in output.records())
    repeated = sum(count - 1 for count in seen.values())
    assert repeated <= crashes * (max(snapshot_limit, deltas_limit) + 11)
    for component, table in TABLES:
        name = stream_name(component, table)
        landed = without_non_finite_text(replica.documents(name), store, component, table)
        assert landed == source_documents(emulator, component, table), name


def without_non_finite_text(
    rows: dict[str, dict[str, Any]], store: Store, component: str, table: str
) -> dict[str, dict[str, Any]]:
    """Top-level NaN/Infinity are null in number columns but text in permissive ones (a field
    whose type varies); both are the documented rule, so compare them as null."""
    source = store.documents().get((component, table), {})
    for doc_id, row in rows.items():
        for key, value in row.items():
            original = source.get(doc_id, {}).get(key)
            if (
                isinstance(original, float)
                and not math.isfinite(original)
                and isinstance(value, str)
            ):
                row[key] = None
    return rows
