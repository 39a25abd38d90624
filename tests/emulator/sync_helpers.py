"""Helpers for the Data Sync tests: one page, a walk to ``upToDate``, and a replica.

The replica applies each page as upstream tells a consumer to: drop every truncated table,
then apply the values in order (a tombstone removes its document).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from convex_emulator import Store

SYNC = "/api/v1/data/sync"


def sync_page(api: httpx.Client, cursor: str | None = None, **args: Any) -> dict[str, Any]:
    """One ``POST /api/v1/data/sync`` page; fails the test on a non-200 answer."""
    body = dict(args)
    if cursor is not None:
        body["cursor"] = cursor
    response = api.post(SYNC, json=body)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def next_cursor(page: dict[str, Any]) -> str:
    cursor: str = page["pagination"]["nextCursor"]
    return cursor


def pages_until_up_to_date(
    api: httpx.Client, cursor: str | None = None, **args: Any
) -> list[dict[str, Any]]:
    """Pages from ``cursor`` up to and including the first ``upToDate`` one."""
    pages = [sync_page(api, cursor, **args)]
    while pages[-1]["status"]["type"] != "upToDate":
        pages.append(sync_page(api, next_cursor(pages[-1]), **args))
        assert len(pages) < 10_000, "data sync does not reach upToDate"
    return pages


@dataclass
class Replica:
    """What a consumer holds: documents by (component, table), then by ``_id``."""

    tables: dict[tuple[str, str], dict[str, dict[str, Any]]] = field(default_factory=dict)
    cursor: str | None = None

    def apply(self, page: dict[str, Any]) -> None:
        for truncate in page["truncates"]:
            self.tables[(truncate["component"], truncate["table"])] = {}
        for value in page["values"]:
            rows = self.tables.setdefault((value["component"], value["table"]), {})
            if value["deleted"]:
                rows.pop(value["value"]["_id"], None)
            else:
                rows[value["value"]["_id"]] = value["value"]
        self.cursor = next_cursor(page)

    def catch_up(self, api: httpx.Client, **args: Any) -> list[dict[str, Any]]:
        pages = pages_until_up_to_date(api, self.cursor, **args)
        for page in pages:
            self.apply(page)
        return pages

    def ids(self) -> dict[tuple[str, str], set[str]]:
        return {key: set(rows) for key, rows in self.tables.items() if rows}


def live_ids(documents: dict[tuple[str, str], dict[str, dict[str, Any]]]) -> dict[Any, set[str]]:
    """Ground truth (``Store.documents()``) reduced to ids, empty tables left out."""
    return {key: set(rows) for key, rows in documents.items() if rows}


def values_of(pages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every value of the pages, in order."""
    return [value for page in pages for value in page["values"]]


def ids_of(pages: list[dict[str, Any]]) -> list[str]:
    """The ``_id`` of every value of the pages, in order."""
    return [value["value"]["_id"] for value in values_of(pages)]


def truncated(pages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """``(component, table)`` of every truncate of the pages, in order."""
    return [(t["component"], t["table"]) for page in pages for t in page["truncates"]]


def rows_with_page_size(store: Store, count: int, page_size: int, table: str = "t") -> list[str]:
    """``count`` documents ``{"n": 0..}`` in one table, read ``page_size`` to a page."""
    store.config.data_sync_page_size_limit = page_size
    return [store.insert(table, {"n": n}) for n in range(count)]
