"""Parity: the tap's converter and this connector's give identical record data.

Seeded random documents of every Convex type go through the emulator's real page bodies
(snapshot pages, and change-log pages with updates and deletes); the tap's side runs in the
tap's own venv (``tap_records.py``), this side through ``ConvexPageExtractor``.
"""

from __future__ import annotations

import json
import random
import string
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from convex_emulator import Store, StoreConfig, formats, reads, shapes
from tests.airbyte.harness import POSITION, REPO, build_source

TAP_PYTHON = REPO / ".venv" / "bin" / "python"
TAP_RECORDS = Path(__file__).with_name("tap_records.py")
SEEDS = (1, 2, 3)
_EDGE_INTS = (0, 1, -1, 2**53 + 1, -(2**63), 2**63 - 1)
_EDGE_FLOATS = (float("nan"), float("inf"), float("-inf"), -0.0, 5e-324, 1e300, 0.1, 3.0)
_TEXT = string.ascii_letters + 'é😀 \t"\\$_'


def random_value(rng: random.Random, depth: int = 0) -> Any:
    """Any Convex value; containers only above the depth limit."""
    kinds = ["null", "bool", "int", "float", "str", "bytes"]
    if depth < 3:
        kinds += ["list", "dict"]
    kind = rng.choice(kinds)
    if kind == "int":
        return rng.choice(_EDGE_INTS) if rng.random() < 0.5 else rng.randrange(-(2**63), 2**63)
    if kind == "float":
        return rng.choice(_EDGE_FLOATS) if rng.random() < 0.5 else rng.uniform(-1e6, 1e6)
    if kind == "str":
        return "".join(rng.choice(_TEXT) for _ in range(rng.randrange(8)))
    if kind == "bytes":
        return rng.randbytes(rng.randrange(6))
    if kind == "list":
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == "dict":
        keys = ["a", "_b", "k~ey", "x y", "big"]
        return {k: random_value(rng, depth + 1) for k in rng.sample(keys, rng.randrange(4))}
    return None if kind == "null" else rng.random() < 0.5


def random_document(rng: random.Random) -> dict[str, Any]:
    """Typed columns (so discovery types them) and free-form ones, some left out."""
    document: dict[str, Any] = {
        "score": rng.choice((*_EDGE_FLOATS, rng.random())),
        "count": rng.choice(_EDGE_INTS),
        "label": "".join(rng.choice(_TEXT) for _ in range(5)),
    }
    for field in ("anything", "nested", "blob"):
        if rng.random() < 0.7:
            document[field] = random_value(rng)
    return document


_PLAIN_TEXT = string.ascii_letters + "é😀 \t\\~"


def plain_value(rng: random.Random, depth: int = 0) -> Any:
    """A value that leaves a page *plain* (see ``prepare_page``): no bytes, no NaN,
    infinity or -0.0 (Convex encodes those), no text or key starting with ``$`` or ``_``;
    int64 are fine (rewritten before parsing)."""
    kind = rng.choice(["null", "bool", "int", "float", "str", *(["list", "dict"] * (depth < 3))])
    if kind == "int":
        return rng.choice(_EDGE_INTS) if rng.random() < 0.5 else rng.randrange(-(2**63), 2**63)
    if kind == "float":
        return rng.choice((0.0, 5e-324, 1e300, 0.1, 3.0, rng.uniform(-1e6, 1e6)))
    if kind == "str":
        return "".join(rng.choice(_PLAIN_TEXT) for _ in range(rng.randrange(8)))
    if kind == "list":
        return [plain_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == "dict":
        keys = ["a", "k~ey", "x y", "big"]
        return {k: plain_value(rng, depth + 1) for k in rng.sample(keys, rng.randrange(4))}
    return None if kind == "null" else rng.random() < 0.5


def plain_document(rng: random.Random) -> dict[str, Any]:
    """Like :func:`random_document`, with plain values only."""
    document: dict[str, Any] = {
        "score": rng.choice((0.0, 0.1, 3.0, rng.random())),
        "count": rng.choice(_EDGE_INTS),
        "label": "".join(rng.choice(_PLAIN_TEXT) for _ in range(5)),
    }
    for field in ("anything", "nested"):
        if rng.random() < 0.7:
            document[field] = plain_value(rng)
    return document


def page_bodies(
    seed: int, document: Callable[[random.Random], dict[str, Any]] = random_document
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """A table's json_schemas entry and the bodies of its snapshot and change-log pages."""
    rng = random.Random(seed)
    store = Store(seed=seed, config=StoreConfig(snapshot_page_limit=9, deltas_page_limit=4))
    ids = []
    for _ in range(4):
        with store.transaction() as tx:
            ids += [tx.insert("things", document(rng)) for _ in range(10)]
    schema = shapes.json_schemas(store, delta_schema=False, fmt=formats.ENCODED, by_component=True)
    pages = []
    snapshot, cursor = None, None
    while True:
        reply = reads.list_snapshot(store, snapshot, cursor, fmt=formats.ENCODED)
        pages.append({"endpoint": "list_snapshot", "body": reply.body().decode()})
        if not reply.has_more:
            break
        snapshot, cursor = reply.snapshot, reply.cursor
    for doc_id in rng.sample(ids, 12):
        with store.transaction() as tx:
            if rng.random() < 0.5:
                tx.delete(doc_id)
            else:
                tx.replace(doc_id, document(rng))
    position, more = reply.snapshot, True
    while more:
        deltas = reads.document_deltas(store, position, fmt=formats.ENCODED)
        pages.append({"endpoint": "document_deltas", "body": deltas.body().decode()})
        position, more = deltas.cursor, deltas.has_more
    return schema[""]["things"], pages


def tap_side(schema: dict[str, Any], pages: list[dict[str, str]], tmp: Path) -> dict[str, Any]:
    if not TAP_PYTHON.exists():
        pytest.fail(
            f"{TAP_PYTHON.relative_to(REPO)} is missing: the parity test runs the tap's "
            "converter in the tap's venv; run scripts/test (it creates .venv) first."
        )
    given = tmp / "pages.json"
    given.write_text(json.dumps({"schema": schema, "pages": pages}), encoding="utf-8")
    result = subprocess.run(
        [str(TAP_PYTHON), str(TAP_RECORDS), str(given)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


class _Page:
    def __init__(self, body: str) -> None:
        self.content = body.encode()


def connector_side(schema: dict[str, Any], pages: list[dict[str, str]]) -> dict[str, Any]:
    build_source({})  # registers components.py as the manifest's runtime does
    from components import ConvexPageExtractor, table_schema  # noqa: PLC0415 - registered above

    stream_schema, number_only = table_schema(schema)
    extractor = ConvexPageExtractor(
        parameters={
            "convex_component": "",
            "convex_table": "things",
            "number_only_fields": number_only,
            "schema_fields": list(stream_schema["properties"]),
        }
    )
    records = []
    for page in pages:
        for record in extractor.extract_records(_Page(page["body"])):
            del record[POSITION]
            records.append(json.dumps(record, sort_keys=True, ensure_ascii=False))
    return {"number_only": sorted(number_only), "records": records}


def assert_identical_records(
    schema: dict[str, Any], pages: list[dict[str, str]], tmp: Path
) -> None:
    """Both sides make the same records of these pages, deletes included."""
    tap = tap_side(schema, pages, tmp)
    ours = connector_side(schema, pages)

    assert ours["number_only"] == tap["number_only"] == ["score"]
    assert len(ours["records"]) > 40
    assert any('"_deleted": true' in record for record in ours["records"])
    assert ours["records"] == tap["decoded"]
    assert ours["records"] == tap["encoded"]


@pytest.mark.parametrize("seed", SEEDS)
def test_the_tap_and_the_connector_make_identical_records_from_the_same_pages(
    seed: int, tmp_path: Path
) -> None:
    schema, pages = page_bodies(seed)

    assert_identical_records(schema, pages, tmp_path)


@pytest.mark.parametrize("seed", SEEDS)
def test_plain_snapshot_pages_take_the_fast_path_to_the_same_records(
    seed: int, tmp_path: Path
) -> None:
    """Pages with nothing to decode value by value (the common case) become their records in
    place, in one loop (``RecordConverter.snapshot_in_place``): still the tap's records."""
    schema, pages = page_bodies(seed, plain_document)
    build_source({})
    from components import prepare_page  # noqa: PLC0415 - registered by build_source

    snapshot_pages = [page["body"] for page in pages if page["endpoint"] == "list_snapshot"]
    assert all(prepare_page(body.encode())[1] for body in snapshot_pages)

    assert_identical_records(schema, pages, tmp_path)
