"""Scenarios of one's own: extending the shipped files from anywhere (and only them), running a
ready scenario by name, and the starter written by ``alliance-sim new``."""

from __future__ import annotations

import pytest

import sim
from sim.cli import main
from sim.spec.scenario import ScenarioError, load_scenario
from tests.conftest import ROOT


def test_a_scenario_anywhere_extends_a_shipped_file_by_name(tmp_path):
    mine = tmp_path / "mine.toml"
    mine.write_text(
        'extends = "alliance-sim:seeds/baseline.toml"\ntitle = "mine"\n[mechanisms]\ncompetition = 0.0\n'
    )
    scenario = load_scenario(mine)
    base = load_scenario(ROOT / "seeds" / "baseline.toml")
    assert scenario.title == "mine" and scenario.mechanisms.competition == 0.0
    assert list(scenario.actors) == list(base.actors)
    # the shipped parent's claims file is found (it lies in the shipped tree)
    assert scenario.claims and scenario.claims.endswith("claims.toml")


@pytest.mark.parametrize(
    "extends", ["alliance-sim:../../etc/hosts", "alliance-sim:/etc/hosts", "../../../../etc/hosts"]
)
def test_extends_still_refuses_paths_that_leave_their_tree_and_says_how_to_name_shipped_files(
    tmp_path, extends
):
    mine = tmp_path / "sub" / "mine.toml"
    mine.parent.mkdir()
    mine.write_text(f'extends = "{extends}"\n')
    # a shipped name may only be seeds/NAME.toml or scenarios/NAME.toml; a local path stays in its tree
    with pytest.raises(ScenarioError, match="expected a path inside|expected a shipped scenario") as info:
        load_scenario(mine)
    assert "alliance-sim:seeds/" in str(info.value)  # how to name a shipped file


def test_run_accepts_the_name_of_a_ready_scenario(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert (
        main(
            [
                "run",
                "back_to_back",
                "-n",
                "20",
                "-t",
                "5",
                "--no-progress",
                "--no-report",
                "--out",
                str(tmp_path / "r"),
            ]
        )
        == 0
    )
    assert sim.load_results(tmp_path / "r").name == "back_to_back"
    capsys.readouterr()
    assert main(["run", "elsewhere/back_to_back.toml", "-n", "5"]) == 2  # no such file here
    err = capsys.readouterr().err
    assert "did you mean" in err and "scenarios/back_to_back.toml" in err


def test_new_writes_a_valid_commented_starter_and_refuses_to_overwrite(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["new", "my_case"]) == 0
    path = tmp_path / "my_case.toml"
    text = path.read_text()
    assert 'extends = "alliance-sim:seeds/baseline.toml"' in text
    for kind in ("tie", "dependence", "position", "salience", "ambition", "pressure", "growth"):
        assert f"#   {kind} " in text  # every effect kind is documented
    scenario = load_scenario(path)
    assert scenario.title == "my_case"
    assert main(["new", "my_case"]) == 2
    assert "--force" in capsys.readouterr().err
    assert (
        main(
            [
                "run",
                str(path),
                "-n",
                "10",
                "-t",
                "5",
                "--no-progress",
                "--no-report",
                "--out",
                str(tmp_path / "r"),
            ]
        )
        == 0
    )


def test_the_readme_event_example_is_a_valid_scenario(tmp_path):
    """The README's event-effect example, every kind in it, loads on top of the baseline."""
    import re

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = next(
        b for b in re.findall(r"```toml\n(.*?)```", text, flags=re.S) if "[events.pipeline_deal]" in b
    )
    mine = tmp_path / "deal.toml"
    mine.write_text('extends = "alliance-sim:seeds/baseline.toml"\n' + block)
    scenario = load_scenario(mine)
    kinds = {e.kind for e in scenario.events["pipeline_deal"].effects}
    assert kinds == {"tie", "dependence", "salience", "ambition", "pressure"}
