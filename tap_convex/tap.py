"""``tap-convex``: the Singer tap, its discovery and its sync entry point."""

from __future__ import annotations

import gc
import json
import logging
import sys
from functools import cached_property
from pathlib import Path
from typing import Any, cast

from singer_sdk import Tap
from singer_sdk import singerlib as singer
from singer_sdk.helpers.capabilities import PluginCapabilities, TapCapabilities

from tap_convex.client import ConvexClient
from tap_convex.discovery import discover_tables
from tap_convex.errors import TapConvexError
from tap_convex.output import CheckpointFlushingWriter
from tap_convex.progress import Progress
from tap_convex.settings import CONFIG_SCHEMA, Settings
from tap_convex.streams import (
    ConvexTableStream,
    deployment_catalog,
    reset_state_progress_markers,
)
from tap_convex.sync import SyncOptions, run_sync

logger = logging.getLogger("tap_convex")
# One line per HTTP request drowns the sync's own progress; failures are logged by the client.
logging.getLogger("httpx").setLevel(logging.WARNING)


class TapConvex(Tap):
    """Every table of every component of a Convex deployment: a snapshot, then its changes."""

    name = "tap-convex"
    package_name = "tap-convex"
    dynamic_catalog = True
    config_jsonschema = CONFIG_SCHEMA
    message_writer_class = CheckpointFlushingWriter
    # No BATCH: records of all streams come from one shared walk, written as RECORD messages.
    capabilities = [  # noqa: RUF012 - the SDK declares it as a list attribute
        TapCapabilities.CATALOG,
        TapCapabilities.STATE,
        TapCapabilities.DISCOVER,
        TapCapabilities.ACTIVATE_VERSION,
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
        PluginCapabilities.STRUCTURED_LOGGING,
    ]

    @property
    def catalog(self) -> singer.Catalog:
        """The working catalog, from which SCHEMA messages are built: with an input catalog,
        its streams and columns over the deployment's current types, so that a saved
        catalog's stale types never announce a schema the records do not fit."""
        if self.input_catalog is None:
            return super().catalog
        if self._working_catalog is None:
            streams = [s for s in self.streams.values() if isinstance(s, ConvexTableStream)]
            self._working_catalog = deployment_catalog(streams)
        return self._working_catalog

    _working_catalog: singer.Catalog | None = None

    @cached_property
    def settings(self) -> Settings:
        """The validated settings (a ConfigError names a bad one)."""
        return Settings.from_config(self.config)

    @cached_property
    def client(self) -> ConvexClient:
        """One connection pool for the whole run."""
        return ConvexClient(self.settings)

    def discover_streams(self) -> list[ConvexTableStream]:
        """One stream per table of every component."""
        return [ConvexTableStream(self, info) for info in discover_tables(self.client)]

    def run_discovery(self) -> str:
        """``--discover``: print the catalog, then close the connection (no socket left open)."""
        try:
            return super().run_discovery()
        finally:
            self.client.close()

    def load_state(self, state: dict[str, Any]) -> None:
        """Refuse a state that is not a Singer state with a bookmarks map, in one line."""
        if not isinstance(state, dict) or not isinstance(state.get("bookmarks", {}), dict):
            raise TapConvexError(
                "The state is not a Singer state object with a 'bookmarks' map; pass the last "
                "STATE the tap emitted, or no state to start over."
            )
        super().load_state(state)
        if "data_sync" in state:  # the data_sync transport's cursor, next to the bookmarks
            cast("dict[str, Any]", self.state)["data_sync"] = state["data_sync"]

    # The SDK marks sync_all final: its loop syncs streams one by one, each with its own
    # requests, while this tap reads every table in one shared snapshot walk and one
    # change-log walk. Overriding it is the one way to keep that cost (one walk, whatever the
    # number of tables), so it is overridden on purpose.
    def sync_all(self) -> None:  # type: ignore[misc]  # one shared walk instead of per stream
        """Replace the SDK's stream-by-stream loop with one shared walk for all streams."""
        reset_state_progress_markers(self)
        self._warn_about_vanished_streams()
        # Everything allocated so far (the SDK, schemas, catalog) lives until exit: move it out
        # of the collector's view so its full collections stop rescanning it on every page.
        gc.freeze()
        selected = [
            stream
            for stream in self.streams.values()
            if isinstance(stream, ConvexTableStream) and stream.selected
        ]
        try:
            run_sync(
                self.client,
                selected,
                write_state=lambda: self.state_writer.write_state(self.state),
                progress=Progress(self.settings.progress_interval_seconds),
                options=SyncOptions(
                    resnapshot_expired=self.settings.on_expired_position == "resnapshot",
                    transport=self.settings.transport,
                    state=cast("dict[str, Any]", self.state),
                ),
            )
        finally:
            self.client.close()

    def _warn_about_vanished_streams(self) -> None:
        """A selected stream whose table is gone is skipped loudly, and the others go on."""
        if self.input_catalog is None:
            return
        for entry in self.input_catalog.streams:
            root = entry.metadata.root
            if root.selected and entry.tap_stream_id not in self.streams:
                logger.warning(
                    "Stream %r is selected but its table no longer exists in the deployment; "
                    "skipping it. Its bookmark is kept.",
                    entry.tap_stream_id,
                )


def check_input_files(argv: list[str]) -> None:
    """Read the --config/--state/--catalog files first, so a broken one is named in one line."""
    for flag, what in (("--config", "config"), ("--state", "state"), ("--catalog", "catalog")):
        for index, arg in enumerate(argv[:-1]):
            if arg != flag or argv[index + 1] == "ENV":
                continue
            path = Path(argv[index + 1])
            try:
                content = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                raise TapConvexError(f"Cannot read the {what} file {path}: {error}") from None
            if not isinstance(content, dict):
                raise TapConvexError(f"The {what} file {path} must hold a JSON object.")
            if what == "catalog" and not isinstance(content.get("streams"), list):
                raise TapConvexError(
                    f"The catalog file {path} has no 'streams' list; produce one with --discover."
                )


def main() -> None:
    """Console entry point: tap-convex's own errors become one line and exit code 1."""
    try:
        check_input_files(sys.argv[1:])
        TapConvex.cli()
    except TapConvexError as error:
        print(f"tap-convex: error: {error}", file=sys.stderr)
        sys.exit(1)
