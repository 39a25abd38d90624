"""The Convex streaming-export routes: request arguments in, response body out.

Arguments come from a GET query string or a POST JSON body and are typed here as upstream's
argument structs type them (an i64 may be a query-string number, never a JSON string).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from convex_emulator import active_syncs, datasync, formats, reads, shapes
from convex_emulator.failures import ConvexError
from convex_emulator.responses import json_bytes
from convex_emulator.sync_cursor import decode_state
from convex_emulator.table_filter import (
    EVERYTHING,
    check_data_sync_selection,
    parse_data_sync_selection,
    parse_selection_args,
)

if TYPE_CHECKING:
    from convex_emulator.server import ServerOptions
    from convex_emulator.store import Store

#: The Data Sync routes, named (in the request log and for faults) by their path after /api/.
DATA_SYNC = "v1/data/sync"
LIST_ACTIVE_SYNCS = "v1/data/list_active_syncs"
CURSOR_FROM_DELTAS = "data_sync_cursor_from_deltas"

#: The methods each route answers; anything else is 404 or 405.
API_ENDPOINTS = {
    "test_streaming_export_connection": ("GET",),
    "get_table_column_names": ("GET",),
    "json_schemas": ("GET",),
    "list_snapshot": ("GET", "POST"),
    "document_deltas": ("GET", "POST"),
    DATA_SYNC: ("POST",),
    LIST_ACTIVE_SYNCS: ("GET",),
    CURSOR_FROM_DELTAS: ("POST",),
}


def check_route(method: str, endpoint: str) -> None:
    """404 for an unknown route, 405 for a method it does not take."""
    if endpoint not in API_ENDPOINTS:
        raise ConvexError(404, "NotFound", f"No route for /api/{endpoint}")
    if method not in API_ENDPOINTS[endpoint]:
        raise ConvexError(405, "MethodNotAllowed", f"{method} is not allowed here")


def parse_arguments(method: str, query: str, body: bytes, content_type: str) -> dict[str, Any]:
    """The request's arguments: the query string of a GET, the JSON object of a POST."""
    if method == "GET":
        return dict(parse_qsl(query, keep_blank_values=True))
    if content_type.partition(";")[0].strip().lower() != "application/json":
        raise ConvexError(400, "BadJsonBody", "Expected Content-Type: application/json")
    try:
        args = json.loads(body or b"null")
    except ValueError as error:
        raise ConvexError(400, "BadJsonBody", f"Invalid JSON body: {error}") from None
    if not isinstance(args, dict):
        raise ConvexError(400, "BadJsonBody", "The JSON body must be an object")
    return args


def answer(  # noqa: PLR0913 - the request's parts, keyword-only past the route
    store: Store,
    options: ServerOptions,
    endpoint: str,
    args: dict[str, Any],
    *,
    query: bool,
    client: str | None = None,
) -> tuple[bytes, int | None]:
    """The body of a successful answer, and how many values it holds (for the request log).

    ``query`` says the arguments came from a query string, where every value is text;
    ``client`` is the ``Convex-Client`` header (it prefixes a new data sync's id).
    """
    if endpoint in _DATA_SYNC_ROUTES:
        return _data_sync_answer(store, options, endpoint, args, client)
    if endpoint == "test_streaming_export_connection":
        return b"null", None
    if endpoint == "get_table_column_names":
        return json_bytes(shapes.column_names(store)), None
    if endpoint == "json_schemas":
        result = shapes.json_schemas(
            store,
            delta_schema=_bool_arg(args, "deltaSchema"),
            fmt=formats.parse_format(args.get("format")),
            by_component=_bool_arg(args, "byComponent"),
        )
        return json_bytes(result), None
    selection = parse_selection_args(
        args,
        legacy_literals=options.legacy_selection_literals,
        ignore_table_name_alias=options.ignore_table_name_alias,
    )
    if options.ignore_selection:
        selection = EVERYTHING
    fmt = formats.parse_format(_optional_str(args, "format"))
    reply: reads.SnapshotReply | reads.DeltasReply
    if endpoint == "list_snapshot":
        snapshot = _optional_int(args, "snapshot", query=query)
        reply = reads.list_snapshot(store, snapshot, _optional_str(args, "cursor"), selection, fmt)
    else:
        cursor = _optional_int(args, "cursor", query=query)
        if cursor is None:
            raise ConvexError(
                400, "DocumentDeltasCursorRequired", "/api/document_deltas requires a cursor"
            )
        reply = reads.document_deltas(store, cursor, selection, fmt)
    return reply.body(), len(reply.values)


def _data_sync_answer(
    store: Store, options: ServerOptions, endpoint: str, args: dict[str, Any], client: str | None
) -> tuple[bytes, int | None]:
    """The Data Sync routes, checking in upstream's order: the body's types and shape
    (``BadJsonBody``), then the cursor, then the selection's names.
    """
    if endpoint == LIST_ACTIVE_SYNCS:
        result = active_syncs.list_active_syncs(store, args)
        return json_bytes(result), len(result["syncs"])
    if endpoint == CURSOR_FROM_DELTAS:
        if args.get("cursor") is None:
            raise ConvexError(400, "BadJsonBody", "missing field `cursor`")
        cursor = _optional_int(args, "cursor", query=False)
        selection = parse_data_sync_selection(args)
        if cursor is None or cursor < 0:
            raise ConvexError(
                400,
                "InvalidDataSyncCursor",
                "The document_deltas cursor is not a valid timestamp",
            )
        check_data_sync_selection(selection)
        token = datasync.cursor_from_deltas(store, cursor, selection, client)
        return json_bytes({"cursor": token}), None
    sent = _optional_str(args, "cursor")
    selection = parse_data_sync_selection(args)
    incoming = None if sent is None else decode_state(store.secret, sent)
    check_data_sync_selection(selection)
    reply = datasync.data_sync(store, incoming, selection, client)
    return reply.body(options.data_sync_shape), len(reply.values)


_DATA_SYNC_ROUTES = (DATA_SYNC, LIST_ACTIVE_SYNCS, CURSOR_FROM_DELTAS)


def _bool_arg(args: dict[str, Any], name: str) -> bool:
    value = args.get(name, False)
    if value is True or value == "true":
        return True
    if value is False or value == "false":
        return False
    raise ConvexError(400, "BadQueryArgs", f"{name} must be true or false")


def _optional_int(args: dict[str, Any], name: str, *, query: bool) -> int | None:
    """An i64 argument: parsed from a query string, but never a JSON string in a POST body."""
    value = args.get(name)
    if value is None:
        return None
    if query and isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise ConvexError(400, "BadQueryArgs", f"{name} must be an integer") from None
    if type(value) is not int:
        raise ConvexError(400, "BadJsonBody", f"{name} must be an integer")
    return value


def _optional_str(args: dict[str, Any], name: str) -> str | None:
    value = args.get(name)
    if value is not None and not isinstance(value, str):
        raise ConvexError(400, "BadJsonBody", f"{name} must be a string")
    return value
