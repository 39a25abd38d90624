"""Writes to the emulated deployment: buffered, then committed under one timestamp.

A :class:`Transaction` comes from :meth:`Store.transaction`; it holds the store's lock from
``with`` to commit, so every write of it shares one commit timestamp, as in Convex.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from convex_emulator.documents import check_document
from convex_emulator.names import check_field_name

if TYPE_CHECKING:
    from convex_emulator.store import Store
    from convex_emulator.tablets import Tablet


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
        """Create the table at commit unless it exists."""
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
        elif doc_id in self._store.document_tablets or doc_id in self._writes:
            raise ValueError(f"document id {doc_id!r} already exists")
        if "_id" in document:
            value = {"_id": doc_id, **{k: v for k, v in document.items() if k != "_id"}}
        else:
            value = {"_id": doc_id, **document}
        self._writes[doc_id] = (tablet, value)
        self._inserted.add(doc_id)
        return doc_id

    def _current(self, doc_id: str) -> tuple[Tablet, dict[str, Any]]:
        """The document as this transaction sees it: its own writes, else the store's."""
        tablet: Tablet | None
        if doc_id in self._writes:
            tablet, value = self._writes[doc_id]
        else:
            tablet = self._store.document_tablets.get(doc_id)
            value = tablet.current(doc_id) if tablet and tablet.is_active else None
        if tablet is None or value is None:
            raise KeyError(f"no document {doc_id!r}")
        return tablet, value

    def patch(self, doc_id: str, fields: dict[str, Any], unset: tuple[str, ...] = ()) -> None:
        """Set top-level ``fields`` and remove the ``unset`` ones (never a system field)."""
        check_document(fields, allow_system_fields=False)
        for name in unset:
            check_field_name(name, top_level=True)
        tablet, value = self._current(doc_id)
        updated = {**value, **fields}
        for name in unset:
            updated.pop(name, None)
        self._writes[doc_id] = (tablet, updated)

    def replace(self, doc_id: str, document: dict[str, Any]) -> None:
        """Replace every user field, keeping ``_id`` and ``_creationTime``."""
        check_document(document, allow_system_fields=False)
        tablet, value = self._current(doc_id)
        system = {"_id": value["_id"], "_creationTime": value.get("_creationTime")}
        if system["_creationTime"] is None:
            del system["_creationTime"]
        self._writes[doc_id] = (tablet, {**system, **document})

    def delete(self, doc_id: str) -> None:
        """Delete the document at commit."""
        tablet, _ = self._current(doc_id)
        self._writes[doc_id] = (tablet, None)
