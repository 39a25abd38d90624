"""Data Sync request errors: the body's types and shape, the selection's names, routes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from convex_emulator import EmulatorServer, Store

from .helpers import assert_error
from .sync_helpers import SYNC, pages_until_up_to_date, values_of

MALFORMED_SELECTIONS: list[Any] = [
    {},  # no _other
    {"_other": "maybe"},
    {"_other": "excluded", "": {"t": {"_other": "included"}}},  # component without _other
    {"_other": "excluded", "": "included"},  # only the object form includes
    {"_other": "excluded", "": {"_other": "excluded", "t": "included"}},
    {"_other": "excluded", "": {"_other": "excluded", "t": {"_other": "included", "c": 1}}},
    None,
    "everything",
]


@pytest.mark.parametrize("selection", MALFORMED_SELECTIONS)
def test_a_selection_of_the_wrong_shape_is_a_bad_json_body(
    api: httpx.Client, selection: Any
) -> None:
    assert_error(api.post(SYNC, json={"selection": selection}), 400, "BadJsonBody")


INVALID_SELECTIONS: list[Any] = [
    {"_other": "excluded", "bad component!": {"_other": "included"}},
    {"_other": "excluded", "": {"_other": "excluded", "9table": {"_other": "included"}}},
    {"_other": "excluded", "": {"_other": "excluded", "t": {"_other": "excluded"}}},  # no _id
    {"_other": "excluded", "": {"_other": "excluded", "t": {"_other": "incl", "_id": "excl"}}},
    {"_other": "excluded", "": {"_other": "excluded", "t": {"_other": "incl", "$x": "excl"}}},
]


@pytest.mark.parametrize("selection", INVALID_SELECTIONS)
def test_a_selection_with_invalid_names_or_without_id_is_invalid(
    api: httpx.Client, selection: Any
) -> None:
    body = assert_error(
        api.post(SYNC, json={"selection": selection}), 400, "InvalidDataSyncSelection"
    )
    assert body["message"].startswith("Invalid selection: ")


def test_the_selection_aliases_incl_and_excl_are_accepted(api: httpx.Client, store: Store) -> None:
    store.insert("t", {"n": 1, "secret": "s"})
    selection = {
        "_other": "excl",
        "": {"_other": "excl", "t": {"_other": "incl", "secret": "excl"}},
    }
    values = values_of(pages_until_up_to_date(api, selection=selection))
    assert set(values[0]["value"]) == {"_id", "_creationTime", "n"}


def test_a_bad_cursor_is_reported_before_a_bad_selection_name(api: httpx.Client) -> None:
    selection = INVALID_SELECTIONS[0]
    response = api.post(SYNC, json={"cursor": "zz", "selection": selection})
    assert_error(response, 400, "InvalidDataSyncCursor")


def test_unknown_body_keys_are_ignored(api: httpx.Client) -> None:
    assert api.post(SYNC, json={"format": "json", "limit": 5}).status_code == 200


def test_a_body_that_is_not_a_json_object_is_a_bad_json_body(api: httpx.Client) -> None:
    assert_error(api.post(SYNC, json=[1]), 400, "BadJsonBody")
    assert_error(
        api.post(SYNC, content=b"{", headers={"Content-Type": "application/json"}),
        400,
        "BadJsonBody",
    )


def test_a_body_without_json_content_type_is_a_bad_json_body(api: httpx.Client) -> None:
    assert_error(api.post(SYNC, content=b"{}"), 400, "BadJsonBody")


def test_data_sync_takes_only_post(api: httpx.Client) -> None:
    assert_error(api.get(SYNC), 405, "MethodNotAllowed")


def test_list_active_syncs_takes_only_get(api: httpx.Client) -> None:
    assert_error(api.post("/api/v1/data/list_active_syncs", json={}), 405, "MethodNotAllowed")


def test_data_sync_needs_the_deploy_key(anonymous: httpx.Client) -> None:
    assert_error(anonymous.post(SYNC, json={}), 403, "BadDeployKey")


def test_data_sync_needs_streaming_export_enabled(
    emulator: EmulatorServer, api: httpx.Client
) -> None:
    emulator.options.streaming_export_enabled = False
    assert_error(api.post(SYNC, json={}), 403, "StreamingExportNotEnabled")


def test_data_sync_needs_the_view_data_permission(
    emulator: EmulatorServer, api: httpx.Client
) -> None:
    emulator.options.view_data_permitted = False
    assert_error(api.post(SYNC, json={}), 403, "OperationNotPermitted")
