"""The deploy key never appears in output, logs, errors, state or catalogs, even at debug level."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from convex_emulator import EmulatorServer, Fault, Store
from tests.tap.harness import run_tap_process

DEBUG = {"LOGLEVEL": "DEBUG"}


def test_deploy_key_never_leaks_at_debug_log_level(
    demo: Store, emulator: EmulatorServer, config: dict[str, Any], tmp_path: Path
) -> None:
    emulator.faults.add(Fault("list_snapshot", "status", status=503))
    emulator.faults.add(Fault("document_deltas", "drop"))
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    key = emulator.admin_key
    secret_part = key.split("|", 1)[1]
    outputs = []
    for extra in (("--discover",), ()):
        result = run_tap_process(config_path, None, None, *extra, env=DEBUG)
        assert result.returncode == 0, result.stderr[-2000:]
        outputs.append(result.stdout + result.stderr)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**config, "deploy_key": key + "x"}))
    failed = run_tap_process(bad, None, None, env=DEBUG)
    assert failed.returncode != 0
    outputs.append(failed.stdout + failed.stderr)
    assert "DEBUG" in outputs[1]
    for text in outputs:
        assert secret_part not in text
