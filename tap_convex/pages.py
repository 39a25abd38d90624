"""Page bodies of ``list_snapshot`` and ``document_deltas``, before any value is converted.

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
"""

from __future__ import annotations

import binascii
import re
import struct
from dataclasses import dataclass
from typing import Any

import msgspec

from tap_convex.convert import creation_time_to_datetime

# An int64 exactly as Convex writes it (compact JSON, padded standard base64 of 8 bytes).
# In valid JSON these bytes can only be structure: a quote inside a string is escaped.
_INTEGER = re.compile(rb'\{"\$integer":"([A-Za-z0-9+/]{11}=)"\}')
#: Where a page stops being plain: a ``"$`` (an encoded object, or one inside a string) or
#: a ``"_`` that does not start one of the system keys of a streaming-export value.
_NOT_PLAIN = re.compile(rb'"(?:\$|_(?!(?:component|table|ts|id|creationTime|deleted)":))')
#: A ``_creationTime`` key and its number (no number: the group is None). On a plain page
#: every key spelled ``"_creationTime"`` is followed directly by ``:`` (see ``_NOT_PLAIN``),
#: so this matches every such key, at any depth.
_CREATION_TIME = re.compile(rb'"_creationTime":(-?[0-9][0-9.eE+-]*)?')


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
    hasMore: Any = None


class _PageHeads(msgspec.Struct):
    values: list[DocumentHead]


_ENCODED_PAGE = msgspec.json.Decoder(_EncodedPage)
_PAGE_HEADS = msgspec.json.Decoder(_PageHeads)

#: A value kept encoded: its system keys, and its JSON (a ``msgspec.Raw`` view of the body).
EncodedDocument = tuple[DocumentHead, msgspec.Raw]


@dataclass(frozen=True)
class PageBody:
    """A decoded page: its fields, with ``values`` decoded, or empty when ``documents`` holds
    them encoded."""

    fields: Any
    plain: bool
    documents: list[EncodedDocument] | None = None


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
    return body, _NOT_PLAIN.search(body) is None


def decode_page(content: bytes, *, keep_encoded: bool = False, deletes: bool = False) -> PageBody:
    """Parse a page body; with ``keep_encoded``, a plain page keeps its values encoded.

    ``deletes`` says the endpoint may send ``_deleted`` (``document_deltas``); a snapshot
    value that carries it anyway takes the decoded path, which ignores it.
    """
    body, plain = prepare_page(content)
    if plain and keep_encoded:
        encoded = _encoded(body, deletes)
        if encoded is not None:
            return encoded
    return PageBody(msgspec.json.decode(body), plain)


def _encoded(body: bytes, deletes: bool) -> PageBody | None:
    """The page with its values kept encoded, or None when that cannot be shown exact."""
    parts = _CREATION_TIME.split(body)
    numbers = parts[1::2]
    if None in numbers:
        return None  # a _creationTime that is not a number
    try:
        parts[1::2] = [
            b'"_creationTime":"%s"' % creation_time_to_datetime(float(number)).encode()
            for number in numbers
        ]
        body = b"".join(parts)
        page = _ENCODED_PAGE.decode(body)
        heads = _PAGE_HEADS.decode(body).values
    except (msgspec.ValidationError, OverflowError, ValueError):
        return None
    if sum(head.creation_time is not msgspec.UNSET for head in heads) != len(numbers):
        return None  # some _creationTime was not a top-level one: only those are dates
    if not deletes and any(head.deleted is not msgspec.UNSET for head in heads):
        return None
    fields = {
        "values": [],
        "snapshot": page.snapshot,
        "cursor": page.cursor,
        "hasMore": page.hasMore,
    }
    return PageBody(fields, True, list(zip(heads, page.values, strict=True)))
