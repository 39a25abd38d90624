"""Run tap-convex against the emulator's demo deployment, twice, and summarise what it emitted."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from tap_convex.emulator import EmulatorClient, EmulatorServer, Store, datasets

OUTPUT = Path("output/demo")
TAP = str(Path(sys.executable).with_name("tap-convex"))


def run_tap(config: Path, state: Path | None, out: Path) -> dict | None:
    args = [TAP, "--config", str(config)] + (["--state", str(state)] if state else [])
    with out.open("w") as stdout:
        subprocess.run(args, stdout=stdout, stderr=subprocess.DEVNULL, check=True)
    messages = [json.loads(line) for line in out.read_text().splitlines()]
    records = Counter(m["stream"] for m in messages if m["type"] == "RECORD")
    deletes = Counter(m["stream"] for m in messages if m["type"] == "RECORD" and m["record"]["_deleted"])
    print(f"  {'stream':<18}{'records':>8}{'deletes':>8}")
    for stream in sorted(records):
        print(f"  {stream:<18}{records[stream]:>8}{deletes[stream]:>8}")
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    return states[-1] if states else None


def main() -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    store = Store(seed=7)
    datasets.load_demo(store)
    with EmulatorServer(store) as server:
        print(f"Emulated Convex deployment at {server.url} ({len(store.documents())} tables).")
        config = OUTPUT / "config.json"
        config.write_text(json.dumps({"deployment_url": server.url, "deploy_key": server.admin_key}))
        print("\n1) First run: snapshot of every table, then the change log.")
        state = run_tap(config, None, OUTPUT / "run1.jsonl")
        state_path = OUTPUT / "state.json"
        state_path.write_text(json.dumps(state))

        client = EmulatorClient(server.url, server.admin_key)
        users = [d for d in client.documents() if d["_table"] == "users" and d["_component"] == ""]
        ops = [{"op": "patch", "id": u["_id"], "fields": {"verified": True}} for u in users[:5]]
        ops += [{"op": "delete", "id": u["_id"]} for u in users[5:8]]
        ops.append({"op": "insert", "table": "messages", "doc": {"body": "hello again", "likes": 2**62}})
        client.transaction(ops)
        print("\n2) Changed 5 users, deleted 3, added a message. Second run (incremental):")
        run_tap(config, state_path, OUTPUT / "run2.jsonl")
    print(f"\nSinger output is in {OUTPUT}/run1.jsonl and run2.jsonl; the state in {state_path}.")


if __name__ == "__main__":
    main()
