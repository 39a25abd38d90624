"""The CDK's standard tests for declarative sources, driven by acceptance-test-config.yml.

They run offline here: a module fixture serves the emulator's demo deployment and writes the
``secrets/`` configs the file names (a good one and one with a wrong key); the docker image
tests skip, as this machine has no docker.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from airbyte_cdk.test.standard_tests import DeclarativeSourceTestSuite
from airbyte_cdk.test.standard_tests.pytest_hooks import (  # noqa: F401 - the suite's hooks
    connector_base_image_override,
    connector_image_override,
    pytest_generate_tests,
    read_from_streams,
    read_scenarios,
)

from convex_emulator import EmulatorServer, Store, datasets
from tests.airbyte.harness import REPO, config_for

CONNECTOR = REPO / "airbyte" / "source-convex"
SECRETS = CONNECTOR / "secrets"


@pytest.fixture(scope="module", autouse=True)
def demo_deployment() -> Iterator[None]:
    store = Store(seed=1)
    datasets.load_demo(store)
    with EmulatorServer(store) as emulator:
        SECRETS.mkdir(exist_ok=True)
        good = config_for(emulator)
        (SECRETS / "config.json").write_text(json.dumps(good))
        bad = {**good, "access_key": "prod:emulator|" + "0" * 48}
        (SECRETS / "bad_key_config.json").write_text(json.dumps(bad))
        try:
            yield
        finally:
            shutil.rmtree(SECRETS)


class TestDeclarativeStandardSuite(DeclarativeSourceTestSuite):
    """Every standard test the CDK has for a manifest-only source."""

    @classmethod
    def get_connector_root_dir(cls) -> Path:
        return CONNECTOR
