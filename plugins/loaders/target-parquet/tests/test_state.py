"""STATE goes out on an interval, and only after the data it covers is committed."""

from __future__ import annotations

import io
import json
import os
import select
import subprocess
import time
from contextlib import redirect_stdout
from pathlib import Path

from parquet_helpers import CLI, manifests, read_cdc, schema, singer_lines, state, upsert
from target_parquet.target import TargetParquet

NAME = {"type": ["string", "null"]}


class Target:
    """The CLI as a child process, fed message by message; STATE lines read unbuffered."""

    def __init__(self, config: dict, workdir: Path) -> None:
        config_file = workdir / "config.json"
        config_file.write_text(json.dumps(config))
        self.process = subprocess.Popen(
            [CLI, "--config", str(config_file)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=(workdir / "stderr.log").open("w"),
        )
        self._pending = b""

    def send(self, messages: list[dict]) -> None:
        self.process.stdin.write(singer_lines(messages).encode())
        self.process.stdin.flush()

    def states(self, timeout: float) -> list[dict]:
        """STATE values emitted within `timeout` seconds (stops early at the first one)."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._pending:
            left = max(deadline - time.monotonic(), 0)
            if not select.select([self.process.stdout], [], [], left)[0]:
                return []
            chunk = os.read(self.process.stdout.fileno(), 65536)
            if not chunk:
                break
            self._pending += chunk
        *lines, self._pending = self._pending.split(b"\n")
        return [json.loads(line) for line in lines if line.strip()]

    def finish(self) -> list[dict]:
        """Close input, wait for a clean exit, return the remaining STATE values."""
        self.process.stdin.close()
        assert self.process.wait(timeout=30) == 0
        rest = self._pending + self.process.stdout.read()
        return [json.loads(line) for line in rest.splitlines() if line.strip()]


def test_each_state_follows_the_commit_of_the_records_before_it(lake: Path, tmp_path: Path) -> None:
    target = Target({"destination_path": str(lake), "state_interval_seconds": 0}, tmp_path)
    target.send([schema("s", name=NAME)])
    sent: set[str] = set()
    for chunk in range(3):
        ids = [f"c{chunk}-{n}" for n in range(5)]
        target.send([upsert("s", i, chunk * 10 + n, name=i) for n, i in enumerate(ids)])
        target.send([state(chunk)])
        sent.update(ids)
        assert target.states(timeout=10) == [{"n": chunk}]
        # At the moment STATE is readable, everything it covers is in committed files.
        assert sent <= set(read_cdc(lake, "s")["_id"].to_pylist())
    assert target.finish() == []  # the unchanged final state is not repeated


def test_state_is_emitted_at_least_every_interval_while_input_flows(
    lake: Path, tmp_path: Path
) -> None:
    target = Target({"destination_path": str(lake), "state_interval_seconds": 0.3}, tmp_path)
    target.send([schema("s", name=NAME)])
    emitted = []
    for n in range(10):
        target.send([upsert("s", f"k{n}", n, name="x"), state(n)])
        time.sleep(0.15)
        emitted += target.states(timeout=0)
    assert len(emitted) >= 2  # ~1.5 s of input with a 0.3 s interval
    assert [*emitted, *target.finish()][-1] == {"n": 9}


def test_a_state_waits_for_its_rows_and_goes_out_once_nothing_waits(lake: Path) -> None:
    target = TargetParquet(config={"destination_path": str(lake), "batch_size_rows": 2})
    messages = [schema("s", name=NAME)]
    for n in range(6):
        messages += [upsert("s", f"k{n}", n, name="x"), state(n)]
    stdout = io.StringIO()
    with redirect_stdout(stdout):
        target.process_lines(io.StringIO(singer_lines(messages)))
        assert len(manifests(lake, "s")) == 3
        # STATE after an odd record follows a full (committed) batch; after an even one,
        # a record is still buffered, so that STATE waits
        assert [json.loads(line) for line in stdout.getvalue().splitlines()] == [
            {"n": 1},
            {"n": 3},
            {"n": 5},
        ]
        target.process_endofpipe()
    assert len(stdout.getvalue().splitlines()) == 3  # the last one is not repeated
