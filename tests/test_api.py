"""The public API a newcomer discovers from ``import sim``.

What these protect: every name ``sim.__all__`` promises resolves and shows in ``dir(sim)`` (tab
completion), so a lazily loaded name is not hidden; each analysis entry point passes what it is
given to the function the command line calls; each says in a numpy-style docstring what it
takes, returns and how it is called; and two of them run end to end on a small scenario.
"""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import numpy as np
import pytest

import sim
from tests.conftest import DATA, ROOT

ENTRY_POINTS = {  # the flat name -> the function it calls
    "compare": "sim.analysis.compare.compare",
    "sweep": "sim.analysis.sweep.run_sweep",
    "experiment": "sim.analysis.experiment.run_experiment",
    "export": "sim.run.export.export_table",
    "sensitivity": "sim.analysis.sensitivity.run_sensitivity",
    "discover": "sim.analysis.discovery.discover",
    "levers": "sim.analysis.levers.evaluate",
    "optimize": "sim.analysis.optimize.optimize",
    "vulnerability": "sim.analysis.policy_tables.vulnerability",
    "calibrate": "sim.analysis.calibration.calibrate",
    "score": "sim.analysis.calibration.score_scenarios",
}


def test_every_public_name_resolves_and_is_listed():
    for name in sim.__all__:
        assert getattr(sim, name) is not None, name
    assert set(sim.__all__) <= set(dir(sim))
    assert {"run_ensemble", "load_scenario", "load_results", "AllianceModel", *ENTRY_POINTS} <= set(
        sim.__all__
    )
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        sim.nothing  # noqa: B018


def test_import_sim_stays_light():
    """``import sim`` loads neither the engine nor the analyses until a name is used."""
    code = (
        "import sys, sim; print(sorted(m for m in sys.modules if m.startswith(('sim.run', 'sim.analysis'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("name", sorted(ENTRY_POINTS))
def test_entry_points_are_documented_numpy_style(name):
    doc = inspect.getdoc(getattr(sim, name))
    for section in ("Parameters\n----------", "Returns\n-------", "Examples\n--------", f"sim.{name}("):
        assert section in doc, (name, section)
    # every parameter the entry point names is described
    for p in inspect.signature(getattr(sim, name)).parameters.values():
        if p.kind is not p.VAR_KEYWORD:
            assert p.name in doc, (name, p.name)


@pytest.mark.parametrize("name", sorted(ENTRY_POINTS))
def test_entry_points_pass_their_arguments_on(name, monkeypatch):
    """Each keyword the entry point takes is one the function it calls takes, and arrives there."""
    module, attr = ENTRY_POINTS[name].rsplit(".", 1)
    target = inspect.signature(getattr(importlib.import_module(module), attr)).parameters
    seen = {}
    monkeypatch.setattr(f"{module}.{attr}", lambda *a, **k: seen.update(k) or "done")
    monkeypatch.setattr("sim.api._scenario", lambda s: _FakeScenario())
    monkeypatch.setattr("sim.analysis.sweep.sweep_values", lambda v: v)
    monkeypatch.setattr("sim.api._factors", lambda f: f)
    params = inspect.signature(getattr(sim, name)).parameters
    keywords = [p for p in params.values() if p.kind is p.KEYWORD_ONLY]
    given = {"scenarios": ["a.toml"], "observations": "o.toml"}
    args = [
        given.get(p.name, object())
        for p in params.values()
        if p.default is p.empty and p.kind is p.POSITIONAL_OR_KEYWORD
    ]
    values = {p.name: f"value of {p.name}" for p in keywords}
    if name == "discover":
        args[0] = type("R", (), {"replicates": None})()
    assert getattr(sim, name)(*args, **values) == "done"
    for key, value in values.items():
        if name in ("sweep", "experiment") and key == "steps":
            continue  # applied to the scenario (Scenario.with_run)
        assert key in target, (name, key)
        assert seen[key] == value, (name, key)


class _FakeScenario:
    def with_run(self, **changes):
        return self


def test_sweep_and_compare_run_end_to_end(tmp_path):
    scenario = DATA / "all_mechanisms.toml"
    swept = sim.sweep(
        scenario, "mechanisms.noise", [0.0, 0.1], replicates=20, steps=10, seed=1, progress=False
    )
    assert sorted(swept.table["value"].unique()) == [0.0, 0.1]
    assert np.allclose(swept.table.groupby("value")["p"].sum(), 1.0)
    c = sim.compare(
        [scenario, ROOT / "tests" / "data" / "planted.toml"], tmp_path, replicates=30, steps=8, seed=2
    )
    assert [r.n for r in c.runs] == [30, 30] and c.reused == [False, False]
    again = sim.compare([scenario], tmp_path, replicates=30, steps=8, seed=2)
    assert again.reused == [True]
