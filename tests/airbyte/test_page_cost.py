"""What each page costs: the connector parses it once, and nothing else in the CDK does.

Most of a snapshot's time is spent per record (see ``docs/airbyte.md``, Benchmark). The
response filters that give a failure its message have predicates, and a predicate parses the
answer's body as JSON: in the first handler, they parsed every page twice more.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests

from convex_emulator import EmulatorServer, Store, datasets
from tests.airbyte.harness import config_for, last_states, sync

if TYPE_CHECKING:
    import pytest


def test_a_page_that_succeeds_is_parsed_by_the_connector_only(
    store: Store, emulator: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    datasets.load_demo(store)
    parsed: list[tuple[str, int]] = []
    parse = requests.Response.json

    def counted(response: requests.Response, **kwargs: Any) -> Any:
        parsed.append((urlsplit(response.url).path, response.status_code))
        return parse(response, **kwargs)

    monkeypatch.setattr(requests.Response, "json", counted)
    config = config_for(emulator)
    first = sync(config)
    ids = sorted(store.documents()[("", "users")])
    with store.transaction() as tx:
        tx.delete(ids[0])
    second = sync(config, last_states(first.state_messages))

    assert not first.errors
    assert not second.errors
    assert emulator.requests.entries("list_snapshot")
    assert emulator.requests.entries("document_deltas")
    # json_schemas is parsed, by the component that turns it into streams; pages never.
    assert {path for path, _ in parsed} == {"/api/json_schemas"}
