"""Emulator-suite fixtures; ``store``, ``emulator`` and ``api`` come from ``tests/conftest.py``."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from convex_emulator import EmulatorServer


@pytest.fixture
def anonymous(emulator: EmulatorServer) -> Iterator[httpx.Client]:
    """A client for the same emulator that sends no ``Authorization`` header."""
    with httpx.Client(
        base_url=emulator.url,
        timeout=30,
        verify=False,  # noqa: S501 - plain HTTP on loopback: no certificate to check
    ) as client:
        yield client
