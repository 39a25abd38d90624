"""The SDK's standard target tests (smoke: no crash) and the CLI identity."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator

import pytest
from singer_sdk.testing import get_target_test_class

from parquet_helpers import CLI
from target_parquet.target import TargetParquet

_DESTINATION = tempfile.mkdtemp(prefix="target-parquet-sdk-")

TestStandardTargetSuite = get_target_test_class(
    TargetParquet, config={"destination_path": f"{_DESTINATION}/parquet"}
)
TestStandardTargetSuiteDelta = get_target_test_class(
    TargetParquet, config={"destination_path": f"{_DESTINATION}/delta", "format": "delta"}
)


@pytest.fixture(scope="module", autouse=True)
def _remove_destination() -> Iterator[None]:
    yield
    shutil.rmtree(_DESTINATION, ignore_errors=True)


def test_version_names_the_distribution() -> None:
    result = subprocess.run([CLI, "--version"], capture_output=True, text=True, check=True)
    assert result.stdout.startswith("target-parquet v0.1.0")


def test_about_lists_every_setting_and_marks_secrets() -> None:
    result = subprocess.run(
        [CLI, "--about", "--format=json"], capture_output=True, text=True, check=True
    )
    settings = json.loads(result.stdout)["settings"]["properties"]
    for name in (
        "destination_path",
        "mode",
        "format",
        "hard_delete",
        "state_interval_seconds",
        "batch_size_rows",
        "compression",
        "validate_records",
        "add_record_metadata",
        "s3_endpoint_override",
        "s3_region",
        "s3_access_key_id",
        "s3_secret_access_key",
        "s3_session_token",
    ):
        assert name in settings
    assert settings["mode"]["default"] == "cdc"
    assert settings["format"]["default"] == "parquet"
    assert settings["validate_records"]["default"] is False
    assert settings["s3_secret_access_key"]["secret"] is True
    assert settings["s3_access_key_id"]["secret"] is True
