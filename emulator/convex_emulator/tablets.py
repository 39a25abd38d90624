"""The storage of one table: its document revisions, kept so any past snapshot can be read.

A table's rows are a history per document id; reads at a snapshot pick, per id, the latest
revision at or before it. ``list_snapshot`` walks ids in ``by_id`` order, so the ids are
kept sorted (lazily) and the live rows are cached for the common "read at now" case.
"""

from __future__ import annotations

import bisect
import json
from typing import TYPE_CHECKING, Any

from convex_emulator import formats

if TYPE_CHECKING:
    from collections.abc import Iterator

_FORMAT_SLOTS = {formats.CLEAN: 0, formats.ENCODED: 1, formats.EXPORT: 2}
_SYNC_SLOT = 3  # the data-sync value: export_json with sorted keys, no metadata
_LIVE_PATCH_LIMIT = 256  # writes to patch into a tablet's live rows before a rebuild instead
_BISECT_INSERT_LIMIT = 64  # fewer new ids than this are inserted one by one, not re-sorted


class Revision:
    """One committed version of a document; ``value`` is ``None`` for a delete."""

    __slots__ = ("_rendered", "id", "tablet", "ts", "value")

    def __init__(self, ts: int, doc_id: str, tablet: Tablet, value: dict[str, Any] | None) -> None:
        self.ts = ts
        self.id = doc_id
        self.tablet = tablet
        self.value = value
        # One text per format (``_FORMAT_SLOTS``, then ``_SYNC_SLOT``); a tuple of strings is
        # far smaller than a dict and leaves the garbage collector nothing to track.
        self._rendered: tuple[str | None, ...] | None = None

    def sync_text(self) -> str:
        """The data-sync ``value`` of a live revision: ``export_json``, keys sorted. Cached."""
        rendered = self._rendered or (None, None, None, None)
        text = rendered[_SYNC_SLOT]
        if text is None:
            text = formats.dumps_sorted(formats.to_wire(self.value or {}, formats.EXPORT))
            texts = list(rendered)
            texts[_SYNC_SLOT] = text
            self._rendered = tuple(texts)
        return text

    def snapshot_text(self, fmt: str) -> str:
        """The ``list_snapshot`` value of a live revision in ``fmt``.

        Metadata, then the whole document. Cached, because revisions (and a tablet's names)
        never change.
        """
        slot = _FORMAT_SLOTS[fmt]
        rendered = self._rendered
        if rendered is not None:
            text = rendered[slot]
            if text is not None:
                return text
        body = formats.dumps(formats.to_wire(self.value, fmt))
        text = self.tablet.meta_prefix + '"_ts":' + str(self.ts) + "," + body[1:]
        texts = list(rendered or (None, None, None, None))
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
        self.hidden = False  # a replacing import's tablet before the import commits
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
        """System tables (``_`` names) are read by ``document_deltas`` but never exported."""
        return self.name.startswith("_")

    @property
    def is_active(self) -> bool:
        """Whether the table is the current one of its name (not dropped, not hidden)."""
        return self.deleted_ts is None and not self.hidden

    @property
    def exists(self) -> bool:
        """Whether the tablet still exists now, hidden or not: what streaming export reads."""
        return self.deleted_ts is None

    def exists_at(self, ts: int) -> bool:
        """Whether the table existed at ``ts``, for a snapshot taken then."""
        return self.created_ts <= ts and (self.deleted_ts is None or self.deleted_ts > ts)

    def add(self, revision: Revision) -> None:
        """Record a committed revision as the newest of its document."""
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
            if len(self._unsorted_ids) < _BISECT_INSERT_LIMIT and self._sorted_ids:
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
                    older = _latest_at(history, snapshot)
                    if older is None:
                        continue  # created after the snapshot
                    revision = older
                if revision.value is not None:
                    found.append(revision)
        return found

    def _live_rows(self) -> tuple[list[str], list[Revision]]:
        """Ids and latest revisions of the live documents in id order.

        Built once (a pass over every document), then patched with the few ids written since.
        """
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
        """The current value of every live document, in insertion order."""
        for history in self.revisions.values():
            value = history[-1].value
            if value is not None:
                yield value

    def current(self, doc_id: str) -> dict[str, Any] | None:
        """The current value of a document, or ``None`` if it is deleted or unknown."""
        history = self.revisions.get(doc_id)
        return history[-1].value if history else None


def _latest_at(history: list[Revision], ts: int) -> Revision | None:
    for revision in reversed(history):
        if revision.ts <= ts:
            return revision
    return None
