"""Run ``meltano run tap-convex target-postgres`` against the emulator and read Postgres back.

The current-state views are created by the same SQL that ``docs/warehouses.md`` gives users,
so the tests check the documented recipe, not a private one.
"""

from __future__ import annotations

import base64
import json
import math
import os
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from convex_emulator import EmulatorServer, Store

ROOT = Path(__file__).resolve().parents[2]
MELTANO = ROOT / ".venv-meltano" / "bin" / "meltano"
STATE_ID = "dev:tap-convex-to-target-postgres"
#: meltano.yml's ``default_target_schema`` for target-postgres.
SCHEMA = "convex"

#: docs/warehouses.md's current-state views: one per landed table, in a schema of their own
#: (a view named ``<stream>_current`` could collide with a stream). A row is live when
#: ``_sdc_deleted_at`` is null: Convex deletes set it (and ``_deleted``), and a re-sync's
#: ACTIVATE_VERSION sets only it. Re-run after each load: a view's ``*`` is fixed when the
#: view is created, so new columns appear only then.
CURRENT_VIEWS_SQL = """
CREATE SCHEMA IF NOT EXISTS convex_current;
DO $$
DECLARE t record;
BEGIN
  FOR t IN SELECT table_name FROM information_schema.tables
           WHERE table_schema = 'convex' AND table_type = 'BASE TABLE' LOOP
    EXECUTE format('DROP VIEW IF EXISTS convex_current.%I', t.table_name);
    EXECUTE format('CREATE VIEW convex_current.%I AS SELECT * FROM convex.%I '
                   'WHERE _sdc_deleted_at IS NULL', t.table_name, t.table_name);
  END LOOP;
END $$;
"""


def meltano(
    *args: str, env: dict[str, str], expect_success: bool = True, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """One Meltano command from the repository root, as a user runs it."""
    assert MELTANO.exists(), "scripts/test-warehouses installs Meltano into .venv-meltano"
    result = subprocess.run(
        [str(MELTANO), *args],
        cwd=ROOT,
        env={
            **env,
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
        },
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if expect_success:
        assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return result


def pipeline_env(
    emulator: EmulatorServer, postgres: Any, database: str, workdir: Path, **extra: str
) -> dict[str, str]:
    """Settings through the environment only, as docs/warehouses.md tells users to pass them."""
    return {
        **os.environ,
        "MELTANO_DATABASE_URI": f"sqlite:///{workdir / 'meltano.db'}",
        "TAP_CONVEX_DEPLOYMENT_URL": emulator.url,
        "TAP_CONVEX_DEPLOY_KEY": emulator.admin_key,
        "TARGET_POSTGRES_HOST": postgres.host,
        "TARGET_POSTGRES_PORT": str(postgres.port),
        "TARGET_POSTGRES_USER": postgres.user,
        "TARGET_POSTGRES_PASSWORD": postgres.password,
        "TARGET_POSTGRES_DATABASE": database,
        **extra,
    }


def run_pipeline(env: dict[str, str]) -> None:
    meltano("run", "tap-convex", "target-postgres", env=env)


def refresh_current_views(connection: Any) -> None:
    connection.execute(CURRENT_VIEWS_SQL)
    connection.commit()


def fetch(connection: Any, sql: str) -> list[dict[str, Any]]:
    """Rows as dicts keyed by column name."""
    cursor = connection.execute(sql)
    names = [column.name for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def current_rows(connection: Any, stream: str) -> dict[str, dict[str, Any]]:
    """The documented current state of one stream, by ``_id``, refreshed first."""
    refresh_current_views(connection)
    rows = fetch(connection, f'SELECT * FROM convex_current."{stream}"')
    ids = [row["_id"] for row in rows]
    assert len(ids) == len(set(ids)), f"a key twice in {stream}"
    return {row["_id"]: row for row in rows}


def expected_value(value: Any, *, top_level: bool) -> Any:
    """The tap's documented value rules, written here independently of the tap.

    Bytes arrive as base64 text; a non-finite float is null at the top level (a number
    column) and the text ``NaN``/``Infinity``/``-Infinity`` inside objects and arrays; a NUL
    in a top-level string becomes U+FFFD (Postgres text cannot hold it).
    """
    if isinstance(value, float) and not math.isfinite(value):
        if top_level:
            return None
        if math.isnan(value):
            return "NaN"
        return "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, str) and top_level:  # meltano.yml's sanitize_null_text_characters
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [expected_value(item, top_level=False) for item in value]
    if isinstance(value, dict):
        return {key: expected_value(item, top_level=False) for key, item in value.items()}
    return value


def landed_value(value: Any) -> Any:
    """A Postgres value in the source's terms: a float64 lands as ``numeric``, read as float.

    int64 is compared as Python ints (``bigint`` and integers inside ``jsonb`` are read back
    exactly), so an int64 that went through a float would not compare equal.
    """
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list):
        return [landed_value(item) for item in value]
    if isinstance(value, dict):
        return {key: landed_value(item) for key, item in value.items()}
    return value


def assert_matches_source(
    rows: dict[str, dict[str, Any]], store: Store, component: str, table: str
) -> None:
    """Same live keys as the emulator, and every user field of every document equal."""
    documents = store.documents().get((component, table), {})
    assert set(rows) == set(documents), (table, len(rows), len(documents))
    for doc_id, document in documents.items():
        row = rows[doc_id]
        expected = {
            name: expected_value(value, top_level=True)
            for name, value in document.items()
            if not name.startswith("_")
        }
        landed = {name: landed_value(row[name]) for name in expected}
        assert landed == expected, (table, doc_id)
        absent = [
            n for n in row if not n.startswith("_") and n not in expected and row[n] is not None
        ]
        assert not absent, (table, doc_id, absent)


def landed_state(env: dict[str, str]) -> dict[str, Any]:
    return json.loads(meltano("state", "get", STATE_ID, env=env).stdout)


def resync(env: dict[str, str], stream: str) -> None:
    """The README's re-sync of one table: remove its bookmark from Meltano's stored state."""
    state = landed_state(env)
    del state["singer_state"]["bookmarks"][stream]
    meltano("state", "set", "--force", STATE_ID, json.dumps(state), env=env)
