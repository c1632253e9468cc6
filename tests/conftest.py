"""Shared fixtures: small scenarios written to temporary files."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture
def write(tmp_path):
    """Write a TOML text (dedented) to a file under tmp_path and return its path."""

    def _write(text: str, name: str = "scenario.toml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path

    return _write


@pytest.fixture
def full_scenario() -> Path:
    """A four-actor scenario with every mechanism, event kind and alliance feature switched on."""
    return DATA / "all_mechanisms.toml"
