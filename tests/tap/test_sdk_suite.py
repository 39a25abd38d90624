"""The Meltano SDK's built-in tap tests, run against a demo emulator on loopback."""

from __future__ import annotations

import atexit

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from convex_emulator import EmulatorServer, Store, datasets
from tap_convex.tap import TapConvex

_store = Store(seed=3)
datasets.load_demo(_store)
_server = EmulatorServer(_store).start()
atexit.register(_server.stop)

TestTapConvexSDKSuite = get_tap_test_class(
    tap_class=TapConvex,
    config={"deployment_url": _server.url, "deploy_key": _server.admin_key},
    suite_config=SuiteConfig(ignore_no_records_for_streams=["drafts"]),
)
