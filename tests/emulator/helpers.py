"""Small HTTP helpers shared by the emulator tests (they only wrap ``httpx`` calls)."""

from __future__ import annotations

from typing import Any

import httpx


def list_snapshot(api: httpx.Client, **args: Any) -> dict[str, Any]:
    """One ``POST /api/list_snapshot`` page; fails the test on a non-200 answer."""
    response = api.post("/api/list_snapshot", json=args)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def document_deltas(api: httpx.Client, cursor: int, **args: Any) -> dict[str, Any]:
    """One ``POST /api/document_deltas`` page; fails the test on a non-200 answer."""
    response = api.post("/api/document_deltas", json={"cursor": cursor, **args})
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def snapshot_pages(api: httpx.Client, **args: Any) -> list[dict[str, Any]]:
    """Every page of one walk, passing ``snapshot`` and ``cursor`` back as a client must."""
    pages = [list_snapshot(api, **args)]
    while pages[-1]["hasMore"]:
        args.update(snapshot=pages[-1]["snapshot"], cursor=pages[-1]["cursor"])
        pages.append(list_snapshot(api, **args))
        assert len(pages) < 10_000, "snapshot walk does not terminate"
    return pages


def snapshot_values(api: httpx.Client, **args: Any) -> list[dict[str, Any]]:
    return [value for page in snapshot_pages(api, **args) for value in page["values"]]


def delta_pages(api: httpx.Client, cursor: int, **args: Any) -> list[dict[str, Any]]:
    """Every page until ``hasMore`` is false, always resuming from the returned cursor."""
    pages = [document_deltas(api, cursor, **args)]
    while pages[-1]["hasMore"]:
        pages.append(document_deltas(api, pages[-1]["cursor"], **args))
        assert len(pages) < 10_000, "deltas walk does not terminate"
    return pages


def delta_values(api: httpx.Client, cursor: int, **args: Any) -> list[dict[str, Any]]:
    return [value for page in delta_pages(api, cursor, **args) for value in page["values"]]


def tables_of(values: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(value["_component"], value["_table"]) for value in values}


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert a Convex error answer: ``status`` with exactly ``{"code", "message"}``."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == {"code", "message"}
    assert body["code"] == code
    assert isinstance(body["message"], str)
    assert body["message"]
    return body
