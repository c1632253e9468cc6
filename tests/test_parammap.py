"""The parameter map: one walk over a scenario, bounds from the validating fields, used everywhere."""

from __future__ import annotations

import numpy as np
import pytest

from sim.run.ensemble import run_ensemble
from sim.spec.parammap import slots
from sim.spec.params import compile_params
from sim.spec.scenario import load_scenario
from tests.conftest import ROOT, set_path

DATA = ROOT / "tests" / "data"


BASE = """
[actors.A]
capability = 0.5
[actors.B]
capability = 0.5
[mechanisms]
noise = 0.1
[alliances.ab]
members = ["A", "B"]
[run]
steps = 6
replicates = 64
"""


@pytest.mark.parametrize("slot_path", [s.path for s in slots(load_scenario(DATA / "all_mechanisms.toml"))])
def test_sampling_bounds_are_the_validation_bounds(slot_path):
    """For every slot, a distribution filling exactly its bounds validates, one beyond either
    bound is refused, and draws are clipped to the same bounds: sampling and validation cannot
    disagree."""
    scenario = load_scenario(DATA / "all_mechanisms.toml")
    slot = {s.path: s for s in slots(scenario)}[slot_path]
    lo, hi = slot.bounds

    def with_value(v):
        d = scenario.model_dump(by_alias=True, exclude_none=True)
        set_path(d, slot_path, v, scenario.actor_names)
        return type(scenario).model_validate(d)

    inside = with_value({"dist": "uniform", "low": lo, "high": hi})
    drawn = compile_params(inside, 2000, np.random.default_rng(1)).sampled[slot_path]
    assert drawn.min() >= lo and drawn.max() <= hi
    assert drawn.max() - drawn.min() > 0.5 * (hi - lo)  # the whole range is sampled, not clipped away
    width = max(hi - lo, 1.0)
    for bad in (
        {"dist": "uniform", "low": lo - 0.1 * width, "high": hi},
        {"dist": "uniform", "low": lo, "high": hi + 0.1 * width},
    ):
        with pytest.raises(Exception, match="expected"):
            with_value(bad)


def test_a_sampled_hazard_above_one_runs_with_its_own_values(write):
    """An event hazard may be up to 1e3 per unit time: a sampled one in [4, 5] is drawn in [4, 5]
    (not clipped to 1) and recorded as such."""
    path = write(
        BASE
        + """
[events.shock]
hazard = {dist = "uniform", low = 4, high = 5}
repeat = true
effects = [{kind = "tie", from = "A", to = "B", shift = -0.01}]
"""
    )
    results = run_ensemble(path, progress=False)
    drawn = results.replicates["param:events.shock.hazard"]
    assert drawn.min() >= 4.0 and drawn.max() <= 5.0
    assert drawn.max() - drawn.min() > 0.5


def test_every_slot_once_and_in_sampling_order():
    scenario = load_scenario(ROOT / "scenarios" / "stab_in_the_back.toml")
    paths = [s.path for s in slots(scenario)]
    assert len(paths) == len(set(paths))
    drawn = list(compile_params(scenario, 3, np.random.default_rng(0)).sampled)
    assert drawn == [s.path for s in slots(scenario) if s.uncertain]
