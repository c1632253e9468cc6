"""Force attribution (sim.model.attribution): the parts add up to the observed change of the tie."""

from __future__ import annotations

import numpy as np
import pytest

from sim.model import dynamics
from sim.model.attribution import CLIPPING, DEFECTIONS, Attribution
from sim.spec.params import compile_params
from sim.spec.scenario import load_scenario
from sim.vocabulary import MECHANISMS, parse_why_column, why_column

SCENARIOS = ["tests/data/all_mechanisms.toml", "scenarios/stab_in_the_back.toml"]


def _run(path, n=160, seed=1, window=12, record=None):
    params = compile_params(load_scenario(path), n, np.random.default_rng(seed))
    why = Attribution(params, window=window)
    state = dynamics.run(params, np.random.default_rng(seed + 1), why=why, record=record)
    why.finish(state)
    return params, why, state


@pytest.mark.parametrize("path", SCENARIOS)
def test_parts_add_up_to_the_change(path):
    """Forces + events + defections + clipping == the tracked mean's change, to 1e-6 of the change."""
    params, why, state = _run(path)
    change = why.end_value - why.start_value
    booked = why.run_parts.sum(axis=-1)
    assert np.abs(change).max() > 0.1  # the ties really moved
    assert np.all(np.abs(booked - change) <= 1e-6 * np.abs(change) + 1e-12)
    assert (~state.active).any() and state.active.any()  # both kinds of ending are checked
    # every mechanism that is on did something somewhere
    on = [m for m in MECHANISMS if np.any(params.coef[m])]
    for m in on:
        assert np.abs(why.run_parts[..., why.forces.index(m)]).max() > 0, m


def test_parts_are_not_the_residual():
    """Dropping one booked term breaks the identity: the parts are computed, not inferred."""
    _, why, _ = _run(SCENARIOS[0])
    change = why.end_value - why.start_value
    for k, force in enumerate(why.forces):
        parts = np.delete(why.run_parts, k, axis=-1).sum(axis=-1)
        if np.abs(why.run_parts[..., k]).max() > 1e-6:
            assert np.abs(parts - change).max() > 1e-7, force


@pytest.mark.parametrize("path", SCENARIOS)
def test_window_adds_up_to_the_change_over_the_window(path):
    """The window's parts equal the change of the tracked mean over the last steps before the end."""
    seen = []
    K = 12
    params, why, state = _run(path, window=K, record=lambda st: seen.append(st.ties.copy()))
    T = params.steps
    n = params.n
    for a, al in enumerate(params.alliances):
        m = list(al.members)
        k = len(m)
        for r in range(n):
            if state.active[r, a]:
                since = max(T - K, 0)
                pairs = [(i, j) for i in m for j in m if i != j]
                value = np.mean([seen[since][r, i, j] for i, j in pairs])
            else:
                e = int(state.end_step[r, a])
                since = max(e - K + 1, 0)
                d = int(state.defector[r, a])
                value = np.mean([seen[since][r, d, j] for j in m if j != d])
            assert k >= 2
            assert why.window_parts[r, a].sum() == pytest.approx(why.end_value[r, a] - value, abs=1e-9)


def test_attribution_leaves_the_run_unchanged():
    params = compile_params(load_scenario(SCENARIOS[0]), 50, np.random.default_rng(4))
    plain = dynamics.run(params, np.random.default_rng(5), dtype=np.float32)
    booked = dynamics.run(params, np.random.default_rng(5), dtype=np.float32, why=Attribution(params))
    assert np.array_equal(plain.ties, booked.ties)
    assert np.array_equal(plain.fate, booked.fate)


def test_step_without_a_stepper_gives_the_same_bits():
    """A fresh Stepper each step rebuilds every cache: the caches never change a result."""
    params = compile_params(load_scenario(SCENARIOS[0]), 20, np.random.default_rng(6))
    E, M = dynamics.stochastic_event_count(params), dynamics.member_count(params)
    a, b = dynamics.initial_state(params), dynamics.initial_state(params)
    stepper = dynamics.Stepper(params)
    rng = np.random.default_rng(7)
    for _ in range(params.steps):
        d = dynamics.draw(rng, params.n, params.A, E, M)
        stepper.step(a, d)
        dynamics.step(params, b, d)
    assert np.array_equal(a.ties, b.ties) and np.array_equal(a.position, b.position)
    assert np.array_equal(a.capability, b.capability) and np.array_equal(a.fate, b.fate)


def test_columns_name_every_force_per_alliance():
    params, why, _ = _run(SCENARIOS[1], n=20)
    cols = why.columns()
    names = [al.name for al in params.alliances]
    assert why.forces[: len(MECHANISMS)] == MECHANISMS
    assert why.forces[-2:] == (DEFECTIONS, CLIPPING)
    assert any(f.startswith("event:") for f in why.forces)
    assert len(cols) == 2 * len(names) * len(why.forces)
    for name in names:
        for force in why.forces:
            assert parse_why_column(why_column(name, force), names) == (name, force, False)
            assert parse_why_column(why_column(name, force, window=True), names) == (name, force, True)
            assert cols[why_column(name, force)].shape == (20,)


def test_engine_adds_why_columns_and_nothing_else_changes(tmp_path):
    from sim.run.ensemble import run_ensemble

    kw = dict(replicates=64, steps=30, seed=3, progress=False, chunk_size=32)
    on = run_ensemble(SCENARIOS[1], out=tmp_path / "on", why=True, **kw).replicates
    off = run_ensemble(SCENARIOS[1], out=tmp_path / "off", why=False, **kw).replicates
    extra = [c for c in on.columns if c not in off.columns]
    assert extra and all(c.startswith("why:") for c in extra)
    assert on[list(off.columns)].equals(off)
    names = ["china_russia", "csto"]
    parts = [
        c
        for c in extra
        if parse_why_column(c, names) == ("china_russia", parse_why_column(c, names)[1], False)
    ]
    assert len(parts) >= len(MECHANISMS) + 2
