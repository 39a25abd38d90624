"""``data_sync_shape="early"``: answers as the first backend serving the API sent them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from convex_emulator import EmulatorClient, EmulatorServer, Store

from .sync_helpers import SYNC


@pytest.fixture
def early(emulator: EmulatorServer) -> EmulatorServer:
    emulator.options.data_sync_shape = "early"
    return emulator


def early_page(api: httpx.Client, cursor: str | None = None) -> dict[str, Any]:
    response = api.post(SYNC, json={} if cursor is None else {"cursor": cursor})
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def test_the_early_answer_has_a_top_level_cursor_and_no_pagination(
    early: EmulatorServer, api: httpx.Client, store: Store
) -> None:
    store.insert("t", {"n": 1})
    page = early_page(api)
    assert list(page) == ["truncates", "values", "cursor", "syncId", "status"]


def test_early_snapshotting_is_in_progress(
    early: EmulatorServer, api: httpx.Client, store: Store
) -> None:
    store.insert("t", {"n": 1})
    store.insert("u", {"n": 1})
    store.config.data_sync_page_size_limit = 1
    assert early_page(api)["status"] == {"type": "inProgress"}


def test_early_stale_and_up_to_date_are_synced_with_has_more(
    early: EmulatorServer, api: httpx.Client, store: Store
) -> None:
    store.config.data_sync_page_size_limit = 1
    store.insert("t", {"n": 1})
    store.insert("t", {"n": 2})
    page = early_page(api)
    store.insert("t", {"n": 3})
    while page["status"]["type"] == "inProgress":
        page = early_page(api, page["cursor"])
    assert page["status"]["type"] == "synced"
    assert page["status"]["hasMore"] is True
    store.config.data_sync_page_size_limit = 100
    page = early_page(api, page["cursor"])
    assert page["status"] == {
        "type": "synced",
        "syncedTs": page["status"]["syncedTs"],
        "hasMore": False,
    }


def test_early_values_flatten_the_document_after_underscore_keys(
    early: EmulatorServer, api: httpx.Client, store: Store
) -> None:
    doc = store.insert("t", {"n": 1, "f": 2.0})
    cursor = early_page(api)["cursor"]
    store.delete(doc)
    live = store.insert("t", {"n": 5})
    values = early_page(api, cursor)["values"]
    assert [list(v)[:4] for v in values] == [["_component", "_table", "_ts", "_deleted"]] * 2
    assert values[0]["_deleted"] is True
    assert set(values[0]) == {"_component", "_table", "_ts", "_deleted", "_id"}
    assert (values[1]["_id"], values[1]["n"]) == (live, 5)


def test_early_cold_starts_and_new_tables_truncate_nothing(
    early: EmulatorServer, api: httpx.Client, store: Store
) -> None:
    store.insert("t", {"n": 1})
    page = early_page(api)
    assert page["truncates"] == []
    store.insert("fresh", {"n": 1})
    assert early_page(api, page["cursor"])["truncates"] == []


def test_early_replaced_tables_truncate_with_underscore_keys(
    early: EmulatorServer, api: httpx.Client, store: Store
) -> None:
    store.insert("t", {"n": 1})
    page = early_page(api)
    store.replace_table("t", [{"n": 2}])
    page = early_page(api, page["cursor"])
    assert page["truncates"] == [{"_component": "", "_table": "t"}]
    assert early_page(api, page["cursor"])["truncates"] == []


def test_the_shape_is_a_setting_of_the_admin_api(emulator: EmulatorServer) -> None:
    client = EmulatorClient(emulator.url, emulator.admin_key, timeout=10)
    assert client.configure(data_sync_shape="early")["data_sync_shape"] == "early"
    assert emulator.options.data_sync_shape == "early"


def test_an_unknown_shape_is_refused(emulator: EmulatorServer) -> None:
    client = EmulatorClient(emulator.url, emulator.admin_key, timeout=10)
    with pytest.raises(RuntimeError, match="data_sync_shape"):
        client.configure(data_sync_shape="2027")
    assert emulator.options.data_sync_shape == "current"
