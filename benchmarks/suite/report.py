"""The report: machine and code identity, verdicts against the targets, Markdown."""

from __future__ import annotations

import hashlib
import math
import os
import platform
import subprocess
from typing import Any

from suite.results import Incremental, PeerInstall, Result, Verdict
from suite.scenarios import marginal_rows_per_s
from suite.settings import (
    AIRBYTE,
    CHANGES_PER_TRANSACTION,
    DECLARATIVE,
    DECLARATIVE_VS_AIRBYTE,
    DELTA_VS_PARQUET,
    E2E,
    E2E_ROWS_PER_S,
    FIXED_COST_DOCS,
    INCREMENTAL_VS_MINIMUM,
    PEER_PACKAGE,
    RAW,
    REPO_ROOT,
    RSS_GROWTH,
    RSS_LIMIT_MIB,
    TAP,
    TAP_VS_AIRBYTE,
    TAP_VS_RAW,
    TARGET,
    TARGET_DELTA,
)


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo", encoding="utf-8") as info:
        total_kib = next(int(line.split()[1]) for line in info if line.startswith("MemTotal:"))
    return {
        "cpu_model": cpu,
        "cores": os.cpu_count(),
        "ram_gib": round(total_kib / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average_at_end": [round(load, 2) for load in os.getloadavg()],
    }


MEASURED_CODE = (
    "tap_convex",
    "plugins/loaders/target-parquet/target_parquet",
    "meltano.yml",
    "pyproject.toml",
    "plugins/loaders/target-parquet/pyproject.toml",
)


def code_version() -> dict[str, Any]:
    """The commit, the uncommitted changes to the measured code, and a hash of that code's
    content (someone editing the tap during a run changes what is measured)."""

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args],
                cwd=REPO_ROOT,
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            ).stdout.rstrip()
        except (OSError, subprocess.SubprocessError):
            return ""

    changed = [line[3:] for line in git("status", "--porcelain", "--", *MEASURED_CODE).splitlines()]
    files = sorted(
        set(
            git(
                "ls-files", "--cached", "--others", "--exclude-standard", "--", *MEASURED_CODE
            ).splitlines()
        )
    )
    digest = hashlib.sha256()
    for name in files:
        path = REPO_ROOT / name
        if path.is_file():
            digest.update(name.encode() + b"\0" + path.read_bytes())
    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted": changed,
        "measured_code_sha256": digest.hexdigest()[:16],
    }


def _fmt(value: float | None, digits: int = 0, suffix: str = "") -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}{suffix}"


def _ratio(value: float | None, base: float | None) -> float | None:
    return value / base if value is not None and base else None


def _growth(by_size: dict[int, float | None]) -> float | None:
    """How much the largest size's figure exceeds the smallest's (0.1: 10%); None if one size."""
    sizes = sorted(by_size)
    if len(sizes) < 2:
        return None
    return (_ratio(by_size[sizes[-1]], by_size[sizes[0]]) or 1) - 1


def _series(by_size: dict[int, float | None]) -> str:
    """The figures by increasing size, e.g. ``68.8 → 67.9``."""
    return " → ".join(_fmt(by_size[size], 1) for size in sorted(by_size))


def verdicts(
    throughput: dict[str, Result], incremental: Incremental, memory: dict[int, dict[str, Result]]
) -> dict[str, Verdict]:
    tap = throughput[TAP].rows_per_s
    vs_airbyte = _ratio(tap, throughput[AIRBYTE].rows_per_s)
    declarative_vs_airbyte = _ratio(
        throughput[DECLARATIVE].rows_per_s, throughput[AIRBYTE].rows_per_s
    )
    vs_raw = _ratio(tap, throughput[RAW].rows_per_s)
    e2e_by_size = {docs: pair[E2E].rows_per_s for docs, pair in memory.items() if E2E in pair}
    e2e_largest = max(e2e_by_size, default=None)
    e2e = e2e_by_size.get(e2e_largest) if e2e_largest else throughput[E2E].rows_per_s
    e2e_text = (
        "; ".join(
            f"{_fmt(rate)} rows/s at {docs:,} documents"
            for docs, rate in sorted(e2e_by_size.items())
        )
        or f"{_fmt(e2e)} rows/s"
    )
    deltas = incremental.results[TAP].median_requests("document_deltas")
    vs_min = _ratio(deltas, incremental.minimum_requests)
    rss = {docs: pair[TAP].peak_rss_mib for docs, pair in memory.items()}
    worst_rss = max((value for value in rss.values() if value is not None), default=None)
    sizes = sorted(rss)
    growth = _growth(rss)
    landing = {docs: pair for docs, pair in memory.items() if TARGET_DELTA in pair}
    land_sizes = sorted(landing)
    delta_vs_parquet = (
        _ratio(
            landing[land_sizes[-1]][TARGET_DELTA].rows_per_s,
            landing[land_sizes[-1]][TARGET].rows_per_s,
        )
        if land_sizes
        else None
    )
    delta_rss = {docs: landing[docs][TARGET_DELTA].peak_rss_mib for docs in land_sizes}
    delta_growth = _growth(delta_rss)
    largest = f"{land_sizes[-1]:,}" if land_sizes else "?"
    out = {}
    for key, goal, measured, ok, text in (
        (
            "tap_vs_airbyte",
            f"tap-convex ≥ {TAP_VS_AIRBYTE:g}× airbyte docs/s",
            vs_airbyte,
            (vs_airbyte or 0) >= TAP_VS_AIRBYTE,
            f"{_fmt(vs_airbyte, 2)}×",
        ),
        (
            "declarative_vs_airbyte",
            f"{DECLARATIVE} ≥ {DECLARATIVE_VS_AIRBYTE:g}× airbyte docs/s",
            declarative_vs_airbyte,
            (declarative_vs_airbyte or 0) >= DECLARATIVE_VS_AIRBYTE,
            f"{_fmt(declarative_vs_airbyte, 2)}×",
        ),
        (
            "tap_vs_raw",
            f"tap-convex ≥ {TAP_VS_RAW:.0%} of raw-fetch docs/s",
            vs_raw,
            (vs_raw or 0) >= TAP_VS_RAW,
            f"{_fmt(vs_raw and vs_raw * 100, 0)}%",
        ),
        (
            "end_to_end",
            f"end to end into Parquet ≥ {E2E_ROWS_PER_S:,} rows/s (judged at the largest size, "
            "where Meltano's fixed cost per run weighs least)",
            e2e,
            (e2e or 0) >= E2E_ROWS_PER_S,
            e2e_text,
        ),
        (
            "incremental_requests",
            f"incremental over {incremental.tables} tables ≤ "
            f"{INCREMENTAL_VS_MINIMUM:g}× the minimum document_deltas requests of one walk",
            vs_min,
            (vs_min or math.inf) <= INCREMENTAL_VS_MINIMUM,
            f"{deltas} requests = {_fmt(vs_min, 2)}× the minimum {incremental.minimum_requests}",
        ),
        (
            "peak_rss",
            f"tap-convex peak RSS < {RSS_LIMIT_MIB:g} MiB",
            worst_rss,
            (worst_rss or math.inf) < RSS_LIMIT_MIB,
            f"{_fmt(worst_rss, 1)} MiB (largest)",
        ),
        (
            "rss_flat",
            f"peak RSS at {_fmt(sizes[-1]) if sizes else '?'} ≤ {RSS_GROWTH:.0%} "
            f"above {_fmt(sizes[0]) if sizes else '?'} documents",
            growth,
            (growth if growth is not None else math.inf) <= RSS_GROWTH,
            f"{_fmt(growth and growth * 100, 1, '%')} ({_series(rss)} MiB)",
        ),
        (
            "delta_vs_parquet",
            f"Delta `cdc` ≥ {DELTA_VS_PARQUET:.0%} of Parquet `cdc` rows/s at {largest} "
            "documents (target-parquet alone)",
            delta_vs_parquet,
            (delta_vs_parquet or 0) >= DELTA_VS_PARQUET,
            f"{_fmt(delta_vs_parquet and delta_vs_parquet * 100, 1, '%')}",
        ),
        (
            "delta_rss_flat",
            f"Delta `cdc` peak RSS at {largest} ≤ {RSS_GROWTH:.0%} above "
            f"{f'{land_sizes[0]:,}' if land_sizes else '?'} documents",
            delta_growth,
            (delta_growth if delta_growth is not None else math.inf) <= RSS_GROWTH,
            f"{_fmt(delta_growth and delta_growth * 100, 1, '%')} ({_series(delta_rss)} MiB)",
        ),
    ):
        out[key] = (
            Verdict(goal, text, ok) if measured is not None else Verdict(goal, "not measured", None)
        )
    return out


def _mark(verdict: Verdict) -> str:
    return {True: "met", False: "**MISSED**", None: "not measured"}[verdict.met]


def _landing_formats(memory: dict[int, dict[str, Result]], checks: dict[str, Verdict]) -> list[str]:
    """The target alone at each size, Parquet beside Delta."""
    lines = [
        "",
        "## Landing formats: target-parquet alone, Parquet and Delta `cdc`",
        "",
        "The tap's recorded output at each size, landed by `target-parquet` with `format: "
        "parquet` and with `format: delta` (local directory, `mode: cdc`).",
        "",
        "| documents | Parquet s | Parquet rows/s | Parquet peak RSS MiB | Delta s "
        "| Delta rows/s | Delta peak RSS MiB | Delta / Parquet rows/s | target | |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    format_goals = [checks["delta_vs_parquet"], checks["delta_rss_flat"]]
    for docs, pair in sorted(memory.items()):
        if TARGET_DELTA not in pair:
            continue
        parquet, delta = pair[TARGET], pair[TARGET_DELTA]
        goals = format_goals if docs == max(memory) else []
        lines.append(
            f"| {docs:,} | {_fmt(parquet.wall_s, 2)} | {_fmt(parquet.rows_per_s)} "
            f"| {_fmt(parquet.peak_rss_mib, 1)} | {_fmt(delta.wall_s, 2)} "
            f"| {_fmt(delta.rows_per_s)} | {_fmt(delta.peak_rss_mib, 1)} "
            f"| {_fmt(_ratio(delta.rows_per_s, parquet.rows_per_s), 2, '×')} "
            f"| {'; '.join(g.goal for g in goals)} | {'; '.join(_mark(g) for g in goals)} |"
        )
    return lines


def render_markdown(
    report: dict[str, Any],
    throughput: dict[str, Result],
    fixed: dict[str, Result],
    incremental: Incremental,
    memory: dict[int, dict[str, Result]],
    checks: dict[str, Verdict],
    peer: PeerInstall,
) -> str:
    raw_rate = throughput[RAW].rows_per_s
    airbyte_rate = throughput[AIRBYTE].rows_per_s
    box = report["machine"]
    lines = [
        "# tap-convex benchmarks",
        "",
        f"Generated by `{report['command']}` on {report['date']}.",
        "",
        f"* Machine: {box['cpu_model']}, {box['cores']} cores, {box['ram_gib']} GiB RAM, "
        f"Linux {box['kernel']}; Python {box['python']} (tap, target, raw-fetch), "
        f"Python {peer.python or '–'} (airbyte-source-convex). Load average when done: "
        f"{', '.join(map(str, box['load_average_at_end']))}.",
        f"* Code: commit `{report['code']['commit']}`"
        + (
            f", with uncommitted changes to {', '.join(report['code']['uncommitted'])}"
            if report["code"]["uncommitted"]
            else ", no uncommitted change to the measured code"
        )
        + f" (tap, target, Meltano project; content hash "
        f"`{report['code']['measured_code_sha256']}`)."
        + (
            " **The measured code changed during the run**, so some runs measured other code "
            f"(hash at the end `{report['code_changed_during_run']['measured_code_sha256']}`)."
            if report["code_changed_during_run"]
            else ""
        ),
        f"* Every figure is the median of {report['repeat']} run(s); peak RSS is the largest "
        "run. Each run is a whole process (start-up, discovery, exit). The emulator runs in "
        "its own process on the same machine, so it shares the cores with the contenders.",
        "",
        f"## Full snapshot: {report['docs']:,} documents (one table `events` and 4 small ones)",
        "",
        "| contender | what is timed | rows | median s | rows/s | vs raw-fetch | vs airbyte "
        "| peak RSS MiB | tree RSS MiB | target | |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    row_target = {
        TAP: [checks["tap_vs_raw"], checks["tap_vs_airbyte"]],
        DECLARATIVE: [checks["declarative_vs_airbyte"]],
    }
    for name, result in throughput.items():
        goals = row_target.get(name, [])
        if result.skipped:
            lines.append(f"| {name} | skipped: {result.skipped} | | | | | | | | | |")
            continue
        lines.append(
            f"| {name} | {result.timed} | {result.rows:,} | {_fmt(result.wall_s, 2)} "
            f"| {_fmt(result.rows_per_s)} | {_fmt(_ratio(result.rows_per_s, raw_rate), 2, '×')} "
            f"| {_fmt(_ratio(result.rows_per_s, airbyte_rate), 2, '×')} "
            f"| {_fmt(result.peak_rss_mib, 1)} | {_fmt(result.tree_rss_mib, 1)} "
            f"| {'; '.join(g.goal for g in goals)} | {'; '.join(_mark(g) for g in goals)} |"
        )
    lines += [
        "",
        f"### Fixed cost per run ({FIXED_COST_DOCS}-document deployment)",
        "",
        "What a run costs whatever its size; the marginal rate is the rate once started, "
        f"(rows - {FIXED_COST_DOCS}) / (median s - fixed median s).",
        "",
        f"| contender | median s at {FIXED_COST_DOCS} docs | share of the {report['docs']:,}-doc "
        "run | marginal rows/s | vs raw-fetch | peak RSS MiB | tree RSS MiB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, result in fixed.items():
        marginal = marginal_rows_per_s(throughput[name], result)
        share = _ratio(result.wall_s, throughput[name].wall_s)
        lines.append(
            f"| {name} | {_fmt(result.wall_s, 2)} | {_fmt(share and share * 100, 0, '%')} "
            f"| {_fmt(marginal)} | {_fmt(_ratio(marginal, raw_rate), 2, '×')} "
            f"| {_fmt(result.peak_rss_mib, 1)} | {_fmt(result.tree_rss_mib, 1)} |"
        )
    airbyte_inc = incremental.results[AIRBYTE]
    lines += [
        "",
        f"## Incremental: {incremental.tables} tables, {incremental.documents:,} documents, "
        f"then {incremental.changes:,} inserts and updates",
        "",
        f"Changes were written as {math.ceil(incremental.changes / CHANGES_PER_TRANSACTION):,} "
        f"transactions of {CHANGES_PER_TRANSACTION}, spread over the {incremental.tables} "
        f"tables: {incremental.log_rows:,} change-log rows after the saved cursors. The minimum "
        f"for one walk of the change log is ceil({incremental.log_rows:,} / "
        f"{incremental.deltas_page_limit}) = **{incremental.minimum_requests}** "
        "`document_deltas` requests (a page never splits a transaction, so it can carry a few "
        "rows more than the limit and a walk can need slightly fewer). Request counts come from "
        "the emulator's request log; both connectors select all 20 tables.",
        "",
        "| connector | what is timed | changes | document_deltas requests | vs minimum "
        "| other requests | median s | docs/s | vs airbyte | peak RSS MiB | target | |",
        "|---|---|---:|---:|---:|---|---:|---:|---:|---:|---|---|",
    ]
    for name, result in incremental.results.items():
        if result.skipped:
            lines.append(f"| {name} | skipped: {result.skipped} | | | | | | | | | | |")
            continue
        deltas = result.median_requests("document_deltas")
        others = ", ".join(
            f"{endpoint} {result.median_requests(endpoint)}"
            for endpoint in sorted(result.samples[0].requests)
            if endpoint != "document_deltas"
        )
        goal = checks["incremental_requests"] if name == TAP else None
        # A contender that reads another endpoint (data_sync) has no document_deltas figure.
        walk = f"{deltas:,}" if deltas else "–"
        vs_minimum = _fmt(_ratio(deltas, incremental.minimum_requests), 2, "×") if deltas else "–"
        lines.append(
            f"| {name} | {result.timed} | {result.rows:,} | {walk} "
            f"| {vs_minimum} | {others} "
            f"| {_fmt(result.wall_s, 2)} | {_fmt(result.rows_per_s)} "
            f"| {_fmt(_ratio(result.rows_per_s, airbyte_inc.rows_per_s), 2, '×')} "
            f"| {_fmt(result.peak_rss_mib, 1)} | {goal.goal if goal else ''} "
            f"| {_mark(goal) if goal else ''} |"
        )
    smallest = memory[min(memory)][TAP].peak_rss_mib if memory else None
    lines += [
        "",
        "## Memory: tap-convex full sync to /dev/null",
        "",
        "| documents | median s | rows/s | raw-fetch rows/s | vs raw-fetch | peak RSS MiB "
        "| vs smallest | target | |",
        "|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    goals = [checks["peak_rss"], checks["rss_flat"]]
    for docs, pair in sorted(memory.items()):
        tap, raw = pair[TAP], pair[RAW]
        lines.append(
            f"| {docs:,} | {_fmt(tap.wall_s, 2)} | {_fmt(tap.rows_per_s)} "
            f"| {_fmt(raw.rows_per_s)} | {_fmt(_ratio(tap.rows_per_s, raw.rows_per_s), 2, '×')} "
            f"| {_fmt(tap.peak_rss_mib, 1)} | {_fmt(_ratio(tap.peak_rss_mib, smallest), 3, '×')} "
            f"| {'; '.join(g.goal for g in goals)} | {'; '.join(_mark(g) for g in goals)} |"
        )
    lines += [
        "",
        "## End to end by size: `meltano run tap-convex target-parquet` into local Parquet",
        "",
        "Each run pays Meltano's fixed cost (start-up, discovery, plugin start, exit; see the "
        "fixed-cost table), so the rate grows with the size of the deployment.",
        "",
        "| documents | median s | rows/s | raw-fetch rows/s | vs raw-fetch | tree RSS MiB "
        "| target | |",
        "|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for docs, pair in sorted(memory.items()):
        if E2E not in pair:
            continue
        e2e, raw = pair[E2E], pair[RAW]
        goal = checks["end_to_end"] if docs == max(memory) else None
        lines.append(
            f"| {docs:,} | {_fmt(e2e.wall_s, 2)} | {_fmt(e2e.rows_per_s)} "
            f"| {_fmt(raw.rows_per_s)} | {_fmt(_ratio(e2e.rows_per_s, raw.rows_per_s), 2, '×')} "
            f"| {_fmt(e2e.tree_rss_mib, 1)} | {goal.goal if goal else ''} "
            f"| {_mark(goal) if goal else ''} |"
        )
    lines += _landing_formats(memory, checks)
    lines += ["", "## Targets", "", "| target | measured | |", "|---|---|---|"]
    lines += [f"| {v.goal} | {v.measured} | {_mark(v)} |" for v in checks.values()]
    lines += ["", "## airbyte-source-convex", ""]
    if peer.skipped:
        lines.append(f"Skipped: {peer.skipped}.")
    else:
        made = (
            f"created by this run in {peer.install_s:.0f} s"
            if peer.created_now
            else "reused from an earlier run"
        )
        lines.append(
            f"`{PEER_PACKAGE}=={peer.versions.get(PEER_PACKAGE, '?')}` with "
            f"`airbyte-cdk=={peer.versions.get('airbyte-cdk', '?')}` in "
            f"`benchmarks/.peer-venv` (Python {peer.python}; `pip install {PEER_PACKAGE}`, "
            f"{made}). Its configured catalogs come from its own `discover`: `full_refresh` / "
            "`overwrite` for the snapshot, `incremental` / `append` with cursor `_ts` for the "
            "incremental run, whose `--state` is the last per-stream STATE of its first sync."
        )
    lines += [
        "",
        f"## {DECLARATIVE}",
        "",
        "`airbyte/source-convex` (manifest.yaml and components.py) on airbyte-cdk 7.39, from "
        "`.venv-airbyte` (`airbyte/ensure-venv`), run with the protocol like the peer: a "
        "`full_refresh` catalog from its own `discover` for the snapshot; for the incremental "
        "run an `incremental` catalog and the last per-stream STATE of its first sync. It reads "
        "each table on its own, so its `document_deltas` count is one walk of the change log "
        "per table, reported as it is.",
    ]
    return "\n".join(lines) + "\n"
