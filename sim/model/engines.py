"""Engines: the interchangeable implementations of "run this chunk of replicates".

The experiment engine (:mod:`sim.run.engine`) hands an engine the arrays of a chunk
(:class:`~sim.spec.params.Params`), one random generator per common-random-number group and the
layout of the rows, and gets back the final :class:`~sim.model.dynamics.State`. The numpy engine
(the default, and the readable statement of the dynamics) steps :mod:`sim.model.dynamics`; a
compiled engine may sit beside it under another name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from sim.errors import InputError
from sim.model import dynamics
from sim.spec.params import Params

#: ``(group_of_row, replicate_of_row)``: row ``i`` takes the draws of replicate
#: ``replicate_of_row[i]`` of common-random-number group ``group_of_row[i]``
Layout = tuple[np.ndarray, np.ndarray]


class Engine(Protocol):
    """What the experiment engine needs of an engine."""

    name: str

    def simulate(self, params: Params, rngs: Sequence[np.random.Generator], layout: Layout | None = None,
                 *, dtype=np.float32, record: Callable[[dynamics.State], None] | None = None,
                 steps: int | None = None, why=None,
                 state: dynamics.State | None = None) -> dynamics.State:
        """Run every row of ``params`` from its initial state (or from ``state``, a state at step
        ``state.t``, advanced in place) and return the final state.

        ``layout`` None means one group whose replicates are the rows; ``record(state)`` is called
        at the start and after every step; ``why`` (a :class:`sim.model.attribution.Attribution`,
        optional) books each force's part in the alliances' ties while stepping; ``steps``
        defaults to what is left of the horizon.
        """
        ...


class NumpyEngine:
    """The vectorized numpy kernel (:mod:`sim.model.dynamics`), replicate axis leading."""

    name = "numpy"

    def simulate(self, params: Params, rngs: Sequence[np.random.Generator], layout: Layout | None = None,
                 *, dtype=np.float32, record: Callable[[dynamics.State], None] | None = None,
                 steps: int | None = None, why=None,
                 state: dynamics.State | None = None) -> dynamics.State:
        """Run the rows of ``params`` (see :meth:`Engine.simulate`)."""
        if layout is None:
            if len(rngs) != 1:
                raise ValueError("several generators need a layout")
            return dynamics.run(params, rngs[0], steps=steps, dtype=dtype, record=record, why=why,
                                state=state)
        return run_common(params, rngs, layout, dtype=dtype, record=record, steps=steps, why=why,
                          state=state)


def run_common(params: Params, rngs: Sequence[np.random.Generator], layout: Layout, *, dtype=np.float32,
               record: Callable[[dynamics.State], None] | None = None,
               steps: int | None = None, why=None,
               state: dynamics.State | None = None) -> dynamics.State:
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


ENGINES: dict[str, Callable[[], Engine]] = {"numpy": NumpyEngine}


def get_engine(name: str) -> Engine:
    """The engine called ``name``; an :class:`~sim.errors.InputError` naming the choices otherwise."""
    try:
        factory = ENGINES[name]
    except KeyError:
        raise InputError(f"--engine: expected one of {', '.join(sorted(ENGINES))}, got {name!r}") from None
    return factory()
