"""Shared fixtures: a real emulator on loopback and an HTTP client that talks to it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from convex_emulator import Clock, EmulatorServer, Store, StoreConfig

FROZEN_START_NS = 1_750_000_000_000_000_000


@pytest.fixture
def store() -> Store:
    """An empty deployment whose clock only moves when a test advances it."""
    return Store(seed=1, clock=Clock(frozen_at_ns=FROZEN_START_NS), config=StoreConfig())


@pytest.fixture
def emulator(store: Store) -> Iterator[EmulatorServer]:
    with EmulatorServer(store) as server:
        yield server


@pytest.fixture
def api(emulator: EmulatorServer) -> Iterator[httpx.Client]:
    """An authenticated client for the Convex routes of the running emulator.

    ``verify=False`` only skips loading the CA bundle (~30 ms a test): the emulator is plain
    HTTP on loopback.
    """
    with httpx.Client(
        base_url=emulator.url,
        headers={"Authorization": f"Convex {emulator.admin_key}"},
        timeout=30,
        verify=False,  # noqa: S501 - plain HTTP on loopback; skips loading the CA bundle
    ) as client:
        yield client


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--profile",
        choices=("fast", "long"),
        default="fast",
        help="randomized convergence: 'fast' (fixed seeds, CI) or 'long' (many more histories)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    long = metafunc.config.getoption("--profile") == "long"
    if "history_seed" in metafunc.fixturenames:
        metafunc.parametrize("history_seed", range(300 if long else 6))
    if "pipeline_seed" in metafunc.fixturenames:
        metafunc.parametrize("pipeline_seed", range(30 if long else 2))
