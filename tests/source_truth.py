"""The truth that what we land is compared with: the emulator's documents and revisions."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from convex_emulator import Store


@dataclass(frozen=True)
class Version:
    """One version of a document: its fields, from one commit to the next (None: current)."""

    doc_id: str
    valid_from_ts: int
    valid_to_ts: int | None
    fields: dict[str, Any]


def expected_history(
    store: Store, component: str, table: str, first_snapshot_ts: int, retired_at: int | None
) -> list[Version]:
    """The emulator's revisions of a table, as a change log that started at a snapshot sees
    them: the revision each document had at the snapshot, then every later one. Documents
    whose table was replaced wholesale end at ``retired_at`` (the re-sync's snapshot)."""
    by_id: dict[str, list[tuple[int, dict[str, Any] | None]]] = {}
    replaced: set[str] = set()  # documents of a table that was since replaced
    for revision in store.log_rows:
        tablet = revision.tablet
        if (tablet.component, tablet.name) == (component, table) and not tablet.is_system:
            by_id.setdefault(revision.id, []).append((revision.ts, revision.value))
            if not tablet.is_active:
                replaced.add(revision.id)
    versions = []
    for doc_id, revisions in by_id.items():
        seen = [r for r in revisions if r[0] > first_snapshot_ts]
        before = [r for r in revisions if r[0] <= first_snapshot_ts]
        if before and before[-1][1] is not None:
            seen.insert(0, before[-1])
        for index, (ts, value) in enumerate(seen):
            if value is None:
                continue
            last = retired_at if doc_id in replaced else None
            later = seen[index + 1][0] if index + 1 < len(seen) else last
            versions.append(Version(doc_id, ts, later, user_fields(value)))
    return sorted(versions, key=lambda v: (v.doc_id, v.valid_from_ts))


def assert_current_state(
    rows: Iterable[dict[str, Any]], store: Store, table: tuple[str, str], where: tuple[str, ...]
) -> None:
    """The current-state rows an engine resolved are the table's documents, value by value."""
    current = {row["_id"]: row for row in rows}
    source = store.documents().get(table, {})
    assert set(current) == set(source), where
    for doc_id, document in source.items():
        for name, value in user_fields(document).items():
            assert landed(value, current[doc_id][name]), (*where, doc_id, name)


def assert_history(
    rows: Iterable[dict[str, Any]],
    store: Store,
    table: tuple[str, str],
    first_snapshot_ts: int,
    retired_at: int | None,
    where: tuple[str, ...],
) -> None:
    """The history rows an engine resolved are the table's revisions (`expected_history`),
    document by document: each version's interval, whether it is current, whether a delete
    ended it, and its fields."""
    got = sorted(rows, key=lambda row: (row["_id"], row["_valid_from_ts"]))
    want = expected_history(store, *table, first_snapshot_ts, retired_at)
    assert [(r["_id"], r["_valid_from_ts"], r["_valid_to_ts"]) for r in got] == [
        (v.doc_id, v.valid_from_ts, v.valid_to_ts) for v in want
    ], where
    for row, version in zip(got, want, strict=True):
        assert row["_is_current"] == (version.valid_to_ts is None), where
        ended_by_delete = version.valid_to_ts is not None and not any(
            later.doc_id == version.doc_id and later.valid_from_ts == version.valid_to_ts
            for later in want
        )
        assert row["_deleted"] == ended_by_delete, (*where, version.doc_id)
        for name, value in version.fields.items():
            assert landed(value, row[name]), (*where, version.doc_id, name)


def user_fields(value: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in value.items() if not k.startswith("_")}


def landed(source: Any, value: Any) -> bool:
    """Whether a landed value is the source value under the documented rules."""
    if isinstance(source, float) and not math.isfinite(source):
        return value is None
    if isinstance(source, bytes):
        return bytes(value) == source
    if isinstance(source, (dict, list)):
        return json.loads(value) == json_value(source)
    if isinstance(value, str) and not isinstance(source, str):
        return json.loads(value) == source  # a drifted column holds JSON text
    if isinstance(value, str) and value.startswith('"'):
        return json.loads(value) == source
    return bool(value == source)


def json_value(value: Any) -> Any:
    """A nested value as the tap writes it: int64 exact, bytes base64, NaN as text."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, list):
        return [json_value(item) for item in value]
    if isinstance(value, dict):
        return {key: json_value(item) for key, item in value.items()}
    return value
