"""The pure part of conditioning on the observed record (sim/analysis/likelihood.py): likelihoods under
the error model, ABC acceptance, weights, effective sample size, the binding observation, scores
and Bayes factors."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pytest
from scipy.stats import norm

from sim.analysis import likelihood
from sim.spec.observations import Observation

SOURCE = {
    "outlet": "Example",
    "published": dt.date(2023, 1, 2),
    "url": "https://example.org/a",
    "paraphrase": "the two leaders met and praised their relations",
}


def obs(**kw) -> Observation:
    base = {"id": kw.pop("id", "o"), "date": dt.date(2023, 1, 1), "basis": "test", "source": SOURCE}
    return Observation.model_validate({**base, **kw})


def test_tie_likelihood_is_the_interval_censored_normal():
    sign = obs(kind="tie_sign", **{"from": "A", "to": "B"}, sign="positive", width=0.1)
    rng = obs(kind="tie_range", **{"from": "A", "to": "B"}, low=-0.2, high=0.3, width=0.05)
    hard = obs(kind="tie_range", **{"from": "A", "to": "B"}, low=-0.2, high=0.3, width=0.0)
    w = np.array([[0.0, 0.0, 0.0], [0.2, 0.3, 0.31], [-0.5, -0.2, 1.0]])
    lik = likelihood.likelihoods([sign, rng, hard], w)
    assert lik[0, 0] == pytest.approx(0.5)  # a tie at 0 is as likely read positive as not
    assert lik[1, 0] == pytest.approx(norm.cdf(2.0))  # 0.2 / 0.1; the bound at 1 is open
    assert lik[2, 0] == pytest.approx(norm.cdf(-5.0))
    assert lik[0, 1] == pytest.approx(norm.cdf(6.0) - norm.cdf(-4.0))
    assert lik[1, 1] == pytest.approx(0.5 - norm.cdf(-10.0))  # on the upper bound
    assert list(lik[:, 2]) == [1.0, 0.0, 0.0]  # width 0: the indicator of the range


def test_bounds_at_the_ends_of_the_scale_are_open():
    """A tie at 1 observed in [0.3, 1] is fully consistent (not half: the tie cannot exceed 1)."""
    o = obs(kind="tie_range", **{"from": "A", "to": "B"}, low=0.3, high=1.0, width=0.1)
    assert o.bounds == (0.3, math.inf)
    assert likelihood.likelihoods([o], np.array([[1.0]]))[0, 0] == pytest.approx(1.0)


def test_discrete_observations_are_misrecorded_with_probability_error():
    o = obs(kind="alliance_active", alliance="ab", error=0.05)
    lik = likelihood.likelihoods([o], np.array([[1.0], [0.0]]))
    assert list(lik[:, 0]) == pytest.approx([0.95, 0.05])
    assert list(likelihood.happened([o], np.array([[1.0], [0.0]]))[:, 0]) == [True, False]


def test_ess_and_normalised_weights():
    assert likelihood.ess(np.ones(50)) == pytest.approx(50)
    assert likelihood.ess(np.eye(1, 50)[0]) == pytest.approx(1)
    assert likelihood.ess(np.zeros(5)) == 0.0
    w = likelihood.normalised(np.array([-1000.0, -1000.0, -np.inf]))  # no underflow to nothing
    assert list(w) == pytest.approx([0.5, 0.5, 0.0])


def test_acceptance_rate_estimates_the_probability_of_the_record():
    """Accepting with probability L: the rate is mean(L) within Monte Carlo error, and the
    accepted draws are the L-weighted ones (their mean matches the weighted mean)."""
    rng = np.random.default_rng(3)
    x = rng.random(200_000)
    L = x**2  # a record more likely for large x
    kept = likelihood.accept(L, rng.random(x.size))
    se = math.sqrt(np.var(L) / x.size) + math.sqrt(1 / 3 * 2 / 3 / x.size)
    assert abs(kept.mean() - 1 / 3) < 4 * se
    assert x[kept].mean() == pytest.approx(0.75, abs=0.005)  # E[x | accepted] = (1/4) / (1/3)


def test_binding_observation_is_the_one_whose_removal_helps_most():
    rng = np.random.default_rng(0)
    lik = np.column_stack([np.full(1000, 0.9), rng.random(1000) < 0.05, np.full(1000, 0.8)])
    lik = np.where(lik == 0, 0.01, lik).astype(float)
    b = likelihood.binding_observation(lik)
    assert b.index == 1
    assert b.acceptance_without == pytest.approx(0.72)
    assert b.gain > 5


def test_wilson_interval():
    lo, hi = likelihood.wilson(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)
    lo, hi = likelihood.wilson(50, 100)
    assert lo == pytest.approx(0.4038, abs=1e-4) and hi == pytest.approx(0.5962, abs=1e-4)


def test_scores_from_likelihoods_and_from_logs_agree_and_survive_underflow():
    rng = np.random.default_rng(1)
    L = rng.random(5000) * 0.01
    a = likelihood.score(L)
    b = likelihood.log_score_from_log(np.log(L))
    assert a.log_score == pytest.approx(b.log_score) and a.log_se == pytest.approx(b.log_se)
    tiny = likelihood.log_score_from_log(np.log(L) - 2000.0)  # exp() would underflow to zero
    assert tiny.log_score == pytest.approx(a.log_score - 2000.0)
    log_bf, se = likelihood.bayes_factor(a, tiny)
    assert log_bf == pytest.approx(2000.0) and se == pytest.approx(math.hypot(a.log_se, tiny.log_se))


def test_monte_carlo_error_of_the_log_score_is_honest():
    """Over independent ensembles the log score varies by about its stated standard error."""
    rng = np.random.default_rng(2)
    scores = [likelihood.score(rng.beta(0.5, 5.0, 2000)) for _ in range(300)]
    spread = np.std([s.log_score for s in scores])
    stated = np.mean([s.log_se for s in scores])
    assert 0.8 < spread / stated < 1.25


def test_weighted_quantile_and_ks_distance():
    x = np.arange(101, dtype=float)
    assert likelihood.weighted_quantile(x, np.ones(101), 0.5) == pytest.approx(50.0)
    w = (x >= 50).astype(float)
    assert likelihood.weighted_quantile(x, w, 0.5) == pytest.approx(75.0, abs=1.0)
    assert likelihood.ks_distance(x, x) == 0.0
    assert likelihood.ks_distance(x, x + 1000) == 1.0
    assert likelihood.ks_threshold(10_000, 100) == pytest.approx(
        1.949 * math.sqrt(1 / 10_000 + 1 / 100), rel=1e-3
    )


def test_likelihood_properties():
    """For any tie range and width: values in [0, 1]; largest inside the range; a positive sign's
    likelihood rises with the tie; a narrow width approaches the range's indicator."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=200, deadline=None)
    @given(st.floats(-1, 1), st.floats(-1, 1), st.floats(0.001, 0.5))
    def check(a, b, width):
        lo, hi = min(a, b), max(a, b)
        if hi - lo < 1e-3:
            return
        o = obs(kind="tie_range", **{"from": "A", "to": "B"}, low=lo, high=hi, width=width)
        w = np.linspace(-1, 1, 201)
        lik = likelihood.likelihoods([o], w[:, None])[:, 0]
        assert ((lik >= 0) & (lik <= 1)).all()
        inside = (w >= lo) & (w <= hi)
        if inside.any():
            assert lik[inside].max() == pytest.approx(lik.max())
        sign = obs(kind="tie_sign", **{"from": "A", "to": "B"}, sign="positive", width=width)
        rising = likelihood.likelihoods([sign], w[:, None])[:, 0]
        assert (np.diff(rising) >= -1e-15).all()
        sharp = obs(kind="tie_range", **{"from": "A", "to": "B"}, low=lo, high=hi, width=1e-6)
        far = np.abs(w - np.clip(w, lo, hi)) > 1e-4
        near_edge = (np.abs(w - lo) < 1e-4) | (np.abs(w - hi) < 1e-4)
        got = likelihood.likelihoods([sharp], w[:, None])[:, 0]
        assert np.allclose(got[far], 0.0) and np.allclose(got[inside & ~near_edge], 1.0)

    check()
