"""What the program tells a user to type names the command they can type: ``./alliance ...`` when
it runs through the repository's script (which sets ALLIANCE_LAUNCHER), ``alliance-sim ...`` and
``pip install 'alliance-sim[extra]'`` otherwise; a missing extra is one line naming it either way."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sim.cli import main
from sim.extras import LAUNCHER_ENV, command, install_hint
from tests.conftest import ROOT


@pytest.fixture
def outside(monkeypatch):
    """An installed alliance-sim, used without the script."""
    monkeypatch.delenv(LAUNCHER_ENV, raising=False)


@pytest.fixture
def through_script(monkeypatch):
    """The program started by ``./alliance`` as the user typed it."""
    monkeypatch.setenv(LAUNCHER_ENV, "./alliance")


def test_hints_outside_the_script_name_pip_and_the_console_script(outside):
    assert install_hint("fast") == "pip install 'alliance-sim[fast]'"
    assert command("show x.toml") == "alliance-sim show x.toml"


def test_hints_through_the_script_name_it_and_the_extra(through_script):
    assert install_hint("fast").startswith("./alliance install fast ")
    assert "alliance-sim[fast]" in install_hint("fast")
    assert command("show x.toml") == "./alliance show x.toml"


def test_new_suggests_the_command_the_user_typed(through_script, tmp_path, monkeypatch, capsys):
    """`new` through the script: the next steps it prints and the starter's comments say
    `./alliance`, not `alliance-sim` (which is not on the user's PATH)."""
    monkeypatch.chdir(tmp_path)
    assert main(["new", "my_case"]) == 0
    out = capsys.readouterr().out
    assert "next: ./alliance show my_case.toml, then ./alliance run my_case.toml" in out
    text = (tmp_path / "my_case.toml").read_text()
    assert "#   ./alliance validate my_case.toml" in text and "#   ./alliance run my_case.toml" in text
    assert "alliance-sim show" not in out + text


def test_new_outside_the_script_suggests_the_console_script(outside, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["new", "my_case"]) == 0
    assert (
        "next: alliance-sim show my_case.toml, then alliance-sim run my_case.toml" in capsys.readouterr().out
    )
    assert "#   alliance-sim validate my_case.toml" in (tmp_path / "my_case.toml").read_text()


def test_missing_numba_through_the_script_says_how_to_add_it(through_script, monkeypatch, capsys):
    """`run --engine numba` without numba: exit 2, one line naming the extra and `./alliance install fast`."""
    from sim.model import numba_engine

    monkeypatch.setattr(numba_engine, "available", lambda: False)
    code = main(
        ["run", str(ROOT / "scenarios/back_to_back.toml"), "-n", "4", "--engine", "numba", "--no-report"]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert "\n" not in err
    assert "alliance-sim[fast]" in err and "./alliance install fast" in err


@pytest.mark.parametrize(
    ("hide", "args", "extra"),
    [
        (
            "SALib",
            ["sensitivity", "scenarios/back_to_back.toml", "--samples", "4", "--out", "OUT"],
            "explore",
        ),
        ("platypus", ["optimize", "scenarios/policy.toml", "--evaluations", "8", "--out", "OUT"], "levers"),
        ("solara", ["app", "--prepare-only"], "app"),
    ],
)
def test_a_missing_extra_through_the_script_names_it_in_one_line(hide, args, extra, tmp_path):
    """The program started as `./alliance` starts it, with the extra's package hidden: exit 2 and
    one line saying `./alliance install EXTRA` (the hints are fixed when the modules load, so each
    case runs in a fresh interpreter)."""
    args = [str(tmp_path / "out") if a == "OUT" else a for a in args]
    code = f"import sys; sys.modules[{hide!r}] = None\nfrom sim.cli import main\nsys.exit(main({args!r}))"
    r = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=os.environ | {LAUNCHER_ENV: "./alliance"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, r.stderr
    assert len(lines) == 1, r.stderr
    assert f"./alliance install {extra}" in lines[0] and f"alliance-sim[{extra}]" in lines[0]
    assert not (tmp_path / "out").exists()  # nothing ran
