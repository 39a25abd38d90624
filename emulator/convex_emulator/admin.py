"""The admin API behind ``/_emulator/``: drive the emulated deployment from another process.

Document values travel in ``export_json`` form: a JSON integer is an int64, a number with a
``.`` or exponent is a float64, and ``{"$integer"|"$float"|"$bytes": base64}`` are accepted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from convex_emulator import datasets, formats
from convex_emulator.faults import Fault

if TYPE_CHECKING:
    from convex_emulator.server import EmulatorServer


# An admin action: the emulator, the JSON body and the query string in; a JSON result out.
Action = Callable[["EmulatorServer", dict[str, Any], dict[str, str]], Any]


def handle(
    emulator: EmulatorServer, method: str, action: str, args: dict[str, Any], query: dict[str, str]
) -> Any:
    """Run one admin action and return its JSON result."""
    route = _ROUTES.get((method, action))
    if route is None:
        raise KeyError(f"no admin action {method} {action}")
    return route(emulator, args, query)


def _stats(emulator: EmulatorServer, _args: dict[str, Any], _: dict[str, str]) -> Any:
    return emulator.store.stats()


def _documents(emulator: EmulatorServer, _args: dict[str, Any], _: dict[str, str]) -> Any:
    return {"documents": export_documents(emulator)}


def _transaction(emulator: EmulatorServer, args: dict[str, Any], _: dict[str, str]) -> Any:
    return run_transaction(emulator, args["ops"])


def _create_table(emulator: EmulatorServer, args: dict[str, Any], _: dict[str, str]) -> Any:
    store = emulator.store
    store.create_table(args["table"], args.get("component", ""))
    return {"ts": store.last_commit_ts}


def _delete_table(emulator: EmulatorServer, args: dict[str, Any], _: dict[str, str]) -> Any:
    return {"ts": emulator.store.delete_table(args["table"], args.get("component", ""))}


def _replace_table(emulator: EmulatorServer, args: dict[str, Any], _: dict[str, str]) -> Any:
    documents = [formats.from_wire(document) for document in args.get("documents", [])]
    ts = emulator.store.replace_table(args["table"], documents, args.get("component", ""))
    return {"ts": ts}


def _clear_table(emulator: EmulatorServer, args: dict[str, Any], _: dict[str, str]) -> Any:
    return {"ts": emulator.store.clear_table(args["table"], args.get("component", ""))}


def _begin_import(emulator: EmulatorServer, args: dict[str, Any], _: dict[str, str]) -> Any:
    return {"import": emulator.store.begin_import(args["table"], args.get("component", ""))}


def _import_documents(emulator: EmulatorServer, args: dict[str, Any], _: dict[str, str]) -> Any:
    documents = [formats.from_wire(document) for document in args.get("documents", [])]
    return {"ts": emulator.store.import_documents(args["import"], documents)}


def _finish_import(emulator: EmulatorServer, args: dict[str, Any], _: dict[str, str]) -> Any:
    return {"ts": emulator.store.finish_import(args["import"])}


def _add_component(emulator: EmulatorServer, args: dict[str, Any], _: dict[str, str]) -> Any:
    emulator.store.add_component(args["path"])
    return {"components": emulator.store.components()}


def _unmount_component(emulator: EmulatorServer, args: dict[str, Any], _: dict[str, str]) -> Any:
    emulator.store.unmount_component(args["path"])
    return {"components": emulator.store.components()}


def _schema_exportable(emulator: EmulatorServer, args: dict[str, Any], _: dict[str, str]) -> Any:
    emulator.store.set_schema_exportable(
        args["table"], args.get("component", ""), args["exportable"]
    )
    return {}


def _system_writes(emulator: EmulatorServer, args: dict[str, Any], _: dict[str, str]) -> Any:
    emulator.store.system_writes(int(args["count"]))
    return {"ts": emulator.store.last_commit_ts}


def _advance_clock(emulator: EmulatorServer, args: dict[str, Any], _: dict[str, str]) -> Any:
    emulator.store.clock.advance(float(args["advance_seconds"]))
    return {"now": emulator.store.now_for_reads()}


def _settings(emulator: EmulatorServer, _args: dict[str, Any], _: dict[str, str]) -> Any:
    return emulator.current_settings()


def _configure(emulator: EmulatorServer, args: dict[str, Any], _: dict[str, str]) -> Any:
    return emulator.configure(args)


def _faults(emulator: EmulatorServer, _args: dict[str, Any], _: dict[str, str]) -> Any:
    return {"faults": [fault.to_dict() for fault in emulator.faults.pending()]}


def _add_fault(emulator: EmulatorServer, args: dict[str, Any], _: dict[str, str]) -> Any:
    emulator.faults.add(Fault.from_dict(args))
    return {"faults": len(emulator.faults.pending())}


def _clear_faults(emulator: EmulatorServer, _args: dict[str, Any], _: dict[str, str]) -> Any:
    emulator.faults.clear()
    return {}


def _requests(emulator: EmulatorServer, _args: dict[str, Any], query: dict[str, str]) -> Any:
    return {"requests": emulator.requests.entries(query.get("endpoint"))}


def _clear_requests(emulator: EmulatorServer, _args: dict[str, Any], _: dict[str, str]) -> Any:
    emulator.requests.clear()
    return {}


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


def _load(emulator: EmulatorServer, args: dict[str, Any], _: dict[str, str]) -> Any:
    return load(emulator, args)


def load(emulator: EmulatorServer, args: dict[str, Any]) -> dict[str, Any]:
    """Add the demo deployment, generated documents and/or a JSONL file or directory."""
    store = emulator.store
    if args.get("demo"):
        datasets.load_demo(store)
    if args.get("generate"):
        datasets.generate(store, int(args["generate"]), tables=int(args.get("tables", 5)))
    if args.get("jsonl"):
        datasets.load_jsonl(store, args["jsonl"])
    return store.stats()


_ROUTES: dict[tuple[str, str], Action] = {
    ("GET", "stats"): _stats,
    ("GET", "documents"): _documents,
    ("POST", "transaction"): _transaction,
    ("POST", "create_table"): _create_table,
    ("POST", "delete_table"): _delete_table,
    ("POST", "replace_table"): _replace_table,
    ("POST", "clear_table"): _clear_table,
    ("POST", "begin_import"): _begin_import,
    ("POST", "import_documents"): _import_documents,
    ("POST", "finish_import"): _finish_import,
    ("POST", "add_component"): _add_component,
    ("POST", "unmount_component"): _unmount_component,
    ("POST", "schema_exportable"): _schema_exportable,
    ("POST", "system_writes"): _system_writes,
    ("POST", "clock"): _advance_clock,
    ("GET", "config"): _settings,
    ("POST", "config"): _configure,
    ("GET", "faults"): _faults,
    ("POST", "faults"): _add_fault,
    ("DELETE", "faults"): _clear_faults,
    ("GET", "requests"): _requests,
    ("DELETE", "requests"): _clear_requests,
    ("POST", "load"): _load,
}
