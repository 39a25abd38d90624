"""End-to-end fixtures: Meltano's plugins, installed once per test session."""

from __future__ import annotations

import os

import pytest

from tests.e2e.pipeline import MELTANO, meltano


@pytest.fixture(scope="session")
def installed_plugins() -> None:
    """One real `meltano install` of every plugin in meltano.yml, from PyPI and this repo."""
    assert MELTANO.exists(), "scripts/test installs Meltano into .venv-meltano"
    env = {
        **os.environ,
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_CLI_DISABLE_VERSION_CHECK": "true",
    }
    meltano("install", env=env)
