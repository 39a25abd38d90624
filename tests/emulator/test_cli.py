"""The ``convex-emulator`` command, run as a real subprocess."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from convex_emulator import cli, server

EXECUTABLE = Path(sys.executable).with_name("convex-emulator")


@pytest.fixture
def running() -> Iterator[tuple[subprocess.Popen[str], dict[str, str]]]:
    if not EXECUTABLE.exists():
        pytest.skip(f"{EXECUTABLE.name} is not installed next to the interpreter")
    process = subprocess.Popen(
        [str(EXECUTABLE), "--demo", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready = json.loads(process.stdout.readline())
        yield process, ready
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_cli_prints_url_and_admin_key_then_serves_and_stops_on_sigterm(
    running: tuple[subprocess.Popen[str], dict[str, str]],
) -> None:
    process, ready = running
    assert set(ready) == {"url", "admin_key"}
    assert ready["url"].startswith("http://127.0.0.1:")
    response = httpx.get(
        ready["url"] + "/api/get_table_column_names",
        headers={"Authorization": f"Convex {ready['admin_key']}"},
        timeout=10,
        verify=False,  # noqa: S501 - plain HTTP on loopback: no certificate to check
    )
    assert response.status_code == 200
    assert {"", "waitlist"} <= set(response.json()["byComponent"])
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0


def test_cli_rejects_a_missing_load_file(tmp_path: Path) -> None:
    if not EXECUTABLE.exists():
        pytest.skip(f"{EXECUTABLE.name} is not installed next to the interpreter")
    result = subprocess.run(
        [str(EXECUTABLE), "--load", str(tmp_path / "missing.jsonl")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "cannot load data" in result.stderr


def test_cli_main_builds_the_configured_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process: the flags reach the store config and server options."""
    captured: dict[str, Any] = {}

    def fake_serve_forever(self: server.EmulatorServer) -> None:
        captured["config"] = self.store.config
        captured["options"] = self.options
        captured["key"] = self.admin_key
        self._httpd.server_close()

    monkeypatch.setattr(server.EmulatorServer, "serve_forever", fake_serve_forever)
    code = cli.main(
        [
            "--admin-key",
            "prod:mine|k",
            "--deltas-page-limit",
            "7",
            "--snapshot-page-limit",
            "9",
            "--retention-days",
            "1",
            "--snapshot-max-age-days",
            "0.5",
            "--disable-streaming-export",
        ]
    )
    assert code == 0
    assert captured["key"] == "prod:mine|k"
    assert (captured["config"].deltas_page_limit, captured["config"].snapshot_page_limit) == (7, 9)
    assert captured["config"].retention_seconds == 86_400
    assert captured["config"].snapshot_max_age_seconds == 43_200
    assert captured["options"].streaming_export_enabled is False
