"""The emulated deployment: its tables, components, commit timestamps and document log.

Everything here is in memory and guarded by one lock, so server threads may share a store.
Writes go through a :class:`~convex_emulator.transactions.Transaction` (one commit timestamp
per transaction, as Convex); the read paths live in :mod:`convex_emulator.reads` and
:mod:`convex_emulator.datasync` and use the accessors below.
"""

from __future__ import annotations

import base64
import bisect
import random
import secrets
import threading
from dataclasses import dataclass
from typing import Any

from convex_emulator.clock import Clock
from convex_emulator.documents import check_document
from convex_emulator.names import check_component_path, check_user_table
from convex_emulator.tablets import Revision, Tablet
from convex_emulator.transactions import Transaction

DAY_SECONDS = 24 * 3600
ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
TABLES_TABLE = "_tables"
SYSTEM_WRITES_TABLE = "_scheduled_functions"
_ID_DIGIT_PAIRS = [ID_ALPHABET[n & 31] + ID_ALPHABET[n >> 5] for n in range(1024)]
_ID_SHIFTS = tuple(range(0, 160, 10))


@dataclass
class StoreConfig:
    """Server knobs, with the open-source defaults."""

    snapshot_page_limit: int = 1024
    deltas_page_limit: int = 128
    retention_seconds: float = 14 * DAY_SECONDS
    snapshot_max_age_seconds: float = 5 * DAY_SECONDS
    data_sync_page_size_limit: int = 16384
    data_sync_page_bytes_limit: int = 64 * 1024 * 1024
    data_sync_max_rows_read: int = 32768
    data_sync_by_id_freshness_seconds: float = 30.0


class Store:
    """An in-memory Convex deployment, safe to share between server threads."""

    def __init__(
        self, *, seed: int = 0, clock: Clock | None = None, config: StoreConfig | None = None
    ) -> None:
        self.lock = threading.RLock()
        self.clock = clock or Clock()
        self.config = config or StoreConfig()
        self._rng = random.Random(seed)  # noqa: S311 - reproducible ids and tablet order
        self._components: dict[str, bool] = {"": True}
        self._tablets_by_id: list[Tablet] = []
        self._active: dict[tuple[str, str], Tablet] = {}
        self._doc_tablet: dict[str, Tablet] = {}
        self._log: list[Revision] = []
        self._log_ts: list[int] = []
        self._last_commit_ts = 0
        self._read_floor = 0
        self._system: dict[str, Tablet] = {}
        # The deployment's secret (data-sync cursors only open here) and its sync progress rows.
        self.secret = secrets.token_bytes(32)
        self.sync_progress: dict[str, dict[str, Any]] = {}
        self._imports: dict[str, Tablet] = {}  # staged imports' hidden tablets, by id

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
        """The timestamp of the newest commit (0 before any)."""
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
        """Insert one document in its own transaction; see :meth:`Transaction.insert`."""
        with self.transaction() as tx:
            return tx.insert(table, document, component)

    def patch(self, doc_id: str, fields: dict[str, Any], unset: tuple[str, ...] = ()) -> None:
        """Patch one document in its own transaction; see :meth:`Transaction.patch`."""
        with self.transaction() as tx:
            tx.patch(doc_id, fields, unset)

    def replace(self, doc_id: str, document: dict[str, Any]) -> None:
        """Replace one document in its own transaction; see :meth:`Transaction.replace`."""
        with self.transaction() as tx:
            tx.replace(doc_id, document)

    def delete(self, doc_id: str) -> None:
        """Delete one document in its own transaction (its tombstone shows in deltas)."""
        with self.transaction() as tx:
            tx.delete(doc_id)

    def create_table(self, table: str, component: str = "") -> None:
        """Create an empty table (a table also appears on its first insert)."""
        with self.transaction() as tx:
            tx.create_table(table, component)

    def delete_table(self, table: str, component: str = "") -> int:
        """Drop a table in its own commit; its rows vanish from deltas, with no tombstones."""
        with self.lock:
            tablet = self._active_tablet(component, table)
            ts = self._next_commit_ts()
            tablet.deleted_ts = ts
            del self._active[(component, table)]
            self._append_log(ts, [self._system_row(ts, TABLES_TABLE)])
            return ts

    def replace_table(
        self, table: str, documents: list[dict[str, Any]], component: str = ""
    ) -> int:
        """Replace a table's documents wholesale, as ``npx convex import --replace`` does.

        One commit makes a new tablet under the same name holding ``documents`` (an ``_id``
        or ``_creationTime`` given is kept, so a restore may reuse the old ids) and drops the
        old tablet: its rows get no tombstones. Returns the commit timestamp.
        """
        with self.lock:
            old = self._active.get((component, table))
            tablet = self._create_tablet(component, table)
            ts = self._commit([tablet], self._import_writes(tablet, documents, old))
            if old is not None:
                old.deleted_ts = ts
            return ts

    def begin_import(self, table: str, component: str = "") -> str:
        """Start a replacing import as upstream runs one: a hidden tablet, written over many
        transactions (:meth:`import_documents`) while the old table stays current, swapped in
        by :meth:`finish_import`. Streaming export reads hidden tablets. Returns its id.
        """
        with self.lock:
            tablet = self._create_tablet(component, table)
            tablet.hidden = True
            self._commit([tablet], {})
            self._imports[tablet.tablet_id] = tablet
            return tablet.tablet_id

    def import_documents(self, import_id: str, documents: list[dict[str, Any]]) -> int:
        """Write one batch of a staged import in its own commit; returns its timestamp."""
        with self.lock:
            tablet = self._imports[import_id]
            old = self._active.get((tablet.component, tablet.name))
            writes = self._import_writes(tablet, documents, old)
            return self._commit([], writes) if writes else self._last_commit_ts

    def finish_import(self, import_id: str) -> int:
        """Commit a staged import: its tablet becomes the table, the old one is dropped."""
        with self.lock:
            tablet = self._imports.pop(import_id)
            key = (tablet.component, tablet.name)
            ts = self._next_commit_ts()
            old = self._active.get(key)
            if old is not None:
                old.deleted_ts = ts
            tablet.hidden = False
            self._active[key] = tablet
            self._append_log(ts, [self._system_row(ts, TABLES_TABLE)])
            return ts

    def _import_writes(
        self, tablet: Tablet, documents: list[dict[str, Any]], old: Tablet | None
    ) -> dict[str, tuple[Tablet, Any]]:
        """Inserts of imported documents; an id may be reused from the table replaced."""
        writes: dict[str, tuple[Tablet, Any]] = {}
        for document in documents:
            check_document(document, allow_system_fields=True)
            doc_id = document.get("_id") or self._new_document_id()
            owner = self._doc_tablet.get(doc_id)
            taken = owner is tablet or (owner not in (None, old) and owner.is_active)
            if doc_id in writes or taken:
                raise ValueError(f"document id {doc_id!r} already exists")
            fields = {name: item for name, item in document.items() if name != "_id"}
            writes[doc_id] = (tablet, {"_id": doc_id, **fields})
        return writes

    def clear_table(self, table: str, component: str = "") -> int:
        """Empty a table as ``clear_tables`` does: an import of an empty table, replacing it."""
        with self.lock:
            self._active_tablet(component, table)
            return self.replace_table(table, [], component)

    def system_writes(self, count: int, table: str = SYSTEM_WRITES_TABLE) -> None:
        """Commit ``count`` transactions to a system table, never exported but read by deltas."""
        with self.lock:
            for _ in range(count):
                ts = self._next_commit_ts()
                self._append_log(ts, [self._system_row(ts, table)])

    def add_component(self, path: str) -> None:
        """Mount a component, with no tables yet (a component also appears on its first insert)."""
        check_component_path(path)
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
        return Revision(ts, doc_id, tablet, {"_id": doc_id, "_creationTime": ts / 1e6})

    def _append_log(self, ts: int, revisions: list[Revision]) -> None:
        revisions.sort(key=lambda revision: revision.id)
        self._log.extend(revisions)
        self._log_ts.extend([ts] * len(revisions))
        self._last_commit_ts = ts

    def _create_tablet(self, component: str, table: str) -> Tablet:
        check_user_table(table)
        check_component_path(component)
        return Tablet(self._new_tablet_id(), component, table, created_ts=-1)

    def _commit(self, new_tablets: list[Tablet], writes: dict[str, tuple[Tablet, Any]]) -> int:
        ts = self._next_commit_ts()
        rows: list[Revision] = []
        for tablet in new_tablets:
            tablet.created_ts = ts
            # Registered only now, so a rolled-back transaction leaves no component behind.
            self._components.setdefault(tablet.component, True)
            if not tablet.hidden:
                self._active[(tablet.component, tablet.name)] = tablet
            bisect.insort(self._tablets_by_id, tablet, key=lambda t: t.tablet_id)
            rows.append(self._system_row(ts, TABLES_TABLE))
        creation_ms = ts / 1e6
        for doc_id, (tablet, written) in writes.items():
            value = written
            if value is not None and "_creationTime" not in value:
                value = {"_id": doc_id, "_creationTime": creation_ms, **value}
            revision = Revision(ts, doc_id, tablet, value)
            tablet.add(revision)
            self._doc_tablet[doc_id] = tablet
            rows.append(revision)
        self._append_log(ts, rows)
        return ts

    # ---- what the read paths need ---------------------------------------------------------

    @property
    def tablets_by_id(self) -> list[Tablet]:
        """Every user tablet ever created, dropped ones too, in ascending tablet-id order.

        The store's own list: read it under :attr:`lock` and do not change it.
        """
        return self._tablets_by_id

    def tablet(self, tablet_id: str) -> Tablet | None:
        """The user tablet with this id, dropped ones too (read under :attr:`lock`)."""
        position = bisect.bisect_left(self._tablets_by_id, tablet_id, key=lambda t: t.tablet_id)
        if position < len(self._tablets_by_id):
            found = self._tablets_by_id[position]
            if found.tablet_id == tablet_id:
                return found
        return None

    def is_mounted(self, component: str) -> bool:
        """Whether a component exists and is not orphaned (orphans' tables are skipped)."""
        return self._components.get(component, False)

    @property
    def log_rows(self) -> list[Revision]:
        """The document log in ``(ts, id)`` order, system tables included (read under the lock)."""
        return self._log

    def log_position_after(self, ts: int) -> int:
        """Index in :attr:`log_rows` of the first row committed after ``ts``."""
        return bisect.bisect_right(self._log_ts, ts)

    @property
    def document_tablets(self) -> dict[str, Tablet]:
        """The tablet of every document id ever written (read under the lock)."""
        return self._doc_tablet

    # ---- metadata and ground truth --------------------------------------------------------

    def components(self) -> list[str]:
        """Paths of the mounted components, the root ``""`` first."""
        with self.lock:
            return [path for path, mounted in self._components.items() if mounted]

    def active_tablets(self) -> list[Tablet]:
        """Current user tables of mounted components, in tablet-id order."""
        with self.lock:
            return [
                tablet
                for tablet in self._tablets_by_id
                if tablet.is_active and self.is_mounted(tablet.component)
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
        """``(component, table)`` of a document ever written."""
        with self.lock:
            tablet = self._doc_tablet[doc_id]
            return tablet.component, tablet.name

    def stats(self) -> dict[str, Any]:
        """Clock, log size and documents per current table, for the admin API."""
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
