"""Axelrod & Bennett's landscape theory of aggregation: energy of two-bloc alignments.

Actors ``i`` have sizes ``s_i`` (capabilities) and pairwise propensities
``p_ij`` to be together (positive) or apart (negative). A configuration puts
every actor in one of two blocs; ``d_ij`` is 1 when ``i`` and ``j`` are in
different blocs and 0 otherwise. The energy

    ``E = sum_{i<j} s_i s_j p_ij d_ij``

is low when friends share a bloc and enemies are split, and the frustration of
actor ``i``,

    ``F_i = sum_{j != i} s_j p_ij d_ij``,

is what it would like to reduce. With symmetric propensities a single actor's
switch changes the energy by ``s_i (sum_{j != i} s_j p_ij - 2 F_i)``, so a
switch that lowers the mover's frustration lowers ``E``: myopic actors switching
sides one at a time end in a local minimum of the energy landscape, and the
basin of attraction of a minimum measures how likely it is to be reached.

Conventions used here
---------------------
- Propensities are symmetrised, ``(p + p.T) / 2``, and the diagonal ignored.
- A configuration and its mirror image (blocs relabelled) are the same
  alignment; configurations are therefore stored with actor 0 in bloc 0, which
  leaves ``2 ** (A - 1)`` of them (:func:`all_partitions`).
- Descent rule for basins: *steepest single-switch descent*. From a
  configuration, the actor whose switch lowers ``E`` the most switches
  (ties: lowest actor index); this repeats until no switch lowers ``E`` by
  more than the tolerance. Every configuration thus leads to exactly one local
  minimum, and the basin of a minimum is the number of configurations that
  lead to it. (Axelrod & Bennett describe myopic, incremental moves without
  fixing the order; steepest descent is one deterministic order with the same
  end points, the local minima.)

References
----------
.. [1] Axelrod, R., & Bennett, D. S. (1993). A landscape theory of aggregation.
   *British Journal of Political Science*, 23(2), 211-233.
   https://doi.org/10.1017/S000712340000973X
.. [2] Axelrod, R., Mitchell, W., Thomas, R. E., Bennett, D. S., & Bruderer, E.
   (1995). Coalition formation in standard-setting alliances. *Management
   Science*, 41(9), 1493-1508.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "Minimum",
    "all_partitions",
    "best_partition",
    "energies",
    "frustration",
    "minima",
    "switch_gains",
]

EXHAUSTIVE_LIMIT = 20
"""Largest number of actors for which all partitions are enumerated."""


@dataclass(frozen=True, eq=False)
class Minimum:
    """A local minimum of the energy landscape.

    Attributes
    ----------
    blocs : ndarray of uint8, shape (A,)
        Bloc (0 or 1) of each actor, actor 0 in bloc 0.
    energy : float
        Energy of the configuration.
    basin : int
        Number of configurations whose steepest single-switch descent ends
        here (exhaustive search), or number of random starts that ended here
        (greedy search).
    """

    blocs: NDArray[np.uint8]
    energy: float
    basin: int


def _pair_weights(size: ArrayLike, propensity: ArrayLike) -> NDArray[np.float64]:
    """``M_ij = s_i s_j (p_ij + p_ji) / 2`` with a zero diagonal, shape (..., A, A)."""
    s = np.asarray(size, dtype=np.float64)
    p = np.asarray(propensity, dtype=np.float64)
    if p.shape[-2:] != (s.shape[-1], s.shape[-1]):
        raise ValueError(f"propensity shape {p.shape} does not match size shape {s.shape}")
    sym = 0.5 * (p + np.swapaxes(p, -1, -2))
    m = s[..., :, None] * s[..., None, :] * sym
    n_actors = s.shape[-1]
    m[..., np.arange(n_actors), np.arange(n_actors)] = 0.0
    return m


def all_partitions(n_actors: int) -> NDArray[np.uint8]:
    """All two-bloc configurations with actor 0 in bloc 0.

    Parameters
    ----------
    n_actors : int
        Number of actors ``A`` (at least 1).

    Returns
    -------
    ndarray of uint8, shape (2 ** (A - 1), A)
        Row ``p`` puts actor ``k >= 1`` in bloc ``(p >> (k - 1)) & 1``.

    References
    ----------
    .. [1] Axelrod, R., & Bennett, D. S. (1993). A landscape theory of
       aggregation. *British Journal of Political Science*, 23(2), 211-233.
    """
    if n_actors < 1:
        raise ValueError("need at least one actor")
    index = np.arange(2 ** (n_actors - 1), dtype=np.int64)
    shifts = np.arange(n_actors - 1, dtype=np.int64)
    rest = (index[:, None] >> shifts) & 1
    return np.concatenate([np.zeros((index.size, 1), dtype=np.uint8), rest.astype(np.uint8)], 1)


def energies(size: ArrayLike, propensity: ArrayLike, partitions: ArrayLike) -> NDArray[np.float64]:
    """Energy of each partition, for any batch of systems.

    With ``b`` the 0/1 bloc vector, ``M_ij = s_i s_j p_ij`` (symmetrised, zero
    diagonal) and ``r = M 1`` its row sums, ``d_ij = b_i + b_j - 2 b_i b_j``
    gives ``E = sum_{i<j} M_ij d_ij = b . r - b^T M b``.

    Parameters
    ----------
    size : array_like, shape (..., A)
        Sizes (capabilities).
    propensity : array_like, shape (..., A, A)
        Propensities; symmetrised, diagonal ignored.
    partitions : array_like, shape (P, A)
        0/1 bloc labels.

    Returns
    -------
    ndarray, shape (..., P)
        Energy of every partition for every system.

    References
    ----------
    .. [1] Axelrod, R., & Bennett, D. S. (1993). A landscape theory of
       aggregation. *British Journal of Political Science*, 23(2), 211-233.
    """
    m = _pair_weights(size, propensity)
    b = np.asarray(partitions, dtype=np.float64)
    if b.ndim != 2 or b.shape[1] != m.shape[-1]:
        raise ValueError(f"partitions must have shape (P, {m.shape[-1]}), got {b.shape}")
    r = m.sum(axis=-1)
    bm = np.matmul(b, m)  # (..., P, A): (b^T M) for every partition
    return np.matmul(r[..., None, :], b.T)[..., 0, :] - (bm * b).sum(axis=-1)


def frustration(size: ArrayLike, propensity: ArrayLike, labels: ArrayLike) -> NDArray[np.float64]:
    """Frustration of every actor in a configuration.

    ``F_i = sum_{j != i} s_j p_ij d_ij``: the size-weighted propensity of
    ``i`` toward the actors in the other bloc. ``E = (1/2) sum_i s_i F_i``.

    Parameters
    ----------
    size : array_like, shape (..., A)
    propensity : array_like, shape (..., A, A)
        Symmetrised, diagonal ignored.
    labels : array_like, shape (..., A)
        Bloc of each actor (two distinct values, usually 0/1).

    Returns
    -------
    ndarray, shape (..., A)

    References
    ----------
    .. [1] Axelrod, R., & Bennett, D. S. (1993). A landscape theory of
       aggregation. *British Journal of Political Science*, 23(2), 211-233.
    """
    s = np.asarray(size, dtype=np.float64)
    p = np.asarray(propensity, dtype=np.float64)
    sym = 0.5 * (p + np.swapaxes(p, -1, -2))
    lab = np.asarray(labels)
    apart = (lab[..., :, None] != lab[..., None, :]).astype(np.float64)
    return (sym * apart * s[..., None, :]).sum(axis=-1)  # diagonal has apart == 0


def switch_gains(size: ArrayLike, propensity: ArrayLike, labels: ArrayLike) -> NDArray[np.float64]:
    """Change of energy if each actor alone switched bloc.

    ``dE_i = sum_{j != i} M_ij (1 - 2 d_ij) = s_i (sum_{j != i} s_j p_ij - 2 F_i)``.
    A configuration is a local minimum when no ``dE_i`` is negative.

    Parameters
    ----------
    size : array_like, shape (..., A)
    propensity : array_like, shape (..., A, A)
    labels : array_like, shape (..., A)
        0/1 bloc labels.

    Returns
    -------
    ndarray, shape (..., A)

    References
    ----------
    .. [1] Axelrod, R., & Bennett, D. S. (1993). A landscape theory of
       aggregation. *British Journal of Political Science*, 23(2), 211-233.
    """
    m = _pair_weights(size, propensity)
    b = np.asarray(labels, dtype=np.float64)
    r = m.sum(axis=-1)
    mb = np.matmul(m, b[..., None])[..., 0]
    cut = b * r + mb - 2 * b * mb  # sum_j M_ij d_ij
    return r - 2 * cut


def _gains(m: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """Switch gains for weights ``m`` (..., A, A) and 0/1 labels ``b`` (..., P, A)."""
    r = m.sum(axis=-1)
    mb = np.matmul(b, m)  # (M b)_k for each configuration (M symmetric)
    cut = b * r[..., None, :] + mb - 2 * b * mb  # sum_j M_kj d_kj
    return r[..., None, :] - 2 * cut


def _tolerance(m: NDArray[np.float64]) -> float:
    return 1e-12 * max(float(np.abs(m).sum()), 1e-300)


def _steepest_descent(m: NDArray[np.float64], labels: NDArray[np.uint8], tol: float) -> NDArray[np.uint8]:
    """Run steepest single-switch descent from every row of ``labels`` (S, A)."""
    b = labels.astype(np.float64)
    rows = np.arange(b.shape[0])
    while True:
        gains = _gains(m, b)
        actor = np.argmin(gains, axis=-1)
        improve = gains[rows, actor] < -tol
        if not improve.any():
            break
        b[rows[improve], actor[improve]] = 1.0 - b[rows[improve], actor[improve]]
    out = b.astype(np.uint8)
    return out ^ out[:, :1]  # mirror so that actor 0 is in bloc 0


def minima(
    size: ArrayLike,
    propensity: ArrayLike,
    exhaustive_max: int = EXHAUSTIVE_LIMIT,
    starts: int = 2000,
    rng: np.random.Generator | int | None = None,
    block: int = 1 << 15,
) -> list[Minimum]:
    """Every local minimum of one system's energy landscape, with its basin.

    A configuration is a local minimum when no single actor's switch lowers
    the energy (by more than ``1e-12`` times the total absolute pair weight).

    Parameters
    ----------
    size : array_like, shape (A,)
    propensity : array_like, shape (A, A)
        Symmetrised, diagonal ignored.
    exhaustive_max : int
        Up to this many actors all ``2 ** (A - 1)`` configurations are
        examined and basins are exact: each configuration is followed by
        steepest single-switch descent (the largest energy drop, ties to the
        lowest actor index) to the minimum it ends in, and a minimum's basin is
        the number of configurations that end there.
    starts : int
        Beyond ``exhaustive_max`` actors, the number of uniformly random
        configurations from which steepest descent is run; the basin of a
        minimum is then the number of starts that ended in it, and minima not
        reached from any start are missed.
    rng : numpy.random.Generator or int, optional
        Random source (or seed) for the greedy search.
    block : int
        Configurations processed at once in the exhaustive search (bounds
        memory).

    Returns
    -------
    list of Minimum
        Sorted by energy (then by decreasing basin).

    References
    ----------
    .. [1] Axelrod, R., & Bennett, D. S. (1993). A landscape theory of
       aggregation. *British Journal of Political Science*, 23(2), 211-233.
    """
    m = _pair_weights(size, propensity)
    if m.ndim != 2:
        raise ValueError("minima() takes one system: size (A,), propensity (A, A)")
    n_actors = m.shape[0]
    tol = _tolerance(m)
    if n_actors <= exhaustive_max:
        found = _exhaustive_minima(m, tol, block)
    else:
        gen = np.random.default_rng(rng)
        start = gen.integers(0, 2, size=(starts, n_actors), dtype=np.uint8)
        ends = _steepest_descent(m, start, tol)
        blocs, basin = np.unique(ends, axis=0, return_counts=True)
        b = blocs.astype(np.float64)
        energy = b @ m.sum(axis=1) - ((b @ m) * b).sum(axis=1)
        found = [Minimum(bl, float(e), int(c)) for bl, e, c in zip(blocs, energy, basin, strict=True)]
    return sorted(found, key=lambda mn: (mn.energy, -mn.basin))


def tie_landscape(capability: ArrayLike, ties: ArrayLike) -> list[Minimum]:
    """The local minima (:func:`minima`) of the landscape of a tie matrix: the propensity of a
    pair is the mean of its two directed ties, ``(W + W^T) / 2``, and an actor whose capability is
    unknown (NaN) weighs nothing."""
    W = np.asarray(ties, dtype=np.float64)
    size = np.nan_to_num(np.asarray(capability, dtype=np.float64), nan=0.0)
    return minima(size, (W + W.T) / 2)


def _exhaustive_minima(m: NDArray[np.float64], tol: float, block: int) -> list[Minimum]:
    """Local minima and exact steepest-descent basins over all configurations."""
    n_actors = m.shape[0]
    parts = all_partitions(n_actors)
    n_parts = parts.shape[0]
    energy = np.empty(n_parts)
    successor = np.arange(n_parts, dtype=np.int64)
    weights = np.concatenate([[0], 1 << np.arange(n_actors - 1, dtype=np.int64)])
    everyone_else = n_parts - 1  # switching actor 0 = switching all the others
    r = m.sum(axis=1)
    for lo in range(0, n_parts, block):
        b = parts[lo : lo + block].astype(np.float64)
        idx = np.arange(lo, lo + b.shape[0], dtype=np.int64)
        mb = b @ m
        energy[lo : lo + b.shape[0]] = b @ r - (mb * b).sum(axis=1)
        gains = _gains(m, b)
        actor = np.argmin(gains, axis=1)
        improve = gains[np.arange(b.shape[0]), actor] < -tol
        flipped = np.where(actor == 0, idx ^ everyone_else, idx ^ weights[actor])
        successor[lo : lo + b.shape[0]] = np.where(improve, flipped, idx)
    # Follow the descent to its end for every configuration by pointer doubling.
    while True:
        nxt = successor[successor]
        if np.array_equal(nxt, successor):
            break
        successor = nxt
    ends, basin = np.unique(successor, return_counts=True)
    return [Minimum(parts[e].copy(), float(energy[e]), int(c)) for e, c in zip(ends, basin, strict=True)]


def best_partition(
    size: ArrayLike,
    propensity: ArrayLike,
    *,
    max_elements: int = 1 << 22,
) -> tuple[NDArray[np.int8], NDArray[np.float64]]:
    """Global minimum of the energy for each system of a batch, by enumeration.

    Parameters
    ----------
    size : array_like, shape (n, A)
        Sizes of the actors in each of ``n`` systems (replicates).
    propensity : array_like, shape (n, A, A)
        Propensities; symmetrised, diagonal ignored.
    max_elements : int
        Upper bound on the number of energies held at once (systems times
        partitions in one block); memory is about ``8 * max_elements`` bytes
        plus the partition block.

    Returns
    -------
    labels : ndarray of int8, shape (n, A)
        Bloc (0/1) of each actor in the lowest-energy configuration, actor 0
        always in bloc 0. Exact ties go to the configuration listed first by
        :func:`all_partitions`.
    energy : ndarray of float64, shape (n,)
        Its energy.

    Notes
    -----
    With the cut indicator ``D[p, (i, j)] = d_ij`` for each pair ``i < j`` and
    the pair weights ``w[(i, j)] = s_i s_j p_ij``, the energies of all
    partitions are one matrix product ``w @ D.T``; partitions and systems are
    processed in blocks. Limited to ``A <= 20`` actors (``2 ** 19``
    partitions); use :func:`minima` beyond that.

    References
    ----------
    .. [1] Axelrod, R., & Bennett, D. S. (1993). A landscape theory of
       aggregation. *British Journal of Political Science*, 23(2), 211-233.
    """
    m = _pair_weights(size, propensity)
    if m.ndim != 3:
        raise ValueError("best_partition() takes size (n, A) and propensity (n, A, A)")
    n, n_actors, _ = m.shape
    if n_actors > EXHAUSTIVE_LIMIT:
        raise ValueError(f"exhaustive search is limited to {EXHAUSTIVE_LIMIT} actors")
    iu, ju = np.triu_indices(n_actors, k=1)
    w = m[:, iu, ju]  # (n, pairs)
    parts = all_partitions(n_actors)
    n_parts = parts.shape[0]
    best_e = np.full(n, np.inf)
    best_p = np.zeros(n, dtype=np.int64)
    p_block = max(1, min(n_parts, max_elements // max(n, 1)))
    n_block = max(1, min(n, max_elements // p_block))
    for plo in range(0, n_parts, p_block):
        chunk = parts[plo : plo + p_block]
        cut = (chunk[:, iu] != chunk[:, ju]).astype(np.float64)  # (Pb, pairs)
        for nlo in range(0, n, n_block):
            e = w[nlo : nlo + n_block] @ cut.T  # (nb, Pb)
            arg = np.argmin(e, axis=1)
            val = e[np.arange(e.shape[0]), arg]
            better = val < best_e[nlo : nlo + n_block]
            best_e[nlo : nlo + n_block] = np.where(better, val, best_e[nlo : nlo + n_block])
            best_p[nlo : nlo + n_block] = np.where(better, arg + plo, best_p[nlo : nlo + n_block])
    return parts[best_p].astype(np.int8), best_e


def descend_partition(size: ArrayLike, propensity: ArrayLike, max_sweeps: int = 1000):
    """A local minimum of the energy for each of a batch of systems, for any number of actors.

    Starts from the signs of the leading eigenvector of the symmetrised propensity (the factions
    Marvel et al. 2011 predict for balance dynamics) and lets the actor whose switch lowers the
    energy most switch, one per system per sweep, until no single switch lowers it (Axelrod &
    Bennett's myopic adjustment). Vectorised over the leading axis.

    Parameters
    ----------
    size : array_like, shape (n, A)
    propensity : array_like, shape (n, A, A)

    Returns
    -------
    labels : ndarray of int8, shape (n, A), actor 0 in bloc 0
    energy : ndarray, shape (n,)

    References
    ----------
    .. [1] Axelrod, R., & Bennett, D. S. (1993). A landscape theory of aggregation.
       *British Journal of Political Science*, 23(2), 211-233.
    .. [2] Marvel, S. A., Kleinberg, J., Kleinberg, R. D., & Strogatz, S. H. (2011).
       Continuous-time model of structural balance. *PNAS*, 108(5), 1771-1776.
    """
    size = np.asarray(size, dtype=np.float64)
    p = np.asarray(propensity, dtype=np.float64)
    p = 0.5 * (p + np.swapaxes(p, -1, -2))
    _, vectors = np.linalg.eigh(p)
    labels = (vectors[..., -1] < 0).astype(np.uint8)
    rows = np.arange(len(labels))
    for _ in range(max_sweeps):
        gains = switch_gains(size, p, labels)
        best = np.argmin(gains, axis=-1)
        move = gains[rows, best] < -1e-12
        if not move.any():
            break
        labels[rows[move], best[move]] ^= 1
    labels ^= labels[:, :1]
    energy = np.einsum("nij,ni,nj->n", _pair_weights(size, p), labels, 1 - labels)
    return labels.astype(np.int8), energy
