"""The Mesa model: agents, ties, data collection, and mesa.batch_run."""

from __future__ import annotations

import mesa
import numpy as np
import pytest

from sim.model.agents import AllianceModel, Country
from tests.conftest import ROOT

B2B = ROOT / "scenarios" / "back_to_back.toml"


def test_model_has_one_country_per_actor():
    model = AllianceModel(B2B, rng=1)
    names = [c.name for c in model.agents]
    assert names[:2] == ["China", "Russia"] and len(names) == 10
    china = model.countries[0]
    assert isinstance(china, Country)
    assert set(china.positions) == set(model.issue_names)
    assert 0 < china.capability < 1
    assert model.ties.shape == (10, 10)
    assert china.ties["Russia"] == pytest.approx(model.ties[0, 1])


def test_run_for_steps_and_collects():
    model = AllianceModel(B2B, rng=2)
    model.run_for(24)
    assert model.state.t == 24
    frame = model.datacollector.get_model_vars_dataframe()
    assert len(frame) == 25
    assert {"cohesion:china_russia", "status:china_russia"} <= set(frame.columns)
    assert frame["cohesion:china_russia"].between(-1, 1).all()
    status = model.alliance_status()["china_russia"]
    assert status["status"] in ("active", "ended")


def test_model_is_the_kernel_with_one_replicate():
    """AllianceModel drives sim.model.dynamics: same seed, same trajectory as calling the kernel."""
    from sim.model import dynamics

    model = AllianceModel(B2B, rng=5)
    model.run_for(12)
    rng = np.random.default_rng(5)
    from sim.spec.params import compile_params

    # Mesa's Model seeds self.rng with default_rng(rng); reproduce that sequence.
    params = compile_params(model.spec, 1, rng)
    state = dynamics.initial_state(params)
    E, M = dynamics.stochastic_event_count(params), dynamics.member_count(params)
    for _ in range(12):
        dynamics.step(params, state, dynamics.draw(rng, 1, params.A, E, M))
    np.testing.assert_array_equal(state.ties[0], model.ties)


def test_stops_at_horizon_under_batch_run():
    results = mesa.batch_run(
        AllianceModel,
        parameters={"scenario": str(B2B)},
        rng=[1, 2],
        max_steps=500,
        number_processes=1,
        display_progress=False,
    )
    assert {row["RunId"] for row in results} == {0, 1}
    assert len(results) == 2 * 10  # one row per country (agent reporter) and run
    horizon = AllianceModel(B2B, rng=0).horizon
    for row in results:
        assert row["Step"] == horizon
        assert -1 <= row["cohesion:china_russia"] <= 1
    by_run = {(row["RunId"], row["AgentID"]): row["capability"] for row in results}
    assert any(by_run[(0, a)] != by_run[(1, a)] for a in range(1, 11))
