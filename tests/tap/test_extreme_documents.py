"""Documents at Convex's limits arrive intact (or follow the documented rule)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import duckdb

from convex_emulator import EmulatorServer, Store
from tests.tap.harness import TAP_COMMAND, Replica, run_tap, source_documents


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
            "keys": {
                "with space": 1,
                "~!@#%^&*()[]{}|<>?": 2,
                "dots.and-dashes": 3,
                "": 4,
                'q"b\\s': 5,
            },
            "nestedSpecial": [float("nan"), -0.0, b"\x00\xff"],
        },
    )
    replica = Replica().apply(run_tap(config))
    for table in ("big", "deep", "wide", "long", "odd"):
        assert replica.documents(table) == source_documents(emulator, "", table), table
    odd = next(iter(replica.documents("odd").values()))
    assert odd["nan"] is None
    assert odd["inf"] is None
    assert odd["nestedSpecial"] == ["NaN", -0.0, "AP8="]


def test_documents_at_convex_limits_land_intact_in_parquet(
    store: Store, emulator: EmulatorServer, config: dict[str, Any], tmp_path: Path
) -> None:
    store.insert("big", {"blob": "é" * (1024 * 1024 // 2 - 200)})
    store.insert("deep", {"tree": nested(15)})
    store.insert("wide", {f"field{n}": n for n in range(1022)})
    store.insert(
        "odd",
        {
            "max": 2**63 - 1,
            "min": -(2**63),
            "bytes": b"\x00\xff",
            "keys": {"with space": 1, "~!@#%^&*()[]{}|<>?": [2**62, -0.0, float("nan")]},
        },
    )
    (tmp_path / "tap.json").write_text(json.dumps(config))
    (tmp_path / "target.json").write_text(json.dumps({"destination_path": str(tmp_path / "lake")}))
    tap = subprocess.run(
        [TAP_COMMAND, "--config", str(tmp_path / "tap.json")], capture_output=True, check=True
    )
    subprocess.run(
        [
            str(Path(TAP_COMMAND).with_name("target-parquet")),
            "--config",
            str(tmp_path / "target.json"),
        ],
        input=tap.stdout,
        capture_output=True,
        check=True,
    )

    def read(stream: str) -> dict[str, Any]:
        files = str(tmp_path / "lake" / stream / "date=*" / "*.parquet")
        return duckdb.sql(f"SELECT * FROM read_parquet('{files}')").to_arrow_table().to_pylist()[0]

    source = {table: next(iter(docs.values())) for (_, table), docs in store.documents().items()}
    assert read("big")["blob"] == source["big"]["blob"]
    assert json.loads(read("deep")["tree"]) == source["deep"]["tree"]
    wide = read("wide")
    assert all(wide[f"field{n}"] == n for n in range(1022))
    odd = read("odd")
    assert (odd["max"], odd["min"], odd["bytes"]) == (2**63 - 1, -(2**63), b"\x00\xff")
    assert json.loads(odd["keys"]) == {"with space": 1, "~!@#%^&*()[]{}|<>?": [2**62, -0.0, "NaN"]}
