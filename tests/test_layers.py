"""The package's layers: a module imports only its own layer and the layers below it.

spec -> model -> run -> analysis -> present -> cli / api / integrations (docs/design.md, "Layers"),
with the vocabulary, the error family and atomic file writing (sim.files) beneath them all. The check
reads every ``import`` statement of ``sim/`` (including those inside functions), so a late import
cannot slip past it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SIM = Path(__file__).resolve().parents[1] / "sim"

RANK = {
    "vocabulary": 0,
    "errors": 0,
    "extras": 0,
    "version": 0,
    "files": 0,
    "spec": 1,
    "model": 2,
    "run": 3,
    "analysis": 4,
    "present": 5,
    "app": 6,
    "cli": 6,
    "integrations": 6,
    "api": 6,
    "__init__": 7,
    "launch": 7,
}


def layer_of(module: str) -> str:
    """The layer of a dotted module name inside ``sim`` (``sim.model.dynamics`` -> ``model``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every import of a ``sim`` module in a source file."""
    tree = ast.parse(path.read_text())
    package = ".".join(("sim",) + path.relative_to(SIM).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "sim"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.split(".")[0] != "sim":
                continue
            if module == "sim":  # from sim import x: x is the module imported
                found += [(node.lineno, f"sim.{a.name}") for a in node.names]
            else:
                found.append((node.lineno, module))
    return found


def violations() -> list[str]:
    """Every import of a higher layer, as ``file:line: layer imports layer``."""
    bad = []
    for path in sorted(SIM.rglob("*.py")):
        own = layer_of(".".join(("sim",) + path.relative_to(SIM).with_suffix("").parts))
        if own not in RANK:
            bad.append(f"{path}: module outside the known layers ({own})")
            continue
        for line, module in imports(path):
            other = layer_of(module)
            if other not in RANK:
                bad.append(f"{path}:{line}: imports {module}, outside the known layers")
            elif RANK[other] > RANK[own]:
                bad.append(f"{path.relative_to(SIM.parent)}:{line}: {own} imports {module} ({other})")
    return bad


def test_no_module_imports_a_higher_layer():
    assert violations() == []


def test_the_check_catches_an_upward_import(tmp_path, monkeypatch):
    """A spec module that imports the presentation layer is reported (the check can fail)."""
    root = tmp_path / "sim"
    (root / "spec").mkdir(parents=True)
    (root / "spec" / "bad.py").write_text("def f():\n    from sim.present import plots\n")
    monkeypatch.setattr(__import__(__name__), "SIM", root)
    assert violations() == ["sim/spec/bad.py:2: spec imports sim.present (present)"]


@pytest.mark.parametrize(
    "module, layer", [("sim.model.dynamics", "model"), ("sim", "__init__"), ("sim.vocabulary", "vocabulary")]
)
def test_layer_of(module, layer):
    assert layer_of(module) == layer
