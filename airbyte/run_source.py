"""Run the declarative Convex source with Airbyte's command-line protocol.

``python airbyte/run_source.py spec|check|discover|read --config C [--catalog K] [--state S]``
(``scripts/airbyte-source-convex`` runs it from ``.venv-airbyte``). It does what Airbyte's
``source-declarative-manifest`` image does for a manifest-only connector: the manifest and
its ``components.py`` make the source, and ``spec`` prints this connector's own spec (the
CDK's ``source-declarative-manifest`` command prints a generic one). Tests build the same
source with :func:`build_source`. Imports the CDK and the standard library only.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airbyte_cdk.entrypoint import AirbyteEntrypoint, launch
from airbyte_cdk.sources.declarative.yaml_declarative_source import YamlDeclarativeSource

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airbyte_cdk.models import AirbyteStateMessage, ConfiguredAirbyteCatalog

CONNECTOR_DIR = Path(__file__).resolve().parent / "source-convex"
MANIFEST = CONNECTOR_DIR / "manifest.yaml"
# The names Airbyte's runtime registers a manifest-only connector's components.py under.
COMPONENT_MODULES = ("source_declarative_manifest.components", "components")


def register_components() -> None:
    """Load ``components.py`` once, under the module names the manifest refers to."""
    if COMPONENT_MODULES[0] in sys.modules:
        return
    spec = importlib.util.spec_from_file_location("components", CONNECTOR_DIR / "components.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {CONNECTOR_DIR.name}/components.py")
    module = importlib.util.module_from_spec(spec)
    for name in COMPONENT_MODULES:
        sys.modules[name] = module
    spec.loader.exec_module(module)


def build_source(
    config: Mapping[str, Any] | None = None,
    catalog: ConfiguredAirbyteCatalog | None = None,
    state: list[AirbyteStateMessage] | None = None,
    config_path: str | None = None,
) -> YamlDeclarativeSource:
    """The source, as Airbyte's manifest-only runtime builds it from these two files."""
    register_components()
    return YamlDeclarativeSource(
        path_to_yaml=str(MANIFEST),
        config=config,
        catalog=catalog,
        state=state,
        config_path=config_path,
    )


def main(argv: list[str]) -> None:
    """Parse the protocol's arguments, build the source from them and run the command."""
    parsed = AirbyteEntrypoint.parse_args(argv)
    config = catalog = None
    state: list[AirbyteStateMessage] = []
    if getattr(parsed, "config", None):
        config = YamlDeclarativeSource.read_config(parsed.config)
    if getattr(parsed, "catalog", None):
        catalog = YamlDeclarativeSource.read_catalog(parsed.catalog)
    if getattr(parsed, "state", None):
        state = YamlDeclarativeSource.read_state(parsed.state)
    source = build_source(config, catalog, state, getattr(parsed, "config", None))
    launch(source, argv)


if __name__ == "__main__":
    main(sys.argv[1:])
