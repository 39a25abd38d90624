"""A Convex streaming-export emulator: a real HTTP server for tests, benchmarks and demos."""

from convex_emulator.admin_client import EmulatorClient
from convex_emulator.clock import Clock
from convex_emulator.faults import Fault
from convex_emulator.server import EmulatorServer, ServerOptions
from convex_emulator.store import Store, StoreConfig

__all__ = [
    "Clock",
    "EmulatorClient",
    "EmulatorServer",
    "Fault",
    "ServerOptions",
    "Store",
    "StoreConfig",
]
