"""``alliance-sim show``: the basis of every value, what a file changes from its parent, event
targets, which of two tie entries wins, rows never cut without a way to see them whole, the hash."""

from __future__ import annotations

import pytest

from sim.cli import main
from sim.present.show import render, tie_overrides
from sim.spec.claims import load_claims
from sim.spec.scenario import load_scenario
from sim.vocabulary import BASIS_ARTICLE, BASIS_ASSUMPTION, BASIS_FIGURE
from tests.conftest import ROOT

PARENT = """
title = "parent"
claims = "claims.toml"
[actors.A]
capability = 0.5
[actors.B]
capability = 0.3
[actors.C]
capability = 0.2
[mechanisms]
noise = 0.05
[[ties]]
from = "A"
to = "B"
value = 0.5
symmetric = true
[alliances.ab]
members = ["A", "B"]
"""

CHILD = """
extends = "parent.toml"
title = "child"
[mechanisms]
noise = 0.1
balance = 0.02
[[ties]]
from = "B"
to = "A"
value = -0.2
[events.squeeze]
hazard = 0.1
effects = [{kind = "tie", from = "C", to = "A", symmetric = true, shift = -0.1},
           {kind = "ambition", actor = "A", target = "C", set = 0.5}]
"""

CLAIMS = """
[[claim]]
id = "art"
paragraph = 4
speaker = "Su Ziyun"
paraphrase = "x"
basis = "The noise as the article puts it."
grounds = [{param = "mechanisms.noise", value = 0.1, low = 0.0, high = 0.2}]
[[claim]]
id = "fig"
speaker = "SIPRI"
source = "SIPRI 2022"
paraphrase = "x"
basis = "Capability from military spending."
grounds = [{param = "actors.A.capability", value = 0.5, low = 0.4, high = 0.6}]
[[claim]]
id = "ass"
speaker = "Heider (1946)"
source = "J. Psychology"
paraphrase = "x"
basis = "Assumption with a wide range."
grounds = [{param = "mechanisms.balance", value = 0.02, low = 0.0, high = 0.1}]
"""


def _files(write):
    write(PARENT, "parent.toml")
    write(CLAIMS, "claims.toml")
    return write(CHILD, "child.toml")


def _row(text: str, path: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(path + " "))


def test_claim_kinds_follow_their_basis(write):
    kinds = {c.id: c.kind for c in load_claims(write(CLAIMS, "claims.toml"))}
    assert kinds == {"art": BASIS_ARTICLE, "fig": BASIS_FIGURE, "ass": BASIS_ASSUMPTION}
    shipped = {c.id: c.kind for c in load_claims(ROOT / "seeds" / "claims.toml")}
    # a coefficient argued from the article is still a modelling assumption
    assert shipped["m-competition"] == BASIS_ASSUMPTION and shipped["f-capability"] == BASIS_FIGURE
    assert shipped["a01"] == BASIS_ARTICLE


def test_show_prints_basis_marks_changes_and_names_event_targets(write):
    text = render(_files(write), width=200)
    assert "article" in _row(text, "mechanisms.noise") and "*" in _row(text, "mechanisms.noise")
    assert "assumption" in _row(text, "mechanisms.balance")
    assert "figure" in _row(text, "actors.A.capability")
    assert "none" in _row(text, "actors.B.capability")
    assert " + " in _row(text, "ties.1.B.A")  # new in the child
    assert " * " not in _row(text, "actors.A.capability")
    assert "effect 0: shift tie C ↔ A (both ways) by -0.1" in text
    assert "effect 1: set ambition of A over C to 0.5" in text
    assert "[tie C ↔ A (both ways)]" in _row(text, "events.squeeze.effects.0.shift")


def test_show_says_which_of_two_tie_entries_wins(write):
    scenario = load_scenario(_files(write))
    assert tie_overrides(scenario) == {0: "B→A replaced by ties.1", 1: "wins over ties.0"}
    text = render(_files(write), width=200)
    assert "B→A replaced by ties.1" in _row(text, "ties.0.A.B")
    assert "wins over ties.0" in _row(text, "ties.1.B.A")


def test_show_cuts_rows_only_with_a_note_and_wide_shows_them_whole(write):
    path = _files(write)
    narrow = render(path, width=60)
    assert "…" in narrow and "--wide shows every row whole" in narrow
    wide = render(path, wide=True)
    assert "…" not in wide and "--wide" not in wide


def test_show_prints_the_hash_a_run_records(write, tmp_path, capsys):
    import sim

    path = _files(write)
    r = sim.run_ensemble(path, replicates=20, steps=5, out=tmp_path / "r", progress=False)
    assert main(["show", str(path), "-n", "20", "-t", "5", "--wide"]) == 0
    assert f"scenario hash: {r.manifest['scenario_hash']}" in capsys.readouterr().out


def test_show_and_run_accept_a_ready_scenario_by_name(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # away from the repository: the shipped folder is found
    assert main(["show", "back_to_back", "--wide"]) == 0
    assert "Back to back" in capsys.readouterr().out
    assert main(["show", "back_to_bak"]) == 2
    err = capsys.readouterr().err
    assert "did you mean back_to_back" in err and "alliance-sim list" in err


def test_a_number_an_article_claim_marks_assumed_is_an_assumption(write):
    from sim.spec.claims import basis_of, claims_by_param, claims_for
    from sim.spec.scenario import ScenarioError

    claims = claims_by_param(load_claims(ROOT / "seeds" / "claims.toml"))
    # a12 is the article's (¶12), but the hazard of a further intervention is its assumption
    assert (
        basis_of(claims_for(claims, "events.csto_in_kazakhstan.hazard"), "events.csto_in_kazakhstan.hazard")
        == BASIS_ASSUMPTION
    )
    assert (
        basis_of(claims_for(claims, "spheres.Russia.Kazakhstan"), "spheres.Russia.Kazakhstan")
        == BASIS_ARTICLE
    )
    text = render(ROOT / "seeds" / "baseline.toml", wide=True)
    assert "assumption" in _row(text, "events.csto_in_kazakhstan.hazard")
    bad = write(
        '[[claim]]\nid = "x"\nparagraph = 1\nspeaker = "s"\nparaphrase = "p"\n'
        'grounds = [{param = "a", value = 1, low = 0, high = 2, assumed = "yes"}]\n',
        "bad_claims.toml",
    )
    with pytest.raises(ScenarioError, match="assumed must be true or false"):
        load_claims(bad)


def test_show_says_bargaining_is_off_in_every_shipped_scenario_and_how_to_turn_it_on(tmp_path):
    """Bargaining (``bargain_every``) is off in every shipped scenario; ``show`` says so, and how
    to turn it on, and says when a scenario of one's own turns it on."""
    for path in sorted((ROOT / "scenarios").glob("*.toml")):
        text = " ".join(render(path, wide=True).split())
        assert "bargaining: off" in text and "bargain_every = N under [mechanisms]" in text, path.name
    mine = tmp_path / "mine.toml"
    mine.write_text('extends = "alliance-sim:scenarios/status_quo.toml"\n[mechanisms]\nbargain_every = 6\n')
    assert "bargaining: on" in render(mine, wide=True)
