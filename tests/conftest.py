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


def stand_in_run(reps, **extra):
    """A run's face as the analyses read it, over a replicate table ``reps`` (a DataFrame): its
    columns and a reader of some of them, one alliance ``al``, and ``extra`` attributes."""
    from types import SimpleNamespace

    return SimpleNamespace(
        replicates=reps,
        columns=list(reps.columns),
        read=lambda cols: reps[list(cols)],
        alliances=["al"],
        focal="al",
        **extra,
    )


def set_path(data: dict, path: str, value, actors: list[str]) -> None:
    """Set the value at a parameter path in a scenario's data (the layout of sim.spec.parammap.slots)."""
    p = path.split(".")
    if p[0] == "ties":
        data["ties"][int(p[1])]["value"] = value
    elif p[0] == "tie_matrix":
        data["tie_matrix"][actors.index(p[1])][actors.index(p[2])] = value
    elif p[0] == "pressure" and len(p) == 3:
        next(k for k in data["pressure"][p[1]] if k["at"] == int(p[2]))["value"] = value
    elif p[0] == "events" and p[2] == "effects":
        data["events"][p[1]]["effects"][int(p[3])][p[4]] = value
    else:
        node = data
        for key in p[:-1]:
            node = node.setdefault(key, {})
        node[p[-1]] = value
