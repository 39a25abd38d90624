"""Data Sync pages (``POST /api/v1/data/sync``, transport ``data_sync``): decoding and checks.

The counterpart of :mod:`tap_convex.pages` for the Data Sync API (beta). Values are
``export_json``: int64 bare JSON integers (parsed exactly, as Python ints), floats with a
``.`` or an exponent, ``$bytes``/``$float`` objects as in the encoded format. A page without
those objects (nor system fields other than the wire's) is *plain*, as a streaming-export page
can be: its documents become records in place, or, where every stream writes records as
built, stay JSON text (:class:`~tap_convex.pages.PageValues` ``documents``), each with the
system keys the record needs appended.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from tap_convex.errors import ProtocolError
from tap_convex.pages import (
    NOT_PLAIN,
    DocumentHead,
    EncodedDocument,
    Key,
    PageValues,
    decode_dated,
)

#: A data-sync status, as today's backend names it: ``snapshotting`` (not consistent yet),
#: ``stale`` (consistent, more to read now) or ``upToDate`` (consistent, read to the end).
SYNC_STATUSES = ("snapshotting", "stale", "upToDate")
_SYNC_ENDPOINT = "data/sync"


@dataclass(frozen=True)
class DataSyncPage:
    """One checked ``data/sync`` answer: its status after the page, the tables it truncates
    (before its values), its values and the cursor that covers them."""

    status: str
    truncates: list[Key]
    values: PageValues
    cursor: str


class _Entry(msgspec.Struct, frozen=True, gc=False):
    """A value of today's shape, its document kept encoded."""

    component: str
    table: str
    ts: int
    deleted: bool
    value: msgspec.Raw


class _DocumentHead(msgspec.Struct, frozen=True, gc=False):
    id: str = msgspec.field(name="_id")
    creation_time: str | msgspec.UnsetType = msgspec.field(
        name="_creationTime", default=msgspec.UNSET
    )


class _EntryHead(msgspec.Struct, frozen=True, gc=False):
    value: _DocumentHead


class _EncodedPage(msgspec.Struct):
    values: list[_Entry]
    status: Any = msgspec.UNSET
    pagination: Any = msgspec.UNSET
    cursor: Any = msgspec.UNSET
    truncates: Any = msgspec.UNSET


class _PageHeads(msgspec.Struct):
    values: list[_EntryHead]


_ENCODED_PAGE = msgspec.json.Decoder(_EncodedPage)
_PAGE_HEADS = msgspec.json.Decoder(_PageHeads)
_encode = msgspec.json.Encoder().encode


def data_sync_page(content: bytes, *, keep_encoded: bool = False) -> DataSyncPage:
    """Decode and check a ``data/sync`` body, in today's shape or the first backend's
    (``inProgress``/``synced`` status, a top-level ``cursor``, flattened values); with
    ``keep_encoded``, a plain page of today's shape keeps its documents encoded."""
    plain = NOT_PLAIN.search(content) is None  # no $bytes/$float, no other system field
    encoded = _encoded(content) if plain and keep_encoded else None
    if encoded is not None:
        fields, documents = encoded
        values = PageValues([], True, True, documents)
    else:
        body = msgspec.json.decode(content)
        if not isinstance(body, dict):
            raise ProtocolError(f"{_SYNC_ENDPOINT} answered with something other than an object.")
        fields = body
        entries = body.get("values")
        if not isinstance(entries, list):
            raise ProtocolError(f"{_SYNC_ENDPOINT} answered without a list of values.")
        values = PageValues([_sync_value(entry) for entry in entries], plain, True)
    status = _sync_status(fields.get("status"))
    pagination = fields.get("pagination")
    if isinstance(pagination, dict):
        cursor = pagination.get("nextCursor")
    elif "pagination" not in fields and "cursor" in fields:  # the first backend's shape
        cursor = fields.get("cursor")
    else:
        cursor = None
    if not isinstance(cursor, str) or not cursor:
        raise ProtocolError(
            f"{_SYNC_ENDPOINT} answered without pagination.nextCursor; the deployment is not "
            "behaving as Convex's Data Sync API does."
        )
    truncates = fields.get("truncates")
    if not isinstance(truncates, list):
        raise ProtocolError(f"{_SYNC_ENDPOINT} answered without a list of truncates.")
    return DataSyncPage(status, [_sync_table(truncate) for truncate in truncates], values, cursor)


def _encoded(content: bytes) -> tuple[dict[str, Any], list[EncodedDocument]] | None:
    """A plain page's fields and its documents kept encoded, or None when that cannot be
    shown exact (then the page is decoded whole, and checked as such)."""
    decoded = decode_dated(content, _ENCODED_PAGE, _PAGE_HEADS)
    if decoded is None:
        return None
    page, heads, dates = decoded
    if sum(head.value.creation_time is not msgspec.UNSET for head in heads) != dates:
        return None  # some _creationTime was not a document's own: only those are dates
    documents: list[EncodedDocument] = []
    for entry, head in zip(page.values, heads, strict=True):
        document = bytes(entry.value)
        if not document.startswith(b"{") or document == b"{}":
            return None
        system = b',"_component":%s,"_table":%s,"_ts":%d}' % (
            _encode(entry.component),
            _encode(entry.table),
            entry.ts,
        )
        document_head = DocumentHead(
            component=entry.component,
            table=entry.table,
            id=head.value.id,
            ts=entry.ts,
            creation_time=head.value.creation_time,
            deleted=True if entry.deleted else msgspec.UNSET,
        )
        documents.append((document_head, msgspec.Raw(document[:-1] + system)))
    fields = {
        name: value
        for name in ("status", "pagination", "cursor", "truncates")
        if (value := getattr(page, name)) is not msgspec.UNSET
    }
    return fields, documents


def _sync_status(status: object) -> str:
    kind = status.get("type") if isinstance(status, dict) else None
    if isinstance(status, dict) and kind == "synced":  # the first backend's shape
        kind = "stale" if status.get("hasMore") is True else "upToDate"
    elif kind == "inProgress":
        kind = "snapshotting"
    if kind not in SYNC_STATUSES:
        shown = msgspec.json.encode(status).decode()[:100]
        raise ProtocolError(
            f"{_SYNC_ENDPOINT} answered with an unknown status {shown}; this tap-convex knows "
            f"{', '.join(SYNC_STATUSES)} (and inProgress/synced): upgrade it, or use "
            "transport streaming_export."
        )
    return str(kind)


def _sync_table(truncate: object) -> Key:
    if isinstance(truncate, dict):
        component = truncate.get("component", truncate.get("_component"))
        table = truncate.get("table", truncate.get("_table"))
        if isinstance(component, str) and isinstance(table, str):
            return component, table
    raise ProtocolError(f"{_SYNC_ENDPOINT} sent a truncate without a component and a table.")


def _sync_value(entry: object) -> dict[str, Any]:
    """``{component, table, ts, deleted, value}`` (or the first backend's flattened value)
    as a value with the system keys ``PageValues.records`` routes by."""
    if type(entry) is not dict:
        raise ProtocolError(f"{_SYNC_ENDPOINT} sent a value that is not an object.")
    if "value" in entry and "_id" not in entry:
        document = entry["value"]
        if type(document) is not dict:
            raise ProtocolError(f"{_SYNC_ENDPOINT} sent a value without a document.")
        head = (entry.get("component"), entry.get("table"), entry.get("ts"), entry.get("deleted"))
    else:
        document = entry
        head = tuple(entry.pop(key, None) for key in ("_component", "_table", "_ts", "_deleted"))
    component, table, ts, deleted = head
    if (
        type(component) is not str
        or type(table) is not str
        or type(ts) is not int
        or type(deleted) is not bool
        or type(document.get("_id")) is not str
    ):
        raise ProtocolError(
            f"{_SYNC_ENDPOINT} sent a value without its component, table, integer ts, deleted "
            "flag and _id; the deployment is not behaving as Convex does."
        )
    document["_component"], document["_table"] = component, table
    document["_ts"], document["_deleted"] = ts, deleted
    return document
