"""The architecture, checked: imports flow downwards through the four layers.

engine ← bank ← psychometrics / programme ← ui / cli  (``errors`` is shared by all).
A module may import its own layer and the layers below it; psychometrics and programme
are siblings and do not import each other; the engine imports nothing outside numpy,
scipy and the standard library.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
from support import REPO

PACKAGE = REPO / "lang_assess"
SHARED = {"lang_assess", "lang_assess.errors"}
# layer → the layers it may import (besides itself and SHARED)
ALLOWED: dict[str, set[str]] = {
    "engine": set(),
    "bank": {"engine"},
    "psychometrics": {"engine", "bank"},
    "programme": {"engine", "bank"},
    "ui": {"engine", "bank", "psychometrics", "programme"},
    "cli": {"engine", "bank", "psychometrics", "programme", "ui"},
}
ENGINE_THIRD_PARTY = {"numpy", "scipy"}


def layer_of(module: str) -> str | None:
    """``lang_assess.engine.cat.select`` → ``engine``; None for shared modules."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else None


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in a file, relative imports resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = ".".join(path.relative_to(REPO).with_suffix("").parts)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = here.split(".")[: -node.level]
                base = ".".join([*anchor, base] if base else anchor)
            if base.count(".") >= 1 or base != "lang_assess":
                out.append((node.lineno, base))
            else:  # from lang_assess import engine, ...
                out += [(node.lineno, f"{base}.{a.name}") for a in node.names]
    return out


def violations(allowed: dict[str, set[str]]) -> list[str]:
    """Every import that breaks the rules, as 'file:line: layer imports module'."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(REPO)
        mine = layer_of(".".join(rel.with_suffix("").parts))
        if mine is None:
            continue
        for line, module in imports_of(path):
            top = module.split(".")[0]
            if top == "lang_assess":
                if module in SHARED or module.startswith("lang_assess.errors"):
                    continue
                theirs = layer_of(module)
                if theirs is not None and theirs != mine and theirs not in allowed[mine]:
                    found.append(f"{rel}:{line}: {mine} imports {module}")
            elif mine == "engine" and top not in ENGINE_THIRD_PARTY and (
                    top not in sys.stdlib_module_names):
                found.append(f"{rel}:{line}: engine imports {module} (pure numpy only)")
    return found


def test_imports_flow_downwards():
    assert violations(ALLOWED) == []


def test_the_top_of_the_package_holds_only_the_layers():
    names = {p.name for p in PACKAGE.iterdir() if not p.name.startswith((".", "__pycache__"))}
    assert names == {*ALLOWED, "errors.py", "__init__.py"}


@pytest.mark.parametrize(("layer", "lower"), [
    ("programme", "bank"), ("ui", "programme"), ("cli", "ui"), ("psychometrics", "engine"),
])
def test_the_rules_bite(layer, lower):
    """Take one permitted edge away: the real code then breaks the rules."""
    stricter = {k: set(v) for k, v in ALLOWED.items()}
    stricter[layer].discard(lower)
    assert any(f": {layer} imports lang_assess.{lower}" in v for v in violations(stricter))


def test_a_lower_layer_importing_a_higher_one_is_caught(tmp_path, monkeypatch):
    """A planted upward import (engine → programme) is reported with file and line."""
    fake = tmp_path / "lang_assess" / "engine"
    fake.mkdir(parents=True)
    (fake / "bad.py").write_text("import numpy\n\nfrom lang_assess.programme import rules\n")
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    monkeypatch.setattr(sys.modules[__name__], "PACKAGE", tmp_path / "lang_assess")
    assert violations(ALLOWED) == [
        "lang_assess/engine/bad.py:3: engine imports lang_assess.programme"]
