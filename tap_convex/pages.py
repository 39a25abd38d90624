"""Page bodies of ``list_snapshot`` and ``document_deltas``: decoding, protocol checks, records.

The client hands this module a 200 answer's bytes; it checks the answer against the protocol
(:class:`~tap_convex.errors.ProtocolError` before anything is emitted) and gives the engine
one way to turn a page into records, whatever form its values took
(:meth:`PageValues.records`).

Most of a sync's time goes into pages, so the work on them is done on the whole body in C
(regular expressions, msgspec) wherever that is exact:

* every int64 ``{"$integer": ...}`` becomes an exact decimal literal before parsing;
* a page is *plain* when nothing in it needs value-by-value decoding (no ``"$``, and no
  ``"_`` other than the wire's system keys);
* a plain page can also keep its values *encoded*: each top-level ``_creationTime`` number
  becomes its RFC 3339 text in the body, only the system keys of each value are decoded
  (:class:`DocumentHead`), and each document's JSON becomes its record's JSON by appending
  the landing fields (see :meth:`tap_convex.convert.RecordConverter.encoded`).

Whatever cannot be shown to be exact this way takes the decoded path, value by value.
:mod:`tap_convex.sync_pages` does the same for the Data Sync API's pages.
"""

from __future__ import annotations

import binascii
import re
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

import msgspec

from tap_convex.errors import ProtocolError
from tap_convex.timestamps import creation_time_to_datetime

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

# An int64 exactly as Convex writes it (compact JSON, padded standard base64 of 8 bytes).
# In valid JSON these bytes can only be structure: a quote inside a string is escaped.
_INTEGER = re.compile(rb'\{"\$integer":"([A-Za-z0-9+/]{11}=)"\}')
#: Where a page stops being plain: a ``"$`` (an encoded object, or one inside a string) or
#: a ``"_`` that does not start one of the system keys of a streaming-export value.
NOT_PLAIN = re.compile(rb'"(?:\$|_(?!(?:component|table|ts|id|creationTime|deleted)":))')
#: A ``_creationTime`` key and its number (no number: the group is None). On a plain page
#: every key spelled ``"_creationTime"`` is followed directly by ``:`` (see ``NOT_PLAIN``),
#: so this matches every such key, at any depth.
CREATION_TIME = re.compile(rb'"_creationTime":(-?[0-9][0-9.eE+-]*)?')


class DocumentHead(msgspec.Struct, frozen=True, gc=False):
    """The system keys of one value; its user fields stay encoded."""

    component: str = msgspec.field(name="_component")
    table: str = msgspec.field(name="_table")
    id: str = msgspec.field(name="_id")
    ts: int = msgspec.field(name="_ts")
    creation_time: str | msgspec.UnsetType = msgspec.field(
        name="_creationTime", default=msgspec.UNSET
    )
    deleted: bool | msgspec.UnsetType = msgspec.field(name="_deleted", default=msgspec.UNSET)


class _EncodedPage(msgspec.Struct):
    values: list[msgspec.Raw]
    snapshot: Any = None
    cursor: Any = None
    hasMore: Any = None  # noqa: N815 - the wire's name


class _PageHeads(msgspec.Struct):
    values: list[DocumentHead]


_ENCODED_PAGE = msgspec.json.Decoder(_EncodedPage)
_PAGE_HEADS = msgspec.json.Decoder(_PageHeads)

#: A value kept encoded: its system keys, and its JSON (a ``msgspec.Raw`` view of the body).
EncodedDocument: TypeAlias = tuple[DocumentHead, msgspec.Raw]
#: A table: (component path, table name).
Key: TypeAlias = tuple[str, str]
#: One stream's records of a page: all encoded JSON objects, or all dicts.
Records: TypeAlias = list[bytes] | list[dict[str, Any]]


class RecordBuilder(Protocol):
    """Turns one value into one record (:class:`tap_convex.convert.RecordConverter`)."""

    def encoded(self, head: DocumentHead, document: msgspec.Raw) -> bytes:
        """The record's JSON, from a value kept encoded."""

    def document(self, value: dict[str, Any], deleted: bool, plain: bool) -> dict[str, Any]:
        """The record, from a decoded value."""


@dataclass(frozen=True)
class PageValues:
    """A page's values, decoded (``values``) or kept encoded (``documents``, when not None).

    ``plain`` says decoded values need no value-by-value decoding (see :func:`prepare_page`);
    ``deletes`` says the endpoint may mark values ``_deleted`` (``document_deltas``).
    """

    values: list[dict[str, Any]]
    plain: bool
    deletes: bool
    documents: list[EncodedDocument] | None = None

    def records(
        self, builders: Mapping[Key, RecordBuilder], wanted: Callable[[Key, int], bool]
    ) -> dict[Key, Records]:
        """The records of the values ``wanted(table, _ts)`` accepts, per table in page order."""
        batches: dict[Key, Any] = {}
        if self.documents is not None:
            for head, document in self.documents:
                key = (head.component, head.table)
                if wanted(key, head.ts):
                    encoded = builders[key].encoded(head, document)
                    batches.setdefault(key, []).append(encoded)
            return batches
        deletes, plain = self.deletes, self.plain
        for value in self.values:
            key = (value["_component"], value["_table"])
            if wanted(key, value["_ts"]):
                deleted = deletes and value.get("_deleted") is True
                record = builders[key].document(value, deleted, plain)
                batches.setdefault(key, []).append(record)
        return batches


@dataclass(frozen=True)
class SnapshotPage:
    """One checked ``list_snapshot`` answer."""

    values: PageValues
    snapshot: int
    cursor: str | None
    has_more: bool


@dataclass(frozen=True)
class DeltasPage:
    """One checked ``document_deltas`` answer."""

    values: PageValues
    cursor: int
    has_more: bool


def prepare_page(body: bytes) -> tuple[bytes, bool]:
    """Rewrite a page's ``$integer`` objects as decimal literals, and say if it is *plain*.

    The parser then gives each int64 as an exact int, the value
    :func:`tap_convex.convert.decode_nested` would give. The page is plain when no ``"$`` is
    left (no ``$bytes``, ``$float`` or unusual spelling) and every ``"_`` starts one of the
    wire's system keys (no other system field to drop): its documents are then converted in
    place, top level only. A ``"$`` or ``"_`` inside a string only costs the value-by-value
    path.
    """
    if b'{"$integer":"' in body:
        parts = _INTEGER.split(body)
        payloads = parts[1::2]
        raw = b"".join(map(binascii.a2b_base64, payloads))
        parts[1::2] = [b"%d" % number for number in struct.unpack(f"<{len(payloads)}q", raw)]
        body = b"".join(parts)
    return body, NOT_PLAIN.search(body) is None


def snapshot_page(content: bytes, *, keep_encoded: bool = False) -> SnapshotPage:
    """Decode and check a ``list_snapshot`` body; with ``keep_encoded``, a plain page keeps
    its values encoded. Malformed JSON raises ``msgspec.DecodeError`` (the client retries
    it, as a truncated answer); anything else off-protocol raises ``ProtocolError``."""
    fields, values = _decode(content, "list_snapshot", keep_encoded, deletes=False)
    snapshot, cursor, has_more = fields.get("snapshot"), fields.get("cursor"), fields.get("hasMore")
    if type(snapshot) is not int or type(has_more) is not bool:
        raise ProtocolError(
            "list_snapshot answered without an integer snapshot and a hasMore flag."
        )
    if cursor is not None and not isinstance(cursor, str):
        raise ProtocolError("list_snapshot answered with a cursor that is not a string.")
    if has_more and cursor is None:
        raise ProtocolError("list_snapshot said hasMore but gave no cursor to continue from.")
    return SnapshotPage(values, snapshot, cursor, has_more)


def deltas_page(content: bytes, *, keep_encoded: bool = False) -> DeltasPage:
    """Decode and check a ``document_deltas`` body (see :func:`snapshot_page`)."""
    fields, values = _decode(content, "document_deltas", keep_encoded, deletes=True)
    cursor, has_more = fields.get("cursor"), fields.get("hasMore")
    if type(cursor) is not int or type(has_more) is not bool:
        raise ProtocolError(
            "document_deltas answered without an integer cursor and a hasMore flag."
        )
    return DeltasPage(values, cursor, has_more)


def _decode(
    content: bytes, endpoint: str, keep_encoded: bool, *, deletes: bool
) -> tuple[dict[str, Any], PageValues]:
    """The page's other fields, and its values checked for the system keys every value needs.

    A snapshot value that carries ``_deleted`` anyway takes the decoded path, which ignores it.
    """
    body, plain = prepare_page(content)
    if plain and keep_encoded:
        encoded = _encoded(body, deletes)
        if encoded is not None:
            return encoded
    fields = msgspec.json.decode(body)
    if not isinstance(fields, dict):
        raise ProtocolError(f"{endpoint} answered with something other than an object.")
    values = fields.get("values")
    if not isinstance(values, list) or not all(type(v) is dict for v in values):
        raise ProtocolError(f"{endpoint} answered without a list of values.")
    _check_system_keys(endpoint, values)
    return fields, PageValues(values, plain, deletes)


#: What every value must carry to be routed, keyed and ordered (values kept encoded are
#: checked by the same types as they are decoded, see ``DocumentHead``).
_SYSTEM_KEYS = (("_component", str), ("_table", str), ("_id", str), ("_ts", int))


def _check_system_keys(endpoint: str, values: list[dict[str, Any]]) -> None:
    for value in values:
        for key, kind in _SYSTEM_KEYS:
            if type(value.get(key)) is not kind:
                article = "an integer" if kind is int else "a string"
                raise ProtocolError(
                    f"{endpoint} sent a value without {article} {key}; "
                    "the deployment is not behaving as Convex does."
                )


def _dated_creation_times(body: bytes) -> tuple[bytes, int] | None:
    """A plain page with each ``_creationTime`` number written as its RFC 3339 text, and how
    many there were; None when one is not a number or not a time."""
    parts = CREATION_TIME.split(body)
    numbers = parts[1::2]
    if None in numbers:
        return None  # a _creationTime that is not a number
    try:
        parts[1::2] = [
            b'"_creationTime":"%s"' % creation_time_to_datetime(float(number)).encode()
            for number in numbers
        ]
    except (OverflowError, ValueError):
        return None
    return b"".join(parts), len(numbers)


def decode_dated(
    body: bytes, page: msgspec.json.Decoder[Any], heads: msgspec.json.Decoder[Any]
) -> tuple[Any, list[Any], int] | None:
    """A plain page decoded twice after its dates are written as text: whole (its values kept
    encoded) and as the heads of its values; with the number of dates. None if either
    decode finds the page off the shape it expects."""
    dated = _dated_creation_times(body)
    if dated is None:
        return None
    body, dates = dated
    try:
        return page.decode(body), heads.decode(body).values, dates
    except msgspec.ValidationError:
        return None


def _encoded(body: bytes, deletes: bool) -> tuple[dict[str, Any], PageValues] | None:
    """The page with its values kept encoded, or None when that cannot be shown exact."""
    decoded = decode_dated(body, _ENCODED_PAGE, _PAGE_HEADS)
    if decoded is None:
        return None
    page, heads, dates = decoded
    if sum(head.creation_time is not msgspec.UNSET for head in heads) != dates:
        return None  # some _creationTime was not a top-level one: only those are dates
    if not deletes and any(head.deleted is not msgspec.UNSET for head in heads):
        return None
    fields = {"snapshot": page.snapshot, "cursor": page.cursor, "hasMore": page.hasMore}
    return fields, PageValues([], True, deletes, list(zip(heads, page.values, strict=True)))
