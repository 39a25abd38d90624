"""Authentication, authorization and request validation (§1.2-1.4, §1.12)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from convex_emulator import EmulatorServer

from .helpers import assert_error

CONNECTION = "/api/test_streaming_export_connection"


def _auth(value: str) -> dict[str, str]:
    return {"Authorization": value}


def test_convex_scheme_with_the_deploy_key_is_accepted(
    emulator: EmulatorServer, anonymous: httpx.Client
) -> None:
    response = anonymous.get(CONNECTION, headers=_auth(f"Convex {emulator.admin_key}"))
    assert response.status_code == 200
    assert response.json() is None
    assert response.headers["content-type"] == "application/json"


def test_wrong_key_is_401_bad_admin_key(anonymous: httpx.Client) -> None:
    response = anonymous.get(CONNECTION, headers=_auth("Convex prod:emulator|not-the-key"))
    assert_error(response, 401, "BadAdminKey")


def test_missing_authorization_is_403_bad_deploy_key(anonymous: httpx.Client) -> None:
    assert_error(anonymous.get(CONNECTION), 403, "BadDeployKey")


def test_prod_prefix_of_the_key_is_optional(
    emulator: EmulatorServer, anonymous: httpx.Client
) -> None:
    assert emulator.admin_key.startswith("prod:")
    bare = emulator.admin_key.removeprefix("prod:")
    assert anonymous.get(CONNECTION, headers=_auth(f"Convex {bare}")).status_code == 200


def test_convex_scheme_is_case_insensitive(
    emulator: EmulatorServer, anonymous: httpx.Client
) -> None:
    response = anonymous.get(CONNECTION, headers=_auth(f"CONVEX {emulator.admin_key}"))
    assert response.status_code == 200


def test_bearer_user_token_cannot_export(emulator: EmulatorServer, anonymous: httpx.Client) -> None:
    response = anonymous.get(CONNECTION, headers=_auth(f"Bearer {emulator.admin_key}"))
    assert_error(response, 403, "BadDeployKey")


def test_authorization_header_shorter_than_seven_chars_is_400(anonymous: httpx.Client) -> None:
    response = anonymous.get(CONNECTION, headers=_auth("Conv"))
    assert_error(response, 400, "InvalidHeaderFailure")


def test_disabled_streaming_export_is_403_streaming_export_not_enabled(
    emulator: EmulatorServer, api: httpx.Client
) -> None:
    emulator.configure({"streaming_export_enabled": False})
    assert_error(api.get(CONNECTION), 403, "StreamingExportNotEnabled")
    assert_error(api.post("/api/list_snapshot", json={}), 403, "StreamingExportNotEnabled")


def test_plan_gate_is_checked_before_the_permission_check(
    emulator: EmulatorServer, api: httpx.Client
) -> None:
    emulator.configure({"streaming_export_enabled": False, "view_data_permitted": False})
    assert_error(api.get(CONNECTION), 403, "StreamingExportNotEnabled")


def test_key_without_view_data_permission_is_403_operation_not_permitted(
    emulator: EmulatorServer, api: httpx.Client
) -> None:
    emulator.configure({"view_data_permitted": False})
    assert_error(api.get("/api/get_table_column_names"), 403, "OperationNotPermitted")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", CONNECTION, None),
        ("GET", "/api/get_table_column_names", None),
        ("GET", "/api/json_schemas", None),
        ("POST", "/api/list_snapshot", {}),
        ("POST", "/api/document_deltas", {"cursor": 0}),
    ],
)
def test_every_export_endpoint_rejects_an_unauthenticated_request(
    anonymous: httpx.Client, method: str, path: str, body: dict[str, Any] | None
) -> None:
    response = anonymous.request(method, path, json=body)
    assert_error(response, 403, "BadDeployKey")


def test_error_body_is_exactly_code_and_message(anonymous: httpx.Client) -> None:
    response = anonymous.get(CONNECTION, headers=_auth("Convex wrong"))
    assert response.headers["content-type"] == "application/json"
    assert set(response.json()) == {"code", "message"}
    assert response.json()["message"] == "The provided admin key was invalid for this instance"


def test_convex_client_header_with_name_and_version_is_accepted(api: httpx.Client) -> None:
    assert api.get(CONNECTION, headers={"Convex-Client": "tap-convex-0.1.0"}).status_code == 200


def test_convex_client_header_without_dash_is_400_invalid_client_version(
    api: httpx.Client,
) -> None:
    response = api.get(CONNECTION, headers={"Convex-Client": "tapconvex"})
    assert_error(response, 400, "InvalidClientVersion")


def test_post_without_json_content_type_is_400_bad_json_body(api: httpx.Client) -> None:
    response = api.post("/api/list_snapshot", content=b"{}", headers={"Content-Type": "text/plain"})
    assert_error(response, 400, "BadJsonBody")


def test_post_with_invalid_json_is_400_bad_json_body(api: httpx.Client) -> None:
    response = api.post(
        "/api/list_snapshot", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_error(response, 400, "BadJsonBody")


def test_post_body_that_is_not_an_object_is_400_bad_json_body(api: httpx.Client) -> None:
    assert_error(api.post("/api/document_deltas", json=[1, 2]), 400, "BadJsonBody")


def test_json_content_type_with_charset_is_accepted(api: httpx.Client) -> None:
    response = api.post(
        "/api/list_snapshot",
        content=b"{}",
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200


def test_unparseable_query_argument_is_400_bad_query_args(api: httpx.Client) -> None:
    assert_error(api.get("/api/list_snapshot", params={"snapshot": "soon"}), 400, "BadQueryArgs")


def test_unknown_route_is_404(api: httpx.Client) -> None:
    assert_error(api.get("/api/get_tables_and_columns"), 404, "NotFound")


def test_schema_endpoints_are_get_only(api: httpx.Client) -> None:
    assert api.post("/api/get_table_column_names", json={}).status_code == 405
