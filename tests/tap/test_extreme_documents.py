"""Documents at Convex's limits arrive intact (or follow the documented rule)."""

from __future__ import annotations

from typing import Any

from tap_convex.emulator import EmulatorServer, Store
from tests.tap.harness import Replica, run_tap, source_documents


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 2**63 - 1}
    for level in range(depth - 1):
        value = {f"level{level}": value}
    return value


def test_documents_at_convex_limits_arrive_intact(
    store: Store, emulator: EmulatorServer, config: dict[str, Any]
) -> None:
    store.insert("big", {"blob": "é" * (1024 * 1024 // 2 - 200)})  # about 1 MiB of UTF-8
    store.insert("deep", {"tree": nested(15)})
    store.insert("wide", {f"field{n}": n for n in range(1022)})
    store.insert("long", {"items": list(range(8192))})
    store.insert(
        "odd",
        {
            "max": 2**63 - 1,
            "min": -(2**63),
            "negzero": -0.0,
            "nan": float("nan"),
            "inf": float("inf"),
            "ninf": float("-inf"),
            "empty": "",
            "emptyObject": {},
            "emptyList": [],
            "unicode": "日本語 ✓ \u0000 \U0001f600",
            "keys": {"with space": 1, "ünïcödé": 2, "dots.and-dashes": 3, "": 4},
            "nestedSpecial": [float("nan"), -0.0, b"\x00\xff"],
        },
    )
    replica = Replica().apply(run_tap(config))
    for table in ("big", "deep", "wide", "long", "odd"):
        assert replica.documents(table) == source_documents(emulator, "", table), table
    odd = next(iter(replica.documents("odd").values()))
    assert odd["nan"] is None and odd["inf"] is None
    assert odd["nestedSpecial"] == ["NaN", -0.0, "AP8="]
