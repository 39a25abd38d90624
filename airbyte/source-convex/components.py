"""Custom components of the declarative Convex source: tables, schemas and exact values.

Airbyte's runtime image holds the CDK and the standard library only, so the rules of
tap-convex (``tap_convex/convert.py``, ``timestamps.py``, ``discovery.py``, ``selection.py``)
are ported here, not imported; ``tests/airbyte/test_parity.py`` holds the two to the same
record data. What the manifest cannot say in YAML lives here:

* :class:`ConvexTablesExtractor` turns ``json_schemas?byComponent=true`` into one stream per
  (component, table), named as the tap names them, with a typed schema and an exact selection.
* :class:`ConvexPageExtractor` turns a ``list_snapshot`` or ``document_deltas`` page into
  records: int64 exact at any depth, bytes as base64, the NaN rule, ``_creationTime`` as
  RFC 3339 UTC, deletes as ``_deleted: true`` with ``_ab_cdc_deleted_at``, and each record
  stamped with the position a later sync resumes from (CDK cursors learn only from records).

Deliberately no ``from __future__ import annotations``: the CDK can also load this file from
a string (the standard tests, the Connector Builder), as a module it registers only after
running it, and dataclasses must resolve ``InitVar`` annotations while the module runs.
"""

import base64
import binascii
import gc
import io
import math
import re
import struct
import weakref
from dataclasses import InitVar, dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from airbyte_cdk.models import FailureType
from airbyte_cdk.sources.declarative.decoders import JsonParser
from airbyte_cdk.sources.declarative.extractors.record_extractor import RecordExtractor
from airbyte_cdk.sources.declarative.requesters.paginators.strategies.pagination_strategy import (
    PaginationStrategy,
)
from airbyte_cdk.utils.traced_exception import AirbyteTracedException

# ---- the process ------------------------------------------------------------------------------

# The garbage collector, tuned for a snapshot (Airbyte runs a connector alone in its process;
# this runs when the CDK loads this file). A page parses into some 3,000 containers, and
# the CDK copies each record twice more, so with the default young-generation threshold (700)
# the collector ran several times per page, and its older generations kept walking the CDK's
# and the manifest's long-lived objects, over and over. Those are frozen (never collected,
# never walked again), and the young generation is collected every 10,000 new containers
# (never lowered). About a tenth of a 200,000-document snapshot's time (docs/airbyte.md).
gc.freeze()
_GEN0, _GEN1, _GEN2 = gc.get_threshold()
gc.set_threshold(max(_GEN0, 10_000), _GEN1, _GEN2)

#: The cursor field: the change-log position (µs) a record brings its stream to.
POSITION = "_ab_convex_position_us"
DELETED_AT = "_ab_cdc_deleted_at"
INCLUDED = "incl"  # selection literals that old and new Convex servers both understand
EXCLUDED = "excl"

# ---- times (tap_convex/timestamps.py) --------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_SECOND_TEXT: dict[int, str] = {}
_SECOND_TEXT_LIMIT = 4096


def _microseconds_to_text(microseconds: int) -> str:
    """RFC 3339 UTC with microseconds; the date-and-second part is cached, since documents
    written together share it and formatting a datetime costs more than the rest."""
    seconds, fraction = divmod(microseconds, 1_000_000)
    prefix = _SECOND_TEXT.get(seconds)
    if prefix is None:
        if len(_SECOND_TEXT) > _SECOND_TEXT_LIMIT:
            _SECOND_TEXT.clear()
        prefix = (_EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
        _SECOND_TEXT[seconds] = prefix
    return f"{prefix}.{fraction:06d}+00:00"


def creation_time_text(milliseconds: float) -> str:
    """Convex ``_creationTime`` (float ms since the epoch) as RFC 3339 UTC, to the µs."""
    return _microseconds_to_text(round(milliseconds * 1000))


def commit_time_text(nanoseconds: int) -> str:
    """A commit timestamp (int ns) as RFC 3339 UTC, truncated to microseconds."""
    return _microseconds_to_text(nanoseconds // 1000)


# ---- values (tap_convex/convert.py and pages.py) ----------------------------------------------

_KEPT_SYSTEM_FIELDS = frozenset({"_id", "_creationTime"})
# An int64 exactly as Convex writes it (compact JSON, padded standard base64 of 8 bytes). In
# valid JSON these bytes can only be structure: a quote inside a string is escaped.
_INTEGER = re.compile(rb'\{"\$integer":"([A-Za-z0-9+/]{11}=)"\}')
# Where a page stops being plain: a key or text that starts with ``$`` (an encoded object),
# or with ``_`` and is not one of the system keys of a streaming-export value. A quote after
# a backslash is inside a text (the snapshot cursor is JSON text, its tablet id may start
# with ``_``); a text's closing quote is never followed by ``$`` or ``_``.
# (The backslash is looked for behind a match rather than before each quote: that keeps
# the search a fast scan for quotes, an eighth of the time.)
_NOT_PLAIN = re.compile(
    rb'"(?:\$|_(?!(?:component|table|ts|id|creationTime|deleted)":))(?<!\\"[$_])'
)
# A delete on a page: only a key is followed by an unescaped quote and a colon.
_DELETE = b'"_deleted":true'


def _float_text(value: float) -> str | float:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _special(value: dict[str, Any]) -> tuple[bool, Any]:
    """Decode a one-key ``$integer``/``$bytes``/``$float`` object; ``(False, None)`` if plain."""
    if len(value) != 1:
        return False, None
    key = next(iter(value))
    if key == "$integer":
        return True, struct.unpack("<q", base64.b64decode(value[key]))[0]
    if key == "$bytes":
        return True, value[key]
    if key == "$float":
        (number,) = struct.unpack("<d", base64.b64decode(value[key]))
        return True, _float_text(number)
    return False, None


def decode_nested(value: Any) -> Any:
    """Decode a value inside an object or array (NaN and infinities become text there)."""
    kind = type(value)
    if kind is dict:
        is_special, decoded = _special(value)
        if is_special:
            return decoded
        return {key: decode_nested(item) for key, item in value.items()}
    if kind is list:
        return [decode_nested(item) for item in value]
    return value


def decoded_fields(value: dict[str, Any], number_only: frozenset[str]) -> dict[str, Any]:
    """User fields, ``_id`` and ``_creationTime``, with every encoded value decoded; a NaN or
    an infinity in a number-only column becomes null (a string would break typed targets)."""
    fields = {}
    for key, item in value.items():
        if key[0] == "_" and key not in _KEPT_SYSTEM_FIELDS:
            continue
        if type(item) is dict:
            is_special, decoded = _special(item)
            if not is_special:
                decoded = decode_nested(item)
            elif key in number_only and type(decoded) is str:
                decoded = None
            fields[key] = decoded
        elif type(item) is list:
            fields[key] = decode_nested(item)
        else:
            fields[key] = item
    return fields


#: The CDK's JSON parser, the one behind its declarative decoders: orjson, falling back to the
#: standard library's json. It reads a page in about 40% of json.loads's time, and is exact
#: here: every number Convex writes is an int64 (``_ts``, and each ``$integer`` once
#: :func:`prepare_page` made it a literal) or a float64 written with a fraction or an
#: exponent (orjson would read an integer literal past 64 bits as a float; Convex writes none).
_JSON = JsonParser()


def parse_page(body: bytes) -> Any:
    """A page's JSON value; a ValueError if neither parser can read it."""
    try:
        return next(iter(_JSON.parse(io.BytesIO(body))))
    except AirbyteTracedException as error:
        raise ValueError("the page is not JSON") from error


def prepare_page(body: bytes) -> tuple[bytes, bool]:
    """Rewrite a page's ``$integer`` objects as exact decimal literals (one C-level pass, so
    the parser gives exact ints), and say if the page is *plain*: nothing left to decode
    value by value, so each document can become its record with only ``_creationTime``
    rewritten."""
    if b'{"$integer":"' in body:
        parts = _INTEGER.split(body)
        payloads = parts[1::2]
        raw = b"".join(map(binascii.a2b_base64, payloads))
        parts[1::2] = [b"%d" % number for number in struct.unpack(f"<{len(payloads)}q", raw)]
        body = b"".join(parts)
    return body, _NOT_PLAIN.search(body) is None


class RecordConverter:
    """Builds the records of one table from its values, by the tap's rules."""

    def __init__(
        self, table: tuple[str, str], number_only_fields: frozenset[str], schema_fields: list[str]
    ) -> None:
        self._table = table
        self._number_only = number_only_fields
        self._null_record = dict.fromkeys(schema_fields)

    def live(self, value: dict[str, Any], plain: bool) -> dict[str, Any]:
        """A live document's record; on a plain page the value itself becomes the record."""
        record = value if plain else decoded_fields(value, self._number_only)
        created = record.get("_creationTime")
        if created is not None:
            record["_creationTime"] = creation_time_text(created)
        record[DELETED_AT] = None
        record["_ts"] = value["_ts"]
        record["_deleted"] = False
        record["_component"] = value["_component"]
        record["_table"] = value["_table"]
        return record

    def snapshot_in_place(
        self, values: list[dict[str, Any]], position: int
    ) -> list[dict[str, Any]]:
        """The records of a plain snapshot page with no delete, made in place: what
        :meth:`live` makes of each value of this table (in the same key order), stamped with
        the snapshot's ``position``, at a fraction of the cost (most of a snapshot's time is
        spent per record, so this loop does only what each record needs)."""
        stamp = {DELETED_AT: None, "_deleted": False, POSITION: position}
        text = _microseconds_to_text
        records = []
        keep = records.append
        for value in values:
            if (value["_component"], value["_table"]) != self._table:
                continue
            if "_ts" not in value:
                raise KeyError("_ts")
            created = value.get("_creationTime")
            if created is not None:
                value["_creationTime"] = text(round(created * 1000))
            value.update(stamp)
            keep(value)
        return records

    def deleted(self, value: dict[str, Any]) -> dict[str, Any]:
        """A delete: ``_id`` and the landing fields, every other field null."""
        record = dict(self._null_record)
        record["_id"] = value["_id"]
        record[DELETED_AT] = commit_time_text(value["_ts"])
        record["_ts"] = value["_ts"]
        record["_deleted"] = True
        record["_component"] = value["_component"]
        record["_table"] = value["_table"]
        return record


# ---- schemas and names (tap_convex/discovery.py, selection.py) ---------------------------------

# Any JSON value. Listing every type (rather than ``{}``) keeps typed destinations happy.
PERMISSIVE: dict[str, Any] = {
    "type": ["array", "boolean", "integer", "null", "number", "object", "string"]
}
_DATE_TIME = {"format": "date-time", "airbyte_type": "timestamp_with_timezone"}
METADATA_PROPERTIES: dict[str, Any] = {
    "_id": {"type": "string"},
    "_creationTime": {"type": ["string", "null"], **_DATE_TIME},
    "_ts": {"type": "integer"},
    "_deleted": {"type": "boolean"},
    "_component": {"type": "string"},
    "_table": {"type": "string"},
    DELETED_AT: {"type": ["string", "null"], **_DATE_TIME},
    POSITION: {"type": "integer"},
}
_SCALARS = {"string": "string", "number": "number", "boolean": "boolean"}
_SPECIAL_SCHEMAS: dict[str, dict[str, Any]] = {
    "$integer": {"type": ["integer", "null"]},
    "$bytes": {"type": ["string", "null"], "contentEncoding": "base64"},
}


def stream_name(component: str, table: str) -> str:
    """A root table keeps its name; a component's is prefixed by its path, ``/`` as ``__``."""
    if component == "":
        return table
    return component.replace("/", "__") + "__" + table


def property_schema(convex_schema: Any) -> dict[str, Any]:
    """Map one field's Convex JSON schema (``convex_encoded_json``) to a nullable schema."""
    if not isinstance(convex_schema, dict):
        return dict(PERMISSIVE)
    options = convex_schema.get("anyOf")
    if isinstance(options, list):
        kept = [option for option in options if option != {"type": "null"}]
        if _is_float_with_specials(kept):
            return {"type": ["number", "null"]}  # non-finite values arrive as null
        return property_schema(kept[0]) if len(kept) == 1 else dict(PERMISSIVE)
    kind = convex_schema.get("type")
    if kind == "object":
        special = _special_kind(convex_schema)
        return dict(_SPECIAL_SCHEMAS.get(special or "", {"type": ["object", "null"]}))
    if kind == "array":
        return {"type": ["array", "null"], "items": dict(PERMISSIVE)}
    return {"type": [_SCALARS[kind], "null"]} if kind in _SCALARS else dict(PERMISSIVE)


def _special_kind(convex_schema: dict[str, Any]) -> str | None:
    properties = convex_schema.get("properties")
    if isinstance(properties, dict) and len(properties) == 1:
        (name,) = properties
        if name in ("$integer", "$bytes", "$float"):
            return str(name)
    return None


def _is_float_with_specials(options: list[Any]) -> bool:
    kinds = {
        "number" if option.get("type") == "number" else _special_kind(option)
        for option in options
        if isinstance(option, dict)
    }
    return kinds == {"number", "$float"}


def table_schema(convex_schema: Any) -> tuple[dict[str, Any], list[str]]:
    """A table's stream schema and its number-only columns (where NaN becomes null)."""
    typed = convex_schema.get("properties") if isinstance(convex_schema, dict) else None
    if not isinstance(typed, dict):
        typed = {}
    properties: dict[str, Any] = {}
    number_only = []
    for name in sorted(typed):
        if name.startswith("_"):
            continue
        properties[name] = property_schema(typed[name])
        if properties[name].get("type") == ["number", "null"]:
            number_only.append(name)
    properties.update(METADATA_PROPERTIES)
    schema = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"}
    return {**schema, "properties": properties, "additionalProperties": True}, number_only


def exact_selection(component: str, table: str) -> dict[str, Any]:
    """Select one table of one component, every column, nothing else (Convex exports
    *everything* when a selection is malformed, so this is the one way one is written)."""
    return {"_other": EXCLUDED, component: {"_other": EXCLUDED, table: {"_other": INCLUDED}}}


# ---- the components ------------------------------------------------------------------------


def _failure(message: str) -> AirbyteTracedException:
    return AirbyteTracedException(
        message=message, internal_message=message, failure_type=FailureType.system_error
    )


@dataclass
class ConvexTablesExtractor(RecordExtractor):
    """One record per (component, table) of a ``json_schemas?byComponent=true`` answer, with
    what its stream needs: name, schema and ``$parameters`` for its requests and pages."""

    parameters: InitVar[dict[str, Any]]

    def extract_records(self, response: Any) -> list[dict[str, Any]]:
        """The tables, sorted by stream name; two tables with one name are an error."""
        answer = response.json()
        if not isinstance(answer, dict) or not all(isinstance(v, dict) for v in answer.values()):
            raise _failure("json_schemas answered without an object per component.")
        tables: dict[str, dict[str, Any]] = {}
        for component, schemas in sorted(answer.items()):
            for table, convex_schema in sorted(schemas.items()):
                name = stream_name(component, table)
                clash = tables.get(name)
                if clash is not None:
                    raise AirbyteTracedException(
                        message=f"Tables {clash['component']!r}/{clash['table']!r} and "
                        f"{component!r}/{table!r} both map to stream name {name!r}; the "
                        "connector cannot tell them apart. Rename one of them in Convex.",
                        failure_type=FailureType.config_error,
                    )
                schema, number_only = table_schema(convex_schema)
                tables[name] = {
                    "name": name,
                    "component": component,
                    "table": table,
                    "schema": schema,
                    "parameters": {
                        "name": name,
                        "convex_component": component,
                        "convex_table": table,
                        "convex_selection": exact_selection(component, table),
                        "number_only_fields": number_only,
                        "schema_fields": list(schema["properties"]),
                    },
                }
        return [tables[name] for name in sorted(tables)]


#: Where each page said the walk goes on, kept from the extractor's parse so that the
#: paginator does not parse the whole page a second time.
_PAGE_ENDS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _page_end(page: dict[str, Any]) -> Any:
    """The next page token: None at the end, else the cursor (and the pinned snapshot)."""
    if page["hasMore"] is not True:
        return None
    if page["cursor"] is None:
        raise _failure("Convex said a page has more but gave no cursor to continue from.")
    if "snapshot" in page:
        return {"cursor": page["cursor"], "snapshot": page["snapshot"]}
    return page["cursor"]


@dataclass
class ConvexPageExtractor(RecordExtractor):
    """The records of one ``list_snapshot`` or ``document_deltas`` page of one table.

    Each record is stamped with :data:`POSITION`: on a snapshot page the pinned snapshot
    (the change log starts there), on a change-log page the value's own ``_ts``. A value of
    another table (a server that ignored the selection) is dropped, never delivered.
    """

    parameters: InitVar[dict[str, Any]]

    def __post_init__(self, parameters: dict[str, Any]) -> None:
        self._table = (parameters["convex_component"], parameters["convex_table"])
        number_only = frozenset(parameters.get("number_only_fields") or ())
        self._converter = RecordConverter(
            self._table, number_only, list(parameters["schema_fields"])
        )

    def extract_records(self, response: Any) -> list[dict[str, Any]]:
        """Decode, check and convert one page."""
        body, plain = prepare_page(response.content)
        try:
            page = parse_page(body)
            _PAGE_ENDS[response] = _page_end(page)
            snapshot = page.get("snapshot")
            if plain and snapshot is not None and _DELETE not in body:
                return self._converter.snapshot_in_place(page["values"], snapshot // 1000)
            records = []
            for value in page["values"]:
                if (value["_component"], value["_table"]) != self._table:
                    continue
                if value.get("_deleted") is True:
                    record = self._converter.deleted(value)
                else:
                    record = self._converter.live(value, plain)
                record[POSITION] = (value["_ts"] if snapshot is None else snapshot) // 1000
                records.append(record)
        except (ValueError, TypeError, KeyError) as error:
            raise _failure(
                f"Convex answered a page this connector cannot read ({type(error).__name__}); "
                "the deployment is not behaving as Convex does."
            ) from error
        return records


@dataclass
class ConvexPagination(PaginationStrategy):
    """Follow ``cursor`` while ``hasMore``, from the page :class:`ConvexPageExtractor` read."""

    parameters: InitVar[dict[str, Any]]

    @property
    def initial_token(self) -> Any:
        """The first page has no token."""
        return None

    def next_page_token(self, response: Any, *_page_facts: Any, **_more: Any) -> Any:
        """The token the extractor kept for this response."""
        return _PAGE_ENDS.pop(response)

    def get_page_size(self) -> int | None:
        """Convex sets the page size, not the client."""
        return None
