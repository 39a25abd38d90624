"""The demo: emulator -> `meltano run tap-convex target-parquet` -> what landed, twice."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.dataset as ds

from convex_emulator import EmulatorClient
from convex_emulator.process import EmulatorProcess
from target_parquet.resolution import cdc_current_query

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "output" / "demo"
LAKE = WORK / "parquet"
MELTANO = ROOT / ".venv-meltano" / "bin" / "meltano"


def meltano_run(emulator: EmulatorProcess) -> None:
    """``meltano run tap-convex target-parquet`` against the emulated deployment."""
    env = {
        **os.environ,
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
        "MELTANO_DATABASE_URI": f"sqlite:///{WORK / 'meltano.db'}",
        "TAP_CONVEX_DEPLOYMENT_URL": emulator.url,
        "TAP_CONVEX_DEPLOY_KEY": emulator.admin_key,
        "TARGET_PARQUET_DESTINATION_PATH": str(LAKE),
    }
    print("$ meltano run tap-convex target-parquet", flush=True)
    result = subprocess.run(
        [str(MELTANO), "run", "tap-convex", "target-parquet"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        sys.exit(f"demo: meltano run failed:\n{result.stderr[-3000:]}")


def summarise(title: str, since_load: str | None = None) -> str:
    """Rows landed per stream (all, or only those of loads after ``since_load``)."""
    print(f"\n{title}")
    print(f"  {'stream':<18}{'rows':>7}{'deletes':>9}{'live now':>10}")
    newest = since_load
    for stream_dir in sorted(
        p for p in LAKE.iterdir() if p.is_dir() and not p.name.startswith("_")
    ):
        files = sorted(stream_dir.glob("date=*/*.parquet"))
        if not files:
            continue
        table = ds.dataset([str(f) for f in files], format="parquet").to_table(
            columns=["_id", "_ts", "_deleted", "_load_id"]
        )
        latest = table.group_by("_id").aggregate([("_ts", "max")])
        newest_rows = table.join(
            latest, keys=["_id", "_ts"], right_keys=["_id", "_ts_max"], join_type="inner"
        )
        live = pc.sum(pc.invert(newest_rows["_deleted"])).as_py() or 0
        if since_load is not None:
            table = table.filter(pc.greater(table["_load_id"], since_load))
        deletes = pc.sum(table["_deleted"]).as_py() or 0
        print(f"  {stream_dir.name:<18}{table.num_rows:>7}{deletes:>9}{live:>10}")
        loads = table["_load_id"].to_pylist()
        if loads:
            newest = max([newest or "", *loads])
    return newest or ""


def change_data(client: EmulatorClient) -> None:
    """Update, delete and insert a few documents in one transaction."""
    users = [d for d in client.documents() if d["_table"] == "users" and d["_component"] == ""]
    ops = [
        {"op": "patch", "id": u["_id"], "fields": {"verified": True, "name": "renamed"}}
        for u in users[:5]
    ]
    ops += [{"op": "delete", "id": u["_id"]} for u in users[5:8]]
    ops.append(
        {"op": "insert", "table": "messages", "doc": {"body": "hello again", "likes": 2**62}}
    )
    client.transaction(ops)
    print(
        "\nChanged the deployment: 5 users updated, 3 deleted, 1 message added (one transaction)."
    )


def main() -> None:
    """Run the demo: a full sync, some changes, an incremental sync."""
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    with EmulatorProcess("--demo") as emulator:
        print(f"Emulated Convex deployment with demo data at {emulator.url}")
        meltano_run(emulator)
        last_load = summarise("First run (snapshot of every table) landed:")
        change_data(EmulatorClient(emulator.url, emulator.admin_key))
        meltano_run(emulator)
        summarise("Second run (incremental) landed only the changes:", since_load=last_load)
    print(f"\nThe Parquet change log is in {LAKE.relative_to(ROOT)}. Current state, with DuckDB:")
    query = cdc_current_query(str(LAKE.relative_to(ROOT) / "users"))
    print("\n" + textwrap.indent(query, "  ") + ";\n")


if __name__ == "__main__":
    main()
