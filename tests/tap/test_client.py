"""The HTTP client: retries within bounds, Retry-After, timeouts and protocol checks."""

from __future__ import annotations

import msgspec
import pytest

from convex_emulator import EmulatorServer, Fault, Store
from tap_convex.client import ConvexClient
from tap_convex.errors import ConvexApiError, ConvexAuthError, ProtocolError
from tap_convex.pages import deltas_page, snapshot_page
from tap_convex.settings import Settings

SELECT_ALL = {"_other": "incl"}


def make_client(emulator: EmulatorServer, sleeps: list[float], **overrides: object) -> ConvexClient:
    settings = Settings.from_config(
        {"deployment_url": emulator.url, "deploy_key": emulator.admin_key, **overrides}
    )
    return ConvexClient(settings, sleep=sleeps.append)


def test_retry_after_is_honoured(store: Store, emulator: EmulatorServer) -> None:
    emulator.faults.add(Fault("list_snapshot", "status", status=429, retry_after=7))
    sleeps: list[float] = []
    make_client(emulator, sleeps).list_snapshot(None, None, SELECT_ALL)
    assert sleeps == [7.0]


def test_retry_after_is_capped_by_the_longest_delay(store: Store, emulator: EmulatorServer) -> None:
    emulator.faults.add(Fault("list_snapshot", "status", status=503, retry_after=3600))
    sleeps: list[float] = []
    make_client(emulator, sleeps, retry_backoff_max_seconds=30).list_snapshot(
        None, None, SELECT_ALL
    )
    assert sleeps == [30.0]


def test_backoff_doubles_with_jitter_and_gives_up_after_max_retries(
    store: Store, emulator: EmulatorServer
) -> None:
    emulator.faults.add(Fault("document_deltas", "status", status=500, count=10))
    sleeps: list[float] = []
    client = make_client(emulator, sleeps, max_retries=4, retry_backoff_seconds=1)
    with pytest.raises(ConvexApiError, match="gave up after 5 attempts"):
        client.document_deltas(store.now_for_reads(), SELECT_ALL)
    assert len(sleeps) == 4
    for attempt, delay in enumerate(sleeps):
        assert 0.5 * 2**attempt <= delay <= 2**attempt
    assert len(emulator.requests.entries("document_deltas")) == 5


def test_auth_errors_are_not_retried(store: Store, emulator: EmulatorServer) -> None:
    sleeps: list[float] = []
    settings = Settings.from_config({"deployment_url": emulator.url, "deploy_key": "prod:x|wrong"})
    with pytest.raises(ConvexAuthError, match="deploy key was rejected"):
        ConvexClient(settings, sleep=sleeps.append).test_connection()
    assert sleeps == []


def test_every_request_has_the_configured_timeout(store: Store, emulator: EmulatorServer) -> None:
    client = make_client(emulator, [], request_timeout=12.5)
    assert client._http.timeout.read == 12.5
    assert client._http.timeout.connect == 12.5


def test_snapshot_page_with_has_more_and_no_cursor_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="hasMore but gave no cursor"):
        snapshot_page(b'{"values": [], "snapshot": 1, "cursor": null, "hasMore": true}')


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"values": {}, "snapshot": 1, "cursor": None, "hasMore": False},
        {"values": [], "snapshot": "1", "cursor": None, "hasMore": False},
        {"values": [], "snapshot": 1.5, "cursor": None, "hasMore": False},
        {"values": [], "snapshot": 1, "cursor": 5, "hasMore": True},
        {"values": [1], "snapshot": 1, "cursor": None, "hasMore": False},
    ],
)
def test_malformed_snapshot_pages_are_protocol_errors(body: object) -> None:
    with pytest.raises(ProtocolError):
        snapshot_page(msgspec.json.encode(body))


@pytest.mark.parametrize(
    "body",
    [
        {"values": [], "cursor": None, "hasMore": False},
        {"values": [], "cursor": 1, "hasMore": "no"},
        {"cursor": 1, "hasMore": False},
    ],
)
def test_malformed_deltas_pages_are_protocol_errors(body: object) -> None:
    with pytest.raises(ProtocolError):
        deltas_page(msgspec.json.encode(body))
