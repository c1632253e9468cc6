"""Invariants for any valid scenario (hypothesis): bounded, finite ties; reproducible seeds."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.model import dynamics
from sim.spec.params import compile_params
from sim.spec.scenario import Scenario

unit = st.floats(0.0, 1.0)
coef = st.floats(0.0, 5.0)


@st.composite
def scenarios(draw):
    """Random valid scenarios: 2-6 actors, 0-3 issues, random ties, spheres, pressure, events."""
    A = draw(st.integers(2, 6))
    K = draw(st.integers(0, 3))
    names = [f"a{i}" for i in range(A)]
    issues = {f"k{k}": {"low": 0.0, "high": 10.0} for k in range(K)}
    data = {
        "actors": {
            n: {"capability": draw(st.floats(0.0, 10.0)), "growth": draw(st.floats(-0.5, 0.5))} for n in names
        },
        "issues": issues,
        "positions": {n: {k: draw(st.floats(0.0, 10.0)) for k in issues} for n in names},
        "salience": {n: {k: draw(st.floats(0.01, 1.0)) for k in issues} for n in names},
        "tie_matrix": [[draw(st.floats(-1.0, 1.0)) for _ in names] for _ in names],
        "spheres": {names[0]: {names[-1]: draw(unit)}},
        "dependence": {names[-1]: {names[0]: draw(st.floats(0.0, 10.0))}},
        "pressure": {n: draw(st.floats(0.0, 10.0)) for n in names},
        "mechanisms": {
            c: draw(coef)
            for c in ("affinity", "balance", "threat", "pressure", "competition", "dependence", "noise")
        },
        "alliances": {
            "x": {
                "members": names[:2],
                "h0": draw(unit),
                "beta": draw(st.floats(0, 20)),
                "power_shift": draw(st.floats(0, 20)),
            }
        },
        "events": {
            "e": {
                "hazard": draw(st.floats(0.0, 5.0)),
                "repeat": True,
                "effects": [
                    {"kind": "tie", "from": names[0], "to": names[1], "shift": draw(st.floats(-3.0, 3.0))}
                ],
            }
        },
        "run": {"steps": draw(st.integers(1, 30)), "dt": draw(st.floats(0.01, 10.0))},
    }
    return Scenario.model_validate(data)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.integers(0, 2**32 - 1))
def test_ties_stay_bounded_and_finite(scenario, seed):
    params = compile_params(scenario, 5, np.random.default_rng(seed))
    state = dynamics.run(params, np.random.default_rng(seed))
    W = state.ties
    assert np.isfinite(W).all()
    assert W.min() >= -1.0 and W.max() <= 1.0
    assert np.isfinite(state.capability).all()
    np.testing.assert_allclose(state.capability.sum(axis=1), 1.0)
    assert set(np.unique(state.fate)) <= {dynamics.HOLDS, dynamics.STAB, dynamics.DRIFT}


@settings(max_examples=25, deadline=None)
@given(scenarios(), st.integers(0, 2**32 - 1))
def test_same_seed_same_result(scenario, seed):
    def once():
        params = compile_params(scenario, 4, np.random.default_rng(seed))
        s = dynamics.run(params, np.random.default_rng(seed + 1))
        return s.ties, s.fate, s.end_step

    a, b = once(), once()
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
