"""GET (query string) and POST (JSON body) forms of the paging endpoints (§1.4-1.5)."""

from __future__ import annotations

import httpx
import pytest

from convex_emulator import Store

from .helpers import document_deltas, list_snapshot


@pytest.fixture
def two_tables(store: Store) -> int:
    cursor = store.now_for_reads()
    for n in range(3):
        store.insert("a", {"n": n})
        store.insert("b", {"n": n}, component="c")
    return cursor


def test_list_snapshot_get_equals_post(api: httpx.Client, two_tables: int) -> None:
    post = list_snapshot(api, format="convex_encoded_json")
    get = api.get(
        "/api/list_snapshot", params={"snapshot": post["snapshot"], "format": "convex_encoded_json"}
    )
    assert get.status_code == 200
    assert get.json() == post


def test_list_snapshot_get_pages_with_the_returned_cursor(
    api: httpx.Client, two_tables: int
) -> None:
    first = api.get("/api/list_snapshot").json()
    second = api.get(
        "/api/list_snapshot", params={"snapshot": first["snapshot"], "cursor": first["cursor"]}
    ).json()
    post = list_snapshot(api, snapshot=first["snapshot"], cursor=first["cursor"])
    assert second == post
    assert first["hasMore"]


def test_document_deltas_get_equals_post(api: httpx.Client, two_tables: int) -> None:
    post = document_deltas(api, two_tables, format="export_json")
    get = api.get("/api/document_deltas", params={"cursor": two_tables, "format": "export_json"})
    assert get.status_code == 200
    assert get.json() == post
    assert len(post["values"]) == 6


def test_document_deltas_get_without_cursor_is_400(api: httpx.Client) -> None:
    response = api.get("/api/document_deltas")
    assert response.status_code == 400
    assert response.json()["code"] == "DocumentDeltasCursorRequired"


def test_document_deltas_get_selects_a_component(api: httpx.Client, two_tables: int) -> None:
    params: dict[str, str | int] = {"cursor": two_tables, "component": "c"}
    values = api.get("/api/document_deltas", params=params).json()["values"]
    assert {value["_component"] for value in values} == {"c"}
    assert len(values) == 3


def test_null_snapshot_and_cursor_mean_start_now(api: httpx.Client, two_tables: int) -> None:
    assert list_snapshot(api, snapshot=None, cursor=None) == list_snapshot(api)


def test_responses_are_json_with_content_length(api: httpx.Client, two_tables: int) -> None:
    response = api.post("/api/list_snapshot", json={})
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(response.content)


def test_connection_is_reused_across_requests(api: httpx.Client, two_tables: int) -> None:
    """HTTP/1.1 keep-alive: a paging client does not reconnect for every page."""
    first = api.post("/api/list_snapshot", json={})
    second = api.post("/api/list_snapshot", json={})
    assert first.http_version == second.http_version == "HTTP/1.1"
    assert "close" not in second.headers.get("connection", "")


def test_timestamps_survive_json_as_exact_integers(api: httpx.Client, two_tables: int) -> None:
    page = api.post("/api/list_snapshot", json={})
    assert f'"snapshot":{page.json()["snapshot"]}' in page.text
    assert page.json()["snapshot"] > 2**53


def test_post_cursor_as_a_json_string_is_400_bad_json_body(
    api: httpx.Client, two_tables: int
) -> None:
    response = api.post("/api/document_deltas", json={"cursor": str(two_tables)})
    assert response.status_code == 400
    assert response.json()["code"] == "BadJsonBody"


def test_post_snapshot_as_a_json_float_is_400_bad_json_body(
    api: httpx.Client, two_tables: int
) -> None:
    response = api.post("/api/list_snapshot", json={"snapshot": float(two_tables)})
    assert response.status_code == 400
    assert response.json()["code"] == "BadJsonBody"


def test_post_cursor_of_the_wrong_type_is_400_bad_json_body(
    api: httpx.Client, two_tables: int
) -> None:
    response = api.post("/api/list_snapshot", json={"cursor": 5})
    assert response.status_code == 400
    assert response.json()["code"] == "BadJsonBody"
