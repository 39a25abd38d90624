"""The contenders: raw fetch, tap-convex, airbyte-source-convex, Meltano, the target alone."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from suite.processes import Emulator, run_measured
from suite.results import PeerInstall, Sample
from suite.settings import (
    AIRBYTE,
    BIN,
    DATA_SYNC_ENDPOINT,
    E2E,
    MELTANO,
    PEER_COMPLETE_MARKER,
    PEER_PACKAGE,
    PEER_VENV,
    RAW,
    REPO_ROOT,
    RUN_SCRIPT,
    SNAPSHOT_FORMAT,
    TAP,
    TAP_DATA_SYNC,
    TARGET,
    TARGET_DELTA,
)

# ---- contender 1: raw fetch -----------------------------------------------------------------


def raw_fetch_worker(config_path: Path) -> int:
    """The baseline client: page through ``list_snapshot``, parse, write JSON lines to /dev/null."""
    config = json.loads(config_path.read_text())
    url = urlsplit(config["deployment_url"])
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=120)
    headers = {
        "Authorization": f"Convex {config['deploy_key']}",
        "Content-Type": "application/json",
        "Convex-Client": "raw-fetch-0.0.0",
    }
    snapshot = cursor = None
    rows = 0
    with open(os.devnull, "w", encoding="utf-8") as sink:
        while True:
            body = json.dumps({"snapshot": snapshot, "cursor": cursor, "format": SNAPSHOT_FORMAT})
            connection.request("POST", "/api/list_snapshot", body=body, headers=headers)
            response = connection.getresponse()
            raw = response.read()
            if response.status != 200:
                print(f"list_snapshot: {response.status} {raw[:300]!r}", file=sys.stderr)
                return 1
            page = json.loads(raw)
            for value in page["values"]:
                sink.write(json.dumps(value))
                sink.write("\n")
            rows += len(page["values"])
            if not page["hasMore"]:
                break
            snapshot, cursor = page["snapshot"], page["cursor"]
    connection.close()
    print(rows)
    return 0


def measure_raw_fetch(emulator: Emulator, work: Path) -> Sample:
    count_file = work / "raw-fetch.count"
    sample = emulator.measured(
        [
            sys.executable,
            str(RUN_SCRIPT),
            "--raw-fetch-worker",
            str(emulator.tap_config(work)),
        ],
        log=work / "raw-fetch.log",
        stdout=count_file,
    )
    expect_rows(RAW, int(count_file.read_text()), emulator.docs)
    return sample


# ---- contender 2: tap-convex ---------------------------------------------------------------


def tap_command(config: Path, state: Path | None = None) -> list[str]:
    command = [str(BIN / "tap-convex"), "--config", str(config)]
    return [*command, "--state", str(state)] if state else command


def measure_tap(
    emulator: Emulator,
    work: Path,
    *,
    state: Path | None = None,
    output: Path | None = None,
    transport: str = "streaming_export",
) -> Sample:
    """A tap run to /dev/null (or ``output``); a full sync must serve every document once."""
    config = emulator.tap_config(work, transport)
    sample = emulator.measured(
        tap_command(config, state), log=work / f"tap-{transport}.log", stdout=output
    )
    if state is None:
        if transport == "data_sync":
            served = sample.values.get(DATA_SYNC_ENDPOINT, 0)
            expect_rows(TAP_DATA_SYNC, served, emulator.docs)
        else:
            expect_rows(TAP, sample.values.get("list_snapshot", 0), emulator.docs)
    return sample


def last_state(singer_output: Path) -> dict[str, Any]:
    """The value of the last STATE message of a Singer output file."""
    state = None
    with singer_output.open("rb") as lines:
        for line in lines:
            if line.startswith(b'{"type":"STATE"'):
                state = line
    if state is None:
        raise RuntimeError(f"{singer_output} has no STATE message")
    return json.loads(state)["value"]


def singer_record_ids(singer_output: Path, per_stream: int) -> tuple[int, dict[str, list[str]]]:
    """How many RECORD messages a Singer file holds, and the first ids of each stream."""
    records = 0
    ids: dict[str, list[str]] = {}
    with singer_output.open("rb") as lines:
        for line in lines:
            if not line.startswith(b'{"type":"RECORD"'):
                continue
            records += 1
            message = json.loads(line)
            stream_ids = ids.setdefault(message["stream"], [])
            if len(stream_ids) < per_stream:
                stream_ids.append(message["record"]["_id"])
    return records, ids


# ---- contender 3: airbyte-source-convex -------------------------------------------------------


def _peer_python() -> tuple[str, str] | None:
    """A Python 3.9-3.11 interpreter (the connector's wheel requires <3.12) and its version."""
    candidates = ["python3.11", "python3.10", "python3.9", sys.executable, "python3"]
    for candidate in candidates:
        path = shutil.which(candidate) or (candidate if Path(candidate).exists() else None)
        if path is None:
            continue
        try:
            version = subprocess.run(
                [path, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            continue
        if (3, 9) <= tuple(int(part) for part in version.split(".")[:2]) < (3, 12):
            return path, version
    return None


def _run_bounded(command: list[str], timeout_s: float) -> None:
    """Run a command in its own process group; past the timeout, kill the whole group
    (pip may be building a wheel in a child) and raise ``TimeoutExpired``."""
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True
    )
    try:
        _, errors = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    if process.returncode != 0:
        raise subprocess.CalledProcessError(process.returncode, command, stderr=errors)


def ensure_peer(timeout_s: float) -> PeerInstall:
    """``benchmarks/.peer-venv`` with ``pip install airbyte-source-convex``, made on first use."""
    executable = PEER_VENV / "bin" / "source-convex"
    created_now, install_s = False, None
    if not ((PEER_VENV / PEER_COMPLETE_MARKER).exists() and os.access(executable, os.X_OK)):
        interpreter = _peer_python()
        if interpreter is None:
            return PeerInstall(
                None,
                skipped="no Python 3.9-3.11 found for the connector "
                "(its wheel requires Python <3.12)",
            )
        shutil.rmtree(PEER_VENV, ignore_errors=True)
        print(
            f"creating {PEER_VENV.relative_to(REPO_ROOT)} with Python {interpreter[1]} "
            f"and installing {PEER_PACKAGE} ...",
            file=sys.stderr,
            flush=True,
        )
        started = time.perf_counter()
        try:
            _run_bounded([interpreter[0], "-m", "venv", str(PEER_VENV)], timeout_s)
            _run_bounded(
                [
                    str(PEER_VENV / "bin" / "pip"),
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    PEER_PACKAGE,
                ],
                max(1.0, timeout_s - (time.perf_counter() - started)),
            )
        except subprocess.TimeoutExpired:
            shutil.rmtree(PEER_VENV, ignore_errors=True)
            return PeerInstall(
                None, skipped=f"installing {PEER_PACKAGE} took over {timeout_s:.0f} s"
            )
        except (OSError, subprocess.CalledProcessError) as error:
            shutil.rmtree(PEER_VENV, ignore_errors=True)
            detail = getattr(error, "stderr", b"") or b""
            return PeerInstall(
                None,
                skipped=f"installing {PEER_PACKAGE} failed: "
                f"{detail.decode(errors='replace')[-300:] or error}",
            )
        install_s = time.perf_counter() - started
        created_now = True
        (PEER_VENV / PEER_COMPLETE_MARKER).write_text(f"{PEER_PACKAGE}\n")
    freeze = subprocess.run(
        [str(PEER_VENV / "bin" / "pip"), "freeze", "--disable-pip-version-check"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    versions = dict(line.split("==", 1) for line in freeze.splitlines() if "==" in line)
    python = subprocess.run(
        [str(PEER_VENV / "bin" / "python"), "--version"], capture_output=True, text=True, check=True
    ).stdout.split()[-1]
    return PeerInstall(
        executable, python=python, versions=versions, created_now=created_now, install_s=install_s
    )


def airbyte_catalog(peer: PeerInstall, config: Path, work: Path, sync_mode: str) -> Path:
    """A configured catalog of every stream, from the connector's own ``discover``."""
    assert peer.executable is not None
    output = work / "airbyte-discover.jsonl"
    run_measured(
        [str(peer.executable), "discover", "--config", str(config)],
        log=work / "airbyte-discover.log",
        stdout=output,
    )
    catalog = next(
        message["catalog"]
        for message in map(json.loads, output.read_text().splitlines())
        if message.get("type") == "CATALOG"
    )
    streams = []
    for stream in catalog["streams"]:
        if sync_mode == "incremental":
            streams.append(
                {
                    "stream": stream,
                    "sync_mode": "incremental",
                    "destination_sync_mode": "append",
                    "cursor_field": ["_ts"],
                    "primary_key": [["_id"]],
                }
            )
        else:
            streams.append(
                {
                    "stream": stream,
                    "sync_mode": "full_refresh",
                    "destination_sync_mode": "overwrite",
                }
            )
    path = work / f"airbyte-catalog-{sync_mode}.json"
    path.write_text(json.dumps({"streams": streams}))
    return path


def airbyte_command(
    peer: PeerInstall, config: Path, catalog: Path, state: Path | None = None
) -> list[str]:
    assert peer.executable is not None
    command = [str(peer.executable), "read", "--config", str(config), "--catalog", str(catalog)]
    return [*command, "--state", str(state)] if state else command


def measure_airbyte(
    emulator: Emulator,
    peer: PeerInstall,
    catalog: Path,
    work: Path,
    *,
    state: Path | None = None,
    output: Path | None = None,
) -> Sample:
    sample = emulator.measured(
        airbyte_command(peer, emulator.airbyte_config(work), catalog, state),
        log=work / "airbyte.log",
        stdout=output,
    )
    if state is None and sample.values.get("list_snapshot", 0) < emulator.docs:
        raise RuntimeError(
            f"{AIRBYTE} was served {sample.values} values, fewer than the {emulator.docs} documents"
        )
    return sample


def airbyte_records_and_state(output: Path) -> tuple[int, list[dict[str, Any]]]:
    """RECORD count and the last per-stream STATE of a ``source-convex read`` output, in the
    form ``read --state`` takes (an array of per-stream state messages)."""
    records = 0
    states: dict[str, dict[str, Any]] = {}
    with output.open("rb") as lines:
        for line in lines:
            message = json.loads(line)
            if message["type"] == "RECORD":
                records += 1
            elif message["type"] == "STATE":
                state = message["state"]
                states[state["stream"]["stream_descriptor"]["name"]] = {
                    "type": state["type"],
                    "stream": state["stream"],
                }
    return records, list(states.values())


# ---- contender 4: end to end, and the target alone ----------------------------------------


def ensure_meltano_plugins(work: Path) -> None:
    """``meltano install`` the two plugins once, if ``.meltano/`` lacks them."""
    tap = REPO_ROOT / ".meltano/extractors/tap-convex/venv/bin/tap-convex"
    target = REPO_ROOT / ".meltano/loaders/target-parquet/venv/bin/target-parquet"
    if tap.exists() and target.exists():
        return
    print("meltano install tap-convex target-parquet ...", file=sys.stderr, flush=True)
    run_measured(
        [str(MELTANO), "install", "tap-convex", "target-parquet"],
        log=work / "meltano-install.log",
        env=meltano_env(None, work / "install"),
    )


def meltano_env(emulator: Emulator | None, run_dir: Path) -> dict[str, str]:
    run_dir.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
        "MELTANO_DATABASE_URI": f"sqlite:///{run_dir / 'meltano.db'}",
        "TARGET_PARQUET_DESTINATION_PATH": str(run_dir / "lake"),
    }
    if emulator is not None:
        env["TAP_CONVEX_DEPLOYMENT_URL"] = emulator.url
        env["TAP_CONVEX_DEPLOY_KEY"] = emulator.key
    return env


def landed_rows(lake: Path) -> int:
    """Rows the committed ``cdc`` manifests of every stream account for."""
    return sum(
        json.loads(manifest.read_text())["rows"] for manifest in lake.glob("*/_manifests/*.json")
    )


def measure_end_to_end(emulator: Emulator, work: Path, round_number: int) -> Sample:
    run_dir = work / f"meltano-{round_number}"
    sample = emulator.measured(
        [str(MELTANO), "run", "tap-convex", "target-parquet"],
        log=work / "meltano.log",
        env=meltano_env(emulator, run_dir),
    )
    expect_rows(E2E, landed_rows(run_dir / "lake"), emulator.docs)
    shutil.rmtree(run_dir, ignore_errors=True)
    return sample


def measure_target(
    recorded: Path, rows: int, work: Path, round_number: int, fmt: str = "parquet"
) -> Sample:
    """``target-parquet`` alone on the recorded tap output, into a fresh `cdc` lake."""
    run_dir = work / f"target-{fmt}-{round_number}"
    run_dir.mkdir()
    config = run_dir / "config.json"
    lake = run_dir / "lake"
    config.write_text(json.dumps({"destination_path": str(lake), "mode": "cdc", "format": fmt}))
    sample = run_measured(
        [str(BIN / "target-parquet"), "--config", str(config)],
        stdin=recorded,
        log=work / "target.log",
    )
    if fmt == "delta":
        expect_rows(TARGET_DELTA, delta_rows(lake), rows)
    else:
        expect_rows(TARGET, landed_rows(lake), rows)
    shutil.rmtree(run_dir, ignore_errors=True)
    return sample


def delta_rows(lake: Path) -> int:
    """Rows of the current version of every stream's Delta table (its log's files).

    Counted in a child process: deltalake in this one would raise the peak RSS that Linux
    reports for every later child (a child inherits its parent's high-water mark).
    """
    count = (
        "import sys; from pathlib import Path; from deltalake import DeltaTable; "
        "print(sum(DeltaTable(str(log.parent)).to_pyarrow_dataset().count_rows() "
        "for log in Path(sys.argv[1]).glob('*/_delta_log')))"
    )
    result = subprocess.run(
        [str(BIN / "python"), "-c", count, str(lake)],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(result.stdout)


def expect_rows(name: str, got: int, expected: int) -> None:
    if got != expected:
        raise RuntimeError(f"{name} delivered {got:,} rows, expected {expected:,}")
