"""The HTTP face of the emulator: Convex's streaming-export routes plus an admin API.

Convex routes live under ``/api/``; the admin API lives under ``/_emulator/``, a path no
Convex route uses. Both need ``Authorization: Convex <admin key>``.
"""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from convex_emulator import admin, endpoints
from convex_emulator.datasync import SHAPES
from convex_emulator.failures import ConvexError
from convex_emulator.faults import FaultPlan, fault_status, misbehave
from convex_emulator.responses import json_bytes, response_head
from convex_emulator.store import Store, StoreConfig

if TYPE_CHECKING:
    import ssl

ADMIN_PREFIX = "/_emulator/"
_SCHEME_LENGTH = len("Convex ")  # the same as len("Bearer ")


@dataclass
class ServerOptions:
    """Switches that make the emulator behave like a restricted or older deployment."""

    streaming_export_enabled: bool = True
    view_data_permitted: bool = True
    legacy_selection_literals: bool = False
    ignore_table_name_alias: bool = False
    ignore_selection: bool = False  # export everything whatever was asked, like very old servers
    data_sync_shape: str = "current"  # "early": data-sync answers as the first backend sent them


class RequestLog:
    """What the server was asked, so tests and benchmarks can count requests and selections."""

    def __init__(self, limit: int = 200_000) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=limit)
        self._seq = 0

    def record(self, entry: dict[str, Any]) -> None:
        """Append ``entry``, numbering it (``seq``) in the order requests were answered."""
        with self._lock:
            self._seq += 1
            entry["seq"] = self._seq
            self._entries.append(entry)

    def entries(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        """The logged requests, oldest first, optionally of one endpoint only."""
        with self._lock:
            return [e for e in self._entries if endpoint is None or e["endpoint"] == endpoint]

    def clear(self) -> None:
        """Forget every logged request (numbering goes on)."""
        with self._lock:
            self._entries.clear()


def new_admin_key() -> str:
    """A random key in the shape of a production deploy key."""
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
    ``convex-emulator`` command and :class:`~convex_emulator.admin_client.EmulatorClient`.
    """

    def __init__(  # noqa: PLR0913 - keyword-only settings of the public constructor
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
        """The base URL a client uses, with the port actually bound."""
        host, port = self._httpd.socket.getsockname()[:2]
        return f"{self._scheme}://{host}:{port}"

    def start(self) -> EmulatorServer:
        """Serve from a background thread; returns at once."""
        # A short poll interval: ``stop()`` waits for the loop to notice, 0.5 s by default.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve from this thread until the process is interrupted (the command's way)."""
        self._httpd.serve_forever()

    def stop(self) -> None:
        """Stop serving, close the socket and wait for the serving thread."""
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def key_matches(self, presented: str) -> bool:
        """Whether ``presented`` is this deployment's key (any ``prod:``/``dev:`` prefix)."""
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
        if settings.get("data_sync_shape", "current") not in SHAPES:
            raise ValueError(f"data_sync_shape must be one of {SHAPES}")
        with self.store.lock:
            for name, value in settings.items():
                target = self.store.config if name in store_names else self.options
                setattr(target, name, value)
        return self.current_settings()

    def current_settings(self) -> dict[str, Any]:
        """Every store knob and server switch by name, as ``configure`` takes them."""
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

    def _send(self, status: int, body: bytes) -> None:
        self.wfile.write(response_head(status, len(body)) + body)

    def _send_json(self, status: int, payload: Any) -> None:
        self._send(status, json_bytes(payload))

    def _send_error(self, error: ConvexError) -> None:
        self._send_json(error.status, error.body())

    def _authenticate(self) -> None:
        header = self.headers.get("Authorization")
        if header is None:
            raise ConvexError(403, "BadDeployKey", "Couldn't find an admin key or deploy key.")
        if len(header) < _SCHEME_LENGTH:
            raise ConvexError(400, "InvalidHeaderFailure", "Authorization header is too short.")
        scheme = header[:_SCHEME_LENGTH].lower()
        if scheme == "bearer ":
            raise ConvexError(403, "BadDeployKey", "A user token can't use this endpoint.")
        if scheme != "convex ":
            raise ConvexError(400, "InvalidHeaderFailure", "Authorization header is malformed.")
        if not self.emulator.key_matches(header[_SCHEME_LENGTH:]):
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
            endpoints.check_route(method, endpoint)
            content_type = self.headers.get("Content-Type") or ""
            args = endpoints.parse_arguments(method, query, body, content_type)
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
            payload, values = endpoints.answer(
                self.emulator.store,
                options,
                endpoint,
                args,
                query=method == "GET",
                client=entry["client"],
            )
            fault = self.emulator.faults.take(endpoint)
        except ConvexError as error:
            self._record(entry, error.status, values, started)
            self._send_error(error)
            return
        # Log before answering: a client holding its answer must find its request in the log.
        self._record(entry, 200 if fault is None else fault_status(fault), values, started)
        if fault is None:
            self._send(200, payload)
        elif misbehave(fault, payload, self.wfile, self.connection, entry.get("args")):
            self.close_connection = True

    def _record(
        self, entry: dict[str, Any], status: int, values: int | None, started: float
    ) -> None:
        entry.update(status=status, values=values, seconds=time.perf_counter() - started)
        self.emulator.requests.record(entry)

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
