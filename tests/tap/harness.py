"""Run the tap for real against the emulator and replay what it emitted.

``run_tap`` runs the tap in-process (fast; the HTTP traffic to the emulator is real);
``run_tap_process`` runs the ``tap-convex`` command, so tests can kill it.
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import signal
import subprocess
import sys
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator

from convex_emulator import EmulatorServer
from tap_convex.tap import TapConvex

TAP_COMMAND = str(Path(sys.executable).with_name("tap-convex"))


@dataclass
class Output:
    """The Singer messages of one tap run."""

    messages: list[dict[str, Any]] = field(default_factory=list)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]

    def records(self, stream: str | None = None) -> list[dict[str, Any]]:
        return [m["record"] for m in self.of_type("RECORD") if stream in (None, m["stream"])]

    @property
    def states(self) -> list[dict[str, Any]]:
        return [m["value"] for m in self.of_type("STATE")]

    @property
    def last_state(self) -> dict[str, Any] | None:
        states = self.states
        return states[-1] if states else None


def records_fit_their_schemas(output: Output) -> bool:
    """Every RECORD validates against the latest SCHEMA of its stream emitted before it."""
    schemas: dict[str, Any] = {}
    for message in output.messages:
        if message["type"] == "SCHEMA":
            schemas[message["stream"]] = Draft7Validator(message["schema"])
        elif message["type"] == "RECORD":
            errors = list(schemas[message["stream"]].iter_errors(message["record"]))
            assert not errors, f"{message['stream']}: {errors[0].message}"
    return True


def parse_lines(text: str) -> Output:
    return Output([json.loads(line) for line in text.splitlines() if line.strip()])


def config_for(emulator: EmulatorServer, **overrides: Any) -> dict[str, Any]:
    config = {
        "deployment_url": emulator.url,
        "deploy_key": emulator.admin_key,
        "retry_backoff_seconds": 0.01,
        "retry_backoff_max_seconds": 0.05,
    }
    config.update(overrides)
    return config


def run_tap(
    config: dict[str, Any],
    state: dict[str, Any] | None = None,
    catalog: dict[str, Any] | None = None,
) -> Output:
    """Sync once in-process and return everything written to stdout."""
    raw = io.BytesIO()
    text = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)
    with redirect_stdout(text):
        tap = TapConvex(config=config, state=state, catalog=catalog)
        tap.sync_all()
        text.flush()
    return parse_lines(raw.getvalue().decode("utf-8"))


def discover(config: dict[str, Any]) -> dict[str, Any]:
    return TapConvex(config=config).catalog_dict


def run_tap_process(
    config_path: Path,
    state_path: Path | None = None,
    catalog_path: Path | None = None,
    *extra: str,
    timeout: float = 120,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    args = [TAP_COMMAND, "--config", str(config_path)]
    if state_path is not None:
        args += ["--state", str(state_path)]
    if catalog_path is not None:
        args += ["--catalog", str(catalog_path)]
    return subprocess.run(
        [*args, *extra],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


class Replica:
    """What a downstream upsert/delete replay of the tap's records holds, per stream.

    Upsert by ``_id`` keeping the record with the highest ``_ts``; a ``_deleted`` record
    at the highest ``_ts`` removes the key. ``ACTIVATE_VERSION`` drops rows of older versions.
    """

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, dict[str, Any]]] = {}
        self._versions: dict[str, dict[str, int | None]] = {}
        self.tombstones: dict[str, dict[str, int]] = {}

    def apply(self, output: Output) -> Replica:
        for message in output.messages:
            stream = message.get("stream")
            if message["type"] == "RECORD":
                self._apply_record(stream, message["record"], message.get("version"))
            elif message["type"] == "ACTIVATE_VERSION":
                versions = self._versions.setdefault(stream, {})
                rows = self.rows.setdefault(stream, {})
                for doc_id in [
                    i for i, v in versions.items() if v is None or v < message["version"]
                ]:
                    rows.pop(doc_id, None)
                    versions.pop(doc_id)
        return self

    def _apply_record(self, stream: str, record: dict[str, Any], version: int | None) -> None:
        rows = self.rows.setdefault(stream, {})
        tombstones = self.tombstones.setdefault(stream, {})
        doc_id, ts = record["_id"], record["_ts"]
        current = rows.get(doc_id)
        newest = max(current["_ts"] if current else -1, tombstones.get(doc_id, -1))
        if ts < newest:
            return
        if record["_deleted"]:
            rows.pop(doc_id, None)
            self._versions.setdefault(stream, {}).pop(doc_id, None)
            tombstones[doc_id] = ts
        else:
            rows[doc_id] = record
            self._versions.setdefault(stream, {})[doc_id] = version

    def documents(self, stream: str) -> dict[str, dict[str, Any]]:
        """User fields and ``_id`` of each live row, comparable with :func:`source_documents`."""
        return {
            doc_id: {k: v for k, v in row.items() if not k.startswith("_") or k == "_id"}
            for doc_id, row in self.rows.get(stream, {}).items()
        }


def expected_value(value: Any) -> Any:
    """The tap's documented value rules, written independently of the tap's converter."""
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, list):
        return [expected_value(item) for item in value]
    return {key: expected_value(item) for key, item in value.items()}


def source_documents(
    emulator: EmulatorServer, component: str, table: str
) -> dict[str, dict[str, Any]]:
    """The emulator's ground truth for one table: user fields and ``_id`` of live documents."""
    documents = emulator.store.documents().get((component, table), {})
    return {
        doc_id: {k: expected_top_level(v) for k, v in value.items() if k != "_creationTime"}
        for doc_id, value in documents.items()
    }


def expected_top_level(value: Any) -> Any:
    """Top-level float fields are typed as numbers, so NaN and Infinity arrive as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return expected_value(value)


def run_and_kill(
    config: dict[str, Any],
    state: dict[str, Any] | None,
    tmp_path: Path,
    kill_after_records: int,
    *,
    require_kill: bool = True,
) -> Output:
    """Run ``tap-convex`` and SIGKILL it once it has written ``kill_after_records`` records."""
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    args = [TAP_COMMAND, "--config", str(config_path)]
    if state is not None:
        state_path = tmp_path / "state.json"
        state_path.write_text(json.dumps(state))
        args += ["--state", str(state_path)]
    stderr = (tmp_path / "stderr.txt").open("wb")
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=stderr)
    assert process.stdout is not None
    lines: list[bytes] = []
    records = 0
    for line in process.stdout:
        lines.append(line)
        records += b'"type":"RECORD"' in line
        if records >= kill_after_records:
            process.send_signal(signal.SIGKILL)
            break
    lines.extend(process.stdout.readlines())
    process.wait(timeout=30)
    stderr.close()
    if require_kill:
        assert process.returncode == -signal.SIGKILL, (tmp_path / "stderr.txt").read_text()[-2000:]
    complete = [line for line in lines if line.endswith(b"\n")]
    return Output([json.loads(line) for line in complete])
