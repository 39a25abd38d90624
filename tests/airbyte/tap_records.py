"""The tap's records for the pages of one table: the other half of ``test_parity.py``.

Run by the tap's interpreter (``.venv/bin/python tests/airbyte/tap_records.py pages.json``),
since the tap and airbyte-cdk cannot share a venv. Reads ``{"schema": <json_schemas entry>,
"pages": [{"endpoint", "body"}]}`` and prints ``{"number_only": [...], "decoded": [...],
"encoded": [...]}``: each record as canonical JSON text, through the tap's value-by-value
path and through its kept-encoded path, with the delete timestamp under the name the
Airbyte connector gives it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import msgspec

from tap_convex.convert import RecordConverter
from tap_convex.discovery import table_info
from tap_convex.pages import deltas_page, snapshot_page

TABLE = ("", "things")


def canonical(record: dict[str, Any] | bytes) -> str:
    value = msgspec.json.decode(record) if isinstance(record, bytes) else dict(record)
    value["_ab_cdc_deleted_at"] = value.pop("_sdc_deleted_at")
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def records(pages: list[dict[str, str]], converter: RecordConverter, *, encoded: bool) -> list[str]:
    out: list[str] = []
    for page in pages:
        decode = snapshot_page if page["endpoint"] == "list_snapshot" else deltas_page
        values = decode(page["body"].encode(), keep_encoded=encoded).values
        batches = values.records({TABLE: converter}, lambda _key, _ts: True)
        out.extend(canonical(record) for record in batches.get(TABLE, []))
    return out


def main(path: str) -> None:
    given = json.loads(Path(path).read_text(encoding="utf-8"))
    info = table_info(*TABLE, [], given["schema"])
    converter = RecordConverter(info.number_only_fields, list(info.schema["properties"]))
    result = {
        "number_only": sorted(info.number_only_fields),
        "decoded": records(given["pages"], converter, encoded=False),
        "encoded": records(given["pages"], converter, encoded=True),
    }
    sys.stdout.write(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1])
