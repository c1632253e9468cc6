"""Engines: the interchangeable implementations of "run this chunk of replicates".

The experiment runner (:mod:`sim.run.chunks`) hands an engine the arrays of a chunk
(:class:`~sim.spec.params.Params`), one random generator per common-random-number group and the
layout of the rows, and gets back the final :class:`~sim.model.dynamics.State`. The numpy engine
(the default, and the readable statement of the dynamics) steps :mod:`sim.model.dynamics`; the
``numba`` engine (:mod:`sim.model.numba_engine`, extra ``alliance-sim[fast]``) compiles the whole
step into one loop nest and, being asked for :class:`Summaries`, computes the per-step summaries
inside it instead of through a Python callback every step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from sim.errors import InputError
from sim.model import dynamics
from sim.spec.params import Params

#: ``(group_of_row, replicate_of_row)``: row ``i`` takes the draws of replicate
#: ``replicate_of_row[i]`` of common-random-number group ``group_of_row[i]``
Layout = tuple[np.ndarray, np.ndarray]


@dataclass
class Summaries:
    """Per-step summaries an engine that fuses them (``fuses_summaries``) fills while it steps.

    The arrays are added to, so they start at zero; they are what a plain run's collector records
    at ``t = 0`` and after every step.

    Attributes
    ----------
    hist : (T + 1, L, bins) int64
        Rows whose alliance cohesion (mean tie over its ordered member pairs) falls in each of
        ``bins`` equal bins on [-1, 1] (1 in the last).
    active : (T + 1, L) int64
        Rows in which each alliance is still active.
    balance_sum : (T + 1,) float64
        Sum over the first ``balance_rows`` rows of the share of balanced triads (Heider 1946).
    balance_rows : int
        How many rows (from the first) the balance share is summed over.
    trajectories : (n, T + 1, A, A) float32, optional
        Every row's ties at every step.
    """

    hist: np.ndarray
    active: np.ndarray
    balance_sum: np.ndarray
    balance_rows: int
    trajectories: np.ndarray | None = None


class Engine(Protocol):
    """What the experiment runner needs of an engine."""

    name: str
    #: whether :meth:`simulate` takes ``summaries`` (:class:`Summaries`) and fills them itself
    fuses_summaries: bool
    #: whether :meth:`simulate` takes ``why`` (books each force's part in the ties: attribution)
    books_forces: bool
    #: whether :meth:`simulate` takes ``state`` (continues saved states: the view from a date,
    #: sequential Monte Carlo)
    continues_states: bool

    def simulate(
        self,
        params: Params,
        rngs: Sequence[np.random.Generator],
        layout: Layout | None = None,
        *,
        dtype=np.float32,
        record: Callable[[dynamics.State], None] | None = None,
        steps: int | None = None,
        why=None,
        state: dynamics.State | None = None,
        summaries: Summaries | None = None,
    ) -> dynamics.State:
        """Run every row of ``params`` from its initial state (or from ``state``, a state at step
        ``state.t``, advanced in place) and return the final state.

        ``layout`` None means one group whose replicates are the rows; ``record(state)`` is called
        at the start and after every step; ``why`` (a :class:`sim.model.attribution.Attribution`,
        optional, where ``books_forces``) books each force's part in the alliances' ties while
        stepping; ``steps`` defaults to what is left of the horizon; ``summaries`` (only where
        ``fuses_summaries``) is filled with the per-step summaries instead of calling ``record``.
        """
        ...

    def warm(self, dtype=np.float32) -> None:
        """Load what the first chunk in ``dtype`` would otherwise load (a worker does it as it
        starts)."""
        ...


class NumpyEngine:
    """The vectorized numpy kernel (:mod:`sim.model.dynamics`), replicate axis leading."""

    name = "numpy"
    fuses_summaries = False
    books_forces = True
    continues_states = True

    def warm(self, dtype=np.float32) -> None:
        """Nothing to load: numpy's kernels are compiled already."""

    def simulate(
        self,
        params: Params,
        rngs: Sequence[np.random.Generator],
        layout: Layout | None = None,
        *,
        dtype=np.float32,
        record: Callable[[dynamics.State], None] | None = None,
        steps: int | None = None,
        why=None,
        state: dynamics.State | None = None,
        summaries: Summaries | None = None,
    ) -> dynamics.State:
        """Run the rows of ``params`` (see :meth:`Engine.simulate`)."""
        if summaries is not None:
            raise ValueError("the numpy engine records summaries through `record`")
        if layout is None:
            if len(rngs) != 1:
                raise ValueError("several generators need a layout")
            return dynamics.run(
                params, rngs[0], steps=steps, dtype=dtype, record=record, why=why, state=state
            )
        return run_common(params, rngs, layout, dtype=dtype, record=record, steps=steps, why=why, state=state)


def run_common(
    params: Params,
    rngs: Sequence[np.random.Generator],
    layout: Layout,
    *,
    dtype=np.float32,
    record: Callable[[dynamics.State], None] | None = None,
    steps: int | None = None,
    why=None,
    state: dynamics.State | None = None,
) -> dynamics.State:
    """Step every row with common random numbers: row ``i`` gets, at every step, the noise, event
    and decision draws of replicate ``replicate_of_row[i]`` of generator ``group_of_row[i]``.

    Each generator draws, per step, exactly what a plain run of its group's replicates would draw
    (:func:`sim.model.dynamics.draw`), so rows that share a group and a replicate see the same
    random numbers whatever else differs between them.
    """
    group, rep = (np.asarray(x, dtype=np.intp) for x in layout)
    dtype = np.dtype(dtype)
    n, A = params.n, params.A
    E, M = dynamics.stochastic_event_count(params), dynamics.member_count(params)
    members = [np.flatnonzero(group == g) for g in range(len(rngs))]
    sizes = [int(rep[rows].max()) + 1 if rows.size else 0 for rows in members]
    state = dynamics.initial_state(params, dtype) if state is None else state
    stepper = dynamics.Stepper(params, dtype, why=why)
    if why is not None:
        why.start(state)
    steps = params.steps - state.t if steps is None else steps
    noise = np.empty((n, A, A), dtype=dtype)
    events = np.empty((n, E))
    defect = np.empty((n, M))
    if record is not None:
        record(state)
    for k in range(steps):
        for rng, rows, size in zip(rngs, members, sizes):
            d = dynamics.draw(rng, size, A, E, M, dtype)
            index = rep[rows]
            noise[rows], events[rows], defect[rows] = d.noise[index], d.events[index], d.defect[index]
        stepper.step(state, dynamics.Draws(noise, events, defect))
        if (k + 1) % dynamics.CHECK_EVERY == 0 or k + 1 == steps:
            dynamics.check_finite(params, state)
        if record is not None:
            record(state)
    return state


def _numba_engine() -> Engine:
    from sim.model import numba_engine

    numba_engine.require()  # a one-line InputError naming the extra when numba is missing
    return numba_engine.NumbaEngine()


ENGINES: dict[str, Callable[[], Engine]] = {"numpy": NumpyEngine, "numba": _numba_engine}
#: the engines that book each force's part (``why``); both continue saved states (``state``)
BOOKS_FORCES = frozenset({"numpy"})


def get_engine(name: str) -> Engine:
    """The engine called ``name``; an :class:`~sim.errors.InputError` naming the choices otherwise,
    or naming the extra to install when the engine needs a package that is missing."""
    try:
        factory = ENGINES[name]
    except KeyError:
        raise InputError(f"--engine: expected one of {', '.join(sorted(ENGINES))}, got {name!r}") from None
    return factory()
