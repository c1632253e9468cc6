"""The app's ensemble view (sim.present.ensemble_view): common random numbers, figures that follow
the sliders, and the scenario file it writes."""

from __future__ import annotations

import shutil
import time

import pytest

solara = pytest.importorskip("solara")
v = pytest.importorskip("ipyvuetify")

from sim.cli import main  # noqa: E402
from sim.present import ensemble_view as ev  # noqa: E402
from sim.spec.scenario import load_scenario  # noqa: E402
from tests.conftest import ROOT  # noqa: E402


def test_settings_share_their_random_numbers():
    a = ev.simulate(ev.Setting(), 200, seed=3, steps=40)
    again = ev.simulate(ev.Setting(), 200, seed=3, steps=40)
    assert a.table.equals(again.table)
    off = ev.simulate(ev.Setting().with_multiplier("competition", 0.0), 200, seed=3, steps=40)
    other_seed = ev.simulate(ev.Setting(), 200, seed=4, steps=40)
    col = "china_russia.end_step"
    assert not a.table[col].equals(off.table[col])
    # common random numbers: a changed setting moves fewer replicates than a changed seed
    assert (a.table[col] != off.table[col]).sum() < (a.table[col] != other_seed.table[col]).sum()
    assert any(c.startswith("why:china_russia.") for c in a.table.columns)


def test_written_scenario_is_accepted_by_run(capsys):
    setting = ev.Setting("stab_in_the_back").with_multiplier("threat", 0.5)
    setting = ev.Setting(setting.scenario, setting.multipliers, 1.5)
    folder = ROOT / "results" / "test-ensemble-view"
    try:
        path = ev.write_scenario(setting, folder / "b.toml")
        loaded = load_scenario(path)
        built = ev.build(setting)
        assert loaded.mechanisms.model_dump() == built.mechanisms.model_dump()
        assert loaded.model_dump()["pressure"] == built.model_dump()["pressure"]
        assert main(["run", str(path), "-n", "20", "-t", "5", "--no-report", "--no-progress",
                     "--out", str(folder / "run"), "-j", "1"]) == 0
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _wait_for(rc, predicate, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("timed out waiting for the ensemble view")


def test_slider_change_updates_the_figures():
    """Moving a slider of setting B re-runs the ensembles and replaces the three figures."""
    import ipywidgets

    _, rc = solara.render(ev.EnsembleView(replicates=100, debounce=0.0), handle_error=False)

    def status():
        return [str(w.children[0]) for w in rc.find(v.Html).widgets
                if w.children and "updated in" in str(w.children[0])]

    def figures():
        return [w.value for w in rc.find(ipywidgets.Image).widgets]

    _wait_for(rc, lambda: status() and len(figures()) == 3)
    before = figures()
    sliders = [s for s in rc.find(v.Slider).widgets if s.label == "competition ×"]
    assert len(sliders) == 2  # one per setting
    sliders[1].v_model = 0.0
    _wait_for(rc, lambda: len(figures()) == 3 and figures() != before)
    after = figures()
    assert after[0] != before[0] and after[2] != before[2]  # the fate bars and the why bars moved
