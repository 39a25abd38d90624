"""The admin API behind ``/_emulator/``: drive the emulated deployment from another process.

Document values travel in ``export_json`` form: a JSON integer is an int64, a number with a
``.`` or exponent is a float64, and ``{"$integer"|"$float"|"$bytes": base64}`` are accepted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from convex_emulator import datasets, formats
from convex_emulator.faults import Fault

if TYPE_CHECKING:
    from convex_emulator.server import EmulatorServer


def handle(
    emulator: EmulatorServer, method: str, action: str, args: dict[str, Any], query: dict[str, str]
) -> Any:
    """Run one admin action and return its JSON result."""
    store = emulator.store
    route = (method, action)
    if route == ("GET", "stats"):
        return store.stats()
    if route == ("GET", "documents"):
        return {"documents": export_documents(emulator)}
    if route == ("POST", "transaction"):
        return run_transaction(emulator, args["ops"])
    if route == ("POST", "create_table"):
        store.create_table(args["table"], args.get("component", ""))
        return {"ts": store.last_commit_ts}
    if route == ("POST", "delete_table"):
        return {"ts": store.delete_table(args["table"], args.get("component", ""))}
    if route == ("POST", "add_component"):
        store.add_component(args["path"])
        return {"components": store.components()}
    if route == ("POST", "unmount_component"):
        store.unmount_component(args["path"])
        return {"components": store.components()}
    if route == ("POST", "schema_exportable"):
        store.set_schema_exportable(args["table"], args.get("component", ""), args["exportable"])
        return {}
    if route == ("POST", "system_writes"):
        store.system_writes(int(args["count"]))
        return {"ts": store.last_commit_ts}
    if route == ("POST", "clock"):
        store.clock.advance(float(args["advance_seconds"]))
        return {"now": store.now_for_reads()}
    if route == ("GET", "config"):
        return emulator.current_settings()
    if route == ("POST", "config"):
        return emulator.configure(args)
    if route == ("GET", "faults"):
        return {"faults": [fault.to_dict() for fault in emulator.faults.pending()]}
    if route == ("POST", "faults"):
        emulator.faults.add(Fault.from_dict(args))
        return {"faults": len(emulator.faults.pending())}
    if route == ("DELETE", "faults"):
        emulator.faults.clear()
        return {}
    if route == ("GET", "requests"):
        return {"requests": emulator.requests.entries(query.get("endpoint"))}
    if route == ("DELETE", "requests"):
        emulator.requests.clear()
        return {}
    if route == ("POST", "load"):
        return load(emulator, args)
    raise KeyError(f"no admin action {method} {action}")


def run_transaction(emulator: EmulatorServer, ops: list[dict[str, Any]]) -> dict[str, Any]:
    """Apply insert/patch/replace/delete operations atomically, under one commit timestamp."""
    ids: list[str | None] = []
    with emulator.store.transaction() as tx:
        for op in ops:
            kind = op["op"]
            if kind == "insert":
                ids.append(
                    tx.insert(op["table"], formats.from_wire(op["doc"]), op.get("component", ""))
                )
            elif kind == "patch":
                tx.patch(
                    op["id"], formats.from_wire(op.get("fields", {})), tuple(op.get("unset", ()))
                )
                ids.append(op["id"])
            elif kind == "replace":
                tx.replace(op["id"], formats.from_wire(op["doc"]))
                ids.append(op["id"])
            elif kind == "delete":
                tx.delete(op["id"])
                ids.append(op["id"])
            else:
                raise ValueError(f"unknown operation {kind!r}")
    return {"ts": tx.ts, "ids": ids}


def export_documents(emulator: EmulatorServer) -> list[dict[str, Any]]:
    """Ground truth as ``export_json`` documents tagged with ``_component`` and ``_table``."""
    return [
        {"_component": component, "_table": table, **formats.to_wire(value, formats.EXPORT)}
        for (component, table), documents in emulator.store.documents().items()
        for value in documents.values()
    ]


def load(emulator: EmulatorServer, args: dict[str, Any]) -> dict[str, Any]:
    store = emulator.store
    if args.get("demo"):
        datasets.load_demo(store)
    if args.get("generate"):
        datasets.generate(store, int(args["generate"]), tables=int(args.get("tables", 5)))
    if args.get("jsonl"):
        datasets.load_jsonl(store, args["jsonl"])
    return store.stats()
