"""One SDK boundary per package: private singer-sdk names appear in one module of each.

The SDK's private names (attributes and methods of its Tap, Stream, Target and Sink classes
whose names start with one underscore) change without notice between releases; keeping every
use of them in one adapter module per package makes an upgrade a one-file review.
"""

from __future__ import annotations

import ast
import inspect
import re
from importlib.metadata import version
from pathlib import Path

import pytest
from singer_sdk import Sink, Stream, Tap, Target

ROOT = Path(__file__).resolve().parents[2]
BOUNDARIES = {
    ROOT / "tap_convex": ROOT / "tap_convex" / "streams.py",
    ROOT / "plugins/loaders/target-parquet/target_parquet": (
        ROOT / "plugins/loaders/target-parquet/target_parquet/sdk_adapter.py"
    ),
}
_SELF_ATTRIBUTE = re.compile(r"self\.(_[a-z]\w*)")


def sdk_private_names() -> set[str]:
    """Private names the SDK's plugin classes define or assign, through their whole MRO."""
    names: set[str] = set()
    for base in (Tap, Stream, Target, Sink):
        for cls in base.__mro__:
            if not cls.__module__.startswith("singer_sdk"):
                continue
            names.update(n for n in vars(cls) if n.startswith("_") and not n.startswith("__"))
            names.update(_SELF_ATTRIBUTE.findall(inspect.getsource(cls)))
    return names


def _derives_from_sdk(node: ast.ClassDef) -> bool:
    """A class whose bases are SDK plugin classes (by the SDK's naming), or unknown calls."""
    bases = [ast.unparse(base).rsplit(".", 1)[-1] for base in node.bases]
    return any(base.endswith(("Tap", "Stream", "Target", "Sink", "Writer")) for base in bases)


def _own_names(tree: ast.AST) -> set[str]:
    """Private names that the package's own (non-SDK) classes assign on ``self``."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and not _derives_from_sdk(node):
            names.update(_SELF_ATTRIBUTE.findall(ast.unparse(node)))
    return names


def private_sdk_uses(path: Path, names: set[str], own: set[str]) -> list[str]:
    """``name:line`` for each use of an SDK private name, or import from a private module.

    A name the package's own classes assign is theirs, not the SDK's, except inside a class
    derived from an SDK class.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    uses = []
    for cls in [n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]:
        if _derives_from_sdk(cls):
            uses += [
                f"{n.attr}:{n.lineno}"
                for n in ast.walk(cls)
                if isinstance(n, ast.Attribute) and n.attr in names
            ]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in names - own:
            uses.append(f"{node.attr}:{node.lineno}")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("singer_sdk"):
            private = [part for part in (node.module or "").split(".") if part.startswith("_")]
            private += [alias.name for alias in node.names if alias.name.startswith("_")]
            uses.extend(f"{name}:{node.lineno}" for name in private)
    return sorted(set(uses))


@pytest.mark.parametrize("package", list(BOUNDARIES), ids=lambda p: p.name)
def test_only_the_adapter_module_uses_private_sdk_names(package: Path) -> None:
    names = sdk_private_names()
    assert "_write_record_message" in names  # the scan sees what it must see
    modules = sorted(package.rglob("*.py"))
    own: set[str] = set()
    for path in modules:
        own |= _own_names(ast.parse(path.read_text(encoding="utf-8")))
    outside = {
        str(path.relative_to(ROOT)): uses
        for path in modules
        if path != BOUNDARIES[package] and (uses := private_sdk_uses(path, names, own))
    }
    assert outside == {}, f"private singer-sdk names outside {BOUNDARIES[package].name}"
    assert private_sdk_uses(BOUNDARIES[package], names, own), "the adapter is the boundary"


def test_the_sdk_is_the_release_the_boundary_was_written_for() -> None:
    assert version("singer-sdk").startswith("0.54.")
