"""A replica applying Data Sync pages converges on the deployment through random histories.

Writes, deletes, multi-document transactions, new tables, replaced and cleared tables and
clock jumps (which switch the sync between by_id and ts pages) interleave with the pages.
Whenever the sync reports ``upToDate``, the replica must equal the deployment.
"""

from __future__ import annotations

import random

import httpx
import pytest

from convex_emulator import Store

from .sync_helpers import Replica, live_ids, sync_page

TABLES = ("a", "b", "c", "d")


def random_write(rng: random.Random, store: Store) -> None:
    documents = store.documents()
    ids = [doc for rows in documents.values() for doc in rows]
    roll = rng.random()
    if roll < 0.04:
        table = rng.choice(TABLES)
        store.replace_table(table, [{"n": rng.randrange(100)} for _ in range(rng.randrange(4))])
    elif roll < 0.07 and documents:
        store.clear_table(*reversed(rng.choice(sorted(documents))))
    elif roll < 0.2 and ids:
        with store.transaction() as tx:
            for doc in rng.sample(ids, min(len(ids), 3)):
                tx.patch(doc, {"n": rng.randrange(100)})
            tx.insert(rng.choice(TABLES), {"n": rng.randrange(100)})
    elif roll < 0.4 and ids:
        store.delete(rng.choice(ids))
    elif roll < 0.6 and ids:
        store.patch(rng.choice(ids), {"n": rng.randrange(100)})
    else:
        store.insert(rng.choice(TABLES), {"n": rng.randrange(100)})


@pytest.mark.parametrize("seed", range(8))
def test_a_replica_converges_through_a_random_history(
    api: httpx.Client, store: Store, seed: int
) -> None:
    rng = random.Random(seed)
    store.config.data_sync_page_size_limit = rng.choice((1, 2, 5))
    store.config.data_sync_max_rows_read = rng.choice((1, 3, 50))
    for _ in range(10):
        random_write(rng, store)
    replica = Replica()
    checked = 0
    for _ in range(300):
        if rng.random() < 0.5:
            random_write(rng, store)
        if rng.random() < 0.1:
            store.clock.advance(rng.choice((1, 31, 120)))
        page = sync_page(api, replica.cursor)
        replica.apply(page)
        if page["status"]["type"] == "upToDate":
            assert replica.ids() == live_ids(store.documents())
            for key, rows in store.documents().items():
                for doc, value in rows.items():
                    assert replica.tables[key][doc]["n"] == value["n"]
            checked += 1
    while page["status"]["type"] != "upToDate":
        page = sync_page(api, replica.cursor)
        replica.apply(page)
    assert replica.ids() == live_ids(store.documents())
    assert checked > 0
