"""Collectors: what each chunk of a design gives back.

The runner hands every chunk a fresh copy of the design's :class:`Collector`; the engine that steps
the chunk (:mod:`sim.model.engines`) calls its :meth:`~Collector.record` at every step, or fills
its :meth:`~Collector.summaries` inside its own loop, and the chunk returns what
:meth:`~Collector.end` returns. :class:`ReplicateCollector` gives a plain run's stored chunk (the
replicate table and the per-step summaries that merge exactly across chunks);
:class:`OutcomeCollector` a light in-memory payload of fates for designs.
"""

from __future__ import annotations

import abc

import numpy as np

from sim.model import dynamics
from sim.model.attribution import Attribution
from sim.model.engines import Summaries
from sim.model.landscape import best_partition, descend_partition
from sim.run.designs import Block
from sim.run.store import ChunkData, encode_table
from sim.spec.params import Params
from sim.vocabulary import (
    BALANCE,
    FATES,
    REPLICATE,
    bloc_column,
    capability_column,
    cohesion_column,
    defector_column,
    end_step_column,
    event_count_column,
    event_first_step_column,
    fate_column,
    param_column,
)

# The balance index over time (a per-step summary) is averaged over the first replicates of each
# chunk, up to this many: an unbiased estimate of the ensemble mean (replicates are independent)
# at a quarter of the cost; each replicate's final balance is computed for all of them.
BALANCE_SAMPLE = 1024
HIST_BINS = 200  # cohesion histogram bins over [-1, 1]
# Final blocs: the Axelrod-Bennett global minimum by exhaustive search up to this many actors
# (2^(A-1) partitions per replicate), a local minimum by steepest descent beyond.
BLOC_EXHAUSTIVE_MAX = 14


def balanced_share(W: np.ndarray) -> np.ndarray:
    """Share of balanced triads (Heider): triads whose product of mean-tie signs is positive.

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


def cohesion_bins(values: np.ndarray) -> np.ndarray:
    """Bin index of each cohesion value among HIST_BINS equal bins on [-1, 1] (1 in the last)."""
    index = ((np.asarray(values, dtype=np.float64) + 1.0) * (HIST_BINS / 2.0)).astype(np.intp)
    return np.clip(index, 0, HIST_BINS - 1)


class Collector(abc.ABC):
    """What a chunk gives back. Subclass it: it must be picklable, and each chunk gets a fresh copy.

    The runner calls :meth:`begin` before the chunk is stepped; the engine calls :meth:`record` at
    the first step and after every step; the chunk's payload is what :meth:`end` returns.
    """

    #: an :class:`~sim.model.attribution.Attribution` the engine books the forces in while it
    #: steps (set it in :meth:`begin`; None: no attribution)
    why: Attribution | None = None

    def begin(self, block: Block, params: Params) -> None:  # noqa: B027 - an optional hook
        """Prepare for a chunk (allocate per-step summaries)."""

    def record(self, state: dynamics.State) -> None:  # noqa: B027 - an optional hook
        """Look at the state at step ``state.t``."""

    @abc.abstractmethod
    def end(self, block: Block, params: Params, state: dynamics.State):
        """The chunk's payload."""

    @property
    def records(self) -> bool:
        """Whether :meth:`record` does anything (the engine skips the call otherwise)."""
        return type(self).record is not Collector.record

    def summaries(self) -> Summaries | None:
        """The arrays an engine that fuses the per-step summaries may fill instead of calling
        :meth:`record` (after :meth:`begin`); ``None``: this collector records through the callback."""
        return None


class OutcomeCollector(Collector):
    """Each row's fate, end step and first defector for every alliance, and optionally each
    force's part in its tracked tie (``why`` = the attribution window in steps): a light payload
    for in-memory designs (no blocs, no per-step summaries).

    The payload is ``(block, columns)``: the chunk's block and a dict of column name -> ``(rows,)``
    array, rows ordered as the chunk's (point-major, replicate fastest).
    """

    def __init__(self, why: int = 0):
        self.why_window = int(why)

    def begin(self, block: Block, params: Params) -> None:
        """Book the forces if asked to."""
        self.why = Attribution(params, window=self.why_window) if self.why_window else None

    def end(self, block: Block, params: Params, state: dynamics.State):
        """The chunk's outcome columns."""
        names = np.array(params.actors + [""], dtype=object)
        columns: dict[str, np.ndarray] = {}
        for a, al in enumerate(params.alliances):
            ended = ~state.active[:, a]
            columns[fate_column(al.name)] = np.array(FATES, dtype=object)[state.fate[:, a]]
            columns[end_step_column(al.name)] = np.where(ended, state.end_step[:, a], params.steps).astype(
                np.int32
            )
            columns[defector_column(al.name)] = names[np.where(ended, state.defector[:, a], -1)]
        if self.why is not None:
            self.why.finish(state)
            columns.update(self.why.columns())
        return block, columns


class ReplicateCollector(Collector):
    """A plain run's chunk: the replicate table, the per-step summaries and, optionally, the
    trajectories (:class:`~sim.run.store.ChunkData`).

    ``why``: the length of the attribution window in steps (0: no attribution); with it the table
    gets each force's part in every alliance's tracked tie (:mod:`sim.model.attribution`).
    """

    def __init__(self, trajectories: bool = False, why: int = 0):
        self.trajectories = trajectories
        self.why_window = int(why)

    def begin(self, block: Block, params: Params) -> None:
        """Allocate the per-step summaries of the chunk."""
        T, L, A, n = params.steps, len(params.alliances), params.A, params.n
        self.params = params
        self.hist = np.zeros((T + 1, L, HIST_BINS), dtype=np.int64)
        self.active = np.zeros((T + 1, L), dtype=np.int64)
        self.balance_sum = np.zeros(T + 1)
        self.sample = min(n, BALANCE_SAMPLE)
        self.traj = np.empty((n, T + 1, A, A), dtype=np.float32) if self.trajectories else None
        if self.why_window:
            self.why = Attribution(params, window=self.why_window)

    def summaries(self) -> Summaries | None:
        """The per-step summary arrays, for an engine that fills them itself (not for a subclass
        that records more: it gets its callback)."""
        if type(self).record is not ReplicateCollector.record:
            return None
        return Summaries(self.hist, self.active, self.balance_sum, self.sample, self.traj)

    def record(self, state: dynamics.State) -> None:
        """Cohesion histograms, active counts, balance share (and ties) at step ``state.t``."""
        t = state.t
        for a, al in enumerate(self.params.alliances):
            c = dynamics.cohesion(state.ties, al.members)
            self.hist[t, a] = np.bincount(cohesion_bins(c), minlength=HIST_BINS)
        self.active[t] = state.active.sum(axis=0)
        self.balance_sum[t] = balanced_share(state.ties[: self.sample]).sum()
        if self.traj is not None:
            self.traj[:, t] = state.ties

    def end(self, block: Block, params: Params, state: dynamics.State) -> ChunkData:
        """The chunk's replicate table and summaries."""
        T, A = params.steps, params.A
        start = block.rep_start
        columns: dict[str, np.ndarray] = {REPLICATE: np.arange(start, start + params.n, dtype=np.int64)}
        for path, values in params.sampled.items():
            columns[param_column(path)] = values.astype(np.float32)  # 7 significant digits
        fates = np.array(FATES)
        names = np.array(params.actors + [""], dtype=object)
        for a, al in enumerate(params.alliances):
            ended = ~state.active[:, a]
            columns[fate_column(al.name)] = fates[state.fate[:, a]]
            columns[end_step_column(al.name)] = np.where(ended, state.end_step[:, a], T).astype(np.int32)
            columns[defector_column(al.name)] = names[np.where(ended, state.defector[:, a], -1)]
            columns[cohesion_column(al.name)] = dynamics.cohesion(state.ties, al.members).astype(np.float64)
        columns[BALANCE] = balanced_share(state.ties)
        for e, ev in enumerate(params.events):  # stochastic events: first step, how often
            if ev.at is None:
                columns[event_first_step_column(ev.name)] = state.first_fired[:, e].astype(np.int32)
                columns[event_count_column(ev.name)] = state.fire_count[:, e].astype(np.int32)
        W = state.ties.astype(np.float64)
        propensity = 0.5 * (W + np.swapaxes(W, 1, 2))
        find = best_partition if A <= BLOC_EXHAUSTIVE_MAX else descend_partition
        labels, _ = find(state.capability.astype(np.float64), propensity)
        for i, name in enumerate(params.actors):
            columns[bloc_column(name)] = labels[:, i].astype(np.int8)
        for i, name in enumerate(params.actors):
            columns[capability_column(name)] = state.capability[:, i].astype(np.float64)
        if self.why is not None:
            self.why.finish(state)
            columns.update({k: v.astype(np.float32) for k, v in self.why.columns().items()})
        table = encode_table(columns)
        summary = {
            "cohesion_hist": self.hist,
            "active": self.active,
            "balance_sum": self.balance_sum,
            "ties_sum": W.sum(axis=0),
            "ties_sq": (W * W).sum(axis=0),
            "n": np.array([params.n], dtype=np.int64),
            "balance_n": np.array([self.sample], dtype=np.int64),
        }
        return ChunkData(block.index, table, summary, self.traj)
