"""The emulated deployment: tables, document revisions, the document log and both read paths.

Everything here is in memory and guarded by one lock. Reads are answered exactly as the
upstream server answers them (see the module docstrings of ``list_snapshot`` and
``document_deltas`` below); the HTTP layer only parses arguments and renders results.
"""

from __future__ import annotations

import base64
import bisect
import json
import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from convex_emulator import formats
from convex_emulator.clock import NANOS_PER_SECOND, Clock
from convex_emulator.errors import ConvexError, internal_error
from convex_emulator.selection import (
    ALL_COLUMNS,
    EVERYTHING,
    Selection,
    TableSelection,
    is_component_path,
    is_table_name,
)

DAY_SECONDS = 24 * 3600
ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
TABLES_TABLE = "_tables"
SYSTEM_WRITES_TABLE = "_scheduled_functions"
_ID_DIGIT_PAIRS = [ID_ALPHABET[n & 31] + ID_ALPHABET[n >> 5] for n in range(1024)]
_ID_SHIFTS = tuple(range(0, 160, 10))
_FORMAT_SLOTS = {formats.CLEAN: 0, formats.ENCODED: 1, formats.EXPORT: 2}
_LIVE_PATCH_LIMIT = 256  # writes to patch into a tablet's live rows before a rebuild instead


@dataclass
class StoreConfig:
    """Server knobs, with the open-source defaults."""

    snapshot_page_limit: int = 1024
    deltas_page_limit: int = 128
    retention_seconds: float = 14 * DAY_SECONDS
    snapshot_max_age_seconds: float = 5 * DAY_SECONDS


class Revision:
    """One committed version of a document; ``value`` is ``None`` for a delete."""

    __slots__ = ("ts", "id", "tablet", "value", "_rendered")

    def __init__(self, ts: int, doc_id: str, tablet: Tablet, value: dict[str, Any] | None) -> None:
        self.ts = ts
        self.id = doc_id
        self.tablet = tablet
        self.value = value
        # One text per format (see ``_FORMAT_SLOTS``); a tuple of strings is far smaller
        # than a dict and leaves the garbage collector nothing to track.
        self._rendered: tuple[str | None, ...] | None = None

    def snapshot_text(self, fmt: str) -> str:
        """The ``list_snapshot`` value of a live revision in ``fmt``: metadata, then the
        whole document. Cached, because revisions (and a tablet's names) never change."""
        slot = _FORMAT_SLOTS[fmt]
        rendered = self._rendered
        if rendered is not None:
            text = rendered[slot]
            if text is not None:
                return text
        body = formats.dumps(formats.to_wire(self.value, fmt))
        text = self.tablet.meta_prefix + '"_ts":' + str(self.ts) + "," + body[1:]
        texts = list(rendered or (None, None, None))
        texts[slot] = text
        self._rendered = tuple(texts)
        return text


class Tablet:
    """The physical storage of one table; replacing or recreating a table makes a new tablet."""

    def __init__(self, tablet_id: str, component: str, name: str, created_ts: int) -> None:
        self.tablet_id = tablet_id
        self.component = component
        self.name = name
        self.created_ts = created_ts
        self.deleted_ts: int | None = None
        self.schema_exportable = True
        self.revisions: dict[str, list[Revision]] = {}
        self._sorted_ids: list[str] = []
        self._unsorted_ids: list[str] = []
        self.version = 0
        self.last_ts = -1
        # Ids and latest revisions of the live documents, in id order, once a snapshot has
        # needed them; ``_live_changes`` lists the ids written since.
        self._live: tuple[list[str], list[Revision]] | None = None
        self._live_changes: list[str] = []
        self.shape_cache: tuple[int, dict[str, Any]] | None = None
        self.meta_prefix = (
            '{"_component":' + json.dumps(component) + ',"_table":' + json.dumps(name) + ","
        )

    @property
    def is_system(self) -> bool:
        return self.name.startswith("_")

    @property
    def is_active(self) -> bool:
        return self.deleted_ts is None

    def exists_at(self, ts: int) -> bool:
        return self.created_ts <= ts and (self.deleted_ts is None or self.deleted_ts > ts)

    def add(self, revision: Revision) -> None:
        history = self.revisions.get(revision.id)
        if history is None:
            self.revisions[revision.id] = [revision]
            self._unsorted_ids.append(revision.id)
        else:
            history.append(revision)
        self.last_ts = revision.ts
        self.version += 1
        if self._live is not None:
            if len(self._live_changes) < _LIVE_PATCH_LIMIT:
                self._live_changes.append(revision.id)
            else:
                self._live = None  # cheaper to rebuild than to patch
                self._live_changes = []

    def sorted_ids(self) -> list[str]:
        """Document ids in ``by_id`` order, sorting newly added ids lazily."""
        if self._unsorted_ids:
            if len(self._unsorted_ids) < 64 and self._sorted_ids:
                for doc_id in self._unsorted_ids:
                    bisect.insort(self._sorted_ids, doc_id)
            else:
                self._sorted_ids.extend(self._unsorted_ids)
                self._sorted_ids.sort()
            self._unsorted_ids = []
        return self._sorted_ids

    def visible_after(self, after_id: str, snapshot: int, limit: int) -> list[Revision]:
        """Up to ``limit`` documents live at ``snapshot`` with id greater than ``after_id``."""
        if snapshot >= self.last_ts:
            # Nothing newer than the snapshot: the live rows are the latest revisions.
            live_ids, live_rows = self._live_rows()
            position = bisect.bisect_right(live_ids, after_id)
            return live_rows[position : position + max(limit, 0)]
        ids = self.sorted_ids()
        position = bisect.bisect_right(ids, after_id)
        found: list[Revision] = []
        revisions = self.revisions
        while len(found) < limit and position < len(ids):
            # A slice no longer than the rows still wanted cannot overshoot ``limit``.
            chunk = ids[position : position + limit - len(found)]
            position += len(chunk)
            for doc_id in chunk:
                history = revisions[doc_id]
                revision = history[-1]
                if revision.ts > snapshot:
                    revision = _latest_at(history, snapshot)
                    if revision is None:
                        continue
                if revision.value is not None:
                    found.append(revision)
        return found

    def _live_rows(self) -> tuple[list[str], list[Revision]]:
        """Ids and latest revisions of the live documents in id order: built once (a pass
        over every document), then patched with the few ids written since."""
        revisions = self.revisions
        if self._live is None:
            latest = [revisions[doc_id][-1] for doc_id in self.sorted_ids()]
            rows = [revision for revision in latest if revision.value is not None]
            self._live = ([revision.id for revision in rows], rows)
        elif self._live_changes:
            ids, rows = self._live
            for doc_id in self._live_changes:
                revision = revisions[doc_id][-1]
                position = bisect.bisect_left(ids, doc_id)
                present = position < len(ids) and ids[position] == doc_id
                if revision.value is None:
                    if present:
                        del ids[position], rows[position]
                elif present:
                    rows[position] = revision
                else:
                    ids.insert(position, doc_id)
                    rows.insert(position, revision)
        self._live_changes = []
        return self._live

    def live_values(self) -> Iterator[dict[str, Any]]:
        for history in self.revisions.values():
            value = history[-1].value
            if value is not None:
                yield value

    def current(self, doc_id: str) -> dict[str, Any] | None:
        history = self.revisions.get(doc_id)
        return history[-1].value if history else None


def _latest_at(history: list[Revision], ts: int) -> Revision | None:
    for revision in reversed(history):
        if revision.ts <= ts:
            return revision
    return None


@dataclass
class SnapshotPage:
    values: list[str]
    snapshot: int
    cursor: str | None
    has_more: bool


@dataclass
class DeltasPage:
    values: list[str]
    cursor: int
    has_more: bool


class Store:
    """An in-memory Convex deployment, safe to share between server threads."""

    def __init__(
        self, *, seed: int = 0, clock: Clock | None = None, config: StoreConfig | None = None
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock or Clock()
        self.config = config or StoreConfig()
        self._rng = random.Random(seed)
        self._components: dict[str, bool] = {"": True}
        self._tablets_by_id: list[Tablet] = []
        self._active: dict[tuple[str, str], Tablet] = {}
        self._doc_tablet: dict[str, Tablet] = {}
        self._log: list[Revision] = []
        self._log_ts: list[int] = []
        self._last_commit_ts = 0
        self._read_floor = 0
        self._system: dict[str, Tablet] = {}

    # ---- time -------------------------------------------------------------------------------

    def now_for_reads(self) -> int:
        """The repeatable "now": at or after the last commit, before every future commit."""
        with self.lock:
            now = max(self.clock.now_ns(), self._last_commit_ts)
            self._read_floor = max(self._read_floor, now)
            return now

    def _next_commit_ts(self) -> int:
        return max(self.clock.now_ns(), self._last_commit_ts + 1, self._read_floor + 1)

    @property
    def last_commit_ts(self) -> int:
        return self._last_commit_ts

    # ---- identifiers --------------------------------------------------------------------------

    def _new_document_id(self) -> str:
        while True:
            # 32 base-32 digits of 160 random bits, least significant first, two at a time.
            bits = self._rng.getrandbits(160)
            doc_id = "".join([_ID_DIGIT_PAIRS[(bits >> shift) & 1023] for shift in _ID_SHIFTS])
            if doc_id not in self._doc_tablet:
                return doc_id

    def _new_tablet_id(self) -> str:
        raw = self._rng.getrandbits(128).to_bytes(16, "little")
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    # ---- writes -------------------------------------------------------------------------------

    def transaction(self) -> Transaction:
        """A multi-document transaction; all its writes share one commit timestamp."""
        return Transaction(self)

    def insert(self, table: str, document: dict[str, Any], component: str = "") -> str:
        with self.transaction() as tx:
            return tx.insert(table, document, component)

    def patch(self, doc_id: str, fields: dict[str, Any], unset: tuple[str, ...] = ()) -> None:
        with self.transaction() as tx:
            tx.patch(doc_id, fields, unset)

    def replace(self, doc_id: str, document: dict[str, Any]) -> None:
        with self.transaction() as tx:
            tx.replace(doc_id, document)

    def delete(self, doc_id: str) -> None:
        with self.transaction() as tx:
            tx.delete(doc_id)

    def create_table(self, table: str, component: str = "") -> None:
        """Create an empty table (a table also appears on its first insert)."""
        with self.transaction() as tx:
            tx.create_table(table, component)

    def delete_table(self, table: str, component: str = "") -> int:
        """Drop a table in its own commit; its rows vanish from deltas, with no tombstones."""
        with self.lock:
            tablet = self._active.get((component, table))
            if tablet is None:
                raise KeyError(f"no table {component!r}/{table!r}")
            ts = self._next_commit_ts()
            tablet.deleted_ts = ts
            del self._active[(component, table)]
            self._append_log(ts, [self._system_row(ts, TABLES_TABLE)])
            return ts

    def system_writes(self, count: int) -> None:
        """Commit ``count`` transactions to a system table, never exported but read by deltas."""
        with self.lock:
            for _ in range(count):
                ts = self._next_commit_ts()
                self._append_log(ts, [self._system_row(ts, SYSTEM_WRITES_TABLE)])

    def add_component(self, path: str) -> None:
        if not is_component_path(path):
            raise ValueError(f"invalid component path {path!r}")
        with self.lock:
            self._components.setdefault(path, True)

    def unmount_component(self, path: str) -> None:
        """Orphan a component: its tables are skipped by every endpoint."""
        with self.lock:
            if path == "" or path not in self._components:
                raise KeyError(f"no component {path!r}")
            self._components[path] = False

    def set_schema_exportable(self, table: str, component: str, exportable: bool) -> None:
        """Mark a table whose shape ``json_schemas`` cannot export (e.g. a union, no schema)."""
        with self.lock:
            tablet = self._active_tablet(component, table)
            tablet.schema_exportable = exportable
            tablet.version += 1

    def _active_tablet(self, component: str, table: str) -> Tablet:
        tablet = self._active.get((component, table))
        if tablet is None:
            raise KeyError(f"no table {component!r}/{table!r}")
        return tablet

    def _system_row(self, ts: int, name: str) -> Revision:
        tablet = self._system.get(name)
        if tablet is None:
            tablet = Tablet(self._new_tablet_id(), "", name, 0)
            self._system[name] = tablet
        doc_id = self._new_document_id()
        revision = Revision(ts, doc_id, tablet, {"_id": doc_id, "_creationTime": ts / 1e6})
        return revision

    def _append_log(self, ts: int, revisions: list[Revision]) -> None:
        revisions.sort(key=lambda revision: revision.id)
        self._log.extend(revisions)
        self._log_ts.extend([ts] * len(revisions))
        self._last_commit_ts = ts

    def _create_tablet(self, component: str, table: str) -> Tablet:
        if not is_table_name(table):
            raise ValueError(f"invalid table name {table!r}")
        if not is_component_path(component):
            raise ValueError(f"invalid component path {component!r}")
        tablet = Tablet(self._new_tablet_id(), component, table, created_ts=-1)
        return tablet

    def _commit(self, new_tablets: list[Tablet], writes: dict[str, tuple[Tablet, Any]]) -> int:
        ts = self._next_commit_ts()
        rows: list[Revision] = []
        for tablet in new_tablets:
            tablet.created_ts = ts
            # Registered only now, so a rolled-back transaction leaves no component behind.
            self._components.setdefault(tablet.component, True)
            self._active[(tablet.component, tablet.name)] = tablet
            bisect.insort(self._tablets_by_id, tablet, key=lambda t: t.tablet_id)
            rows.append(self._system_row(ts, TABLES_TABLE))
        creation_ms = ts / 1e6
        for doc_id, (tablet, value) in writes.items():
            if value is not None and "_creationTime" not in value:
                value = {"_id": doc_id, "_creationTime": creation_ms, **value}
            revision = Revision(ts, doc_id, tablet, value)
            tablet.add(revision)
            self._doc_tablet[doc_id] = tablet
            rows.append(revision)
        self._append_log(ts, rows)
        return ts

    # ---- reads: list_snapshot ------------------------------------------------------------------

    def list_snapshot(
        self,
        snapshot: int | None,
        cursor: str | None,
        selection: Selection = EVERYTHING,
        fmt: str = formats.CLEAN,
    ) -> SnapshotPage:
        """One page of a point-in-time walk over every selected table.

        Tables go in ascending tablet-id order, one table per page; a table's end gives a page
        whose cursor points at the next table, so empty pages are normal.
        """
        with self.lock:
            now = self.now_for_reads()
            if snapshot is None:
                snapshot = now
            elif snapshot < 0:
                raise internal_error()
            elif snapshot > now:
                raise ConvexError(
                    400, "SnapshotTooNew", f"Snapshot value {snapshot} is in the future."
                )
            elif now - snapshot > self.config.snapshot_max_age_seconds * NANOS_PER_SECOND:
                raise ConvexError(
                    400, "SnapshotTooOld", f"Snapshot value {snapshot} is too far in the past."
                )
            start_tablet, after_id = _parse_snapshot_cursor(cursor)
            tablets = [
                (tablet, chosen)
                for tablet in self._tablets_by_id
                if tablet.tablet_id >= start_tablet
                and tablet.exists_at(snapshot)
                and self._components.get(tablet.component, False)
                and (chosen := selection.table(tablet.component, tablet.name)) is not None
            ]
            if not tablets:
                return SnapshotPage([], snapshot, None, False)
            tablet, chosen = tablets[0]
            after = after_id if tablet.tablet_id == start_tablet else ""
            limit = self.config.snapshot_page_limit
            rows = tablet.visible_after(after, snapshot, limit)
            if chosen is ALL_COLUMNS or chosen.is_all_columns:
                # ``_render`` inlined for the common case: every row is a live document.
                values = [row.snapshot_text(fmt) for row in rows]
            else:
                values = [_render(row, chosen, fmt, deleted=None) for row in rows]
            if len(rows) == limit:
                return SnapshotPage(values, snapshot, _snapshot_cursor(tablet, rows[-1].id), True)
            if len(tablets) > 1:
                return SnapshotPage(values, snapshot, _snapshot_cursor(tablets[1][0], ""), True)
            return SnapshotPage(values, snapshot, None, False)

    # ---- reads: document_deltas ----------------------------------------------------------------

    def document_deltas(
        self, cursor: int, selection: Selection = EVERYTHING, fmt: str = formats.CLEAN
    ) -> DeltasPage:
        """Revisions with ``cursor < _ts <= now`` in ``(ts, id)`` order.

        The rows-read limit counts every log row, of system and unselected tables too; once
        reached at timestamp T the page still takes every row of T, so a transaction is never
        split. A drained log returns "now" as the cursor, so quiet tables keep advancing.
        """
        with self.lock:
            if cursor < 0:
                raise internal_error()
            upper = self.now_for_reads()
            retention_ns = int(self.config.retention_seconds * NANOS_PER_SECOND)
            if cursor < upper - retention_ns:
                raise ConvexError(
                    400,
                    "InvalidWindowToReadDocuments",
                    f"Trying to synchronize from timestamp {cursor}, which is older than the "
                    "database's retention window. This may happen if you paused your Fivetran "
                    "or Airbyte connector for a long period of time. Please perform a full sync "
                    "of the data.",
                )
            limit = self.config.deltas_page_limit
            included: dict[Tablet, TableSelection | None] = {}
            values: list[str] = []
            rows_read = 0
            stop_at_ts: int | None = None
            position = bisect.bisect_right(self._log_ts, cursor)
            end = bisect.bisect_right(self._log_ts, upper)
            while position < end:
                row = self._log[position]
                if stop_at_ts is not None and row.ts != stop_at_ts:
                    return DeltasPage(values, stop_at_ts, True)
                rows_read += 1
                tablet = row.tablet
                if tablet in included:
                    chosen = included[tablet]
                else:
                    chosen = self._delta_selection(tablet, selection)
                    included[tablet] = chosen
                if chosen is not None:
                    values.append(_render(row, chosen, fmt, deleted=row.value is None))
                if stop_at_ts is None and (rows_read >= limit or len(values) >= limit):
                    stop_at_ts = row.ts
                position += 1
            return DeltasPage(values, upper if stop_at_ts is None else stop_at_ts, False)

    def _delta_selection(self, tablet: Tablet, selection: Selection) -> TableSelection | None:
        if tablet.is_system or not tablet.is_active:
            return None
        if not self._components.get(tablet.component, False):
            return None
        return selection.table(tablet.component, tablet.name)

    # ---- reads: metadata and ground truth ------------------------------------------------

    def components(self) -> list[str]:
        with self.lock:
            return [path for path, mounted in self._components.items() if mounted]

    def active_tablets(self) -> list[Tablet]:
        """Current user tables of mounted components, in tablet-id order."""
        with self.lock:
            return [
                tablet
                for tablet in self._tablets_by_id
                if tablet.is_active and self._components.get(tablet.component, False)
            ]

    def documents(self) -> dict[tuple[str, str], dict[str, dict[str, Any]]]:
        """Ground truth: every live document of every current table, by (component, table)."""
        with self.lock:
            return {
                (tablet.component, tablet.name): {
                    value["_id"]: value for value in tablet.live_values()
                }
                for tablet in self.active_tablets()
            }

    def table_of(self, doc_id: str) -> tuple[str, str]:
        with self.lock:
            tablet = self._doc_tablet[doc_id]
            return tablet.component, tablet.name

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "now": self.now_for_reads(),
                "last_commit_ts": self._last_commit_ts,
                "log_rows": len(self._log),
                "tables": [
                    {
                        "component": tablet.component,
                        "table": tablet.name,
                        "tablet": tablet.tablet_id,
                        "documents": sum(1 for _ in tablet.live_values()),
                    }
                    for tablet in self.active_tablets()
                ],
            }


class Transaction:
    """Buffered writes committed atomically on exit; the last write to a document wins."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._writes: dict[str, tuple[Tablet, dict[str, Any] | None]] = {}
        self._new_tablets: dict[tuple[str, str], Tablet] = {}
        self._inserted: set[str] = set()
        self.ts: int | None = None

    def __enter__(self) -> Transaction:
        self._store.lock.acquire()
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            if exc_type is None:
                self._finish()
        finally:
            self._store.lock.release()

    def _finish(self) -> None:
        writes = {
            doc_id: write
            for doc_id, write in self._writes.items()
            if not (write[1] is None and doc_id in self._inserted)
        }
        if writes or self._new_tablets:
            self.ts = self._store._commit(list(self._new_tablets.values()), writes)

    def _tablet(self, component: str, table: str) -> Tablet:
        key = (component, table)
        tablet = self._store._active.get(key) or self._new_tablets.get(key)
        if tablet is None:
            tablet = self._store._create_tablet(component, table)
            self._new_tablets[key] = tablet
        return tablet

    def create_table(self, table: str, component: str = "") -> None:
        self._tablet(component, table)

    def insert(
        self, table: str, document: dict[str, Any], component: str = "", *, check: bool = True
    ) -> str:
        """Insert a document; an ``_id`` or ``_creationTime`` given (when loading) is kept."""
        if check:
            check_document(document, allow_system_fields=True)
        tablet = self._tablet(component, table)
        doc_id = document.get("_id")
        if doc_id is None:
            doc_id = self._store._new_document_id()
        elif doc_id in self._store._doc_tablet or doc_id in self._writes:
            raise ValueError(f"document id {doc_id!r} already exists")
        if "_id" in document:
            value = {"_id": doc_id, **{k: v for k, v in document.items() if k != "_id"}}
        else:
            value = {"_id": doc_id, **document}
        self._writes[doc_id] = (tablet, value)
        self._inserted.add(doc_id)
        return doc_id

    def _current(self, doc_id: str) -> tuple[Tablet, dict[str, Any]]:
        if doc_id in self._writes:
            tablet, value = self._writes[doc_id]
        else:
            tablet = self._store._doc_tablet.get(doc_id)
            value = tablet.current(doc_id) if tablet and tablet.is_active else None
        if tablet is None or value is None:
            raise KeyError(f"no document {doc_id!r}")
        return tablet, value

    def patch(self, doc_id: str, fields: dict[str, Any], unset: tuple[str, ...] = ()) -> None:
        check_document(fields, allow_system_fields=False)
        tablet, value = self._current(doc_id)
        updated = {**value, **fields}
        for name in unset:
            updated.pop(name, None)
        self._writes[doc_id] = (tablet, updated)

    def replace(self, doc_id: str, document: dict[str, Any]) -> None:
        check_document(document, allow_system_fields=False)
        tablet, value = self._current(doc_id)
        system = {"_id": value["_id"], "_creationTime": value.get("_creationTime")}
        if system["_creationTime"] is None:
            del system["_creationTime"]
        self._writes[doc_id] = (tablet, {**system, **document})

    def delete(self, doc_id: str) -> None:
        tablet, _ = self._current(doc_id)
        self._writes[doc_id] = (tablet, None)


def check_document(document: dict[str, Any], *, allow_system_fields: bool) -> None:
    """Reject what Convex would reject: reserved top-level names, ``$`` keys, non-values."""
    if not isinstance(document, dict):
        raise ValueError("a document must be an object")
    for name, value in document.items():
        system = name in ("_id", "_creationTime")
        if name.startswith("_") and not (system and allow_system_fields):
            raise ValueError(f"top-level field {name!r} is reserved")
        if name == "_creationTime" and type(value) is not float:
            raise ValueError("_creationTime must be a float64")
        _check_value(value, name)


def _check_value(value: Any, path: str) -> None:
    kind = type(value)
    if kind is int:
        if not formats.INT64_MIN <= value <= formats.INT64_MAX:
            raise ValueError(f"{path}: integer does not fit in int64")
    elif kind is dict:
        for key, item in value.items():
            if not isinstance(key, str) or key.startswith("$"):
                raise ValueError(f"{path}: object keys must be strings not starting with '$'")
            _check_value(item, f"{path}.{key}")
    elif kind is list:
        for index, item in enumerate(value):
            _check_value(item, f"{path}[{index}]")
    elif not (value is None or kind in (bool, float, str, bytes)):
        raise ValueError(f"{path}: {kind.__name__} is not a Convex value")


def _snapshot_cursor(tablet: Tablet, after_id: str) -> str:
    return json.dumps({"tablet": tablet.tablet_id, "id": after_id}, separators=(",", ":"))


def _parse_snapshot_cursor(cursor: str | None) -> tuple[str, str]:
    if cursor is None:
        return "", ""
    try:
        parsed = json.loads(cursor)
        tablet, after_id = parsed["tablet"], parsed["id"]
        if not isinstance(tablet, str) or not isinstance(after_id, str):
            raise TypeError
    except (ValueError, TypeError, KeyError):
        raise ConvexError(
            400, "InvalidListSnapshotCursor", f"Invalid list_snapshot cursor: {cursor}"
        ) from None
    return tablet, after_id


def _render(row: Revision, chosen: TableSelection, fmt: str, *, deleted: bool | None) -> str:
    """A value's JSON text: transport metadata first, then the (column-filtered) document."""
    tablet = row.tablet
    head = tablet.meta_prefix + '"_ts":' + str(row.ts) + ","
    if deleted is not None:
        head += '"_deleted":true,' if deleted else '"_deleted":false,'
    if row.value is None:
        return head + '"_id":' + json.dumps(row.id) + "}"
    if chosen is ALL_COLUMNS or chosen.is_all_columns:
        text = row.snapshot_text(fmt)
        if deleted is None:
            return text
        # The cached text is the head without ``_deleted``, then the document's fields.
        ts_end = len(tablet.meta_prefix) + len('"_ts":') + len(str(row.ts)) + 1
        return head + text[ts_end:]
    kept = {name: item for name, item in row.value.items() if chosen.includes_column(name)}
    return head + formats.dumps(formats.to_wire(kept, fmt))[1:]
