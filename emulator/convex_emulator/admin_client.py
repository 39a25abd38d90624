"""A small admin client for a running emulator, using only the standard library.

It lets tests, benchmarks and the demo change data while a tap is reading, from another
process: ``EmulatorClient(url, admin_key).transaction([...])``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class EmulatorClient:
    """Calls the ``/_emulator/`` admin API; a non-2xx answer raises ``RuntimeError``."""

    def __init__(self, url: str, admin_key: str, timeout: float = 60.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"the emulator URL must be http(s): {url!r}")
        self.url = url.rstrip("/")
        self._admin_key = admin_key
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"EmulatorClient({self.url!r})"

    def _call(
        self, method: str, action: str, body: dict[str, Any] | None = None, query: str = ""
    ) -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310 - __init__ admits only http(s) URLs
            f"{self.url}/_emulator/{action}{query}",
            data=data,
            method=method,
            headers={
                "Authorization": f"Convex {self._admin_key}",
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(  # noqa: S310 - __init__ admits only http(s) URLs
                request, timeout=self._timeout
            ) as response:
                result: dict[str, Any] = json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise RuntimeError(
                f"emulator {method} {action}: {error.code} {error.read()!r}"
            ) from None
        return result

    def transaction(self, ops: list[dict[str, Any]]) -> dict[str, Any]:
        """Apply ops atomically under one commit timestamp; returns ``{"ts", "ids"}``.

        Ops: ``{"op": "insert", "table", "doc", "component"?}``,
        ``{"op": "patch", "id", "fields", "unset"?}``, ``{"op": "replace", "id", "doc"}``,
        ``{"op": "delete", "id"}``.
        """
        return self._call("POST", "transaction", {"ops": ops})

    def insert(self, table: str, doc: dict[str, Any], component: str = "") -> str:
        """Insert one ``export_json`` document in its own transaction; returns its id."""
        op = {"op": "insert", "table": table, "doc": doc, "component": component}
        return str(self.transaction([op])["ids"][0])

    def patch(self, doc_id: str, fields: dict[str, Any]) -> None:
        """Set top-level ``fields`` of a document in its own transaction."""
        self.transaction([{"op": "patch", "id": doc_id, "fields": fields}])

    def delete(self, doc_id: str) -> None:
        """Delete a document in its own transaction."""
        self.transaction([{"op": "delete", "id": doc_id}])

    def create_table(self, table: str, component: str = "") -> None:
        """Create an empty table (tables also appear on their first insert)."""
        self._call("POST", "create_table", {"table": table, "component": component})

    def delete_table(self, table: str, component: str = "") -> int:
        """Drop a table; returns the commit timestamp."""
        result = self._call("POST", "delete_table", {"table": table, "component": component})
        return int(result["ts"])

    def replace_table(
        self, table: str, documents: list[dict[str, Any]], component: str = ""
    ) -> int:
        """Replace a table's documents wholesale (``npx convex import --replace``): a new
        tablet under the same name, in one commit. Documents are ``export_json``; an ``_id``
        given is kept. Returns the commit timestamp.
        """
        body = {"table": table, "documents": documents, "component": component}
        return int(self._call("POST", "replace_table", body)["ts"])

    def clear_table(self, table: str, component: str = "") -> int:
        """Empty a table as ``clear_tables`` does (a replacement by nothing); returns the ts."""
        return int(
            self._call("POST", "clear_table", {"table": table, "component": component})["ts"]
        )

    def begin_import(self, table: str, component: str = "") -> str:
        """Start a staged replacing import (a hidden tablet); returns its id."""
        return str(
            self._call("POST", "begin_import", {"table": table, "component": component})["import"]
        )

    def import_documents(self, import_id: str, documents: list[dict[str, Any]]) -> int:
        """Write one batch of ``export_json`` documents into a staged import; returns the ts."""
        body = {"import": import_id, "documents": documents}
        return int(self._call("POST", "import_documents", body)["ts"])

    def finish_import(self, import_id: str) -> int:
        """Commit a staged import: it replaces the table; returns the commit timestamp."""
        return int(self._call("POST", "finish_import", {"import": import_id})["ts"])

    def system_writes(self, count: int) -> None:
        """Commit ``count`` transactions to a system table (read by deltas, never exported)."""
        self._call("POST", "system_writes", {"count": count})

    def advance_clock(self, seconds: float) -> int:
        """Move the emulator's clock forward; returns its new "now" in nanoseconds."""
        return int(self._call("POST", "clock", {"advance_seconds": seconds})["now"])

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Change store knobs and server switches by name; returns every setting."""
        return self._call("POST", "config", settings)

    def add_fault(self, endpoint: str, kind: str = "status", **options: Any) -> None:
        """Plan a fault (see :class:`~convex_emulator.faults.Fault`) for ``endpoint``."""
        self._call("POST", "faults", {"endpoint": endpoint, "kind": kind, **options})

    def clear_faults(self) -> None:
        """Drop every planned fault."""
        self._call("DELETE", "faults")

    def requests(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        """The request log, optionally of one endpoint, oldest first."""
        query = f"?endpoint={endpoint}" if endpoint else ""
        entries: list[dict[str, Any]] = self._call("GET", "requests", query=query)["requests"]
        return entries

    def clear_requests(self) -> None:
        """Empty the request log."""
        self._call("DELETE", "requests")

    def documents(self) -> list[dict[str, Any]]:
        """Ground truth in ``export_json`` form, each tagged with ``_component``/``_table``."""
        documents: list[dict[str, Any]] = self._call("GET", "documents")["documents"]
        return documents

    def stats(self) -> dict[str, Any]:
        """Commit timestamps, log size and the documents per table."""
        return self._call("GET", "stats")

    def load(
        self, *, demo: bool = False, generate: int = 0, jsonl: str | None = None
    ) -> dict[str, Any]:
        """Load the demo deployment, generated documents and/or JSONL; returns :meth:`stats`."""
        return self._call("POST", "load", {"demo": demo, "generate": generate, "jsonl": jsonl})
