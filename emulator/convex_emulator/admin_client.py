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
    def __init__(self, url: str, admin_key: str, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self._admin_key = admin_key
        self._timeout = timeout

    def __repr__(self) -> str:
        return f"EmulatorClient({self.url!r})"

    def _call(
        self, method: str, action: str, body: dict[str, Any] | None = None, query: str = ""
    ) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.url}/_emulator/{action}{query}",
            data=data,
            method=method,
            headers={
                "Authorization": f"Convex {self._admin_key}",
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise RuntimeError(
                f"emulator {method} {action}: {error.code} {error.read()!r}"
            ) from None

    def transaction(self, ops: list[dict[str, Any]]) -> dict[str, Any]:
        """Ops: ``{"op": "insert", "table", "doc", "component"?}``, ``{"op": "patch", "id",
        "fields", "unset"?}``, ``{"op": "replace", "id", "doc"}``, ``{"op": "delete", "id"}``."""
        return self._call("POST", "transaction", {"ops": ops})

    def insert(self, table: str, doc: dict[str, Any], component: str = "") -> str:
        op = {"op": "insert", "table": table, "doc": doc, "component": component}
        return self.transaction([op])["ids"][0]

    def patch(self, doc_id: str, fields: dict[str, Any]) -> None:
        self.transaction([{"op": "patch", "id": doc_id, "fields": fields}])

    def delete(self, doc_id: str) -> None:
        self.transaction([{"op": "delete", "id": doc_id}])

    def create_table(self, table: str, component: str = "") -> None:
        self._call("POST", "create_table", {"table": table, "component": component})

    def delete_table(self, table: str, component: str = "") -> int:
        return self._call("POST", "delete_table", {"table": table, "component": component})["ts"]

    def system_writes(self, count: int) -> None:
        self._call("POST", "system_writes", {"count": count})

    def advance_clock(self, seconds: float) -> int:
        return self._call("POST", "clock", {"advance_seconds": seconds})["now"]

    def configure(self, **settings: Any) -> dict[str, Any]:
        return self._call("POST", "config", settings)

    def add_fault(self, endpoint: str, kind: str = "status", **options: Any) -> None:
        self._call("POST", "faults", {"endpoint": endpoint, "kind": kind, **options})

    def clear_faults(self) -> None:
        self._call("DELETE", "faults")

    def requests(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        query = f"?endpoint={endpoint}" if endpoint else ""
        return self._call("GET", "requests", query=query)["requests"]

    def clear_requests(self) -> None:
        self._call("DELETE", "requests")

    def documents(self) -> list[dict[str, Any]]:
        """Ground truth in ``export_json`` form, each tagged with ``_component``/``_table``."""
        return self._call("GET", "documents")["documents"]

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "stats")

    def load(
        self, *, demo: bool = False, generate: int = 0, jsonl: str | None = None
    ) -> dict[str, Any]:
        return self._call("POST", "load", {"demo": demo, "generate": generate, "jsonl": jsonl})
