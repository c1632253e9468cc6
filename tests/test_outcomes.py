"""Golden and property tests of sim.analysis.outcomes: intervals, survival, quantiles, blocs, betrayals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.analysis.fates import wilson_interval
from sim.analysis.outcomes import (
    active_share,
    alliance_members,
    alliance_survival,
    balance_index,
    bloc_columns,
    cohesion_bands,
    cohesion_quantiles,
    fate_table,
    frustration,
    histogram_quantiles,
    kaplan_meier,
    mean_capability,
    mean_ties,
    modal_blocs,
    same_bloc_probability,
    tie_sd,
    who_stabs_whom,
)
from sim.present.text import format_fate_table

# --------------------------------------------------------------------------------------------
# Wilson intervals
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        # Newcombe, R. G. (1998). Two-sided confidence intervals for the single proportion:
        # comparison of seven methods. Statistics in Medicine 17, 857-872, Table I, method 3
        # (Wilson score interval without continuity correction).
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0000, 0.1611),
        (1, 29, 0.0061, 0.1718),
    ],
)
def test_wilson_interval_matches_newcombe_1998_table_1(k, n, low, high):
    lo, hi = wilson_interval(k, n)
    assert lo == pytest.approx(low, abs=5e-5)
    assert hi == pytest.approx(high, abs=5e-5)


@given(st.integers(1, 5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_interval_is_inside_unit_interval_and_covers_the_estimate(kn):
    k, n = kn
    lo, hi = wilson_interval(k, n)
    assert 0.0 <= lo <= k / n + 1e-12
    assert k / n - 1e-12 <= hi <= 1.0


def test_fate_table_splits_stabs_by_defector_and_adds_up():
    reps = pd.DataFrame(
        {
            "x.fate": ["holds"] * 6 + ["stab_in_the_back"] * 3 + ["drift_apart"],
            "x.defector": [""] * 6 + ["B", "A", "B"] + ["A"],
        }
    )
    t = fate_table(reps, "x", ["A", "B"]).set_index("outcome")
    assert list(t.index) == [
        "holds",
        "stab_in_the_back",
        "stab_in_the_back by A",
        "stab_in_the_back by B",
        "drift_apart",
    ]
    assert t.loc["holds", "count"] == 6 and t.loc["stab_in_the_back by B", "count"] == 2
    assert t.loc[["holds", "stab_in_the_back", "drift_apart"], "p"].sum() == pytest.approx(1.0)
    assert "stab_in_the_back by A" in format_fate_table(t.reset_index(), "alliance x")


# --------------------------------------------------------------------------------------------
# Kaplan-Meier
# --------------------------------------------------------------------------------------------

# Worked by hand. Eight alliances; ends observed at 1, 2, 3, 4, 5; censored at 2, 4, 6.
#   t   at risk  ends  S(t)                    Greenwood sum d/(n(n-d))
#   1      8      1    7/8           = 0.875   1/56                     = 0.017857
#   2      7      1    0.875 * 6/7   = 0.75    + 1/42  -> 1/24          = 0.041667
#   3      5      1    0.75 * 4/5    = 0.6     + 1/20  -> 11/120        = 0.091667
#   4      4      1    0.6 * 3/4     = 0.45    + 1/12  -> 21/120        = 0.175
#   5      2      1    0.45 * 1/2    = 0.225   + 1/2   -> 81/120        = 0.675
# (the censoring at 2 leaves 5 at risk at 3; the one at 4 counts as at risk at 4.)
# Plain interval at t = 3: Var = 0.36 * 11/120 = 0.033, se = 0.181659,
#   0.6 -/+ 1.959964 * 0.181659 = [0.243955, 0.956045].
# Log-log interval at t = 3: sigma = sqrt(11/120) / |ln 0.6| = 0.302765 / 0.510826 = 0.592700,
#   low = 0.6 ** exp(+1.959964 * sigma) = 0.6 ** 3.195296 = 0.195496,
#   high = 0.6 ** exp(-1.959964 * sigma) = 0.6 ** 0.312960 = 0.852254.
DURATIONS = [1, 2, 2, 3, 4, 4, 5, 6]
OBSERVED = [1, 1, 0, 1, 0, 1, 1, 0]


def test_kaplan_meier_matches_the_hand_worked_example():
    c = kaplan_meier(DURATIONS, OBSERVED)
    np.testing.assert_array_equal(c.time, [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(c.at_risk, [8, 7, 5, 4, 2])
    np.testing.assert_array_equal(c.events, [1, 1, 1, 1, 1])
    np.testing.assert_allclose(c.survival, [0.875, 0.75, 0.6, 0.45, 0.225])
    assert c.horizon == 6 and c.n == 8
    assert c.low[2] == pytest.approx(0.195496, abs=1e-5)
    assert c.high[2] == pytest.approx(0.852254, abs=1e-5)
    assert c.median() == 4.0


def test_kaplan_meier_plain_greenwood_interval_matches_the_hand_worked_example():
    c = kaplan_meier(DURATIONS, OBSERVED, conf_type="plain")
    assert c.low[2] == pytest.approx(0.243955, abs=1e-5)
    assert c.high[2] == pytest.approx(0.956045, abs=1e-5)
    se1 = 0.875 * np.sqrt(1 / 56)
    assert c.low[0] == pytest.approx(0.875 - 1.959964 * se1, abs=1e-5)
    assert c.high[0] == 1.0  # clipped


def test_survival_curve_is_a_right_continuous_step_function():
    c = kaplan_meier(DURATIONS, OBSERVED)
    np.testing.assert_allclose(c.at([0, 0.99, 1, 1.5, 2, 5.5, 6]), [1, 1, 0.875, 0.875, 0.75, 0.225, 0.225])
    assert np.isnan(c.at(7))
    grid = c.steps(np.arange(7))
    np.testing.assert_allclose(grid["survival"], [1, 0.875, 0.75, 0.6, 0.45, 0.225, 0.225])
    assert (grid["low"] <= grid["survival"]).all() and (grid["survival"] <= grid["high"]).all()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=1, max_size=60))
def test_kaplan_meier_without_censoring_is_the_empirical_survival_function(times):
    t = np.array(times, dtype=float)
    c = kaplan_meier(t, np.ones(len(t), dtype=bool), horizon=30)
    grid = np.arange(31)
    empirical = (t[None, :] > grid[:, None]).mean(axis=1)
    np.testing.assert_allclose(c.at(grid), empirical, atol=1e-12)


def test_alliance_survival_censors_holding_alliances_at_the_horizon():
    reps = pd.DataFrame(
        {
            "x.fate": ["holds", "holds", "stab_in_the_back", "drift_apart", "stab_in_the_back"],
            "x.end_step": [10, 10, 3, 5, 7],
        }
    )
    all_ends = alliance_survival(reps, "x", 10)
    np.testing.assert_array_equal(all_ends.time, [3, 5, 7])
    np.testing.assert_allclose(all_ends.survival, [0.8, 0.6, 0.4])
    assert all_ends.final == pytest.approx(2 / 5)
    stabs = alliance_survival(reps, "x", 10, fate="stab_in_the_back")
    # the drift at 5 is censored there: at 7 the stab and the two holding ones are at risk
    np.testing.assert_array_equal(stabs.time, [3, 7])
    np.testing.assert_array_equal(stabs.at_risk, [5, 3])
    np.testing.assert_allclose(stabs.survival, [0.8, 0.8 * 2 / 3])
    assert all_ends.median() == 7.0
    assert np.isnan(stabs.median())


def test_kaplan_meier_rejects_mismatched_input():
    with pytest.raises(ValueError, match="same length"):
        kaplan_meier([1, 2], [True])
    with pytest.raises(ValueError, match="conf_type"):
        kaplan_meier([1, 2], [True, True], conf_type="log")


# --------------------------------------------------------------------------------------------
# Quantiles from histograms
# --------------------------------------------------------------------------------------------

BINS = 200
WIDTH = 2.0 / BINS


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_histogram_quantiles_are_within_one_bin_of_the_raw_sample(seed):
    rng = np.random.default_rng(seed)
    # dense enough that every bin the quantiles fall in holds several values
    sample = np.clip(np.concatenate([rng.normal(0.6, 0.2, 20000), rng.uniform(-1, 1, 4000)]), -1, 1)
    counts = np.histogram(sample, bins=np.linspace(-1, 1, BINS + 1))[0]
    q = np.array([0.05, 0.25, 0.5, 0.75, 0.95])
    got = histogram_quantiles(counts, q)
    want = np.quantile(sample, q)
    assert np.all(np.abs(got - want) <= WIDTH)


def test_cohesion_quantiles_follow_each_step_and_alliance():
    rng = np.random.default_rng(5)
    T, L = 4, 2
    samples = rng.uniform(-1, 1, size=(T, L, 800)) ** 3
    hist = np.stack(
        [
            [np.histogram(samples[t, a], bins=np.linspace(-1, 1, BINS + 1))[0] for a in range(L)]
            for t in range(T)
        ]
    )
    summary = {"cohesion_hist": hist}
    got = cohesion_quantiles(summary, (0.05, 0.5, 0.95))
    assert got.shape == (T, L, 3)
    want = np.quantile(samples, [0.05, 0.5, 0.95], axis=-1).transpose(1, 2, 0)
    assert np.all(np.abs(got - want) <= WIDTH)
    bands = cohesion_bands(summary, ["a", "b"])
    assert list(bands["b"].columns) == ["step", "q05", "q25", "q50", "q75", "q95"]
    np.testing.assert_allclose(bands["b"]["q50"], got[:, 1, 1])


def test_histogram_quantiles_of_an_empty_histogram_are_nan_and_of_a_spike_its_bin():
    counts = np.zeros((2, BINS), dtype=int)
    counts[1, 150] = 10  # bin [0.5, 0.51)
    got = histogram_quantiles(counts, [0.0, 0.5, 1.0])
    assert np.isnan(got[0]).all()
    np.testing.assert_allclose(got[1], [0.5, 0.505, 0.51])
    assert np.all((got[1] >= 0.5 - 1e-12) & (got[1] <= 0.51 + 1e-12))


# --------------------------------------------------------------------------------------------
# Blocs, balance, ties, betrayals
# --------------------------------------------------------------------------------------------


def test_same_bloc_probability_from_bloc_columns():
    reps = pd.DataFrame({"bloc:A": [0, 0, 0, 0], "bloc:B": [0, 0, 1, 1], "bloc:C": [1, 1, 1, 0]})
    P = same_bloc_probability(reps, ["A", "B", "C"])
    np.testing.assert_allclose(P.to_numpy(), [[1, 0.5, 0.25], [0.5, 1, 0.25], [0.25, 0.25, 1]])
    assert list(P.index) == ["A", "B", "C"]
    np.testing.assert_array_equal(modal_blocs(reps, ["A", "B", "C"]), [0, 0, 1])
    assert bloc_columns(reps, ["A", "B", "C"]) == ["bloc:A", "bloc:B", "bloc:C"]
    assert bloc_columns(reps, ["A", "D"]) is None
    with pytest.raises(KeyError, match="bloc:D"):
        same_bloc_probability(reps, ["A", "D"])


def test_who_stabs_whom_counts_every_betrayed_member():
    reps = pd.DataFrame(
        {
            "ab.fate": ["stab_in_the_back", "stab_in_the_back", "holds", "drift_apart"],
            "ab.defector": ["A", "B", "", "A"],
            "abc.fate": ["holds", "stab_in_the_back", "stab_in_the_back", "holds"],
            "abc.defector": ["", "C", "C", ""],
        }
    )
    members = {"ab": ["A", "B"], "abc": ["A", "B", "C"], "missing": ["A", "C"]}
    M = who_stabs_whom(reps, members, ["A", "B", "C"])
    np.testing.assert_array_equal(M.to_numpy(), [[0, 1, 0], [1, 0, 0], [2, 2, 0]])
    assert M.index.name == "defector" and M.columns.name == "betrayed"
    P = who_stabs_whom(reps, members, ["A", "B", "C"], normalize=True)
    np.testing.assert_allclose(P.to_numpy(), M.to_numpy() / 4)


def test_alliance_members_reads_the_manifest_scenario():
    scenario = {"alliances": {"x": {"members": ["A", "B"], "h0": 0.1}, "y": {"members": ["C", "A"]}}}
    assert alliance_members(scenario) == {"x": ["A", "B"], "y": ["C", "A"]}
    assert alliance_members({}) == {}


def test_balance_frustration_ties_and_activity_from_summaries():
    summary = {
        "balance_sum": np.array([2.0, 3.0, 4.0]),
        "n": np.array([4]),
        "ties_sum": np.array([[0.0, 2.0], [-4.0, 0.0]]),
        "ties_sq": np.array([[0.0, 2.0], [4.0, 0.0]]),
        "active": np.array([[4, 4], [3, 2], [1, 2]]),
    }
    np.testing.assert_allclose(balance_index(summary), [0.5, 0.75, 1.0])
    np.testing.assert_allclose(frustration(summary), [0.5, 0.25, 0.0])
    W = mean_ties(summary, ["A", "B"])
    assert W.loc["A", "B"] == 0.5 and W.loc["B", "A"] == -1.0
    sd = tie_sd(summary, ["A", "B"])
    assert sd.loc["A", "B"] == pytest.approx(np.sqrt(0.5 - 0.25))
    assert sd.loc["B", "A"] == pytest.approx(0.0)
    np.testing.assert_allclose(active_share(summary), [[1, 1], [0.75, 0.5], [0.25, 0.5]])


def test_mean_capability_is_nan_where_not_recorded():
    reps = pd.DataFrame({"capability:A": [0.2, 0.4]})
    cap = mean_capability(reps, ["A", "B"])
    assert cap["A"] == pytest.approx(0.3) and np.isnan(cap["B"])


def test_balance_index_uses_the_sampled_count_when_given():
    """The engine sums the balance index over a sample of each chunk: divide by that count."""
    summary = {"balance_sum": np.array([30.0, 60.0]), "n": np.array([1000]), "balance_n": np.array([100])}
    np.testing.assert_allclose(balance_index(summary), [0.3, 0.6])
