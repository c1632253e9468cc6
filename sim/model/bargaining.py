"""Bueno de Mesquita's expected-utility model of bargaining over issue positions.

The model follows the reconstruction of Scholz, Calbert & Smith (2011), who
rebuilt Bueno de Mesquita's (BDM) group decision model from his publications
and checked it against his European Community emission-standards example. Each
actor ``i`` has a capability ``c_i``, a salience ``s_i`` in [0, 1] and a position
``x_i`` on a one-dimensional issue scale. One round of bargaining is:

1. positions are rescaled to [0, 1] with the issue bounds ``(low, high)``;
2. pairwise votes ``v_k(i, j) = c_k s_k (|x_k - x_j| - |x_k - x_i|)`` give the
   probability that ``i`` beats ``j`` (:func:`success_probability`);
3. utilities of success, failure, improvement, worsening and the status quo
   are evaluated with a risk exponent ``r`` (:func:`utilities`);
4. the expected utility of ``i`` challenging ``j`` (:func:`expected_utility`)
   is computed once with every ``r = 1``; from it each actor's vulnerability
   gives its risk exponent (:func:`risk_exponent`);
5. expected utilities are recomputed with those exponents, every pair is
   classified as confrontation, compromise or capitulation and the resulting
   offers are resolved (:func:`resolve_offers`): each actor moves to the best
   offer it receives, or stays.

Where published descriptions disagree, and the reading used here
-----------------------------------------------------------------
*Probability of success.* BDM (1994) and Scholz et al. (2011) print the
probability as the votes of the coalition supporting ``i`` over all votes cast
on the pair, ``sum_k max(v_k(i, j), 0) / sum_k |v_k(i, j)|`` (so that
``P_ij + P_ji = 1``); code distributed with or after the replication uses the
net vote ``max(sum_k v_k(i, j), 0) / sum_k |v_k(i, j)|`` or a normaliser summed
over all pairs. Both printed forms are implemented. The net vote is the default
(``probability="net"``) because it is the one that reproduces the published
trajectory of BDM's emission-standards example: with it the weighted mean
position stays between 7.25 and 7.39 over ten rounds, inside the published
band of about 7.2 to 7.6, whereas the coalition ratio (``probability=
"coalition"``) drifts to 7.14 after three rounds and 6.90 after ten. Every
actor votes, including ``i`` and ``j``.

*Risk.* BDM (1994) obtains ``R_i`` by comparing ``i``'s security (the sum of
the other actors' expected utilities of challenging ``i``) with the largest and
smallest security ``i`` could have had at *other positions* on the issue.
Scholz et al. (2011) compare it with the largest and smallest security *of all
actors at their current positions*, ``R_i = (2 S_i - S_max - S_min) /
(S_max - S_min)``, ``r_i = (1 - R_i / 3) / (1 + R_i / 3)``, with every
security computed at ``r = 1``. The replication's reading is used (it is the
one validated against BDM's published example); when all securities are equal
``R_i = 0`` and ``r_i = 1``.

*Whose risk exponent.* An expected utility is always evaluated with the risk
exponent of the actor whose perception it is. With ``perspective="receiver"``
(default) the actor receiving an offer judges both sides of the dyad with its
own exponent -- BDM's quadrant charts are drawn from one actor's point of view
and the decision to move is the receiver's. ``perspective="own"`` instead uses
each actor's own exponent for its own expected utility.

*Status quo.* ``Q`` (probability that the status quo persists if ``i`` does not
challenge) and ``T`` (probability that an unchallenged change is an
improvement) default to 1 as in the replication; the expression is
``E_i(ij) = s_j [P U_s + (1 - P) U_f] + (1 - s_j) U_s - Q U_sq
- (1 - Q) [T U_b + (1 - T) U_w]``. With ``Q = 1`` the reference point ``mu`` of
``U_b`` and ``U_w`` does not matter; when it does it is the weighted median of
the current positions (the vote winner), as in Scholz et al.'s step list.

*Which offer is accepted.* ``i`` makes an offer to ``j`` whenever ``E_i(ij) > 0``.
With ``E_j(ji)`` the receiver's expected utility of challenging back:
confrontation if ``E_i > E_j > 0`` (``j`` moves to ``x_i``); compromise if
``E_j <= 0`` and ``|E_j| < E_i`` (``j`` moves to ``x_j + (x_i - x_j) |E_j / E_i|``);
capitulation if ``E_j < 0`` and ``|E_j| >= E_i`` (``j`` moves to ``x_i``). When
``E_j >= E_i > 0`` the receiver would win the confrontation and the offer is
refused. BDM (1994) and Scholz et al. (2011) both say that an actor takes the
offer that requires the smallest change of its position; code distributed
with the replication instead ranks offer types (confrontation before
compromise before capitulation) or takes the offer from the sender with the
largest expected utility. The printed rule is used here: among the accepted
offers the one nearest to the receiver's position wins (ties go to the lowest
sender index); an actor with no acceptable offer keeps its position.

*Scales.* Positions are rescaled with the issue bounds; salience is divided by
``salience_scale`` (100 for BDM's 0-100 data, 1 for data already in [0, 1]) so
that it can act as the probability that the challenged actor resists.
Capability enters only through ratios of votes, so its scale is irrelevant.

References
----------
.. [1] Bueno de Mesquita, B. (1994). Political forecasting: an expected utility
   method. In B. Bueno de Mesquita & F. N. Stokman (Eds.), *European Community
   Decision Making: Models, Applications, and Comparisons* (pp. 71-104). Yale
   University Press.
.. [2] Scholz, J. B., Calbert, G. J., & Smith, G. A. (2011). Unravelling Bueno
   de Mesquita's group decision model. *Journal of Theoretical Politics*,
   23(4), 510-531. https://doi.org/10.1177/0951629811418142
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "BasicUtilities",
    "bdm_rounds",
    "bdm_step",
    "expected_utility",
    "resolve_offers",
    "risk_exponent",
    "success_probability",
    "utilities",
    "votes",
    "weighted_mean",
    "weighted_median",
]

Probability = Literal["coalition", "net"]
Perspective = Literal["receiver", "own"]

# Offer kinds reported by ``resolve_offers(..., return_kind=True)``.
NO_OFFER, CONFRONTATION, COMPROMISE, CAPITULATION = 0, 1, 2, 3


def _float_dtype(*arrays: ArrayLike) -> np.dtype:
    """Floating dtype for a computation: float32 stays float32, else float64."""
    return np.result_type(*[np.asarray(a).dtype for a in arrays], np.float32)


def weighted_median(position: ArrayLike, weight: ArrayLike) -> NDArray[np.floating]:
    """Weighted median of positions along the last axis (BDM's forecast).

    The median is the smallest position at which the cumulative weight of the
    positions sorted in increasing order reaches half of the total weight. With
    linear (absolute-distance) votes weighted by capability times salience this
    position wins every pairwise vote, which is how BDM forecasts the outcome.

    Parameters
    ----------
    position : array_like, shape (..., A)
        Positions of the ``A`` actors.
    weight : array_like, shape broadcastable to (..., A)
        Non-negative weights, normally capability times salience.

    Returns
    -------
    ndarray, shape (...)
        The weighted median of each row.

    References
    ----------
    .. [1] Bueno de Mesquita, B. (1994). Political forecasting: an expected
       utility method. In *European Community Decision Making* (pp. 71-104).
       Yale University Press.
    .. [2] Scholz, J. B., Calbert, G. J., & Smith, G. A. (2011). Unravelling
       Bueno de Mesquita's group decision model. *Journal of Theoretical
       Politics*, 23(4), 510-531.
    """
    x = np.asarray(position)
    w = np.broadcast_to(np.asarray(weight), x.shape)
    order = np.argsort(x, axis=-1, kind="stable")
    xs = np.take_along_axis(x, order, axis=-1)
    cum = np.cumsum(np.take_along_axis(w, order, axis=-1), axis=-1)
    reached = 2 * cum >= cum[..., -1:]
    first = np.argmax(reached, axis=-1)[..., None]
    return np.take_along_axis(xs, first, axis=-1)[..., 0]


def weighted_mean(position: ArrayLike, weight: ArrayLike) -> NDArray[np.floating]:
    """Weighted mean of positions along the last axis.

    Parameters
    ----------
    position : array_like, shape (..., A)
        Positions of the ``A`` actors.
    weight : array_like, shape broadcastable to (..., A)
        Non-negative weights, normally capability times salience.

    Returns
    -------
    ndarray, shape (...)
        ``sum(w x) / sum(w)``; NaN where all weights are zero.

    References
    ----------
    .. [1] Scholz, J. B., Calbert, G. J., & Smith, G. A. (2011). Unravelling
       Bueno de Mesquita's group decision model. *Journal of Theoretical
       Politics*, 23(4), 510-531.
    """
    x = np.asarray(position)
    w = np.broadcast_to(np.asarray(weight), x.shape)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (w * x).sum(axis=-1) / w.sum(axis=-1)


def votes(weight: ArrayLike, x: ArrayLike) -> NDArray[np.floating]:
    """Every actor's vote on every pairwise contest.

    Parameters
    ----------
    weight : array_like, shape (..., A)
        Capability times salience of each voter.
    x : array_like, shape (..., A)
        Positions, rescaled to [0, 1].

    Returns
    -------
    ndarray, shape (..., A, A, A)
        ``v[..., k, i, j] = w_k (|x_k - x_j| - |x_k - x_i|)``: positive when
        voter ``k`` prefers ``i``'s position to ``j``'s. This array is cubic in
        the number of actors; :func:`success_probability` avoids building it.

    References
    ----------
    .. [1] Scholz, J. B., Calbert, G. J., & Smith, G. A. (2011). Unravelling
       Bueno de Mesquita's group decision model. *Journal of Theoretical
       Politics*, 23(4), 510-531.
    """
    w = np.asarray(weight)
    x = np.asarray(x)
    dist = np.abs(x[..., :, None] - x[..., None, :])  # dist[k, m] = |x_k - x_m|
    return w[..., :, None, None] * (dist[..., :, None, :] - dist[..., :, :, None])


def success_probability(
    weight: ArrayLike, x: ArrayLike, probability: Probability = "net"
) -> NDArray[np.floating]:
    """Probability that ``i`` prevails over ``j`` in a contest, for every pair.

    Parameters
    ----------
    weight : array_like, shape (..., A)
        Capability times salience of each voter.
    x : array_like, shape (..., A)
        Positions, rescaled to [0, 1].
    probability : {"net", "coalition"}
        ``"net"`` (default): the net vote ``max(sum_k v_k, 0) / sum_k |v_k|``,
        which reproduces the published emission-standards trajectory.
        ``"coalition"``: the votes for ``i`` over all votes cast,
        ``sum_k max(v_k, 0) / sum_k |v_k|`` (the printed formula of BDM 1994
        and Scholz et al. 2011; ``P_ij + P_ji = 1``).

    Returns
    -------
    ndarray, shape (..., A, A)
        ``P[..., i, j]``. Where no voter distinguishes the two positions
        (for instance ``x_i == x_j``) the probability is 0.5; it then has no
        effect because success and failure are worth the same.

    Notes
    -----
    With ``v_k = w_k (|x_k - x_j| - |x_k - x_i|)`` the coalition sum is
    ``(sum_k v_k + sum_k |v_k|) / 2``. The net and absolute sums are
    accumulated one voter at a time, so memory stays quadratic in the number
    of actors (the full vote array of :func:`votes` is cubic).

    References
    ----------
    .. [1] Bueno de Mesquita, B. (1994). Political forecasting: an expected
       utility method. In *European Community Decision Making* (pp. 71-104).
       Yale University Press.
    .. [2] Scholz, J. B., Calbert, G. J., & Smith, G. A. (2011). Unravelling
       Bueno de Mesquita's group decision model. *Journal of Theoretical
       Politics*, 23(4), 510-531.
    """
    w = np.asarray(weight)
    x = np.asarray(x)
    dtype = _float_dtype(w, x)
    w = w.astype(dtype, copy=False)
    x = x.astype(dtype, copy=False)
    dist = np.abs(x[..., :, None] - x[..., None, :])
    shape = dist.shape
    net = np.zeros(shape, dtype=dtype)
    total = np.zeros(shape, dtype=dtype)
    v = np.empty(shape, dtype=dtype)
    for k in range(x.shape[-1]):
        row = dist[..., k, :]
        np.subtract(row[..., None, :], row[..., :, None], out=v)
        v *= w[..., k, None, None]  # v_k(i, j)
        net += v
        np.abs(v, out=v)
        total += v
    if probability == "coalition":
        numerator = 0.5 * (net + total)
    elif probability == "net":
        numerator = np.maximum(net, 0)
    else:
        raise ValueError(f"probability must be 'coalition' or 'net', got {probability!r}")
    out = np.full(net.shape, 0.5, dtype=dtype)
    np.divide(numerator, total, out=out, where=total > 0)
    return np.clip(out, 0, 1)


class BasicUtilities(NamedTuple):
    """Utilities of the outcomes of ``i`` challenging ``j`` (see :func:`utilities`)."""

    success: NDArray[np.floating]
    failure: NDArray[np.floating]
    better: NDArray[np.floating]
    worse: NDArray[np.floating]
    status_quo: NDArray[np.floating]


def utilities(x: ArrayLike, mu: ArrayLike, r: ArrayLike) -> BasicUtilities:
    """Utilities of the outcomes of a challenge, with risk exponents.

    For a challenger ``i`` and a target ``j`` at distance
    ``d = |x_i - x_j|`` (positions in [0, 1]) and ``e = |x_i - mu| + d``:

    - success ``U_s = 2 - 4 (0.5 - 0.5 d)^r``
    - failure ``U_f = 2 - 4 (0.5 + 0.5 d)^r``
    - things improve anyway ``U_b = 2 - 4 (0.5 - 0.25 e)^r``
    - things worsen anyway ``U_w = 2 - 4 (0.5 + 0.25 e)^r``
    - status quo ``U_sq = 2 - 4 (0.5)^r``

    Parameters
    ----------
    x : array_like, shape (..., A)
        Positions rescaled to [0, 1].
    mu : array_like, shape (...)
        The reference (forecast) position in [0, 1].
    r : array_like, broadcastable to (..., A, A)
        Risk exponent of the evaluating actor for each pair ``[i, j]``:
        ``r[..., :, None]`` for the challenger's own view, ``r[..., None, :]``
        for the target's view. ``r = 1`` is risk neutral; the replication keeps
        ``r`` in [0.5, 2].

    Returns
    -------
    BasicUtilities
        Arrays of shape (..., A, A) indexed ``[i, j]`` (``status_quo`` is
        broadcast to the same shape).

    References
    ----------
    .. [1] Scholz, J. B., Calbert, G. J., & Smith, G. A. (2011). Unravelling
       Bueno de Mesquita's group decision model. *Journal of Theoretical
       Politics*, 23(4), 510-531.
    """
    x = np.asarray(x)
    d = np.abs(x[..., :, None] - x[..., None, :])
    e = np.abs(x - np.asarray(mu)[..., None])[..., :, None] + d
    r = np.asarray(r, dtype=d.dtype)

    def u(y: NDArray[np.floating]) -> NDArray[np.floating]:
        return 2 - 4 * np.power(np.maximum(y, 0), r)

    status_quo = np.broadcast_to(u(np.full((), 0.5, dtype=d.dtype)), np.broadcast(d, r).shape)
    return BasicUtilities(
        success=u(0.5 - 0.5 * d),
        failure=u(0.5 + 0.5 * d),
        better=u(0.5 - 0.25 * e),
        worse=u(0.5 + 0.25 * e),
        status_quo=status_quo,
    )


def expected_utility(
    x: ArrayLike,
    salience: ArrayLike,
    prob: ArrayLike,
    r: ArrayLike,
    mu: ArrayLike,
    q: float = 1.0,
    t: float = 1.0,
) -> NDArray[np.floating]:
    """Expected utility of ``i`` challenging ``j``, for every ordered pair.

    ``E[i, j] = s_j (P_ij U_s + (1 - P_ij) U_f) + (1 - s_j) U_s - Q U_sq
    - (1 - Q) (T U_b + (1 - T) U_w)``: the target resists with probability
    equal to its salience; if it does not resist the challenger succeeds.

    Parameters
    ----------
    x : array_like, shape (..., A)
        Positions rescaled to [0, 1].
    salience : array_like, shape (..., A)
        Salience in [0, 1] (probability that a challenged actor resists).
    prob : array_like, shape (..., A, A)
        :func:`success_probability`.
    r : array_like, broadcastable to (..., A, A)
        Risk exponent of the evaluating actor for each pair (see
        :func:`utilities`).
    mu : array_like, shape (...)
        Reference position in [0, 1] for ``U_b`` and ``U_w``.
    q, t : float
        BDM's ``Q`` and ``T``; both 1 in the replication.

    Returns
    -------
    ndarray, shape (..., A, A)
        ``E[..., i, j]``. The diagonal is not meaningful.

    References
    ----------
    .. [1] Bueno de Mesquita, B. (1994). Political forecasting: an expected
       utility method. In *European Community Decision Making* (pp. 71-104).
       Yale University Press.
    .. [2] Scholz, J. B., Calbert, G. J., & Smith, G. A. (2011). Unravelling
       Bueno de Mesquita's group decision model. *Journal of Theoretical
       Politics*, 23(4), 510-531.
    """
    s = np.asarray(salience)[..., None, :]
    p = np.asarray(prob)
    if q == 1:
        # U_b and U_w carry no weight: evaluate only what is needed.
        x = np.asarray(x)
        d = np.abs(x[..., :, None] - x[..., None, :])
        if np.ndim(r) == 0 and r == 1:
            success, failure, status_quo = 2 * d, -2 * d, 0
        else:
            r = np.asarray(r, dtype=d.dtype)
            success = 2 - 4 * np.power(0.5 - 0.5 * d, r)
            failure = 2 - 4 * np.power(0.5 + 0.5 * d, r)
            status_quo = 2 - 4 * np.power(d.dtype.type(0.5), r)
        return s * (p * (success - failure) + failure) + (1 - s) * success - status_quo
    u = utilities(x, mu, r)
    challenge = s * (p * u.success + (1 - p) * u.failure) + (1 - s) * u.success
    no_challenge = q * u.status_quo + (1 - q) * (t * u.better + (1 - t) * u.worse)
    return challenge - no_challenge


def risk_exponent(eu_neutral: ArrayLike) -> NDArray[np.floating]:
    """Risk exponents from risk-neutral expected utilities (Scholz et al.'s reading).

    The security of actor ``k`` is ``S_k = sum_{j != k} E_j(jk)``, the sum of
    the other actors' expected utilities of challenging ``k``, computed with
    every risk exponent equal to 1. Then
    ``R_i = (2 S_i - max S - min S) / (max S - min S)`` in [-1, 1] and
    ``r_i = (1 - R_i / 3) / (1 + R_i / 3)`` in [0.5, 2]. When every security
    is the same, ``R_i = 0`` and ``r_i = 1``.

    Parameters
    ----------
    eu_neutral : array_like, shape (..., A, A)
        :func:`expected_utility` evaluated with ``r = 1``, indexed ``[i, j]``
        for ``i`` challenging ``j``. The diagonal is ignored.

    Returns
    -------
    ndarray, shape (..., A)
        Risk exponents.

    References
    ----------
    .. [1] Scholz, J. B., Calbert, G. J., & Smith, G. A. (2011). Unravelling
       Bueno de Mesquita's group decision model. *Journal of Theoretical
       Politics*, 23(4), 510-531.
    .. [2] Bueno de Mesquita, B. (1994). Political forecasting: an expected
       utility method. In *European Community Decision Making* (pp. 71-104).
       Yale University Press. (Compares ``S_i`` with its extremes over ``i``'s
       possible positions instead; see the module notes.)
    """
    eu = np.asarray(eu_neutral)
    n_actors = eu.shape[-1]
    off = ~np.eye(n_actors, dtype=bool)
    security = np.where(off, eu, 0).sum(axis=-2)  # column sums: others challenging k
    hi = security.max(axis=-1, keepdims=True)
    lo = security.min(axis=-1, keepdims=True)
    spread = hi - lo
    big_r = np.zeros_like(security)
    np.divide(2 * security - hi - lo, spread, out=big_r, where=spread > 0)
    big_r = np.clip(big_r, -1, 1)
    return (1 - big_r / 3) / (1 + big_r / 3)


def resolve_offers(
    position: ArrayLike,
    eu_sender: ArrayLike,
    eu_receiver: ArrayLike,
    *,
    return_kind: bool = False,
) -> NDArray[np.floating] | tuple[NDArray[np.floating], NDArray[np.int8]]:
    """Classify every offer and move each actor to the best offer it accepts.

    For the offer from ``i`` to ``j`` (made when ``E_i = eu_sender[i, j] > 0``),
    with ``E_j = eu_receiver[i, j]`` the receiver's expected utility of
    challenging ``i``:

    - confrontation, ``E_i > E_j > 0``: ``j`` loses and moves to ``x_i``;
    - compromise, ``E_j <= 0`` and ``|E_j| < E_i``: ``j`` moves to
      ``x_j + (x_i - x_j) |E_j / E_i|``;
    - capitulation, ``E_j < 0`` and ``|E_j| >= E_i``: ``j`` moves to ``x_i``;
    - otherwise (no offer, or ``j`` would win the confrontation) ``j`` does not
      move because of ``i``.

    Among the offers it accepts, ``j`` takes the one requiring the smallest
    change of position (ties: lowest sender index); with none it stays.

    Parameters
    ----------
    position : array_like, shape (..., A)
        Current positions (any units; proposals are convex combinations).
    eu_sender, eu_receiver : array_like, shape (..., A, A)
        Indexed ``[i, j]`` for the offer from ``i`` to ``j``. The diagonal is
        ignored.
    return_kind : bool
        Also return the kind of the accepted offer for each actor
        (0 none, 1 confrontation, 2 compromise, 3 capitulation).

    Returns
    -------
    new_position : ndarray, shape (..., A)
    kind : ndarray of int8, shape (..., A)
        Only when ``return_kind`` is true.

    References
    ----------
    .. [1] Bueno de Mesquita, B. (1994). Political forecasting: an expected
       utility method. In *European Community Decision Making* (pp. 71-104).
       Yale University Press.
    .. [2] Scholz, J. B., Calbert, G. J., & Smith, G. A. (2011). Unravelling
       Bueno de Mesquita's group decision model. *Journal of Theoretical
       Politics*, 23(4), 510-531.
    """
    x = np.asarray(position)
    ei = np.asarray(eu_sender)
    ej = np.asarray(eu_receiver)
    n_actors = x.shape[-1]
    sender_x = x[..., :, None]
    receiver_x = x[..., None, :]
    made = (ei > 0) & ~np.eye(n_actors, dtype=bool)
    confront = made & (ej > 0) & (ei > ej)
    compromise = made & (ej <= 0) & (-ej < ei)
    capitulate = made & (ej < 0) & (-ej >= ei)
    fraction = np.zeros(np.broadcast(ei, ej).shape, dtype=np.result_type(x, ei, ej))
    np.divide(-ej, ei, out=fraction, where=compromise)
    proposal = np.where(
        confront | capitulate,
        sender_x,
        np.where(compromise, receiver_x + (sender_x - receiver_x) * fraction, receiver_x),
    )
    accepted = confront | compromise | capitulate
    change = np.where(accepted, np.abs(proposal - receiver_x), np.inf)
    best = np.argmin(change, axis=-2)[..., None, :]
    chosen = np.take_along_axis(proposal, best, axis=-2)[..., 0, :]
    moved = accepted.any(axis=-2)
    new_x = np.where(moved, chosen, x)
    if not return_kind:
        return new_x
    kinds = (confront * CONFRONTATION + compromise * COMPROMISE + capitulate * CAPITULATION).astype(np.int8)
    kind = np.where(moved, np.take_along_axis(kinds, best, axis=-2)[..., 0, :], NO_OFFER)
    return new_x, kind.astype(np.int8)


def _salience_unit(salience: NDArray, salience_scale: float | None) -> NDArray:
    """Salience divided by its scale; the scale is 100 if any value exceeds 1."""
    if salience_scale is None:
        salience_scale = 100.0 if salience.size and float(salience.max()) > 1 else 1.0
    s = salience / salience.dtype.type(salience_scale)
    if s.size and (float(s.min()) < 0 or float(s.max()) > 1):
        raise ValueError(f"salience / salience_scale must lie in [0, 1] (salience_scale={salience_scale})")
    return s


def bdm_step(
    capability: ArrayLike,
    position: ArrayLike,
    salience: ArrayLike,
    low: ArrayLike,
    high: ArrayLike,
    *,
    q: float = 1.0,
    t: float = 1.0,
    salience_scale: float | None = None,
    probability: Probability = "net",
    perspective: Perspective = "receiver",
) -> NDArray[np.floating]:
    """One round of BDM bargaining for ``n`` replicates and ``K`` independent issues.

    Parameters
    ----------
    capability : array_like, shape (n, A)
        Capabilities (any non-negative scale; only ratios matter).
    position : array_like, shape (n, A, K)
        Positions on each issue, within ``[low, high]``.
    salience : array_like, shape (n, A, K)
        Salience of each issue to each actor, on the scale ``salience_scale``.
    low, high : array_like, shape (K,)
        Bounds of each issue scale, used to rescale positions to [0, 1].
    q, t : float
        BDM's status-quo probabilities ``Q`` and ``T`` (1 in the replication).
    salience_scale : float, optional
        Divisor that brings salience into [0, 1]; by default 100 if any
        salience exceeds 1 (BDM's 0-100 data) and 1 otherwise.
    probability : {"net", "coalition"}
        Form of the probability of success (see :func:`success_probability`).
    perspective : {"receiver", "own"}
        Whose risk exponent evaluates each side of an offer (see the module
        notes).

    Returns
    -------
    ndarray, shape (n, A, K)
        Positions after the round, in the dtype of ``position`` (float32
        stays float32, integers become float64). An actor that accepts no
        offer keeps its position exactly; new positions lie in the convex hull
        of the current ones.

    Notes
    -----
    Every replicate and issue is handled at once by broadcasting over
    ``(n, K, A, A)``; the only Python loop is over the ``A`` voters inside
    :func:`success_probability`, which keeps memory quadratic in ``A``.

    References
    ----------
    .. [1] Bueno de Mesquita, B. (1994). Political forecasting: an expected
       utility method. In *European Community Decision Making* (pp. 71-104).
       Yale University Press.
    .. [2] Scholz, J. B., Calbert, G. J., & Smith, G. A. (2011). Unravelling
       Bueno de Mesquita's group decision model. *Journal of Theoretical
       Politics*, 23(4), 510-531.
    """
    raw = np.asarray(position)
    if raw.ndim != 3:
        raise ValueError(f"position must have shape (n, A, K), got {raw.shape}")
    dtype = _float_dtype(raw)
    raw = raw.astype(dtype, copy=False)
    n, n_actors, n_issues = raw.shape
    c = np.broadcast_to(np.asarray(capability, dtype=dtype), (n, n_actors))
    s = np.broadcast_to(np.asarray(salience, dtype=dtype), raw.shape)
    lo = np.broadcast_to(np.asarray(low, dtype=dtype), (n_issues,))
    hi = np.broadcast_to(np.asarray(high, dtype=dtype), (n_issues,))
    span = np.where(hi > lo, hi - lo, dtype.type(1))

    # Work on (n, K, A): issues become a leading batch axis.
    pos = np.moveaxis(raw, -1, -2)
    x = (pos - lo[:, None]) / span[:, None]
    s = np.moveaxis(_salience_unit(s, salience_scale), -1, -2)
    w = c[:, None, :] * s

    p = success_probability(w, x, probability)
    mu = weighted_median(x, w)
    eu_neutral = expected_utility(x, s, p, dtype.type(1), mu, q, t)
    r = risk_exponent(eu_neutral)
    eu_own = expected_utility(x, s, p, r[..., :, None], mu, q, t)
    receiver_view = np.swapaxes(eu_own, -1, -2)  # [i, j] -> E_j(ji) with r_j
    if perspective == "receiver":
        sender_view = expected_utility(x, s, p, r[..., None, :], mu, q, t)
    elif perspective == "own":
        sender_view = eu_own
    else:
        raise ValueError(f"perspective must be 'receiver' or 'own', got {perspective!r}")
    new_pos = resolve_offers(pos, sender_view, receiver_view, return_kind=False)
    assert isinstance(new_pos, np.ndarray)  # without the offer kinds, one array
    return np.moveaxis(new_pos, -2, -1).astype(dtype, copy=False)


def bdm_rounds(
    capability: ArrayLike,
    position: ArrayLike,
    salience: ArrayLike,
    rounds: int = 10,
    *,
    scale: tuple[float, float] | None = None,
    **settings: object,
) -> NDArray[np.floating]:
    """Run BDM bargaining on one issue for several rounds.

    A thin wrapper over :func:`bdm_step` with one replicate and one issue.

    Parameters
    ----------
    capability, position, salience : array_like, shape (A,)
        Actor data; salience on the user's scale (for example 0-100, see
        ``salience_scale`` in :func:`bdm_step`).
    rounds : int
        Number of bargaining rounds.
    scale : (float, float), optional
        ``(low, high)`` of the issue scale; by default the minimum and maximum
        of the initial positions.
    **settings
        Passed to :func:`bdm_step` (``q``, ``t``, ``salience_scale``,
        ``probability``, ``perspective``).

    Returns
    -------
    ndarray, shape (rounds + 1, A)
        Row 0 holds the initial positions, row ``k`` the positions after ``k``
        rounds.

    References
    ----------
    .. [1] Scholz, J. B., Calbert, G. J., & Smith, G. A. (2011). Unravelling
       Bueno de Mesquita's group decision model. *Journal of Theoretical
       Politics*, 23(4), 510-531.

    Examples
    --------
    >>> path = bdm_rounds([1.0, 1.0], [0.0, 10.0], [50, 50], rounds=2)
    >>> path.shape
    (3, 2)
    """
    x0 = np.asarray(position)
    dtype = _float_dtype(x0)
    x0 = x0.astype(dtype)
    s = np.asarray(salience, dtype=dtype)
    if "salience_scale" not in settings or settings["salience_scale"] is None:
        settings["salience_scale"] = 100.0 if s.size and float(s.max()) > 1 else 1.0
    low, high = (float(x0.min()), float(x0.max())) if scale is None else scale
    c = np.asarray(capability, dtype=dtype)[None, :]
    s = s[None, :, None]
    path = np.empty((rounds + 1, x0.shape[-1]), dtype=dtype)
    path[0] = x0
    current = x0[None, :, None]
    for k in range(rounds):
        current = bdm_step(c, current, s, [low], [high], **settings)  # type: ignore[arg-type]
        path[k + 1] = current[0, :, 0]
    return path
