"""Re-run chosen replicates of a finished run with their full trajectories.

A plain run's replicate ``r`` is row ``r - start`` of chunk ``r // chunk_size``, and a chunk's
draws depend only on the seed and the chunk (:func:`sim.run.designs.stream_seeds`), so re-running
the chunk with the run's scenario and settings gives the same replicate exactly. On the numpy
engine only the rows asked for are stepped, with the random numbers they get in the whole chunk
(:func:`_run_rows`); the compiled engine re-runs the whole chunk and keeps the rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim.errors import InputError, RunError
from sim.run.chunks import DEFAULT_DTYPE, replicate_task, run_chunk
from sim.run.collectors import Collector
from sim.run.designs import Block
from sim.run.store import Results
from sim.spec.params import Params


@dataclass
class Replay:
    """One replicate, step by step."""

    replicate: int
    ties: np.ndarray  # (T + 1, A, A)
    fired: np.ndarray  # (T + 1, E) whether each event has fired by step t
    events: list[str]
    fate: np.ndarray  # (L,) fate codes at the end
    end_step: np.ndarray  # (L,)
    defector: np.ndarray  # (L,)

    def first_firings(self) -> list[tuple[int, str]]:
        """``(step, event)`` of each event's first firing (later firings of a repeating event are
        not recorded)."""
        out = []
        for e, name in enumerate(self.events):
            hit = np.flatnonzero(self.fired[:, e])
            if hit.size:
                out.append((int(hit[0]) - 1, name))  # recorded after the step that fired it
        return sorted(out)


class RowRecorder(Collector):
    """Keeps the tie trajectories and event firings of chosen rows of a chunk."""

    def __init__(self, rows: Sequence[int]):
        self.rows = np.asarray(rows, dtype=np.intp)

    def begin(self, block: Block, params: Params) -> None:
        """Allocate the trajectories of the chosen rows."""
        T, A, E = params.steps, params.A, len(params.events)
        self.ties = np.empty((len(self.rows), T + 1, A, A), dtype=np.float32)
        self.fired = np.zeros((len(self.rows), T + 1, E), dtype=bool)

    def record(self, state) -> None:
        """The chosen rows at step ``state.t``."""
        self.ties[:, state.t] = state.ties[self.rows]
        self.fired[:, state.t] = state.fired[self.rows]

    def end(self, block: Block, params: Params, state):
        """Trajectories, firings and the final fates of the chosen rows."""
        r = self.rows
        return (
            self.ties,
            self.fired,
            state.fate[r].copy(),
            state.end_step[r].copy(),
            state.defector[r].copy(),
            [ev.name for ev in params.events],
        )


def _run_rows(task, rows: list[int]):
    """Rows ``rows`` of a plain run's chunk on the numpy engine, as :class:`RowRecorder` would
    keep them from the whole chunk: the chunk's parameters are drawn, the rows taken, and every
    step draws the whole chunk's random numbers and keeps the rows' own
    (:func:`sim.model.dynamics.run`, ``within=``). A few rows cost a fraction of the chunk."""
    from sim.model import dynamics
    from sim.run.chunks import chunk_params

    params, rngs, _ = chunk_params(task)
    index = np.asarray(rows, dtype=np.intp)
    sub = params.take(index)
    recorder = RowRecorder(range(len(index)))
    recorder.begin(task.block, sub)
    state = dynamics.run(
        sub, rngs[0], dtype=np.dtype(task.dtype), record=recorder.record, within=(params.n, index)
    )
    return recorder.end(task.block, sub, state)


def replay(results: Results, replicates: Sequence[int]) -> dict[int, Replay]:
    """Re-run the given replicates of a finished plain run with their trajectories.

    Raises
    ------
    RunError
        When the scenario stored with the run no longer has the hash it was run with.
    InputError
        For a replicate the run does not have.
    """
    from sim.spec.scenario import stored_scenario

    m = results.manifest
    settings = m["settings"]
    scenario = stored_scenario(m["scenario"]).with_run(
        replicates=settings["replicates"], steps=settings["steps"], seed=settings["seed"]
    )
    if scenario.digest() != m.get("scenario_hash"):
        raise RunError(
            f"{results.directory}: the stored scenario does not match the run's hash; "
            "cannot replay its replicates"
        )
    size, total = int(settings["chunk_size"]), int(settings["replicates"])
    by_chunk: dict[int, list[int]] = {}
    for r in sorted({int(x) for x in replicates}):
        if not 0 <= r < total:
            raise InputError(f"expected a replicate in [0, {total}), got {r}")
        by_chunk.setdefault(r // size, []).append(r)
    out = {}
    for c, reps in by_chunk.items():
        start = c * size
        task = replicate_task(
            scenario,
            c,
            start,
            min(size, total - start),
            int(settings["seed"]),
            dtype=settings.get("dtype", DEFAULT_DTYPE),
            engine=settings.get("engine", "numpy"),
        )
        rows = [r - start for r in reps]
        if task.engine == "numpy":  # only the rows asked for, with the chunk's draws
            ties, fired, fate, end_step, defector, events = _run_rows(task, rows)
        else:  # the compiled engine steps its own packing of the whole chunk
            task = dataclasses.replace(task, collector=RowRecorder(rows))
            ties, fired, fate, end_step, defector, events = run_chunk(task)
        for k, r in enumerate(reps):
            out[r] = Replay(r, ties[k], fired[k], events, fate[k], end_step[k], defector[k])
    return out
