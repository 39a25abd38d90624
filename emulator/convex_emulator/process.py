"""``convex-emulator`` as a child process, for the demo and benchmarks (no GIL shared with them)."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


class EmulatorProcess:
    """Start ``convex-emulator`` with ``options``, wait until it serves, stop it on exit."""

    def __init__(self, *options: str, stderr_path: Path | None = None) -> None:
        command = [sys.executable, "-m", "convex_emulator.cli", "--port", "0", *options]
        started = time.perf_counter()
        with contextlib.ExitStack() as files:
            stderr = (
                files.enter_context(stderr_path.open("wb")) if stderr_path else subprocess.DEVNULL
            )
            self.process = subprocess.Popen(  # noqa: S603 - this interpreter, this package's CLI
                command, stdout=subprocess.PIPE, stderr=stderr, text=True
            )
        line = self.process.stdout.readline() if self.process.stdout else ""
        if not line:  # the ready line is the first thing it prints
            self.stop()
            detail = stderr_path.read_text()[-2000:] if stderr_path else ""
            raise RuntimeError(f"convex-emulator exited before serving: {command}\n{detail}")
        self.ready_s = time.perf_counter() - started
        ready = json.loads(line)
        self.url: str = ready["url"]
        self.admin_key: str = ready["admin_key"]

    def stop(self, timeout: float = 30) -> None:
        """Ask the emulator to stop (SIGTERM), killing it after ``timeout`` seconds."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
