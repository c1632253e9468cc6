"""Levers, metrics and correlations in scenario files: validation, application to the arrays, and
the Gaussian copula of correlated uncertainties."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sim.spec.correlation import correlation_matrix, sample_values
from sim.spec.lever_values import snap, status_quo
from sim.spec.params import assemble, compile_params, sample
from sim.spec.scenario import ScenarioError, load_scenario
from sim.spec.values import Triangular
from tests.conftest import DATA, ROOT

LEVERS = """

[levers.warm]
owner = "C"
claim = "x"
low = -0.5
high = 0.5
effects = [{kind = "tie", from = "A", to = "B", symmetric = true}]

[levers.squeeze]
owner = "D"
claim = "x"
low = 0
high = 3
integer = true
effects = [{kind = "pressure", actor = "A", scale = 0.1}, {kind = "hazard", event = "e2", scale = 0.01}]

[levers.prize]
owner = "A"
claim = "x"
options = {low = 0.5, high = 2.0}
status_quo = "low"
effects = [{kind = "strategic_value", actor = "D", op = "set"},
           {kind = "ambition", actor = "B", target = "D", scale = 0.5}]

[metrics.ab_holds]
kind = "p_holds"
alliance = "ab"
direction = "maximize"
threshold = 0.5

[metrics.spend]
kind = "cost"
levers = ["squeeze"]
direction = "minimize"
"""


@pytest.fixture
def lever_scenario(write):
    return load_scenario(write((DATA / "all_mechanisms.toml").read_text() + LEVERS))


def test_levers_and_metrics_are_read(lever_scenario):
    """A scenario's levers and metrics are validated models with their status quo and bounds."""
    s = lever_scenario
    assert list(s.levers) == ["warm", "squeeze", "prize"]
    assert status_quo(s) == {"warm": 0.0, "squeeze": 0.0, "prize": 0.5}
    assert s.levers["prize"].bounds == (0.5, 2.0)
    assert s.metrics["spend"].sign == -1.0 and s.metrics["ab_holds"].sign == 1.0


def test_apply_levers_moves_each_target(lever_scenario):
    """Each effect kind lands on its array: ties both ways (clipped to [-1, 1]), the whole
    pressure schedule, an event's hazard, a strategic value set, an ambition shifted."""
    s = lever_scenario
    n = 4
    drawn = sample(s, n, np.random.default_rng(3))
    base = compile_params(s, n, np.random.default_rng(3))  # levers at their status quo
    values = {
        "levers.warm": np.array([-0.5, 0.0, 0.5, 0.5]),
        "levers.squeeze": np.array([0.0, 1.0, 2.0, 3.0]),
        "levers.prize": np.array([0.5, 2.0, 2.0, 0.5]),
    }
    p = assemble(s, n, {**drawn, **values})
    a, b, d = (p.actors.index(x) for x in "ABD")
    np.testing.assert_allclose(p.ties[:, a, b], np.clip(base.ties[:, a, b] + values["levers.warm"], -1, 1))
    np.testing.assert_allclose(p.ties[:, b, a], np.clip(base.ties[:, b, a] + values["levers.warm"], -1, 1))
    assert p.ties[2, a, b] == 0.9  # 0.4 + 0.5
    np.testing.assert_allclose(
        p.pressure_values[:, a, :], base.pressure_values[:, a, :] + 0.1 * values["levers.squeeze"][:, None]
    )
    e2 = [e.name for e in p.events].index("e2")
    np.testing.assert_allclose(p.events[e2].hazard, 0.05 + 0.01 * values["levers.squeeze"])
    np.testing.assert_allclose(p.strategic_value[:, d], values["levers.prize"])
    np.testing.assert_allclose(p.ambition[:, b, d], np.clip(0.6 + 0.5 * values["levers.prize"], 0, 1))
    # untouched arrays stay as drawn; the lever values are recorded with the replicates
    np.testing.assert_array_equal(p.dependence, base.dependence)
    np.testing.assert_array_equal(p.sampled["levers.squeeze"], values["levers.squeeze"])


def test_levers_at_status_quo_leave_shifts_alone(lever_scenario):
    """Without lever values, shift levers with status quo 0 change nothing; a set lever is held at
    its status quo."""
    s = lever_scenario
    drawn = sample(s, 3, np.random.default_rng(1))
    p = compile_params(s, 3, np.random.default_rng(1))
    base = assemble(s.model_copy(update={"levers": {}}), 3, drawn)  # the same without levers
    np.testing.assert_array_equal(p.ties, base.ties)
    np.testing.assert_array_equal(p.pressure_values, base.pressure_values)
    d, b = p.actors.index("D"), p.actors.index("B")
    np.testing.assert_allclose(p.strategic_value[:, d], 0.5)
    np.testing.assert_allclose(p.ambition[:, b, d], 0.6 + 0.5 * 0.5)


def test_snap_makes_values_admissible(lever_scenario):
    """Integer levers round, option levers take the nearest option, ranges clip."""
    s = lever_scenario
    np.testing.assert_array_equal(snap(s.levers["squeeze"], [0.4, 1.6, 9.0]), [0.0, 2.0, 3.0])
    np.testing.assert_array_equal(snap(s.levers["prize"], [0.0, 1.2, 1.3]), [0.5, 0.5, 2.0])
    np.testing.assert_array_equal(snap(s.levers["warm"], [-2.0, 0.25]), [-0.5, 0.25])


def test_policy_scenario_levers_are_grounded():
    """Every lever of scenarios/policy.toml names a claim that grounds ``levers.NAME`` with its
    status quo and its range (or its options' span)."""
    from sim.spec.claims import load_claims

    s = load_scenario(ROOT / "scenarios" / "policy.toml")
    claims = {c.id: c for c in load_claims(ROOT / "seeds" / "claims.toml")}
    assert len(s.levers) >= 5
    owners = {lever.owner for lever in s.levers.values()}
    assert {"NATO", "China", "Russia"} <= owners
    for name, lever in s.levers.items():
        claim = claims[lever.claim]
        grounds = [g for g in claim.grounds if g.param == f"levers.{name}"]
        assert grounds, name
        g = grounds[0]
        assert (g.value, g.low, g.high) == (lever.status_quo_value, *lever.bounds), name


def test_a_lever_may_shift_an_uncertain_value_but_not_set_it(write):
    """Shifting an uncertain value is allowed (the lever moves every world alike); setting it is a
    collision with the uncertainty and refused; so is a second lever setting the same target."""
    head = (DATA / "all_mechanisms.toml").read_text()
    ok = write(
        head
        + """
[levers.l]
owner = "A"
claim = "x"
low = 0
high = 1
effects = [{kind = "pressure", actor = "B", op = "set"}]
"""
    )
    assert "l" in load_scenario(ok).levers
    twice = write(
        head
        + """
[levers.l]
owner = "A"
claim = "x"
low = 0
high = 1
effects = [{kind = "pressure", actor = "B", op = "set"}]
[levers.m]
owner = "B"
claim = "x"
low = 0
high = 1
effects = [{kind = "pressure", actor = "B", op = "set"}]
""",
        "twice.toml",
    )
    with pytest.raises(ScenarioError, match="expected one lever to set the pressure of B"):
        load_scenario(twice)
    scheduled = write(
        head
        + """
[levers.l]
owner = "A"
claim = "x"
low = 0
high = 1
effects = [{kind = "hazard", event = "e1"}]
""",
        "scheduled.toml",
    )
    with pytest.raises(ScenarioError, match="expected a stochastic event"):
        load_scenario(scheduled)


# -- correlations ------------------------------------------------------------------------------

CORRELATED = """
[mechanisms]
balance = {dist = "uniform", low = 0.05, high = 0.15}
noise = {dist = "triangular", low = 0.01, mode = 0.02, high = 0.1}
affinity = {dist = "beta", a = 2.0, b = 5.0, low = 0.0, high = 0.2}
threat = {dist = "normal", mean = 0.3, sd = 0.05}

[correlations]
"mechanisms.balance ~ mechanisms.noise" = 0.6
"mechanisms.noise ~ mechanisms.affinity" = -0.4
"mechanisms.balance ~ mechanisms.threat" = 0.3
"""


def _with_mechanisms(text: str) -> str:
    """all_mechanisms.toml with its [mechanisms] table replaced by the one in ``text``."""
    head = (DATA / "all_mechanisms.toml").read_text()
    start = head.index("[mechanisms]")
    end = head.index("[run]")
    return head[:start] + text.strip() + "\n" + head[end:]


def test_copula_recovers_rank_correlations_and_keeps_marginals(write):
    """Draws through the Gaussian copula have the requested Spearman correlations (within
    sampling error for 20,000 draws) and each value keeps its own distribution (Kolmogorov-Smirnov
    against independent draws of the same marginal: no detectable difference)."""
    s = load_scenario(write(_with_mechanisms(CORRELATED)))
    n = 20_000
    draws = sample_values(s, n, np.random.default_rng(5))
    want = {
        ("mechanisms.balance", "mechanisms.noise"): 0.6,
        ("mechanisms.noise", "mechanisms.affinity"): -0.4,
        ("mechanisms.balance", "mechanisms.threat"): 0.3,
        ("mechanisms.affinity", "mechanisms.threat"): None,
    }
    for (a, b), rho in want.items():
        got = stats.spearmanr(draws[a], draws[b]).statistic
        if rho is not None:
            assert abs(got - rho) < 0.03, (a, b, got)
    # marginals: the copula draws against the plain sampler's draws of the same values
    plain = compile_params(s, n, np.random.default_rng(9)).sampled
    for p in ("mechanisms.balance", "mechanisms.noise", "mechanisms.affinity", "mechanisms.threat"):
        assert stats.ks_2samp(draws[p], plain[p]).pvalue > 0.001, p
    # an uncorrelated pair stays uncorrelated
    assert abs(stats.spearmanr(draws["mechanisms.balance"], draws["actors.B.capability"]).statistic) < 0.03


def test_correlation_matrix_uses_the_normal_scale(write):
    """The copula's matrix holds 2 sin(pi rho / 6) for each requested Spearman rho."""
    s = load_scenario(write(_with_mechanisms(CORRELATED)))
    names, R = correlation_matrix(s)
    assert names[:2] == ["mechanisms.balance", "mechanisms.noise"]
    assert R[0, 1] == pytest.approx(2 * np.sin(np.pi * 0.6 / 6))
    assert np.all(np.diag(R) == 1.0)


def test_triangular_quantile_inverts_its_distribution():
    """The triangular quantile function is the inverse of scipy's distribution function."""
    t = Triangular(dist="triangular", low=1.0, mode=2.0, high=5.0)
    u = np.linspace(0.01, 0.99, 50)
    x = t.ppf(u)
    np.testing.assert_allclose(stats.triang(c=0.25, loc=1.0, scale=4.0).cdf(x), u, atol=1e-12)


def test_every_run_draws_through_the_copula(write):
    """A plain compile of a scenario with [correlations] (what `run` and every design use) draws
    the correlated values through the copula too."""
    s = load_scenario(write(_with_mechanisms(CORRELATED)))
    drawn = compile_params(s, 8000, np.random.default_rng(2)).sampled
    rho = stats.spearmanr(drawn["mechanisms.balance"], drawn["mechanisms.noise"]).statistic
    assert abs(rho - 0.6) < 0.04
