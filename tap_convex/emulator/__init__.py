"""A Convex streaming-export emulator: a real HTTP server for tests, benchmarks and demos."""

from tap_convex.emulator.client import EmulatorClient
from tap_convex.emulator.clock import Clock
from tap_convex.emulator.faults import Fault
from tap_convex.emulator.server import EmulatorServer, ServerOptions
from tap_convex.emulator.store import Store, StoreConfig

__all__ = [
    "Clock",
    "EmulatorClient",
    "EmulatorServer",
    "Fault",
    "ServerOptions",
    "Store",
    "StoreConfig",
]
