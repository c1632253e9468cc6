"""Robustness summaries against examples worked by hand (Herman et al. 2015; McPhail et al. 2018)."""

from __future__ import annotations

import numpy as np
import pytest

from sim.analysis.robustness import percentiles, regret, robustness, satisfied

# Three policies, four worlds, two metrics: metric 0 is maximised (say P(stab)), metric 1 is
# minimised (a cost).
M = np.array(
    [
        # world:  0          1          2          3
        [[0.50, 1.0], [0.20, 1.0], [0.40, 1.0], [0.10, 1.0]],  # policy A: good on 0, costly
        [[0.30, 0.0], [0.30, 0.0], [0.30, 0.0], [0.30, 0.0]],  # policy B: steady, free
        [[0.60, 0.5], [0.00, 0.5], [0.10, 0.5], [0.20, 0.5]],  # policy C: volatile
    ]
)
SIGN = np.array([1.0, -1.0])


def test_regret_is_the_gap_to_the_best_policy_in_each_world():
    """Worked by hand. Metric 0, best per world: 0.6, 0.3, 0.4, 0.3. Regrets:
    A: 0.1, 0.1, 0.0, 0.2; B: 0.3, 0.0, 0.1, 0.0; C: 0.0, 0.3, 0.3, 0.1.
    Metric 1 (minimised), best is B's 0 everywhere: A regrets 1.0, C 0.5, B 0."""
    r = regret(M, SIGN)
    np.testing.assert_allclose(
        r[:, :, 0], [[0.1, 0.1, 0.0, 0.2], [0.3, 0.0, 0.1, 0.0], [0.0, 0.3, 0.3, 0.1]], atol=1e-12
    )
    np.testing.assert_allclose(r[:, :, 1], [[1.0] * 4, [0.0] * 4, [0.5] * 4])
    assert (r >= 0).all()


def test_summaries_by_hand():
    """Max regret on metric 0: A 0.2, B 0.3, C 0.3. 90th percentile (numpy's linear rule on
    four values: 0.7 of the way from the third to the fourth sorted value): A sorted 0, .1, .1, .2
    -> 0.17; B 0, 0, .1, .3 -> 0.24; C 0, .1, .3, .3 -> 0.3. Mean of metric 0: A 0.3, B 0.3,
    C 0.225; 10th percentile of A (sorted .1, .2, .4, .5: 0.3 of the way from .1 to .2) 0.13."""
    rob = robustness(M, SIGN)
    np.testing.assert_allclose(rob.regret_max[:, 0], [0.2, 0.3, 0.3], atol=1e-12)
    np.testing.assert_allclose(rob.regret_p90[:, 0], [0.17, 0.24, 0.30], atol=1e-12)
    np.testing.assert_allclose(rob.mean[:, 0], [0.3, 0.3, 0.225], atol=1e-12)
    np.testing.assert_allclose(percentiles(M)["p10"][0, 0], 0.13, atol=1e-12)
    np.testing.assert_allclose(rob.p90[0, 0], 0.47, atol=1e-12)  # .4 + .7 * (.5 - .4)


def test_satisficing_share_by_hand():
    """Thresholds: metric 0 at least 0.25, metric 1 at most 0.6. A meets 0 in worlds 0 and 2 but
    never 1 (cost 1.0): share 0. B: 0.3 >= 0.25 and cost 0 everywhere: share 1. C: metric 0 only
    in world 0 (0.6), cost 0.5 is fine: share 1/4."""
    threshold = np.array([0.25, 0.6])
    ok = satisfied(M, SIGN, threshold)
    np.testing.assert_array_equal(ok, [[False] * 4, [True] * 4, [True, False, False, False]])
    rob = robustness(M, SIGN, threshold)
    np.testing.assert_allclose(rob.satisficing, [0.0, 1.0, 0.25])
    # no thresholds: everything satisfies; a NaN threshold leaves its metric out
    assert satisfied(M, SIGN, np.array([np.nan, np.nan])).all()
    np.testing.assert_array_equal(satisfied(M, SIGN, np.array([0.25, np.nan]))[0], [1, 0, 1, 0])


def test_rank_puts_satisficing_first_then_regret():
    """B satisfices everywhere and ranks first; C (share 1/4) before A (share 0). Without
    thresholds, the ranking is by the worst normalised 90th-percentile regret: metric 1's p90
    regrets are A 1.0, B 0, C 0.5 (scale 1.0), metric 0's A .17, B .24, C .30 (scale .30): worst
    normalised A 1.0, B 0.8, C 1.0 -> B, then A and C tied on 1.0, kept in index order."""
    assert list(robustness(M, SIGN, np.array([0.25, 0.6])).rank()) == [1, 2, 0]
    assert list(robustness(M, SIGN).rank()) == [1, 0, 2]


def test_shapes_are_checked():
    with pytest.raises(ValueError, match="expected M of shape"):
        regret(M[0], SIGN)
    with pytest.raises(ValueError, match="signs"):
        regret(M, np.array([1.0, 0.0]))
