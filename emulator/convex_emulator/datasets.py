"""Data to serve: a deterministic demo deployment, a size knob, and JSONL loading."""

from __future__ import annotations

import gc
import json
import random
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from convex_emulator import formats
from convex_emulator.names import InvalidNameError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from convex_emulator.store import Store

DEMO_COMPONENT = "waitlist"
_WORDS = ("convex", "parquet", "delta", "snapshot", "lake", "river", "stream", "tap", "cursor")
_GREETINGS = ("hello", "héllo wörld", "こんにちは", "привет", "emoji 🚀", "", "tab\tand\nnewline")
_SPECIAL_FLOATS = (float("nan"), float("inf"), float("-inf"), -0.0)


def load_demo(store: Store, seed: int = 7) -> None:
    """A small deployment that exercises every Convex type, two components and an empty table.

    The content depends only on ``seed`` (ids on the store's seed); ``_ts`` and
    ``_creationTime`` follow the clock.
    """
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not secrets
    user_ids = _demo_users(store, rng)
    _demo_messages(store, rng, user_ids)
    _demo_products(store, rng)
    store.create_table("drafts")
    store.add_component(DEMO_COMPONENT)
    with store.transaction() as tx:
        for position in range(15):
            tx.insert(
                "users",
                {
                    "email": f"early{position}@example.com",
                    "position": position + 1,
                    "referrals": [rng.randrange(2**62) - 2**61 for _ in range(rng.randrange(3))],
                    "joinedAt": 1.7e12 + position * 86_400_000.5,
                },
                DEMO_COMPONENT,
            )


def _demo_users(store: Store, rng: random.Random) -> list[str]:
    ids = []
    with store.transaction() as tx:
        for index in range(40):
            document: dict[str, Any] = {
                "name": f"user {index}",
                "email": f"user{index}@example.com",
                "age": 18 + index,
                "karma": (2**53 + rng.randrange(10**6)) * (-1 if index % 4 == 0 else 1),
                "verified": index % 3 == 0,
                "avatar": bytes(rng.randrange(256) for _ in range(12)),
                "profile": {
                    "bio": rng.choice(_GREETINGS),
                    "links": [f"https://example.com/{index}/{n}" for n in range(index % 3)],
                    "stats": {"followers": 2**60 + index, "ratio": index / 7},
                },
                "nickname": None,
            }
            if index % 5 == 0:
                del document["nickname"]
            ids.append(tx.insert("users", document))
    return ids


def _demo_messages(store: Store, rng: random.Random, user_ids: list[str]) -> None:
    for batch in range(20):
        with store.transaction() as tx:
            for offset in range(10):
                index = batch * 10 + offset
                score: float = rng.random() * 100
                if index % 17 == 0:
                    score = _SPECIAL_FLOATS[(index // 17) % len(_SPECIAL_FLOATS)]
                tx.insert(
                    "messages",
                    {
                        "author": rng.choice(user_ids),
                        "body": f"{rng.choice(_GREETINGS)} #{index}",
                        "likes": rng.randrange(-5, 2**63 - 1) if index % 11 == 0 else index,
                        "score": score,
                        "tags": rng.sample(_WORDS, k=index % 4),
                        "meta": {
                            "edits": index % 3,
                            "thread": {"depth": index % 5, "big": -(2**63)},
                        },
                        "pinned": index % 13 == 0,
                    },
                )


def _demo_products(store: Store, rng: random.Random) -> None:
    with store.transaction() as tx:
        for index in range(25):
            tx.insert(
                "products",
                {
                    "sku": f"SKU-{index:04d}",
                    "price": round(rng.uniform(1, 500), 2),
                    "stock": rng.randrange(0, 10_000),
                    "dimensions": {"w": rng.random(), "h": rng.random(), "unit": "m"},
                    "thumbnail": bytes(range(index % 7 + 1)),
                    "discontinued": index % 9 == 0,
                    "rating": None if index % 4 == 0 else rng.uniform(0, 5),
                },
            )


def generate(store: Store, documents: int, *, tables: int = 5, batch: int = 1000) -> None:
    """``documents`` realistic ~200-byte documents: one large table and ``tables - 1`` small ones.

    Values derive from the document number, so millions are cheap and reproducible.
    """
    small_tables = max(0, tables - 1)
    small_size = documents // 50 if small_tables else 0
    sizes = {"events": documents - small_size * small_tables}
    sizes.update({f"table{n}": small_size for n in range(1, small_tables + 1)})
    with _collector_paused():
        for table, size in sizes.items():
            if size == 0:
                store.create_table(table)
            for start in range(0, size, batch):
                with store.transaction() as tx:
                    for number in range(start, min(start + batch, size)):
                        tx.insert(table, _generated_document(number), check=False)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Bulk loads make millions of long-lived objects and no garbage cycles; left on, the
    cyclic garbage collector would rescan the growing heap again and again (~40% of a 1M
    document ``generate``)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _generated_document(number: int) -> dict[str, Any]:
    return {
        "kind": _WORDS[number % len(_WORDS)],
        "userId": f"user_{number % 9973:06d}",
        "seq": number * 7919 + 2**40,
        "amount": number * 0.25 + 0.1,
        "ok": number % 2 == 0,
        "tags": [_WORDS[number % 5], _WORDS[number % 7]],
        "meta": {"source": "web" if number % 3 else "mobile", "n": number},
        "note": f"generated document number {number}",
    }


def load_jsonl(store: Store, path: str | Path, *, batch: int = 1000) -> int:
    """Load ``export_json`` lines tagged with ``_table`` (and ``_component``, default root).

    ``path`` is a file or a directory of ``*.jsonl`` files; ``_id``/``_creationTime`` are kept
    and other ``_``-prefixed metadata (``_ts``, ``_deleted``) is ignored. Returns the count.
    """
    root = Path(path)
    files = sorted(root.glob("**/*.jsonl")) if root.is_dir() else [root]
    with _collector_paused():
        return _load_files(store, files, batch)


def _load_files(store: Store, files: list[Path], batch: int) -> int:
    loaded = 0
    for file in files:
        with file.open(encoding="utf-8") as lines:
            pending: list[tuple[int, dict[str, Any]]] = []
            for line_number, line in enumerate(lines, start=1):
                if line.strip():
                    pending.append((line_number, json.loads(line)))
                if len(pending) >= batch:
                    loaded += _insert_lines(store, file, pending)
                    pending = []
            loaded += _insert_lines(store, file, pending)
    return loaded


def _insert_lines(store: Store, file: Path, lines: list[tuple[int, dict[str, Any]]]) -> int:
    """Insert one batch in one transaction; an error names its file and line."""
    line_number = 0
    with store.transaction() as tx:
        try:
            for line_number, raw in lines:  # noqa: B007 - the except clause reports it
                table = raw.pop("_table")
                component = raw.pop("_component", "")
                for metadata in ("_ts", "_deleted"):
                    raw.pop(metadata, None)
                tx.insert(table, formats.from_wire(raw), component)
        except InvalidNameError as error:  # keeps upstream's code for the admin API
            raise InvalidNameError(error.code, f"{file}:{line_number}: {error.message}") from error
        except (KeyError, ValueError, TypeError) as error:
            raise ValueError(f"{file}:{line_number}: {error}") from error
    return len(lines)
