"""Randomized convergence with ``transport: data_sync``: histories that also replace and clear
tables wholesale, random page limits, faults and SIGKILLs, then resume from the last STATE.

Invariant after every history: replaying everything emitted (with ACTIVATE_VERSION) reproduces
the source exactly. `scripts/test` runs the fixed seeds of the fast profile; `--profile long`
tries 300 histories.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from convex_emulator import EmulatorServer, Fault, Store
from tests.tap.harness import Output, Replica, run_and_kill, run_tap, source_documents
from tests.tap.test_convergence import (
    TABLES,
    random_history,
    random_value,
    stream_name,
    without_non_finite_text,
)

pytestmark = pytest.mark.slow

SYNC = "v1/data/sync"
FAULTS = [
    Fault(SYNC, "status", status=503),
    Fault(SYNC, "drop"),
    Fault(SYNC, "status", status=429, retry_after=0.01),
    Fault(SYNC, "truncate"),
    Fault(SYNC, "slow", delay=0.05),
]


def replace_or_clear(store: Store, rng: random.Random) -> None:
    """Replace a table wholesale (keeping some ids, as a restore does) or clear it."""
    component, table = rng.choice(TABLES)
    if rng.random() < 0.3:
        if table in {t for (c, t) in store.documents() if c == component}:
            store.clear_table(table, component)
        return
    current = sorted(store.documents().get((component, table), {}))
    kept = rng.sample(current, k=min(len(current), rng.randrange(4)))
    documents = [{"_id": doc_id, "f0": random_value(rng)} for doc_id in kept]
    documents += [{"f1": random_value(rng)} for _ in range(rng.randrange(6))]
    store.replace_table(table, documents, component)


def test_random_history_with_replacements_and_crashes_converges(
    history_seed: int, emulator: EmulatorServer, config: dict[str, Any], tmp_path: Path
) -> None:
    rng = random.Random(history_seed)
    store = emulator.store
    emulator.configure(
        {
            "data_sync_page_size_limit": rng.choice([1, 3, 8, 64]),
            "data_sync_max_rows_read": rng.choice([1, 4, 32768]),
            "data_sync_shape": rng.choice(["current", "current", "current", "early"]),
        }
    )
    ds_config = {**config, "transport": "data_sync"}
    for component in ("team", "team/sub"):
        store.add_component(component)
    random_history(store, rng, 30)
    outputs: list[Output] = []
    state: dict[str, Any] | None = None
    for round_number in range(rng.randrange(3, 7)):
        random_history(store, rng, rng.randrange(0, 25))
        for _ in range(rng.randrange(3)):
            replace_or_clear(store, rng)
            random_history(store, rng, rng.randrange(0, 4))
        if rng.random() < 0.3:
            store.clock.advance(40)  # past the by_id freshness: catch-up ts pages mid-table
        for fault in rng.sample(FAULTS, k=rng.randrange(3)):
            emulator.faults.add(Fault(**{**fault.to_dict(), "skip": rng.randrange(4)}))
        if rng.random() < 0.6:
            run_dir = tmp_path / f"round{round_number}"
            run_dir.mkdir()
            kill_after = rng.randrange(1, 150)
            output = run_and_kill(ds_config, state, run_dir, kill_after, require_kill=False)
        else:
            output = run_tap(ds_config, state=state)
        outputs.append(output)
        state = output.last_state or state
    emulator.faults.clear()
    outputs.append(run_tap(ds_config, state=state))
    replica = Replica()
    for output in outputs:
        replica.apply(output)
    for component, table in TABLES:
        name = stream_name(component, table)
        landed = without_non_finite_text(replica.documents(name), store, component, table)
        assert landed == source_documents(emulator, component, table), name
