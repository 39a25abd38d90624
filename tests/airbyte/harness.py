"""Run the declarative Convex source against the emulator and replay what it emitted.

``sync`` runs it in-process through airbyte-cdk's ``entrypoint_wrapper`` (the HTTP traffic to
the emulator is real); ``start_read`` runs ``airbyte/run_source.py`` as a process, so a test
can kill it. Written for ``.venv-airbyte``: nothing here imports the tap.
"""

from __future__ import annotations

import base64
import json
import math
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from airbyte_cdk.models import (
    AirbyteMessage,
    AirbyteStateMessage,
    AirbyteStateMessageSerializer,
    AirbyteStream,
    ConfiguredAirbyteCatalog,
    ConfiguredAirbyteCatalogSerializer,
    SyncMode,
)
from airbyte_cdk.test.catalog_builder import CatalogBuilder, ConfiguredAirbyteStreamBuilder
from airbyte_cdk.test.entrypoint_wrapper import EntrypointOutput, discover, read

from convex_emulator import EmulatorServer

REPO = Path(__file__).resolve().parents[2]
RUN_SOURCE = REPO / "airbyte" / "run_source.py"
sys.path.insert(0, str(RUN_SOURCE.parent))
from run_source import build_source  # noqa: E402 - airbyte/ is not a package

POSITION = "_ab_convex_position_us"


def config_for(emulator: EmulatorServer, **overrides: Any) -> dict[str, Any]:
    return {"deployment_url": emulator.url, "access_key": emulator.admin_key, **overrides}


def discovered(config: dict[str, Any]) -> list[AirbyteStream]:
    """The streams ``discover`` returns; a failed discovery fails the test with its message."""
    output = discover(build_source(config), config)
    assert not output.errors, [error.trace.error.message for error in output.errors]
    return list(output.catalog.catalog.streams)


def catalog_of(streams: Iterable[AirbyteStream]) -> ConfiguredAirbyteCatalog:
    """Every stream, incremental (what a user picks for a change log), keyed by ``_id``."""
    builder = CatalogBuilder()
    for stream in streams:
        builder.with_stream(
            ConfiguredAirbyteStreamBuilder()
            .with_name(stream.name)
            .with_sync_mode(SyncMode.incremental)
            .with_primary_key([["_id"]])
            .with_json_schema(dict(stream.json_schema))
        )
    return builder.build()


def sync(
    config: dict[str, Any],
    state: list[AirbyteStateMessage] | None = None,
    *,
    expecting_exception: bool = False,
) -> EntrypointOutput:
    """Discover, then read every stream from ``state`` (none: a first sync)."""
    catalog = catalog_of(discovered(config))
    source = build_source(config, catalog, state)
    return read(source, config, catalog, state, expecting_exception=expecting_exception)


def last_states(messages: Iterable[AirbyteMessage]) -> list[AirbyteStateMessage]:
    """The last STATE of each stream: what Airbyte hands the next sync."""
    latest: dict[str, AirbyteStateMessage] = {}
    for message in messages:
        if message.state is not None and message.state.stream is not None:
            latest[message.state.stream.stream_descriptor.name] = message.state
    return list(latest.values())


def positions(states: Iterable[AirbyteStateMessage]) -> dict[str, int]:
    """Each stream's saved position (µs), as the CDK's cursor writes it (a string)."""
    return {
        s.stream.stream_descriptor.name: int(vars(s.stream.stream_state)[POSITION])
        for s in states
        if s.stream is not None and s.stream.stream_state is not None
    }


def committed_records(messages: list[AirbyteMessage]) -> list[tuple[str, dict[str, Any]]]:
    """The records an Airbyte destination commits: each stream's records up to its last
    STATE (what follows it is re-read by the next attempt)."""
    last_state_at = {
        m.state.stream.stream_descriptor.name: n
        for n, m in enumerate(messages)
        if m.state is not None and m.state.stream is not None
    }
    return [
        (m.record.stream, dict(m.record.data))
        for n, m in enumerate(messages)
        if m.record is not None and n < last_state_at.get(m.record.stream, -1)
    ]


def records_of(output: EntrypointOutput) -> list[tuple[str, dict[str, Any]]]:
    return [(m.record.stream, dict(m.record.data)) for m in output.records if m.record]


class Replica:
    """What an append-dedup destination holds: per stream, the record with the highest
    ``_ts`` of each ``_id``, unless that record is a delete."""

    def __init__(self) -> None:
        self.latest: dict[str, dict[str, dict[str, Any]]] = {}

    def apply(self, records: Iterable[tuple[str, dict[str, Any]]]) -> Replica:
        for stream, record in records:
            rows = self.latest.setdefault(stream, {})
            current = rows.get(record["_id"])
            if current is None or record["_ts"] >= current["_ts"]:
                rows[record["_id"]] = record
        return self

    def documents(self, stream: str) -> dict[str, dict[str, Any]]:
        """User fields and ``_id`` of each live row, comparable with :func:`expected`."""
        return {
            doc_id: {k: v for k, v in row.items() if not k.startswith("_") or k == "_id"}
            for doc_id, row in self.latest.get(stream, {}).items()
            if not row["_deleted"]
        }


def expected_value(value: Any) -> Any:
    """The documented value rules, written independently of the connector's components."""
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


def expected(emulator: EmulatorServer, component: str, table: str) -> dict[str, dict[str, Any]]:
    """The emulator's ground truth for one table as records carry it: a top-level float
    column's NaN or infinity is null, and a null top-level field is left out (the CDK's
    message serializer omits it; Airbyte reads a missing field as null)."""
    documents = emulator.store.documents().get((component, table), {})
    out = {}
    for doc_id, value in documents.items():
        fields = {}
        for key, item in value.items():
            if key == "_creationTime":
                continue
            if isinstance(item, float) and not math.isfinite(item):
                item = None  # noqa: PLW2901 - the rule rewrites the value
            if item is not None:
                fields[key] = expected_value(item)
        out[doc_id] = fields
    return out


def start_read(
    config_path: Path, catalog_path: Path, state_path: Path | None = None
) -> subprocess.Popen[str]:
    """``run_source.py read`` as a process whose stdout a test reads line by line."""
    command = [sys.executable, str(RUN_SOURCE), "read", "--config", str(config_path)]
    command += ["--catalog", str(catalog_path)]
    if state_path is not None:
        command += ["--state", str(state_path)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def write_catalog(path: Path, catalog: ConfiguredAirbyteCatalog) -> Path:
    path.write_text(json.dumps(ConfiguredAirbyteCatalogSerializer.dump(catalog)))
    return path


def write_state(path: Path, states: list[AirbyteStateMessage]) -> Path:
    path.write_text(json.dumps([AirbyteStateMessageSerializer.dump(s) for s in states]))
    return path
