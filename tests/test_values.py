"""The distributions of uncertain values: one class each, with everything done with one.

What these protect: runs draw exactly what they drew when the draws were written per call site
(same generator calls, same order, same clipping: the result files of fixed seeds stay the same
bytes); the quantile function is the inverse of the scipy distribution the EMA Workbench samples;
clipping and truncation differ only where they should (the normal's tails); readers see each
distribution in one long and one short form.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sim.analysis.sensitivity import Factor
from sim.spec.values import DISTRIBUTIONS, Beta, Normal, Triangular, Uniform

U = Uniform(dist="uniform", low=0.2, high=0.6)
T = Triangular(dist="triangular", low=1.0, mode=1.5, high=4.0)
N = Normal(dist="normal", mean=0.4, sd=0.2, low=0.1)
B = Beta(dist="beta", a=2.0, b=5.0, low=-1.0, high=1.0)
FIELD = (0.0, 1.0)


def test_draws_are_the_generator_calls_of_each_distribution():
    """Same seed, same numbers as the generator's own calls, clipped to the field's bounds."""
    n = 1000
    for value, expected in (
        (U, lambda r: U.low + (U.high - U.low) * r.random(n)),
        (T, lambda r: r.triangular(T.low, T.mode, T.high, n)),
        (N, lambda r: N.mean + N.sd * r.standard_normal(n)),
        (B, lambda r: B.low + (B.high - B.low) * r.beta(B.a, B.b, n)),
    ):
        got = value.draw(n, np.random.default_rng(5), (-10.0, 10.0))
        want = np.clip(expected(np.random.default_rng(5)), *value.within((-10.0, 10.0)))
        np.testing.assert_array_equal(got, want)


def test_a_normal_is_clipped_to_its_own_bounds_and_the_field():
    x = N.draw(20_000, np.random.default_rng(1), FIELD)
    assert x.min() == 0.1 and x.max() <= 1.0  # its own low (0.1) binds before the field's 0
    assert N.within(FIELD) == (0.1, 1.0)
    assert U.within(FIELD) == FIELD  # only the normal narrows the bounds


def test_a_degenerate_triangular_draws_no_random_numbers():
    rng = np.random.default_rng(3)
    flat = Triangular(dist="triangular", low=0.5, mode=0.5, high=0.5)
    np.testing.assert_array_equal(flat.draw(4, rng), np.full(4, 0.5))
    assert rng.random() == np.random.default_rng(3).random()


@pytest.mark.parametrize("value", [U, T, B], ids=["uniform", "triangular", "beta"])
def test_ppf_is_the_inverse_of_the_frozen_distribution(value):
    u = np.linspace(0.001, 0.999, 99)
    x = value.ppf(u)
    np.testing.assert_allclose(value.frozen().cdf(x), u, atol=1e-10)
    np.testing.assert_allclose(value.frozen().ppf(u), x, atol=1e-12)


def test_a_normal_clipped_piles_up_at_its_bounds_and_truncated_does_not():
    u = np.linspace(0.001, 0.999, 199)
    clipped = N.ppf(u, FIELD)
    truncated = N.ppf(u, FIELD, tails="truncate")
    assert (clipped == 0.1).sum() > 5  # the mass below 0.1 sits on the bound
    assert np.all(np.diff(truncated) > 0) and truncated.min() > 0.1
    np.testing.assert_allclose(truncated, N.frozen(FIELD).ppf(u), atol=1e-12)
    # inside the bounds the clipped quantile is the normal's own
    inside = (clipped > 0.1) & (clipped < 1.0)
    np.testing.assert_allclose(clipped[inside], stats.norm(0.4, 0.2).ppf(u[inside]))


def test_every_distribution_is_shown_in_a_long_and_a_short_form():
    assert [str(v) for v in (U, T, N, B)] == [
        "uniform(0.2, 0.6)",
        "triangular(1, 1.5, 4)",
        "normal(0.4, sd 0.2)",
        "beta(2, 5) on [-1, 1]",
    ]
    assert [v.short() for v in (U, T, N, B)] == [
        "U(0.2, 0.6)",
        "T(1, 1.5, 4)",
        "N(0.4, 0.2)",
        "B(2, 5; -1, 1)",
    ]
    assert set(DISTRIBUTIONS) == {"uniform", "triangular", "normal", "beta"}


def test_a_normal_factor_spans_three_sd_within_the_bounds_and_keeps_its_data():
    f = Factor.of("x", Normal(dist="normal", mean=0.9, sd=0.1), (-1.0, 1.0))
    assert (f.low, f.high) == pytest.approx((0.6, 1.0))
    assert f.dist == "normal"
    assert Factor.of("y", Normal(dist="normal", mean=0.5, sd=0.0), FIELD) is None  # degenerate
    data = Factor.of("t", T, FIELD).to_data()
    assert list(data) == ["name", "dist", "low", "high", "mode", "mean", "sd", "a", "b"]
    assert data["mode"] == 1.5 and np.isnan(data["mean"])
