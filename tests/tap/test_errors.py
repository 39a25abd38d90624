"""Bad config, state, catalog and server answers: one clear line, a non-zero exit, no secret."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from convex_emulator import EmulatorServer, Fault, Store
from tap_convex.errors import ConfigError
from tap_convex.settings import Settings
from tests.tap.harness import Replica, run_tap, run_tap_process, source_documents


def write(path: Path, payload: Any) -> Path:
    path.write_text(payload if isinstance(payload, str) else json.dumps(payload))
    return path


def error_line(result: Any) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("tap-convex: error:")]
    assert len(lines) == 1, result.stderr[-3000:]
    return lines[0]


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://example.com", "must be an http(s) URL"),
        ("https://", "must be an http(s) URL"),
        ("https://x.convex.cloud/api", "must have no path"),
        ("https://x.convex.cloud/?a=1", "must have no path"),
        ("https://x.convex.site", "HTTP-actions URL"),
        ("http://example.com", "allow_insecure_http"),
    ],
)
def test_invalid_deployment_url_is_a_config_error(url: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        Settings.from_config({"deployment_url": url, "deploy_key": "k"})


def test_plain_http_to_loopback_and_opted_in_hosts_is_accepted() -> None:
    assert (
        Settings.from_config(
            {"deployment_url": "http://127.0.0.1:3210/", "deploy_key": "k"}
        ).deployment_url
        == "http://127.0.0.1:3210"
    )
    opted_in = {
        "deployment_url": "http://convex.internal",
        "deploy_key": "k",
        "allow_insecure_http": True,
    }
    assert Settings.from_config(opted_in).deployment_url == "http://convex.internal"


def test_settings_repr_hides_the_deploy_key() -> None:
    settings = Settings.from_config(
        {"deployment_url": "https://a.convex.cloud", "deploy_key": "sekrit"}
    )
    assert "sekrit" not in repr(settings)


def test_bad_config_exits_non_zero_with_one_line(tmp_path: Path) -> None:
    config = write(
        tmp_path / "c.json", {"deployment_url": "ftp://nope", "deploy_key": "sekrit-key"}
    )
    result = run_tap_process(config)
    assert result.returncode != 0
    assert "deployment_url" in error_line(result)
    assert "sekrit-key" not in result.stderr + result.stdout


def test_wrong_deploy_key_is_fatal_and_never_printed(
    demo: Store, emulator: EmulatorServer, tmp_path: Path
) -> None:
    config = write(
        tmp_path / "c.json",
        {"deployment_url": emulator.url, "deploy_key": "prod:wrong|secret-value"},
    )
    result = run_tap_process(config)
    assert result.returncode != 0
    assert "deploy key was rejected" in error_line(result)
    assert "secret-value" not in result.stderr + result.stdout
    assert len(emulator.requests.entries()) == 1  # no retries on 401


def test_streaming_export_not_enabled_names_the_plan(
    demo: Store, emulator: EmulatorServer, config: dict[str, Any], tmp_path: Path
) -> None:
    emulator.configure({"streaming_export_enabled": False})
    result = run_tap_process(write(tmp_path / "c.json", config))
    assert result.returncode != 0
    assert "Convex Pro plan" in error_line(result)
    assert emulator.admin_key not in result.stderr + result.stdout


@pytest.mark.parametrize(
    "fault",
    [
        Fault("list_snapshot", "status", status=429, retry_after=0.01),
        Fault("list_snapshot", "status", status=500, count=2),
        Fault("document_deltas", "status", status=503),
        Fault("list_snapshot", "drop", skip=1),
        Fault("list_snapshot", "truncate", skip=2),
        Fault("document_deltas", "html", status=502),
        Fault("list_snapshot", "slow", delay=0.3, count=1),
    ],
    ids=["429", "500x2", "503", "drop", "truncate", "html", "slow"],
)
def test_transient_faults_are_retried_and_lose_nothing(
    demo: Store, emulator: EmulatorServer, config: dict[str, Any], fault: Fault
) -> None:
    emulator.configure({"snapshot_page_limit": 20})
    emulator.faults.add(fault)
    replica = Replica().apply(run_tap(config))
    assert replica.documents("messages") == source_documents(emulator, "", "messages")
    assert not emulator.faults.pending()


def test_timeout_is_retried(demo: Store, emulator: EmulatorServer, config: dict[str, Any]) -> None:
    emulator.faults.add(Fault("list_snapshot", "slow", delay=1.5))
    replica = Replica().apply(run_tap({**config, "request_timeout": 0.5}))
    assert replica.documents("users") == source_documents(emulator, "", "users")


def test_persistent_malformed_json_is_a_clear_error(
    demo: Store, emulator: EmulatorServer, config: dict[str, Any], tmp_path: Path
) -> None:
    emulator.faults.add(Fault("list_snapshot", "truncate", count=100))
    result = run_tap_process(write(tmp_path / "c.json", {**config, "max_retries": 2}))
    assert result.returncode != 0
    assert "malformed JSON" in error_line(result)


def test_expired_delta_cursor_resnapshots_with_a_loud_warning(
    demo: Store, emulator: EmulatorServer, config: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    first = run_tap(config)
    demo.delete(next(iter(demo.documents()[("", "users")])))
    demo.clock.advance(15 * 24 * 3600)
    second = run_tap(config, state=first.last_state)
    assert "RE-SNAPSHOT" in caplog.text
    assert second.of_type("ACTIVATE_VERSION")
    replica = Replica().apply(first).apply(second)
    assert replica.documents("users") == source_documents(emulator, "", "users")
    new_versions = {m["stream"]: m["version"] for m in second.of_type("ACTIVATE_VERSION")}
    old_versions = {m["stream"]: m["version"] for m in first.of_type("ACTIVATE_VERSION")}
    assert all(new_versions[s] > old_versions[s] for s in new_versions)


def test_expired_position_fails_when_configured_to(
    demo: Store, emulator: EmulatorServer, config: dict[str, Any], tmp_path: Path
) -> None:
    first = run_tap(config)
    demo.clock.advance(15 * 24 * 3600)
    result = run_tap_process(
        write(tmp_path / "c.json", {**config, "on_expired_position": "fail"}),
        write(tmp_path / "s.json", first.last_state),
    )
    assert result.returncode != 0
    assert "has expired" in error_line(result)


def test_snapshot_older_than_five_days_restarts(
    store: Store, emulator: EmulatorServer, config: dict[str, Any]
) -> None:
    for number in range(30):
        store.insert("items", {"n": number})
    emulator.configure({"snapshot_page_limit": 10})
    first_page = run_tap(
        config
    )  # full run; fabricate an interrupted state from its first checkpoint
    interrupted = first_page.states[0]
    store.clock.advance(6 * 24 * 3600)
    resumed = run_tap(config, state=interrupted)
    assert len(resumed.records("items")) == 30
    assert resumed.of_type("ACTIVATE_VERSION")


@pytest.mark.parametrize(
    ("state", "problem"),
    [
        (
            {
                "bookmarks": {
                    "users": {
                        "state_format": 99,
                        "component": "",
                        "table": "users",
                        "phase": "deltas",
                        "deltas_cursor": 1,
                    }
                }
            },
            "state_format 99",
        ),
        (
            {
                "bookmarks": {
                    "users": {
                        "state_format": 1,
                        "component": "",
                        "table": "users",
                        "phase": "deltas",
                        "deltas_cursor": "x",
                    }
                }
            },
            "not a valid tap-convex bookmark",
        ),
        (
            {
                "bookmarks": {
                    "users": {
                        "state_format": 1,
                        "component": "x",
                        "table": "users",
                        "phase": "deltas",
                        "deltas_cursor": 1,
                    }
                }
            },
            "belongs to table",
        ),
        ({"bookmarks": ["not", "a", "map"]}, "bookmarks"),
    ],
    ids=["unknown-version", "bad-cursor", "other-table", "not-a-map"],
)
def test_unusable_state_is_a_clear_error(
    demo: Store, config: dict[str, Any], tmp_path: Path, state: dict[str, Any], problem: str
) -> None:
    result = run_tap_process(write(tmp_path / "c.json", config), write(tmp_path / "s.json", state))
    assert result.returncode != 0
    assert problem in error_line(result)


def test_unreadable_state_file_fails(demo: Store, config: dict[str, Any], tmp_path: Path) -> None:
    result = run_tap_process(
        write(tmp_path / "c.json", config), write(tmp_path / "s.json", "{not json")
    )
    assert result.returncode != 0
    assert "Cannot read the state file" in error_line(result)
    assert result.stdout == ""


def test_unreadable_catalog_file_fails(demo: Store, config: dict[str, Any], tmp_path: Path) -> None:
    result = run_tap_process(
        write(tmp_path / "c.json", config), None, write(tmp_path / "cat.json", "[1, 2")
    )
    assert result.returncode != 0
    assert "Cannot read the catalog file" in error_line(result)
    assert '"RECORD"' not in result.stdout


def test_catalog_without_streams_is_a_clear_error(
    demo: Store, config: dict[str, Any], tmp_path: Path
) -> None:
    result = run_tap_process(
        write(tmp_path / "c.json", config), None, write(tmp_path / "cat.json", {"x": 1})
    )
    assert result.returncode != 0
    assert "no 'streams' list" in error_line(result)
