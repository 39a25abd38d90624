"""Bad config fails at once, naming what is wrong; the access key is never printed."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from convex_emulator import EmulatorClient, EmulatorServer, Store, datasets
from tests.airbyte.harness import RUN_SOURCE, catalog_of, config_for, discovered, write_catalog

WRONG_KEY = "prod:emulator|0123456789abcdef0123456789abcdef0123456789abcdef"


def run(command: str, config: dict[str, Any], tmp_path: Path, *extra: str) -> tuple[str, float]:
    """One command of the protocol as a process; its stdout and stderr, and how long it took."""
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, str(RUN_SOURCE), command, "--config", str(config_path), *extra],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result.stdout + result.stderr, time.perf_counter() - started


def messages(output: str, kind: str) -> list[dict[str, Any]]:
    found = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return [message for message in found if message["type"] == kind]


def test_a_wrong_access_key_fails_check_at_once_naming_it(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    output, _ = run("check", config_for(emulator, access_key=WRONG_KEY), tmp_path)

    (status,) = messages(output, "CONNECTION_STATUS")
    assert status["connectionStatus"]["status"] == "FAILED"
    assert "access_key" in status["connectionStatus"]["message"]
    assert [e["status"] for e in emulator.requests.entries()] == [401]  # no retries
    assert WRONG_KEY not in output
    assert WRONG_KEY.split("|")[1] not in output


@pytest.mark.parametrize("command", ["check", "discover", "read"])
def test_a_missing_deployment_url_fails_naming_it(command: str, tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path / "catalog.json", catalog_of([]))
    extra = ("--catalog", str(catalog)) if command == "read" else ()

    output, seconds = run(command, {"access_key": WRONG_KEY}, tmp_path, *extra)

    failures = [m["connectionStatus"]["message"] for m in messages(output, "CONNECTION_STATUS")]
    failures += [m["trace"]["error"]["message"] for m in messages(output, "TRACE")]
    assert any("'deployment_url' is a required property" in f for f in failures), failures
    assert seconds < 30
    assert WRONG_KEY.split("|")[1] not in output


def test_a_deployment_url_with_a_path_is_refused_before_any_request(tmp_path: Path) -> None:
    config = {"deployment_url": "https://happy-animal-123.convex.cloud/api", "access_key": "k"}

    output, _ = run("check", config, tmp_path)

    (status,) = messages(output, "CONNECTION_STATUS")
    assert status["connectionStatus"]["status"] == "FAILED"
    assert "does not match" in status["connectionStatus"]["message"]


def test_the_access_key_never_appears_in_output_even_in_debug_or_when_a_read_fails(
    store: Store, emulator: EmulatorServer, admin: EmulatorClient, tmp_path: Path
) -> None:
    datasets.load_demo(store)
    config = config_for(emulator)
    catalog = write_catalog(tmp_path / "catalog.json", catalog_of(discovered(config)))
    admin.add_fault("document_deltas", status=400, code="Boom", message="no")
    admin.add_fault("list_snapshot", status=400, code="Boom", message="no", skip=2)
    secret = emulator.admin_key.split("|")[1]

    outputs = [run("read", config, tmp_path, "--catalog", str(catalog), "--debug")[0]]
    outputs += [run(command, config, tmp_path, "--debug")[0] for command in ("check", "discover")]

    assert any('"type":"RECORD"' in output for output in outputs)
    assert any("Boom" in output or "400" in output for output in outputs)
    for output in outputs:
        assert secret not in output
