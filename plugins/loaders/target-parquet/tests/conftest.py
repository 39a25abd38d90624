"""Shared fixtures: a scratch destination per test."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    """A fresh local destination directory."""
    return tmp_path / "lake"
