"""A crash mid-load leaves nothing half-visible, and the rerun lands what was missing."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from parquet_helpers import (
    CLI,
    by_id,
    cdc_files,
    data_files,
    manifests,
    pointer,
    read_cdc,
    read_current,
    resolve_cdc,
    run,
    schema,
    singer_lines,
    state,
    upsert,
)

NAME = {"type": ["string", "null"]}
DOCS, EVENTS = 400, 6000


def stream_messages() -> list[dict]:
    """Snapshot-then-changes traffic: EVENTS upserts over DOCS documents, STATE every 100."""
    messages = [schema("s", name=NAME)]
    for n in range(EVENTS):
        messages.append(upsert("s", f"d{n % DOCS:04d}", 1_000 + n, name=f"v{n}"))
        if n % 100 == 99:
            messages.append(state(n))
    return messages


def expected_names() -> dict[str, str]:
    return {f"d{d:04d}": f"v{EVENTS - DOCS + d}" for d in range(DOCS)}


def kill_after_first_state(config: dict, workdir: Path) -> None:
    """Feed the messages, SIGKILL the target soon after it has emitted its first STATE."""
    config_file = workdir / "config.json"
    config_file.write_text(json.dumps(config))
    process = subprocess.Popen(
        [CLI, "--config", str(config_file)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )

    def feed() -> None:  # slower than the target, like a tap paging through an API
        messages = stream_messages()
        try:
            for start in range(0, len(messages), 200):
                process.stdin.write(singer_lines(messages[start : start + 200]).encode())
                process.stdin.flush()
                time.sleep(0.02)
            process.stdin.close()
        except BrokenPipeError:
            pass

    writer = threading.Thread(target=feed)
    writer.start()
    assert process.stdout.readline(), "the target ended before emitting STATE"
    time.sleep(0.1)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    writer.join(timeout=30)
    assert process.returncode == -signal.SIGKILL


@pytest.fixture
def config(lake: Path) -> dict:
    return {"destination_path": str(lake), "batch_size_rows": 150, "state_interval_seconds": 0.05}


def test_cdc_after_sigkill_shows_only_committed_files_and_rerun_completes(
    lake: Path, tmp_path: Path, config: dict
) -> None:
    kill_after_first_state(config, tmp_path)
    committed = cdc_files(lake, "s")
    assert 0 < sum(m["rows"] for m in manifests(lake, "s")) < EVENTS, "not killed mid-stream"
    for path in committed:
        pq.read_metadata(path)  # whole, readable files only
    pending = {
        f
        for p in (lake / "s" / "_manifests" / "_pending").glob("*.json")
        for f in json.loads(p.read_text())["files"]
    }
    uncommitted = set(data_files(lake, "s")) - set(committed)
    assert {str(Path(p).relative_to(lake / "s")) for p in uncommitted} <= pending

    run(config, stream_messages())
    assert data_files(lake, "s") == sorted(cdc_files(lake, "s"))
    assert not list((lake / "s" / "_manifests" / "_pending").glob("*"))
    keys = [(r["_id"], r["_ts"]) for r in read_cdc(lake, "s").to_pylist()]
    assert len(keys) == len(set(keys)) == EVENTS
    assert {r["_id"]: r["name"] for r in resolve_cdc(lake, "s")} == expected_names()


def test_current_after_sigkill_points_at_a_whole_generation_and_rerun_completes(
    lake: Path, tmp_path: Path, config: dict
) -> None:
    config = {**config, "mode": "current", "batch_size_rows": 1500}
    kill_after_first_state(config, tmp_path)
    assert pointer(lake, "s")["max_ts"] < 1_000 + EVENTS - 1, "not killed mid-stream"
    table = read_current(lake, "s")
    assert table.num_rows == len(set(table["_id"].to_pylist())) == pointer(lake, "s")["rows"]

    run(config, stream_messages())
    rows = by_id(read_current(lake, "s"))
    assert {k: r["name"] for k, r in rows.items()} == expected_names()


def test_files_of_an_uncommitted_load_are_removed_by_the_next_run(lake: Path) -> None:
    config = {"destination_path": str(lake)}
    run(config, [schema("s", name=NAME), upsert("s", "a", 1, name="a")])
    (committed,) = cdc_files(lake, "s")
    orphan = Path(committed).with_name("part-crashed.parquet")
    shutil.copy(committed, orphan)
    intents = lake / "s" / "_manifests" / "_pending"
    (intents / "crashed.json").write_text(
        json.dumps({"files": [str(orphan.relative_to(lake / "s"))]})
    )
    load_id = manifests(lake, "s")[0]["load_id"]
    (intents / f"{load_id}.json").write_text(
        json.dumps({"files": [str(Path(committed).relative_to(lake / "s"))]})
    )

    run(config, [schema("s", name=NAME), upsert("s", "b", 2, name="b")])
    assert not orphan.exists()
    assert Path(committed).exists()
    assert not list(intents.iterdir())
    assert sorted(r["_id"] for r in resolve_cdc(lake, "s")) == ["a", "b"]
