"""The HTTP face of the emulator: Convex's streaming-export routes plus an admin API.

Convex routes live under ``/api/``; the admin API lives under ``/_emulator/``, a path no
Convex route uses. Both need ``Authorization: Convex <admin key>``.
"""

from __future__ import annotations

import json
import secrets
import socket
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from convex_emulator import admin, formats, shapes
from convex_emulator.errors import ConvexError
from convex_emulator.faults import REWRITE_KINDS, Fault, FaultPlan
from convex_emulator.selection import EVERYTHING, parse_selection_args
from convex_emulator.store import Store, StoreConfig

API_ENDPOINTS = {
    "test_streaming_export_connection": ("GET",),
    "get_table_column_names": ("GET",),
    "json_schemas": ("GET",),
    "list_snapshot": ("GET", "POST"),
    "document_deltas": ("GET", "POST"),
}
ADMIN_PREFIX = "/_emulator/"


@dataclass
class ServerOptions:
    """Switches that make the emulator behave like a restricted or older deployment."""

    streaming_export_enabled: bool = True
    view_data_permitted: bool = True
    legacy_selection_literals: bool = False
    ignore_table_name_alias: bool = False
    ignore_selection: bool = False  # export everything whatever was asked, like very old servers


class RequestLog:
    """What the server was asked, so tests and benchmarks can count requests and selections."""

    def __init__(self, limit: int = 200_000) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=limit)
        self._seq = 0

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._seq += 1
            entry["seq"] = self._seq
            self._entries.append(entry)

    def entries(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self._entries if endpoint is None or e["endpoint"] == endpoint]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def new_admin_key() -> str:
    return "prod:emulator|" + secrets.token_hex(24)


def _strip_key_type(key: str) -> str:
    for prefix in ("prod:", "dev:", "preview:"):
        if key.startswith(prefix):
            return key[len(prefix) :]
    return key


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    emulator: EmulatorServer


class EmulatorServer:
    """A running emulator: a :class:`Store` served over loopback HTTP.

    Use it in-process (``with EmulatorServer(store) as server: ...``) or through the
    ``convex-emulator`` command and :class:`~convex_emulator.client.EmulatorClient`.
    """

    def __init__(
        self,
        store: Store | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        admin_key: str | None = None,
        options: ServerOptions | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        """``tls``: a server-side SSL context, to serve HTTPS (e.g. with a private CA)."""
        self.store = store or Store()
        self.admin_key = admin_key or new_admin_key()
        self.options = options or ServerOptions()
        self.faults = FaultPlan()
        self.requests = RequestLog()
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.emulator = self
        self._scheme = "http"
        if tls is not None:
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
            self._scheme = "https"
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"{self._scheme}://{host}:{port}"

    def start(self) -> EmulatorServer:
        # A short poll interval: ``stop()`` waits for the loop to notice, 0.5 s by default.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._httpd.serve_forever()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def key_matches(self, presented: str) -> bool:
        return secrets.compare_digest(
            _strip_key_type(presented).encode(), _strip_key_type(self.admin_key).encode()
        )

    def configure(self, settings: dict[str, Any]) -> dict[str, Any]:
        """Change store knobs and server switches by name; unknown names are an error."""
        store_names = {f.name for f in fields(StoreConfig)}
        option_names = {f.name for f in fields(ServerOptions)}
        unknown = set(settings) - store_names - option_names
        if unknown:
            raise ValueError(f"unknown settings: {sorted(unknown)}")
        with self.store.lock:
            for name, value in settings.items():
                target = self.store.config if name in store_names else self.options
                setattr(target, name, value)
        return self.current_settings()

    def current_settings(self) -> dict[str, Any]:
        config = {f.name: getattr(self.store.config, f.name) for f in fields(StoreConfig)}
        config.update({f.name: getattr(self.options, f.name) for f in fields(ServerOptions)})
        return config


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Silence the default per-request stderr line; the request log keeps the facts."""

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # ---- plumbing -------------------------------------------------------------------------

    @property
    def emulator(self) -> EmulatorServer:
        return self.server.emulator

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        body_bytes = self._read_body()
        if parts.path.startswith(ADMIN_PREFIX):
            self._admin(method, parts.path[len(ADMIN_PREFIX) :], parts.query, body_bytes)
        elif parts.path.startswith("/api/"):
            self._api(method, parts.path[len("/api/") :], parts.query, body_bytes)
        else:
            self._send_error(ConvexError(404, "NotFound", f"No route for {parts.path}"))

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        extra_headers: dict[str, str] | None = None,
    ) -> None:
        head = [
            f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}",
            f"Content-Type: {content_type}",
            f"Content-Length: {len(body)}",
        ]
        for name, value in (extra_headers or {}).items():
            head.append(f"{name}: {value}")
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)

    def _send_json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload, separators=(",", ":")).encode("utf-8"))

    def _send_error(self, error: ConvexError) -> None:
        self._send_json(error.status, error.body())

    def _authenticate(self) -> None:
        header = self.headers.get("Authorization")
        if header is None:
            raise ConvexError(403, "BadDeployKey", "Couldn't find an admin key or deploy key.")
        if len(header) < 7:
            raise ConvexError(400, "InvalidHeaderFailure", "Authorization header is too short.")
        scheme = header[:7].lower()
        if scheme == "bearer ":
            raise ConvexError(403, "BadDeployKey", "A user token can't use this endpoint.")
        if scheme != "convex ":
            raise ConvexError(400, "InvalidHeaderFailure", "Authorization header is malformed.")
        if not self.emulator.key_matches(header[7:]):
            raise ConvexError(
                401, "BadAdminKey", "The provided admin key was invalid for this instance"
            )

    def _check_client_header(self) -> None:
        client = self.headers.get("Convex-Client")
        if client is not None and "-" not in client:
            raise ConvexError(400, "InvalidClientVersion", f"Invalid client version: {client}")

    # ---- Convex API -----------------------------------------------------------------------

    def _api(self, method: str, endpoint: str, query: str, body: bytes) -> None:
        started = time.perf_counter()
        entry: dict[str, Any] = {
            "method": method,
            "endpoint": endpoint,
            "time": time.time(),
            "client": self.headers.get("Convex-Client"),
        }
        values: int | None = None
        try:
            if endpoint not in API_ENDPOINTS:
                raise ConvexError(404, "NotFound", f"No route for /api/{endpoint}")
            if method not in API_ENDPOINTS[endpoint]:
                raise ConvexError(405, "MethodNotAllowed", f"{method} is not allowed here")
            args = self._arguments(method, query, body)
            entry["args"] = args
            self._check_client_header()
            self._authenticate()
            options = self.emulator.options
            if not options.streaming_export_enabled:
                raise ConvexError(
                    403,
                    "StreamingExportNotEnabled",
                    "Streaming export is only available on the Convex Professional plan.",
                )
            if not options.view_data_permitted:
                raise ConvexError(
                    403, "OperationNotPermitted", "This key is not permitted to view data."
                )
            payload, values = self._api_result(endpoint, args)
            fault = self.emulator.faults.take(endpoint)
        except ConvexError as error:
            self._record(entry, error.status, values, started)
            self._send_error(error)
            return
        # Log before answering: a client holding its answer must find its request in the log.
        self._record(entry, 200 if fault is None else _fault_status(fault), values, started)
        if fault is not None:
            self._misbehave(fault, payload)
        else:
            self._send(200, payload)

    def _record(
        self, entry: dict[str, Any], status: int, values: int | None, started: float
    ) -> None:
        entry.update(status=status, values=values, seconds=time.perf_counter() - started)
        self.emulator.requests.record(entry)

    def _arguments(self, method: str, query: str, body: bytes) -> dict[str, Any]:
        if method == "GET":
            return dict(parse_qsl(query, keep_blank_values=True))
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise ConvexError(400, "BadJsonBody", "Expected Content-Type: application/json")
        try:
            args = json.loads(body or b"null")
        except ValueError as error:
            raise ConvexError(400, "BadJsonBody", f"Invalid JSON body: {error}") from None
        if not isinstance(args, dict):
            raise ConvexError(400, "BadJsonBody", "The JSON body must be an object")
        return args

    def _api_result(self, endpoint: str, args: dict[str, Any]) -> tuple[bytes, int | None]:
        store = self.emulator.store
        if endpoint == "test_streaming_export_connection":
            return b"null", None
        if endpoint == "get_table_column_names":
            return _json_bytes(shapes.column_names(store)), None
        if endpoint == "json_schemas":
            result = shapes.json_schemas(
                store,
                delta_schema=_bool_arg(args, "deltaSchema"),
                fmt=formats.parse_format(args.get("format")),
                by_component=_bool_arg(args, "byComponent"),
            )
            return _json_bytes(result), None
        options = self.emulator.options
        selection = parse_selection_args(
            args,
            legacy_literals=options.legacy_selection_literals,
            ignore_table_name_alias=options.ignore_table_name_alias,
        )
        if options.ignore_selection:
            selection = EVERYTHING
        fmt = formats.parse_format(_optional_str(args, "format"))
        if endpoint == "list_snapshot":
            page = store.list_snapshot(
                _optional_int(args, "snapshot", query=self.command == "GET"),
                _optional_str(args, "cursor"),
                selection,
                fmt,
            )
            text = (
                '{"values":['
                + ",".join(page.values)
                + '],"snapshot":'
                + str(page.snapshot)
                + ',"cursor":'
                + json.dumps(page.cursor)
                + ',"hasMore":'
                + ("true" if page.has_more else "false")
                + "}"
            )
            return text.encode("utf-8"), len(page.values)
        cursor = _optional_int(args, "cursor", query=self.command == "GET")
        if cursor is None:
            raise ConvexError(
                400, "DocumentDeltasCursorRequired", "/api/document_deltas requires a cursor"
            )
        page = store.document_deltas(cursor, selection, fmt)
        text = (
            '{"values":['
            + ",".join(page.values)
            + '],"cursor":'
            + str(page.cursor)
            + ',"hasMore":'
            + ("true" if page.has_more else "false")
            + "}"
        )
        return text.encode("utf-8"), len(page.values)

    def _misbehave(self, fault: Fault, payload: bytes) -> int:
        if fault.kind in REWRITE_KINDS:
            self._send(200, _rewrite(fault, payload))
            return 200
        if fault.kind == "trickle":
            head = (
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\n\r\n"
            )
            self.wfile.write(head.encode("latin-1"))
            for start in range(0, len(payload), 1024):
                time.sleep(fault.delay)
                self.wfile.write(payload[start : start + 1024])
            return 200
        if fault.kind == "slow":
            time.sleep(fault.delay)
            self._send(200, payload)
            return 200
        if fault.kind == "truncate":
            self._send(200, payload[: len(payload) // 2])
            return 200
        if fault.kind == "drop":
            head = (
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\n\r\n"
            )
            self.wfile.write(head.encode("latin-1") + payload[: len(payload) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return 200
        if fault.kind == "html":
            status = _fault_status(fault)
            reason = self.responses.get(status, ("Error",))[0]
            page = f"<html><body><h1>{status} {reason}</h1></body></html>".encode()
            self._send(status, page, content_type="text/html")
            return status
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = f"{fault.retry_after:g}"
        self._send(fault.status, _json_bytes(fault.error_body()), extra_headers=headers)
        return fault.status

    # ---- admin API ---------------------------------------------------------------------------

    def _admin(self, method: str, action: str, query: str, body: bytes) -> None:
        try:
            self._authenticate()
            args = json.loads(body) if body else {}
            if not isinstance(args, dict):
                raise ValueError("the JSON body must be an object")
            result = admin.handle(self.emulator, method, action, args, dict(parse_qsl(query)))
        except ConvexError as error:
            self._send_error(error)
        except (ValueError, KeyError, TypeError) as error:
            self._send_json(400, {"code": "BadAdminRequest", "message": str(error)})
        else:
            self._send_json(200, result)


def _rewrite(fault: Fault, payload: bytes) -> bytes:
    """The real answer with one protocol violation, still valid JSON."""
    body = json.loads(payload)
    if fault.kind == "null_cursor":
        body["cursor"] = None
    elif fault.kind == "shift_snapshot":
        body["snapshot"] = body["snapshot"] + 1
    elif fault.kind == "rewind_cursor":
        body["cursor"] = body["cursor"] - 1_000_000_000
    elif fault.kind == "drop_field":
        body.pop(fault.field or "values", None)
    elif fault.kind == "drop_value_field":
        for value in body["values"]:
            value.pop(fault.field or "_id", None)
    elif fault.kind == "mistype_value_field":
        for value in body["values"]:
            value[fault.field or "_id"] = ["unexpected"]
    else:
        body[fault.field or "values"] = "unexpected"
    return _json_bytes(body)


def _fault_status(fault: Fault) -> int:
    """The status line a fault answers with (``drop``/``slow``/``truncate`` start a 200)."""
    if fault.kind == "status":
        return fault.status
    if fault.kind == "html":
        return fault.status if fault.status != 500 else 502
    return 200


def _json_bytes(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _bool_arg(args: dict[str, Any], name: str) -> bool:
    value = args.get(name, False)
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
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
