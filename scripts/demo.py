"""The demo: emulator -> `meltano run tap-convex target-parquet` -> what landed, twice."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from deltalake import DeltaTable

from convex_emulator import EmulatorClient
from convex_emulator.process import EmulatorProcess

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "output" / "demo"
LAKE = WORK / "lake"
COLUMNS = ["_id", "_ts", "_deleted", "_load_id"]
MELTANO = ROOT / ".venv-meltano" / "bin" / "meltano"
#: What the demo shows of each view of `users` in the warehouse the target keeps.
VIEWS = {
    "users: the current state, one row per live document (int64 exact, nested values JSON)": (
        "SELECT left(_id, 10) AS _id, name, verified, karma, profile->>'$.bio' AS bio "
        "FROM users ORDER BY name LIMIT 4"
    ),
    "users__history: every version (SCD type 2) of the users updated or deleted": (
        "SELECT left(_id, 10) AS _id, name, _valid_from, _valid_to, _is_current, _deleted "
        "FROM users__history WHERE _id IN (SELECT _id FROM users__history WHERE NOT _is_current) "
        "ORDER BY _id, _valid_from LIMIT 6"
    ),
    "users__changes: the change log as landed, newest first": (
        "SELECT left(_id, 10) AS _id, _ts, _deleted, _sdc_retired, _load_id "
        "FROM users__changes ORDER BY _ts DESC, _id LIMIT 4"
    ),
}


def meltano_run(emulator: EmulatorProcess, fmt: str) -> None:
    """``meltano run tap-convex target-parquet`` against the emulated deployment."""
    env = {
        **os.environ,
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
        "MELTANO_DATABASE_URI": f"sqlite:///{WORK / 'meltano.db'}",
        "TAP_CONVEX_DEPLOYMENT_URL": emulator.url,
        "TAP_CONVEX_DEPLOY_KEY": emulator.admin_key,
        "TARGET_PARQUET_DESTINATION_PATH": str(LAKE),
        "TARGET_PARQUET_FORMAT": fmt,
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


def change_log(stream_dir: Path, fmt: str) -> pa.Table | None:
    """A stream's landed changes (the columns the summary needs), Parquet or Delta."""
    if fmt == "delta":
        if not (stream_dir / "_delta_log").is_dir():
            return None
        return DeltaTable(str(stream_dir)).to_pyarrow_table(columns=COLUMNS)
    files = sorted(stream_dir.glob("date=*/*.parquet"))
    if not files:
        return None
    return ds.dataset([str(f) for f in files], format="parquet").to_table(columns=COLUMNS)


def summarise(title: str, fmt: str, since_load: str | None = None) -> str:
    """Rows landed per stream (all, or only those of loads after ``since_load``)."""
    print(f"\n{title}")
    print(f"  {'stream':<18}{'rows':>7}{'deletes':>9}{'live now':>10}")
    newest = since_load
    for stream_dir in sorted(
        p for p in LAKE.iterdir() if p.is_dir() and not p.name.startswith("_")
    ):
        table = change_log(stream_dir, fmt)
        if table is None:
            continue
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
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--format", choices=["parquet", "delta"], default="parquet")
    fmt = parser.parse_args().format
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    with EmulatorProcess("--demo") as emulator:
        print(f"Emulated Convex deployment with demo data at {emulator.url}")
        meltano_run(emulator, fmt)
        last_load = summarise("First run (snapshot of every table) landed:", fmt)
        change_data(EmulatorClient(emulator.url, emulator.admin_key))
        meltano_run(emulator, fmt)
        summarise("Second run (incremental) landed only the changes:", fmt, last_load)
    show_warehouse(fmt)


def show_warehouse(fmt: str) -> None:
    """A few rows of each view of `users` in the DuckDB file the target keeps."""
    warehouse = (LAKE / "warehouse.duckdb").relative_to(ROOT)
    print(f"\nThe {fmt} change log is in {LAKE.relative_to(ROOT)}; target-parquet keeps DuckDB")
    print(f"views over it in {warehouse} (try: duckdb {warehouse} -c 'FROM users').")
    with duckdb.connect(str(ROOT / warehouse), read_only=True) as connection:
        for title, query in VIEWS.items():
            print(f"\n{title}\n  {query}")
            connection.sql(query).show(max_width=160)


if __name__ == "__main__":
    main()
