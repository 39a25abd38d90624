"""Landing on an S3-compatible store (a moto server on 127.0.0.1)."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import duckdb_ext  # type: ignore[import-not-found]  # DuckDB's httpfs extension, as a wheel
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable
from moto.server import ThreadedMotoServer

from parquet_helpers import activate, delete, run, schema, upsert
from target_parquet.delta_table import APP_ID

NAME = {"type": ["string", "null"]}
MESSAGES = [
    schema("users", name=NAME),
    upsert("users", "a", 10, name="Ann"),
    upsert("users", "b", 11, name="Bob"),
    activate("users", 1),
    upsert("users", "a", 20, name="Ann B."),
    delete("users", "b", 21),
]


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(endpoint: str, request: pytest.FixtureRequest) -> tuple[pafs.S3FileSystem, dict]:
    """A bucket of its own per test, and a target config pointing into it."""
    bucket = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:50].strip("-")
    fs = pafs.S3FileSystem(
        endpoint_override=endpoint.removeprefix("http://"),
        scheme="http",
        region="us-east-1",
        access_key="testing",
        secret_key="testing",  # noqa: S106 - moto's fake credentials
        allow_bucket_creation=True,
    )
    fs.create_dir(bucket)
    config = {
        "destination_path": f"s3://{bucket}/lake",
        "s3_endpoint_override": endpoint,
        "s3_region": "us-east-1",
        "s3_access_key_id": "testing",
        "s3_secret_access_key": "testing",
    }
    return fs, config


def read_json(fs: pafs.S3FileSystem, path: str) -> dict:
    with fs.open_input_stream(path) as stream:
        return json.loads(stream.read())


def test_cdc_lands_data_and_manifests_in_the_bucket(s3: tuple) -> None:
    fs, config = s3
    root = config["destination_path"].removeprefix("s3://")
    states = run(config, [*MESSAGES, {"type": "STATE", "value": {"n": 1}}])
    assert states == [{"n": 1}]
    names = [i.path for i in fs.get_file_info(pafs.FileSelector(f"{root}/users/_manifests"))]
    (manifest_path,) = [n for n in names if n.endswith(".json")]
    manifest = read_json(fs, manifest_path)
    (entry,) = manifest["files"]
    assert entry["path"].startswith("date=")
    table = pq.read_table(f"{root}/users/{entry['path']}", filesystem=fs)
    assert sorted(zip(table["_id"].to_pylist(), table["_ts"].to_pylist(), strict=True)) == [
        ("a", 10),
        ("a", 20),
        ("b", 11),
        ("b", 21),
    ]
    assert not fs.get_file_info(
        pafs.FileSelector(f"{root}/users/_manifests/_pending", allow_not_found=True)
    )


def test_replay_on_s3_lands_nothing_new(s3: tuple) -> None:
    fs, config = s3
    root = config["destination_path"].removeprefix("s3://")
    run(config, MESSAGES)
    run(config, MESSAGES)
    files = fs.get_file_info(pafs.FileSelector(f"{root}/users", recursive=True))
    assert len([f for f in files if f.path.endswith(".parquet")]) == 1


def test_current_publishes_generations_through_the_pointer(s3: tuple) -> None:
    fs, config = s3
    config = {**config, "mode": "current"}
    root = config["destination_path"].removeprefix("s3://")
    run(config, MESSAGES[:3])
    run(config, MESSAGES)
    latest = read_json(fs, f"{root}/users/current/_latest.json")
    (entry,) = latest["files"]
    rows = pq.read_table(f"{root}/users/{entry['path']}", filesystem=fs).to_pylist()
    assert [(r["_id"], r["name"], r["_deleted"]) for r in rows] == [
        ("a", "Ann B.", False),
        ("b", "Bob", True),
    ]


def test_cdc_compaction_on_s3_keeps_every_row_once(s3: tuple) -> None:
    fs, config = s3
    root = config["destination_path"].removeprefix("s3://")
    for n in range(3):
        run(config, [schema("users", name=NAME), upsert("users", f"k{n}", n, name=f"v{n}")])
    run({**config, "compact_min_files": 3}, [schema("users", name=NAME)])
    run(config, [schema("users", name=NAME)])  # removes the replaced files
    files = fs.get_file_info(pafs.FileSelector(f"{root}/users", recursive=True))
    (data,) = [f.path for f in files if f.path.endswith(".parquet")]
    table = pq.read_table(data, filesystem=fs)
    assert sorted(table["_id"].to_pylist()) == ["k0", "k1", "k2"]
    assert not [f for f in files if "_compacted/" in f.path]


def test_delta_cdc_on_s3_lands_once_and_replays_nothing(s3: tuple) -> None:
    fs, config = s3
    config = {**config, "format": "delta"}
    root = config["destination_path"].removeprefix("s3://")
    run(config, MESSAGES)
    run(config, MESSAGES)
    run(
        config, [*MESSAGES, upsert("users", "c", 30, name="Cy")]
    )  # pyarrow writes, delta-rs commits
    table = DeltaTable(f"s3://{root}/users", storage_options=delta_options(config))
    assert table.transaction_version(APP_ID) == 2
    rows = table.to_pyarrow_table().to_pylist()
    assert sorted((r["_id"], r["_ts"]) for r in rows) == [
        ("a", 10),
        ("a", 20),
        ("b", 11),
        ("b", 21),
        ("c", 30),
    ]
    names = [i.path for i in fs.get_file_info(pafs.FileSelector(f"{root}/users", recursive=True))]
    assert any("/_delta_log/" in name for name in names)


def delta_options(config: dict) -> dict:
    return {
        "AWS_ENDPOINT_URL": config["s3_endpoint_override"],
        "AWS_ALLOW_HTTP": "true",
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }


@pytest.mark.parametrize("hard_delete", [False, True])
def test_delta_current_on_s3_merges_by_id(s3: tuple, hard_delete: bool) -> None:
    _, config = s3
    config = {**config, "format": "delta", "mode": "current", "hard_delete": hard_delete}
    root = config["destination_path"].removeprefix("s3://")
    run(config, MESSAGES[:3])
    run(config, MESSAGES)
    table = DeltaTable(f"s3://{root}/users", storage_options=delta_options(config))
    rows = sorted(table.to_pyarrow_table().to_pylist(), key=lambda r: r["_id"])
    expected = [("a", "Ann B.", False)] + ([] if hard_delete else [("b", "Bob", True)])
    assert [(r["_id"], r["name"], r["_deleted"]) for r in rows] == expected


@pytest.mark.parametrize("fmt", ["parquet", "delta"])
def test_duckdb_views_read_the_bucket(
    s3: tuple, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    extensions = tmp_path / "home" / ".duckdb" / "extensions"
    shutil.copytree(Path(next(iter(duckdb_ext.__path__))) / "extensions", extensions)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # where DuckDB finds its extensions
    _, config = s3
    warehouse = tmp_path / "convex.duckdb"
    config = {**config, "format": fmt, "duckdb_path": str(warehouse)}
    run(config, [*MESSAGES, {"type": "STATE", "value": {"n": 1}}])
    assert "testing" not in warehouse.read_bytes().decode("latin-1")  # no credentials kept
    endpoint = config["s3_endpoint_override"].removeprefix("http://")
    with duckdb.connect(str(warehouse), config={"extension_directory": str(extensions)}) as db:
        db.execute(  # a reader brings its own credentials
            "CREATE SECRET (TYPE s3, KEY_ID 'testing', SECRET 'testing', REGION 'us-east-1', "
            f"ENDPOINT '{endpoint}', URL_STYLE 'path', USE_SSL false)"
        )
        assert db.execute("SELECT _id, name FROM users").fetchall() == [("a", "Ann B.")]
        history = db.execute(
            "SELECT _id, _valid_from_ts, _valid_to_ts, _deleted FROM users__history ORDER BY 1, 2"
        ).fetchall()
        assert history == [("a", 10, 20, False), ("a", 20, None, False), ("b", 11, 21, True)]


def test_an_s3_lake_has_no_warehouse_unless_asked(s3: tuple, tmp_path: Path) -> None:
    _, config = s3
    run(config, [*MESSAGES, {"type": "STATE", "value": {"n": 1}}])
    assert not list(tmp_path.rglob("*.duckdb"))
