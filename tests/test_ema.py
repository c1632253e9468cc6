"""The EMA Workbench adapter (sim.integrations.ema).

What these protect: the model's uncertainties are exactly the scenario's uncertain values, with
their distributions; ``perform_experiments`` runs it and the outcomes are probabilities that
respond to the experiment's values; the function maps identifiers back to parameter paths.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ema_workbench")

from ema_workbench import perform_experiments  # noqa: E402

from sim.analysis import sensitivity as an  # noqa: E402
from sim.integrations.ema import ema_model, frozen_distribution, identifier  # noqa: E402
from sim.spec.scenario import load_scenario  # noqa: E402
from sim.spec.values import Normal  # noqa: E402
from tests.conftest import ROOT  # noqa: E402

SCENARIO = ROOT / "scenarios" / "stab_in_the_back.toml"


def test_uncertainties_are_the_scenario_uncertain_values_with_their_distributions():
    scenario = load_scenario(SCENARIO)
    model = ema_model(scenario, replicates=4)
    factors = an.scenario_factors(scenario)
    names = [u.name for u in model.uncertainties]
    assert names == [identifier(f.name) for f in factors]
    assert all(n.isidentifier() for n in names)
    assert [o.name for o in model.outcomes] == ["p_holds", "p_stab", "p_drift"]
    by_name = {u.name: u for u in model.uncertainties}
    for f in factors:
        dist = by_name[identifier(f.name)].dist
        assert dist.ppf(0.0) == pytest.approx(f.low) and dist.ppf(1.0) == pytest.approx(f.high)
        assert dist.ppf(0.3) == pytest.approx(float(f.ppf(0.3)))


def test_frozen_distribution_of_a_truncated_normal():
    f = an.Factor("x", Normal(dist="normal", mean=0.5, sd=0.1), 0.2, 0.8)  # mean +- 3 sd
    d = frozen_distribution(f)
    assert d.ppf(0.0) == pytest.approx(0.2) and d.ppf(1.0) == pytest.approx(0.8)
    assert d.ppf(0.5) == pytest.approx(0.5)


def test_perform_experiments_on_a_small_design():
    model = ema_model(SCENARIO, replicates=32, steps=36, include=["mechanisms.*", "alliances.china_russia.*"])
    experiments, outcomes = perform_experiments(model, scenarios=8)
    assert len(experiments) == 8
    assert "mechanisms__pressure" in experiments.columns
    p = np.column_stack([outcomes[k] for k in ("p_holds", "p_stab", "p_drift")])
    assert p.shape == (8, 3)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert np.all((p >= 0) & (p <= 1))
    # the experiments differ in their uncertainties, and the outcomes follow
    assert np.unique(p[:, 0]).size > 1


def test_the_function_answers_like_the_design_engine():
    """Calling the model's function at a point gives what evaluate_design gives there."""
    scenario = load_scenario(SCENARIO).with_run(steps=24)
    model = ema_model(scenario, replicates=16, include=["mechanisms.*"])
    fn = model.function
    factors = an.scenario_factors(scenario, ["mechanisms.*"])
    x = np.array([[float(f.ppf(0.8)) for f in factors]])
    direct = an.evaluate_design(scenario, factors, x, replicates=16, workers=1, progress=False)
    got = fn(**{identifier(f.name): float(x[0, j]) for j, f in enumerate(factors)})
    assert got == pytest.approx(direct.iloc[0].to_dict())
    with pytest.raises(an.AnalysisError, match="not an uncertainty"):
        fn(gravity=1.0)


def test_ema_model_refuses_bad_settings():
    with pytest.raises(an.AnalysisError, match="alliance"):
        ema_model(SCENARIO, alliance="nato")
    with pytest.raises(an.AnalysisError, match="no uncertain"):
        ema_model(SCENARIO, include=["nothing.*"])


def test_levers_are_exposed_and_move_the_outcomes():
    """The planted scenario's levers become EMA levers (a RealParameter per ranged lever), and a
    policy that warms the A-B tie makes the alliance hold more often than one that cools it."""
    from ema_workbench import Sample

    model = ema_model(ROOT / "tests" / "data" / "planted.toml", replicates=64)
    assert [lv.name for lv in model.levers] == ["levers__warmth", "levers__decoy"]
    assert (model.levers[0].lower_bound, model.levers[0].upper_bound) == (-0.4, 0.4)
    policies = [Sample("cool", levers__warmth=-0.4), Sample("warm", levers__warmth=0.4)]
    experiments, outcomes = perform_experiments(model, scenarios=4, policies=policies)
    warm = outcomes["p_holds"][experiments["policy"].to_numpy() == "warm"]
    cool = outcomes["p_holds"][experiments["policy"].to_numpy() == "cool"]
    assert warm.mean() > cool.mean() + 0.2
