"""Each force on the ties (docs/design.md, "The forces on the ties") against values worked out by
hand."""

from __future__ import annotations

import numpy as np
import pytest

from sim.model import dynamics as d


def test_interest_similarity_by_hand():
    """U_ij = 1 - 2 sum_k s^_ik |x_ik - x_jk| / range_k, saliences normalised per actor."""
    x = np.array([[[0.0, 10.0], [10.0, 10.0], [5.0, 0.0]]])  # 3 actors, 2 issues on [0, 10]
    s = np.array([[[1.0, 1.0], [1.0, 0.0], [0.0, 0.0]]])
    U = d.interest_similarity(x, s, np.zeros(2), np.full(2, 10.0))
    # actor 0 (weights 1/2, 1/2) vs 1: distances 1.0 and 0.0 -> 1 - 2 * 0.5 = 0
    assert U[0, 0, 1] == pytest.approx(0.0)
    # actor 0 vs 2: distances 0.5 and 1.0 -> 1 - 2 * 0.75 = -0.5
    assert U[0, 0, 2] == pytest.approx(-0.5)
    # actor 1 cares only about issue 0: vs 2 distance 0.5 -> 0
    assert U[0, 1, 2] == pytest.approx(0.0)
    assert U[0, 1, 0] == pytest.approx(-1.0)
    # actor 2 has no salient issue: no interest-based pull
    assert np.all(U[0, 2] == 0.0)


def test_affinity_pulls_toward_similarity():
    W = np.array([[[0.0, 0.5], [-0.2, 0.0]]])
    U = np.array([[[0.0, 0.1], [0.3, 0.0]]])
    np.testing.assert_allclose(d.affinity_force(W, U), [[[0.0, -0.4], [0.5, 0.0]]])


def test_balance_by_hand():
    """sum_{k != i,j} W_ik W_kj / (A - 2): the friend of my enemy pushes toward enmity."""
    W = np.zeros((1, 4, 4))
    W[0, 0, 2], W[0, 2, 1] = 0.5, -0.8  # 0 likes 2, 2 dislikes 1
    W[0, 0, 3], W[0, 3, 1] = 0.4, 0.5
    F = d.balance_force(W)
    assert F[0, 0, 1] == pytest.approx((0.5 * -0.8 + 0.4 * 0.5) / 2)
    # the k = i and k = j terms are excluded (diagonal is zero)
    W[0, 0, 1] = 0.9
    assert d.balance_force(W)[0, 0, 1] == pytest.approx((0.5 * -0.8 + 0.4 * 0.5) / 2)


def test_threat_by_hand():
    """sum_h tau_hi tau_hj with tau_hi = c_h max(0, -W_hi): a shared, capable enemy binds."""
    W = np.zeros((1, 3, 3))
    W[0, 2, 0], W[0, 2, 1] = -0.5, -0.4  # actor 2 is hostile to 0 and 1
    W[0, 0, 2] = -1.0  # 0's hostility toward 2 plays no part in the 0-1 tie
    c = np.array([[0.2, 0.3, 0.5]])
    F = d.threat_force(W, c)
    assert F[0, 0, 1] == pytest.approx(0.5 * 0.5 * 0.5 * 0.4)
    assert F[0, 1, 0] == pytest.approx(F[0, 0, 1])
    # h = i, j excluded: friendly third parties add nothing
    W[0, 2, 0] = 0.5
    assert d.threat_force(W, c)[0, 0, 1] == pytest.approx(0.0)


def test_pressure_by_hand():
    p = np.array([[0.5, 0.8, 0.0]])
    F = d.pressure_force(p)
    assert F[0, 0, 1] == pytest.approx(0.4)
    assert F[0, 0, 2] == 0.0


def test_competition_by_hand():
    """-sum_m a_im a_jm v_m: two powers coveting the same client are pushed apart."""
    a = np.zeros((1, 3, 3))
    a[0, 0, 2], a[0, 1, 2] = 0.9, 0.6
    v = np.array([[1.0, 1.0, 0.5]])
    F = d.competition_force(a, v)
    assert F[0, 0, 1] == pytest.approx(-0.9 * 0.6 * 0.5)
    assert F[0, 0, 2] == 0.0


def test_dependence_is_passed_through():
    dep = np.array([[[0.0, 0.3], [0.0, 0.0]]])
    np.testing.assert_array_equal(d.dependence_force(dep), dep)


def test_defection_probability_by_hand():
    """h = h0 exp(beta (theta - W) + gamma r); probability over dt is 1 - exp(-h dt)."""
    p = d.defection_probability(np.array(0.2), 0.1, 0.01, 4.0, np.array(0.5), 2.0, 2.0)
    h = 0.01 * np.exp(4.0 * (0.1 - 0.2) + 2.0 * 0.5)
    assert p == pytest.approx(1 - np.exp(-h * 2.0))
    # lower disposition, higher hazard
    assert d.defection_probability(
        np.array(-0.5), 0.1, 0.01, 4.0, np.array(0.0), 0.0, 1.0
    ) > d.defection_probability(np.array(0.5), 0.1, 0.01, 4.0, np.array(0.0), 0.0, 1.0)


def test_dependence_conflict_by_hand():
    """-sum_k d_ik max(0, -W_jk): i sours on j when j is hostile to i's supplier k (¶8-¶9)."""
    dep = np.zeros((1, 3, 3))
    dep[0, 0, 2] = 0.5  # China (0) depends on Ukraine (2)
    W = np.zeros((1, 3, 3))
    W[0, 1, 2] = -0.6  # Russia (1) is hostile to Ukraine
    W[0, 2, 1] = -0.9  # Ukraine's view of Russia plays no part
    C = d.dependence_conflict(dep, W)
    assert C[0, 0, 1] == pytest.approx(-0.5 * 0.6)
    assert C[0, 1, 0] == 0.0  # Russia depends on no one
    W[0, 1, 2] = 0.4  # a friendly third party costs nothing
    assert d.dependence_conflict(dep, W)[0, 0, 1] == 0.0


def test_balanced_share_by_hand():
    from sim.run.collectors import balanced_share

    W = np.ones((1, 3, 3)) - np.eye(3)
    assert balanced_share(W)[0] == pytest.approx(1.0)
    W[0, 0, 1] = W[0, 1, 0] = -1.0  # + + - : unbalanced
    assert balanced_share(W)[0] == pytest.approx(0.0)
    W4 = np.ones((1, 4, 4)) - np.eye(4)
    W4[0, 0, 1] = W4[0, 1, 0] = -1.0  # two of the four triads contain the negative edge
    assert balanced_share(W4)[0] == pytest.approx(0.5)
