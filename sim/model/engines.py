"""Engines: what runs the steps of a chunk of rows. ``numpy`` (the vectorized kernel of
:mod:`sim.model.dynamics`, the default) and ``numba`` (the compiled kernel of
:mod:`sim.model.numba_engine`, extra ``alliance-sim[fast]``).

The experiment engine (:mod:`sim.run.engine`) asks an engine to simulate the rows of a chunk and
reads the final :class:`~sim.model.dynamics.State`; per-step summaries come either from a
``record`` callback (any engine, a Python call per step) or, faster, from a :class:`Summaries`
the engine fills itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from sim.errors import InputError
from sim.model import dynamics
from sim.spec.params import Params

ENGINES = ("numpy", "numba")
DEFAULT_ENGINE = "numpy"


class Engine(Protocol):
    """Runs the steps of a chunk of rows."""

    name: str

    def simulate(self, params: Params, rngs: list[np.random.Generator], layout=None, *, dtype,
                 record=None, steps: int | None = None,
                 summaries: Summaries | None = None) -> dynamics.State:
        """Run the rows of ``params`` for ``steps`` steps (default: the scenario's).

        ``rngs`` holds one generator per common-random-number group; ``layout`` is ``None`` (one
        group, row r is replicate r) or ``(group_of_row, replicate_of_row)``: row draws are those
        of replicate r of its group, so rows of one group and replicate see the same noise,
        events and decisions. ``record(state)`` is called at the start and after every step;
        ``summaries`` is filled with the per-step summaries.
        """
        ...  # pragma: no cover - a protocol


@dataclass
class Summaries:
    """The per-step summaries of a chunk, as :func:`sim.run.engine.run_chunk` stores them.

    Attributes
    ----------
    hist : (T + 1, L, bins) int64
        Cohesion histogram of each alliance at each step, ``bins`` equal bins on [-1, 1].
    active : (T + 1, L) int64
        Rows in which each alliance is still active.
    balance_sum : (T + 1,)
        Sum of the balanced-triad share (:func:`balanced_share`) over the first
        ``balance_rows`` rows.
    balance_rows : int
    trajectories : (n, T + 1, A, A) float32 or None
    """

    hist: np.ndarray
    active: np.ndarray
    balance_sum: np.ndarray
    balance_rows: int
    trajectories: np.ndarray | None = None

    @classmethod
    def empty(cls, params: Params, steps: int, bins: int, balance_rows: int,
              trajectories: bool = False) -> Summaries:
        """Zeroed summaries for ``steps`` steps of ``params``'s rows."""
        L = len(params.alliances)
        traj = (np.zeros((params.n, steps + 1, params.A, params.A), dtype=np.float32)
                if trajectories else None)
        return cls(np.zeros((steps + 1, L, bins), dtype=np.int64),
                   np.zeros((steps + 1, L), dtype=np.int64), np.zeros(steps + 1),
                   min(balance_rows, params.n), traj)

    def record(self, params: Params, state: dynamics.State) -> None:
        """Add the summaries of ``state`` at step ``state.t`` (the numpy engine's way)."""
        t = state.t
        bins = self.hist.shape[-1]
        for a, al in enumerate(params.alliances):
            c = dynamics.cohesion(state.ties, al.members)
            self.hist[t, a] += np.bincount(cohesion_bins(c, bins), minlength=bins)
        self.active[t] += state.active.sum(axis=0)
        self.balance_sum[t] += balanced_share(state.ties[:self.balance_rows]).sum()
        if self.trajectories is not None:
            self.trajectories[:, t] = state.ties


def balanced_share(W: np.ndarray) -> np.ndarray:
    """Share of balanced triads (Heider 1946): triads whose product of mean-tie signs is positive.

    Uses ``trace(S^3) = 6 sum_{i<j<k} s_ij s_jk s_ki`` for the symmetric sign matrix ``S``.
    """
    A = W.shape[-1]
    if A < 3:
        return np.ones(W.shape[0])
    S = W + np.swapaxes(W, -1, -2)
    # sign(S) as (S > 0) - (S < 0): much faster than np.sign for float32
    np.subtract((S > 0).view(np.int8), (S < 0).view(np.int8), out=S, casting="unsafe")
    triads = A * (A - 1) * (A - 2) / 6
    SS = S @ S
    SS *= S  # S is symmetric, so trace(S^3) = sum_ij (S S)_ij S_ij
    tr = SS.reshape(len(S), -1).sum(axis=1, dtype=np.float64)
    return 0.5 * (1.0 + tr / (6.0 * triads))


def cohesion_bins(values: np.ndarray, bins: int) -> np.ndarray:
    """Bin index of each cohesion value among ``bins`` equal bins on [-1, 1] (1 in the last)."""
    index = ((np.asarray(values, dtype=np.float64) + 1.0) * (bins / 2.0)).astype(np.intp)
    return np.clip(index, 0, bins - 1)


class NumpyEngine:
    """The vectorized numpy kernel (:func:`sim.model.dynamics.run`)."""

    name = "numpy"

    def simulate(self, params: Params, rngs, layout=None, *, dtype=np.float32, record=None,
                 steps: int | None = None, summaries: Summaries | None = None) -> dynamics.State:
        """See :meth:`Engine.simulate`."""
        if isinstance(rngs, np.random.Generator):
            rngs = [rngs]
        callback = record
        if summaries is not None:
            def callback(state):
                summaries.record(params, state)
                if record is not None:
                    record(state)
        if layout is None and len(rngs) == 1:
            return dynamics.run(params, rngs[0], steps=steps, dtype=dtype, record=callback)
        return _run_grouped(params, rngs, layout, steps=steps, dtype=dtype, record=callback)


def _run_grouped(params: Params, rngs, layout, *, steps=None, dtype=np.float64, record=None):
    """:func:`sim.model.dynamics.run` where row draws are those of replicate r of its group."""
    n = params.n
    group, rep = (np.zeros(n, dtype=np.intp), np.arange(n)) if layout is None else \
        (np.asarray(layout[0]), np.asarray(layout[1]))
    parts = []
    for g in np.unique(group):
        rows = np.flatnonzero(group == g)
        base = rep[rows].min()
        parts.append((int(g), rows, rep[rows] - base, int(rep[rows].max() - base) + 1))
    state = dynamics.initial_state(params, dtype)
    steps = params.steps if steps is None else steps
    E, M = dynamics.stochastic_event_count(params), dynamics.member_count(params)
    noise = np.empty((n, params.A, params.A), dtype=dtype)
    events, defect = np.empty((n, E)), np.empty((n, M))
    if record is not None:
        record(state)
    for k in range(steps):
        for g, rows, r, size in parts:
            d = dynamics.draw(rngs[g], size, params.A, E, M, dtype)
            noise[rows], events[rows], defect[rows] = d.noise[r], d.events[r], d.defect[r]
        dynamics.step(params, state, dynamics.Draws(noise, events, defect))
        if (k + 1) % dynamics.CHECK_EVERY == 0 or k + 1 == steps:
            dynamics.check_finite(params, state)
        if record is not None:
            record(state)
    return state


def get_engine(name: str) -> Engine:
    """The engine called ``name`` (``numpy`` or ``numba``); a one-line InputError otherwise, or
    when numba is asked for and not installed."""
    if name == "numpy":
        return NumpyEngine()
    if name == "numba":
        from sim.model import numba_engine

        numba_engine.require()
        return numba_engine.NumbaEngine()
    raise InputError(f"--engine: expected one of {', '.join(ENGINES)}, got {name!r}")
