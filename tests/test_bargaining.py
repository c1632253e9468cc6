"""Unit and property tests of sim.model.bargaining (BDM expected-utility bargaining).

The hand-computed case has three actors on a [0, 1] scale at x = (0, 0.5, 1)
with capabilities (0.5, 0.3, 0.2) and saliences (1, 0.5, 0.5), so the voting
weights are w = c * s = (0.5, 0.15, 0.1).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sim.model.bargaining import (
    CAPITULATION,
    COMPROMISE,
    CONFRONTATION,
    NO_OFFER,
    bdm_rounds,
    bdm_step,
    expected_utility,
    resolve_offers,
    risk_exponent,
    success_probability,
    utilities,
    votes,
    weighted_mean,
    weighted_median,
)

X3 = np.array([0.0, 0.5, 1.0])
C3 = np.array([0.5, 0.3, 0.2])
S3 = np.array([1.0, 0.5, 0.5])
W3 = C3 * S3


# ---------------------------------------------------------------- hand-computed pieces


def test_weighted_median_and_mean_by_hand():
    """Forecasts: cumulative weight 0.5 >= 0.75 / 2 at x = 0; mean 0.175 / 0.75."""
    assert weighted_median(X3, W3) == 0.0
    assert weighted_mean(X3, W3) == pytest.approx(7 / 30)


def test_weighted_median_is_lower_median_on_exact_half():
    """Two equal weights: the smallest position reaching half the weight."""
    assert weighted_median(np.array([3.0, 1.0]), np.array([1.0, 1.0])) == 1.0


def test_weighted_statistics_vectorise_over_leading_axes():
    """Each row of a batch gives the same answer as on its own."""
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 10, (4, 5, 6))
    w = rng.uniform(0, 1, (4, 5, 6))
    med = weighted_median(x, w)
    mean = weighted_mean(x, w)
    assert med.shape == mean.shape == (4, 5)
    for idx in np.ndindex(4, 5):
        assert med[idx] == weighted_median(x[idx], w[idx])
        assert mean[idx] == pytest.approx(weighted_mean(x[idx], w[idx]))


def test_votes_by_hand():
    """v[k, i, j] = w_k (|x_k - x_j| - |x_k - x_i|)."""
    v = votes(W3, X3)
    assert v.shape == (3, 3, 3)
    assert v[0, 0, 2] == pytest.approx(0.5)  # actor 0 backs itself against 2
    assert v[1, 0, 2] == pytest.approx(0.0)  # actor 1 is equidistant
    assert v[2, 0, 2] == pytest.approx(-0.1)
    assert v[1, 0, 1] == pytest.approx(-0.075)


def test_coalition_probability_by_hand():
    """P_ij = sum of votes for i / sum of |votes| on the pair."""
    p = success_probability(W3, X3, "coalition")
    assert p[0, 2] == pytest.approx(5 / 6)
    assert p[0, 1] == pytest.approx(2 / 3)
    assert p[1, 2] == pytest.approx(13 / 15)
    assert p[2, 0] == pytest.approx(1 / 6)


def test_net_probability_by_hand():
    """P_ij = max(net votes, 0) / sum of |votes|: the loser of the net vote gets 0."""
    p = success_probability(W3, X3, "net")
    assert p[0, 2] == pytest.approx(0.4 / 0.6)
    assert p[0, 1] == pytest.approx(0.125 / 0.375)
    assert p[1, 2] == pytest.approx(0.275 / 0.375)
    assert p[2, 0] == 0.0 and p[1, 0] == 0.0


def test_probability_rejects_unknown_form():
    with pytest.raises(ValueError):
        success_probability(W3, X3, "majority")  # type: ignore[arg-type]


def test_utilities_by_hand():
    """r = 2, d = 0.5: U_s = 2 - 4 (1/4)^2, U_f = 2 - 4 (3/4)^2, U_sq = 2 - 4 (1/2)^2."""
    u = utilities(X3, 0.0, 2.0)
    assert u.success[0, 1] == pytest.approx(1.75)
    assert u.failure[0, 1] == pytest.approx(-0.25)
    assert u.status_quo[0, 1] == pytest.approx(1.0)
    # r = 1, mu = 0, i = 1, j = 2: e = |0.5 - 0| + 0.5 = 1
    u1 = utilities(X3, 0.0, 1.0)
    assert u1.better[1, 2] == pytest.approx(1.0)
    assert u1.worse[1, 2] == pytest.approx(-1.0)
    assert u1.success[0, 2] == pytest.approx(2.0)  # risk neutral: U_s = 2 d


def neutral_eu_hand() -> np.ndarray:
    """Risk-neutral E[i, j] = 2 d (1 - 2 s_j (1 - P_ij)) with coalition P."""
    return np.array(
        [[0.0, 2 / 3, 5 / 3], [-1 / 3, 0.0, 13 / 15], [-4 / 3, 2 / 15, 0.0]],
    )


def test_expected_utility_by_hand():
    """E = s_j (P U_s + (1 - P) U_f) + (1 - s_j) U_s - U_sq with Q = 1."""
    p = success_probability(W3, X3, "coalition")
    eu = expected_utility(X3, S3, p, 1.0, 0.0)
    off = ~np.eye(3, dtype=bool)
    np.testing.assert_allclose(eu[off], neutral_eu_hand()[off])
    # actor 0 with r = 2 against actor 1: 0.5 (2/3 1.75 - 1/3 0.25) + 0.5 1.75 - 1
    eu2 = expected_utility(X3, S3, p, 2.0, 0.0)
    assert eu2[0, 1] == pytest.approx(5 / 12)


def test_expected_utility_with_status_quo_uncertain():
    """Q = 0.5, T = 1: subtract 0.5 U_sq + 0.5 U_b; U_b(0 vs 1, mu = 0) = 0.5."""
    p = success_probability(W3, X3, "coalition")
    eu = expected_utility(X3, S3, p, 1.0, 0.0, q=0.5, t=1.0)
    assert eu[0, 1] == pytest.approx(2 / 3 - 0.25)


def test_risk_exponent_by_hand():
    """Securities (-5/3, 4/5, 38/15) give R = (-1, 11/63, 1) and r = (2, 0.89, 0.5)."""
    r = risk_exponent(neutral_eu_hand())
    np.testing.assert_allclose(r, [2.0, 0.89, 0.5])


def test_risk_exponent_is_neutral_when_securities_tie():
    """Equal securities leave no spread: every actor is risk neutral."""
    eu = np.ones((4, 4))
    np.testing.assert_array_equal(risk_exponent(eu), np.ones(4))


def test_resolve_offers_by_hand():
    """Actor 0 loses a confrontation, 1 takes the nearer compromise, 2 gets no offer."""
    x = np.array([0.0, 4.0, 10.0])
    sender = np.zeros((3, 3))
    receiver = np.zeros((3, 3))
    # offers to actor 0: from 1 it loses (0.8 > 0.3 > 0); from 2 it would win (0.9 > 0.2)
    sender[1, 0], receiver[1, 0] = 0.8, 0.3
    sender[2, 0], receiver[2, 0] = 0.2, 0.9
    # offers to actor 1: compromise toward 0 by |-0.25 / 1| -> 3; capitulation to 10
    sender[0, 1], receiver[0, 1] = 1.0, -0.25
    sender[2, 1], receiver[2, 1] = 0.5, -1.0
    # offers to actor 2: none (non-positive sender utilities)
    sender[0, 2], sender[1, 2] = -0.1, 0.0
    new, kind = resolve_offers(x, sender, receiver, return_kind=True)
    np.testing.assert_allclose(new, [4.0, 3.0, 10.0])
    assert list(kind) == [CONFRONTATION, COMPROMISE, NO_OFFER]


def test_resolve_offers_capitulation_and_ties():
    """Capitulation moves fully; equally near offers go to the lowest sender."""
    x = np.array([2.0, 0.0, 4.0])
    sender = np.zeros((3, 3))
    receiver = np.zeros((3, 3))
    sender[1, 0], receiver[1, 0] = 0.5, -0.7  # |E_j| >= E_i: capitulate to 0
    sender[2, 0], receiver[2, 0] = 0.5, -0.5  # boundary |E_j| == E_i: capitulate to 4
    new, kind = resolve_offers(x, sender, receiver, return_kind=True)
    assert new[0] == 0.0 and kind[0] == CAPITULATION


# ------------------------------------------------------- full round against an oracle


def oracle_step(c, x, s, low, high, probability, perspective, q=1.0, t=1.0):
    """A plain scalar transcription of one round (Scholz et al. 2011), for comparison."""
    a = len(x)
    z = [(xi - low) / (high - low) for xi in x]
    w = [c[k] * s[k] for k in range(a)]

    def prob(i, j):
        v = [w[k] * (abs(z[k] - z[j]) - abs(z[k] - z[i])) for k in range(a)]
        total = sum(abs(vk) for vk in v)
        if total == 0:
            return 0.5
        if probability == "coalition":
            return sum(vk for vk in v if vk > 0) / total
        return max(sum(v), 0.0) / total

    order = sorted(range(a), key=lambda k: z[k])
    half, cum, mu = sum(w) / 2, 0.0, z[order[-1]]
    for k in order:
        cum += w[k]
        if cum >= half:
            mu = z[k]
            break

    def eu(i, j, r):
        d = abs(z[i] - z[j])
        e = abs(z[i] - mu) + d
        us = 2 - 4 * (0.5 - 0.5 * d) ** r
        uf = 2 - 4 * (0.5 + 0.5 * d) ** r
        ub = 2 - 4 * (0.5 - 0.25 * e) ** r
        uw = 2 - 4 * (0.5 + 0.25 * e) ** r
        usq = 2 - 4 * 0.5**r
        p = prob(i, j)
        value = s[j] * (p * us + (1 - p) * uf) + (1 - s[j]) * us
        return value - q * usq - (1 - q) * (t * ub + (1 - t) * uw)

    security = [sum(eu(j, k, 1.0) for j in range(a) if j != k) for k in range(a)]
    hi, lo = max(security), min(security)
    risk = []
    for k in range(a):
        big_r = 0.0 if hi == lo else (2 * security[k] - hi - lo) / (hi - lo)
        risk.append((1 - big_r / 3) / (1 + big_r / 3))

    new = list(x)
    for j in range(a):
        best = None
        for i in range(a):
            if i == j:
                continue
            r_send = risk[j] if perspective == "receiver" else risk[i]
            ei, ej = eu(i, j, r_send), eu(j, i, risk[j])
            if ei <= 0:
                continue
            if ej > 0 and ei > ej:
                target = x[i]
            elif ej <= 0 and -ej < ei:
                target = x[j] + (x[i] - x[j]) * (-ej / ei)
            elif ej < 0:
                target = x[i]
            else:
                continue
            if best is None or abs(target - x[j]) < abs(best - x[j]):
                best = target
        if best is not None:
            new[j] = best
    return new


@pytest.mark.parametrize("probability", ["net", "coalition"])
@pytest.mark.parametrize("perspective", ["receiver", "own"])
@pytest.mark.parametrize("seed", range(6))
def test_step_matches_scalar_oracle(probability, perspective, seed):
    """The vectorised round equals a line-by-line transcription of the model."""
    rng = np.random.default_rng(seed)
    a = 6
    c = rng.uniform(0.05, 1, a)
    x = rng.choice([0.0, 2.0, 3.5, 5.0, 8.0, 10.0], a)
    s = rng.uniform(0.1, 1, a)
    got = bdm_step(
        c[None],
        x[None, :, None],
        s[None, :, None],
        [0.0],
        [10.0],
        salience_scale=1.0,
        probability=probability,
        perspective=perspective,
    )[0, :, 0]
    want = oracle_step(c, x, s, 0.0, 10.0, probability, perspective)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_step_with_uncertain_status_quo_matches_oracle():
    """Q < 1 brings the forecast (weighted median) into the utilities."""
    rng = np.random.default_rng(11)
    c, s = rng.uniform(0.1, 1, 5), rng.uniform(0.1, 1, 5)
    x = np.array([0.0, 1.0, 4.0, 6.0, 9.0])
    got = bdm_step(
        c[None], x[None, :, None], s[None, :, None], [0.0], [9.0], salience_scale=1.0, q=0.4, t=0.7
    )[0, :, 0]
    want = oracle_step(c, x, s, 0.0, 9.0, "net", "receiver", q=0.4, t=0.7)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_salience_scale_inferred_and_checked():
    """0-100 salience is divided by 100; values beyond the given scale are rejected."""
    c = np.array([[1.0, 2.0, 1.0]])
    x = np.array([[[0.0], [5.0], [10.0]]])
    pct = bdm_step(c, x, np.array([[[80.0], [20.0], [50.0]]]), [0.0], [10.0])
    unit = bdm_step(c, x, np.array([[[0.8], [0.2], [0.5]]]), [0.0], [10.0])
    np.testing.assert_array_equal(pct, unit)
    with pytest.raises(ValueError):
        bdm_step(c, x, np.array([[[80.0], [20.0], [50.0]]]), [0.0], [10.0], salience_scale=1.0)


def test_rounds_is_iterated_step():
    """bdm_rounds row k+1 is bdm_step applied to row k; row 0 is the input."""
    c = np.array([0.2, 0.5, 0.3, 0.4])
    x = np.array([1.0, 3.0, 7.0, 9.0])
    s = np.array([60.0, 30.0, 90.0, 50.0])
    path = bdm_rounds(c, x, s, rounds=4)
    assert path.shape == (5, 4)
    np.testing.assert_array_equal(path[0], x)
    for k in range(4):
        nxt = bdm_step(c[None], path[k][None, :, None], s[None, :, None], [1.0], [9.0])
        np.testing.assert_array_equal(path[k + 1], nxt[0, :, 0])


def test_rounds_with_everyone_at_one_position():
    """A degenerate scale (all positions equal) neither fails nor produces NaN."""
    path = bdm_rounds([1.0, 2.0], [5.0, 5.0], [50, 50], rounds=3)
    np.testing.assert_array_equal(path, np.full((4, 2), 5.0))


def test_float32_is_preserved_and_close_to_float64():
    rng = np.random.default_rng(5)
    c = rng.uniform(0, 1, (64, 7))
    x = rng.uniform(0, 10, (64, 7, 3))
    s = rng.uniform(0, 1, (64, 7, 3))
    lo, hi = np.zeros(3), np.full(3, 10.0)
    f64 = bdm_step(c, x, s, lo, hi)
    f32 = bdm_step(c.astype(np.float32), x.astype(np.float32), s.astype(np.float32), lo, hi)
    assert f64.dtype == np.float64 and f32.dtype == np.float32
    # float32 may flip a near-tie between two offers, so compare the bulk
    close = np.isclose(f32, f64, atol=1e-3)
    assert close.mean() > 0.99


# ------------------------------------------------------------------ property tests

unit = st.floats(0.0, 1.0, allow_nan=False, width=64)


@st.composite
def systems(draw, max_n=3, max_actors=6, max_issues=3):
    n = draw(st.integers(1, max_n))
    a = draw(st.integers(2, max_actors))
    k = draw(st.integers(1, max_issues))
    c = draw(arrays(np.float64, (n, a), elements=st.floats(0.01, 1.0)))
    x = draw(arrays(np.float64, (n, a, k), elements=st.floats(-5.0, 5.0)))
    s = draw(arrays(np.float64, (n, a, k), elements=unit))
    return c, x, s


@settings(max_examples=60, deadline=None)
@given(systems())
def test_positions_stay_between_current_extremes(system):
    """Every move lands in the convex hull of the current positions, so inside [low, high]."""
    c, x, s = system
    low, high = np.full(x.shape[-1], -5.0), np.full(x.shape[-1], 5.0)
    new = bdm_step(c, x, s, low, high, salience_scale=1.0)
    assert np.all(np.isfinite(new))
    assert np.all(new >= x.min(axis=1, keepdims=True))
    assert np.all(new <= x.max(axis=1, keepdims=True))


@settings(max_examples=60, deadline=None)
@given(systems(max_n=1, max_issues=1), st.data())
def test_actor_with_all_capability_does_not_move(system, data):
    """With every vote its own, nobody's challenge beats the dominant actor.

    Votes weigh capability times salience, so the dominant actor needs a
    positive salience (with salience 0 it casts no vote at all). In the default
    reading (receiver's view, Q = 1) its success probability is then 1, so its
    expected utility U_s - U_sq exceeds any challenger's
    s U_f + (1 - s) U_s - U_sq: it never loses, compromises or capitulates.
    """
    _, x, s = system
    a = x.shape[1]
    boss = data.draw(st.integers(0, a - 1))
    c = np.zeros((1, a))
    c[0, boss] = data.draw(st.floats(0.1, 10.0))
    s[0, boss, 0] = data.draw(st.floats(0.01, 1.0))
    new = bdm_step(c, x, s, [-5.0], [5.0], salience_scale=1.0)
    assert new[0, boss, 0] == x[0, boss, 0]


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 8), st.floats(0.01, 1.0), st.floats(-5, 5), unit)
def test_identical_actors_do_not_move(a, cap, pos, sal):
    """Actors with the same capability, salience and position have nothing to bargain."""
    c = np.full((1, a), cap)
    x = np.full((1, a, 1), pos)
    s = np.full((1, a, 1), sal)
    new = bdm_step(c, x, s, [-5.0], [5.0], salience_scale=1.0)
    np.testing.assert_array_equal(new, x)


@settings(max_examples=40, deadline=None)
@given(systems(max_n=4))
def test_stacked_replicates_equal_separate_calls(system):
    """Replicates and issues are independent: batching changes nothing, bit for bit."""
    c, x, s = system
    k = x.shape[-1]
    low, high = np.full(k, -5.0), np.full(k, 5.0)
    together = bdm_step(c, x, s, low, high, salience_scale=1.0)
    for i in range(x.shape[0]):
        for j in range(k):
            alone = bdm_step(
                c[i : i + 1],
                x[i : i + 1, :, j : j + 1],
                s[i : i + 1, :, j : j + 1],
                low[j : j + 1],
                high[j : j + 1],
                salience_scale=1.0,
            )
            np.testing.assert_array_equal(together[i, :, j], alone[0, :, 0])


@settings(max_examples=60, deadline=None)
@given(
    st.integers(2, 7).flatmap(
        lambda a: st.tuples(
            arrays(np.float64, a, elements=st.floats(0.0, 1.0)),
            arrays(np.float64, a, elements=unit),
        )
    )
)
def test_probabilities_agree_with_explicit_votes(data):
    """The memory-frugal probabilities equal sums over the explicit vote tensor."""
    w, x = data
    v = votes(w, x)
    total = np.abs(v).sum(axis=0)
    has = total > 0
    coal = success_probability(w, x, "coalition")
    net = success_probability(w, x, "net")
    np.testing.assert_allclose(coal[has], np.clip(v, 0, None).sum(0)[has] / total[has], atol=1e-12)
    np.testing.assert_allclose(net[has], np.clip(v.sum(0), 0, None)[has] / total[has], atol=1e-12)
    np.testing.assert_allclose((coal + coal.T)[has], 1.0, atol=1e-12)
    assert np.all(coal[~has] == 0.5)


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.integers(2, 8), elements=st.floats(-10, 10)))
def test_risk_exponents_lie_between_half_and_two(eu_row):
    """R in [-1, 1] maps to r in [0.5, 2]; the most and least secure hit the ends."""
    a = eu_row.size
    eu = np.outer(np.ones(a), eu_row)  # security of k = (a - 1) * eu_row[k]
    r = risk_exponent(eu)
    assert np.all((r >= 0.5 - 1e-12) & (r <= 2 + 1e-12))
    if np.ptp(eu_row) > 0:
        assert r[np.argmax(eu_row)] == pytest.approx(0.5)
        assert r[np.argmin(eu_row)] == pytest.approx(2.0)
