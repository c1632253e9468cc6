"""Helpers shared by the structural-balance validations.

The structural-balance papers all study the same object, a symmetric matrix of
signed relations driven by ``sum_k W_ik W_kj``. These fixtures build such systems
through the scenario machinery (so that the tests exercise :mod:`sim.spec.scenario`,
:mod:`sim.spec.params` and :mod:`sim.model.dynamics` as a user's run would) and classify
the states they end in.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.spec.params import Params, compile_params
from sim.spec.scenario import Scenario


def balance_scenario(
    n_actors: int,
    *,
    low: float = -0.5,
    high: float = 0.5,
    steps: int = 400,
    dt: float = 0.1,
    balance: float = 1.0,
    noise: float = 0.0,
    replicates: int = 1,
) -> Scenario:
    """A scenario with only the structural-balance force switched on.

    Every pair's initial tie is one symmetric draw from ``U(low, high)`` per replicate;
    capabilities are equal (they do not enter the balance force).

    Parameters
    ----------
    n_actors : int
        Number of actors, named ``a0``, ``a1``, ...
    low, high : float
        Range of the uniform initial ties.
    steps, dt : int, float
        Run length and step length.
    balance, noise : float
        The coefficients ``alpha_bal`` and ``sigma``; every other coefficient is 0.
    replicates : int
        Replicates recorded in the scenario's run settings.

    Returns
    -------
    Scenario
    """
    names = [f"a{i}" for i in range(n_actors)]
    ties = [
        {
            "from": names[i],
            "to": names[j],
            "symmetric": True,
            "value": {"dist": "uniform", "low": low, "high": high},
        }
        for i in range(n_actors)
        for j in range(i + 1, n_actors)
    ]
    return Scenario.model_validate(
        {
            "title": f"balance only, {n_actors} actors",
            "actors": {a: {"capability": 1.0} for a in names},
            "ties": ties,
            "mechanisms": {"balance": balance, "noise": noise},
            "run": {"steps": steps, "dt": dt, "replicates": replicates},
        }
    )


def balance_params(n_actors: int, replicates: int, seed: int, **settings) -> Params:
    """Compiled parameters of :func:`balance_scenario` with ``replicates`` random initial states."""
    scenario = balance_scenario(n_actors, replicates=replicates, **settings)
    return compile_params(scenario, replicates, np.random.default_rng(seed))


def triad_products(W: np.ndarray) -> np.ndarray:
    """``sign(W_ij) sign(W_jk) sign(W_ki)`` for every replicate and ordered triple.

    Parameters
    ----------
    W : (n, A, A)

    Returns
    -------
    (n, A, A, A)
        Entries with a repeated index are set to +1 so that they never count as unbalanced.
    """
    S = np.sign(W)
    prod = np.einsum("nij,njk,nki->nijk", S, S, S)
    A = W.shape[-1]
    i, j, k = np.indices((A, A, A))
    prod[:, (i == j) | (j == k) | (i == k)] = 1.0
    return prod


def is_balanced(W: np.ndarray) -> np.ndarray:
    """Heider balance of each replicate: every triad's sign product is strictly positive.

    A zero tie makes its triads' products zero, so a state with a zero tie is not balanced.

    Parameters
    ----------
    W : (n, A, A)

    Returns
    -------
    (n,) bool
    """
    return np.all(triad_products(W) > 0, axis=(1, 2, 3))


def factions(W: np.ndarray) -> np.ndarray:
    """The two factions of balanced states as labels ``+1`` / ``-1``, actor 0 labelled ``+1``.

    In a balanced complete graph ``sign(W_ij) = s_i s_j`` (Cartwright & Harary), so
    ``s_j = sign(W_0j)``.

    Parameters
    ----------
    W : (n, A, A)

    Returns
    -------
    (n, A)
    """
    s = np.sign(W[:, 0, :])
    s[:, 0] = 1.0
    return s


def leading_eigenvector_factions(W: np.ndarray) -> np.ndarray:
    """Marvel et al. (2011): factions given by the signs of the leading eigenvector of ``W``.

    Parameters
    ----------
    W : (n, A, A), symmetric

    Returns
    -------
    (n, A)
        Labels ``+1`` / ``-1`` with actor 0 labelled ``+1``.
    """
    _, vectors = np.linalg.eigh(W)
    v = vectors[:, :, -1]
    return np.sign(v * v[:, :1])


@pytest.fixture
def balance():
    """The helpers of this module, as one namespace for the tests."""

    class _Helpers:
        scenario = staticmethod(balance_scenario)
        params = staticmethod(balance_params)
        triad_products = staticmethod(triad_products)
        is_balanced = staticmethod(is_balanced)
        factions = staticmethod(factions)
        leading_eigenvector_factions = staticmethod(leading_eigenvector_factions)

    return _Helpers
