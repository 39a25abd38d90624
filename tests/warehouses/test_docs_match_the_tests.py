"""docs/warehouses.md gives users the SQL and the stream map these tests run, word for word."""

from __future__ import annotations

from tests.warehouses.pipeline import CURRENT_VIEWS_SQL, ROOT
from tests.warehouses.test_postgres_remedies import ALIAS, LONG_NAME, SHORT_NAME, WIDEN_STOCK_SQL

DOC = (ROOT / "docs" / "warehouses.md").read_text()


def test_the_documented_current_state_views_are_the_ones_tested() -> None:
    assert f"```sql\n{CURRENT_VIEWS_SQL.strip()}\n```" in DOC


def test_the_documented_remedies_are_the_ones_tested() -> None:
    assert f"```sql\n{WIDEN_STOCK_SQL}\n```" in DOC
    assert f'    {SHORT_NAME}: "{ALIAS}"\n    {LONG_NAME}: __NULL__\n' in DOC
