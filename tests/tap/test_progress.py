"""The heartbeat of long walks: one INFO line per interval, with phase, rate, table and lag."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from convex_emulator import EmulatorServer, Store, datasets
from tap_convex.progress import Progress
from tests.tap.harness import config_for, run_tap


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_lines_come_at_most_once_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    progress = Progress(30, monotonic=clock, wall_ns=lambda: 0)
    progress.start("snapshot")
    with caplog.at_level(logging.INFO, logger="tap_convex"):
        for _ in range(10):
            clock.now += 5
            progress.page(1000, table="users")
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Progress")]
    assert lines == [
        "Progress: snapshot, reading users, 6000 records so far, 200 records/s.",
    ]


def test_a_change_log_line_says_how_far_behind_it_is(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    now_ns = 10_000 * 1_000_000_000
    progress = Progress(1, monotonic=clock, wall_ns=lambda: now_ns)
    progress.start("change log")
    clock.now = 2
    with caplog.at_level(logging.INFO, logger="tap_convex"):
        progress.page(50, position_ns=now_ns - 125 * 1_000_000_000)
    assert caplog.records[-1].getMessage() == (
        "Progress: change log, 50 records so far, 25 records/s, "
        "2 min 05 s behind the deployment's clock."
    )


def test_an_interval_of_zero_is_silent(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()
    progress = Progress(0, monotonic=clock)
    progress.start("snapshot")
    with caplog.at_level(logging.INFO, logger="tap_convex"):
        clock.now = 1000
        progress.page(5)
    assert not caplog.records


def test_a_sync_with_a_small_interval_reports_both_phases(
    store: Store, emulator: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    datasets.generate(store, 600, tables=2)
    emulator.configure({"snapshot_page_limit": 50})
    config: dict[str, Any] = config_for(emulator, progress_interval_seconds=0.000001)
    with caplog.at_level(logging.INFO, logger="tap_convex"):
        output = run_tap(config)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Progress")]
    snapshot_lines = [line for line in lines if line.startswith("Progress: snapshot")]
    assert len(snapshot_lines) >= 10
    assert "reading " in snapshot_lines[0]
    assert snapshot_lines[-1].startswith("Progress: snapshot, reading ")
    assert f"{len(output.records())} records so far" in snapshot_lines[-1]
    assert any(line.startswith("Progress: change log") and "behind" in line for line in lines)
