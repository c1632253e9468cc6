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


def _bernoulli_replicates(p_true, worlds=200, replicates=4, seed=0):
    """(P, S, R, 1) replicate outcomes (0/1) of policies whose true P(success) is ``p_true``,
    the same in every world."""
    rng = np.random.default_rng(seed)
    p = np.asarray(p_true, dtype=float)[:, None, None, None]
    return (rng.random((len(p_true), worlds, replicates, 1)) < p).astype(float)


def test_noise_correction_removes_most_of_the_regret_noise_invents():
    """Ten identical policies (true regret 0) estimated from 4 replicates per world: the plain
    90th-percentile regret is large, made of noise alone (the best in each world is picked from
    noisy estimates); the corrected one is less than half of it."""
    X = _bernoulli_replicates([0.5] * 10)
    M = X.mean(axis=2)
    sign = np.array([1.0])
    plain = robustness(M, sign)
    fixed = robustness(M, sign, replicates=X)
    assert fixed.corrected and not plain.corrected
    assert plain.regret_p90.mean() > 0.4
    assert fixed.regret_p90.mean() < 0.5 * plain.regret_p90.mean()
    np.testing.assert_array_equal(fixed.regret_p90_raw, plain.regret_p90)
    assert fixed.regret_p90_se is not None and np.all(np.isfinite(fixed.regret_p90_se))
    assert fixed.mean_se is not None and np.all(fixed.mean_se > 0)


def test_noise_correction_keeps_a_real_regret():
    """One policy truly 0.3 worse than the other in every world: the corrected regret of the worse
    one is closer to 0.3 than the plain one (16 replicates: about 0.37 against 0.50) and not
    below it beyond its error; the better one's is near 0."""
    X = _bernoulli_replicates([0.8, 0.5], replicates=16, seed=3)
    fixed = robustness(X.mean(axis=2), np.array([1.0]), replicates=X)
    assert abs(fixed.mean[0, 0] - fixed.mean[1, 0] - 0.3) < 0.05
    assert fixed.regret_p90[0, 0] < 0.05
    assert abs(fixed.regret_p90[1, 0] - 0.3) < abs(fixed.regret_p90_raw[1, 0] - 0.3)
    assert fixed.regret_p90[1, 0] > 0.3 - 3 * fixed.regret_p90_se[1, 0]


def test_noise_correction_of_a_threshold_share():
    """Worlds whose true P(success) spreads from 0.2 to 0.8, threshold 0.55: the plain share of
    worlds meeting it is off the truth by the lattice of 4 replicates; the corrected one (each
    world read through its noise) is within three standard errors of the truth."""
    rng = np.random.default_rng(1)
    p_true = rng.uniform(0.2, 0.8, 400)
    X = (rng.random((2, 400, 4, 1)) < p_true[None, :, None, None]).astype(float)
    r = robustness(X.mean(axis=2), np.array([1.0]), np.array([0.55]), replicates=X)
    truth = (p_true >= 0.55).mean()
    assert np.all(np.abs(r.satisficing - truth) < 3 * r.satisficing_se)
    assert np.all(np.abs(r.satisficing - truth) < np.abs(r.satisficing_raw - truth))


def test_satisficing_has_its_error_and_ties_are_found():
    """Two identical policies on worlds whose true P(success) spreads from 0.2 to 0.8, threshold
    0.5: each satisficing share has a standard error of the size 400 worlds allow, the threshold's
    own share is the satisficing share (one threshold), and the two cannot be told apart."""
    rng = np.random.default_rng(5)
    p_true = rng.uniform(0.2, 0.8, 400)
    X = (rng.random((2, 400, 8, 1)) < p_true[None, :, None, None]).astype(float)
    r = robustness(X.mean(axis=2), np.array([1.0]), np.array([0.5]), replicates=X)
    assert np.all(np.abs(r.satisficing - 0.5) < 4 * r.satisficing_se)
    assert np.all(r.satisficing_se > 0.005) and np.all(r.satisficing_se < 0.05)
    assert r.tied_with_best().all()
    assert r.met is not None and np.allclose(r.met[:, 0], r.satisficing)
