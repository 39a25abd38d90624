"""``transport: data_sync`` against hostile answers: one clear error line, never a silent loop;
and a crash mid-walk resumes from the last STATE and converges."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from convex_emulator import EmulatorServer, Fault, Store, datasets
from tap_convex.errors import ProtocolError
from tests.tap.harness import Replica, run_and_kill, run_tap, run_tap_process, source_documents
from tests.tap.test_data_sync_truncates import DATA_SYNC, assert_converged

SYNC = "v1/data/sync"


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (Fault(SYNC, kind="drop_field", field="pagination"), "without pagination.nextCursor"),
        (Fault(SYNC, kind="unknown_status"), "unknown status"),
        (Fault(SYNC, kind="repeat_cursor", skip=1), "answered the cursor it was sent"),
        (Fault(SYNC, kind="null_cursor"), "without pagination.nextCursor"),
        (Fault(SYNC, kind="drop_value_field", field="ts"), "integer ts"),
    ],
)
def test_a_hostile_answer_is_one_clear_error(
    fault: Fault, message: str, demo: Store, emulator: EmulatorServer, config: dict[str, Any]
) -> None:
    emulator.configure({"data_sync_page_size_limit": 2})
    emulator.faults.add(fault)
    with pytest.raises(ProtocolError, match=message):
        run_tap({**config, **DATA_SYNC})
    assert len(emulator.requests.entries(SYNC)) <= 2


def test_the_command_reports_a_hostile_answer_in_one_line(
    demo: Store, emulator: EmulatorServer, config: dict[str, Any], tmp_path: Path
) -> None:
    emulator.faults.add(Fault(SYNC, kind="unknown_status", count=100))
    config_path = tmp_path / "config.json"
    config_path.write_text(__import__("json").dumps({**config, **DATA_SYNC}))
    result = run_tap_process(config_path)
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if "tap-convex: error:" in line]
    assert len(lines) == 1
    assert "unknown status" in lines[0]


def test_retryable_faults_are_retried(
    demo: Store, emulator: EmulatorServer, config: dict[str, Any]
) -> None:
    emulator.configure({"data_sync_page_size_limit": 2})
    for fault in (
        Fault(SYNC, status=503, skip=1),
        Fault(SYNC, kind="truncate", skip=3),
        Fault(SYNC, status=429, retry_after=0.01, skip=5),
        Fault("data_sync_cursor_from_deltas", status=503),
    ):
        emulator.faults.add(fault)
    output = run_tap({**config, **DATA_SYNC})
    assert_converged(emulator, output)


def test_a_kill_mid_walk_resumes_from_the_last_state(
    store: Store, emulator: EmulatorServer, config: dict[str, Any], tmp_path: Path
) -> None:
    datasets.generate(store, 2000, tables=3)
    emulator.configure({"data_sync_page_size_limit": 50})
    ds_config = {**config, **DATA_SYNC}
    killed = run_and_kill(ds_config, None, tmp_path, kill_after_records=700)
    assert killed.last_state is not None
    assert killed.last_state["data_sync"]["cursor"]
    pending = [b["activation_pending"] for b in killed.last_state["bookmarks"].values()]
    assert all(pending)
    assert not killed.of_type("ACTIVATE_VERSION")
    resumed = run_tap(ds_config, state=killed.last_state)
    assert len(resumed.records()) < 2000
    replica = Replica().apply(killed).apply(resumed)
    for stream in ("events", "table1", "table2"):
        assert replica.documents(stream) == source_documents(emulator, "", stream)
