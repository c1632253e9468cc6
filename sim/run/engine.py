"""The experiment engine: designs, chunks, seeding, executors, progress and resume.

Everything that simulates runs a *design* (:class:`Design`): ``P`` points, each a set of values
fixed for some slots of the parameter map, times ``R`` replicates, with common random numbers
(replicate ``r`` of every point of a group sees the same draws of the other uncertain values and the
same noise, events and decisions). A plain run is the one-point design (:func:`run_ensemble`).

A design runs in chunks (:func:`blocks`) of at most ``chunk_size`` rows; the replicates of chunk
``c`` of group ``g`` draw everything (their uncertain values, then each step's random numbers) from
``SeedSequence(seed, spawn_key=(c,))`` (``(c, g)`` for other groups), so results depend on the seed
and the chunk size only, never on the number of workers or on the executor. What a chunk returns is
its :class:`Collector`'s business; an engine (:mod:`sim.model.engines`) steps it.

Executors follow :class:`concurrent.futures.Executor`: in-process for one worker, a process pool
with an explicit ``spawn`` context otherwise (the global start method is never touched), or any
executor passed in, such as a Dask client's ``get_executor()``. No other module owns a step loop
or a pool.
"""

from __future__ import annotations

import abc
import concurrent.futures as cf
import copy
import multiprocessing
import os
import platform
import sys
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.errors import AllianceError, InputError, Interrupted, RunError
from sim.model import dynamics
from sim.model.attribution import Attribution
from sim.model.engines import BOOKS_FORCES, Layout, Summaries, get_engine
from sim.model.landscape import best_partition, descend_partition
from sim.run.footprint import check_fits, check_summaries, disk_need
from sim.run.integrity import seal
from sim.run.lock import LOCK_FILE, locks
from sim.run.provenance import code_provenance
from sim.run.store import (
    FINAL_FILES,
    FORMAT,
    MANIFEST,
    ChunkData,
    Results,
    ResultsError,
    chunk_intact,
    encode_table,
    finalize,
    load_results,
    read_manifest,
    save_chunk,
    write_json,
)
from sim.spec.lever_values import lever_path
from sim.spec.parammap import slot_map, uncertain_slots
from sim.spec.params import Params, assemble, compile_params, sample
from sim.spec.scenario import Scenario, ScenarioError, load_scenario
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

DEFAULT_CHUNK_SIZE = 4096  # measured in benchmarks/bench.py: 2048-4096 are fastest on 2 cores
# The balance index over time (a per-step summary) is averaged over the first replicates of each
# chunk, up to this many: an unbiased estimate of the ensemble mean (replicates are independent)
# at a quarter of the cost; each replicate's final balance is computed for all of them.
BALANCE_SAMPLE = 1024
WHY_AUTO_MAX = 10_000  # runs up to this many replicates book the forces by default (why_window)
DEFAULT_DTYPE = "float32"  # held within 1e-5 of the float64 reference over 60 steps (tests)
HIST_BINS = 200  # cohesion histogram bins over [-1, 1]
MAX_ATTEMPTS = 2
# Final blocs: the Axelrod-Bennett global minimum by exhaustive search up to this many actors
# (2^(A-1) partitions per replicate), a local minimum by steepest descent beyond.
BLOC_EXHAUSTIVE_MAX = 14


# What a run (and its report) writes into its result directory.
RESULT_ENTRIES = frozenset(
    {
        "manifest.json",
        "replicates.parquet",
        "summary.npz",
        "trajectories.npy",
        "chunks",
        "report.html",
        "report_figures",
    }
)


EnsembleError = RunError  # a run that could not finish; what finished is kept on disk


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


# --------------------------------------------------------------------------------------------
# Designs, blocks and collectors
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Start:
    """Saved states to continue from: step ``t`` and, for each array of
    :data:`sim.model.dynamics.STATE_ARRAYS`, one row per replicate (leading axis ``R``)."""

    t: int
    arrays: dict[str, np.ndarray]


@dataclass(frozen=True)
class Design:
    """``P`` points x ``R`` replicates with common random numbers.

    Parameters
    ----------
    values
        Parameter-map path -> ``(P,)`` value of that slot at each point, or ``(P, R)`` values of
        each replicate of each point (``{}``: one point, the scenario as it is).
    replicates
        ``R``, the replicates of every point.
    streams
        ``(P,)`` common-random-number group of each point (default: all in group 0). Replicate ``r``
        of every point of a group sees the same draws of the values not in the design and the same
        noise, event and decision draws, so comparisons between points are paired.
    start
        Start every point's replicate ``r`` from a saved state instead of the scenario's initial
        one (:class:`Start`): the view forward from a calibration's last observation.
    """

    values: dict[str, np.ndarray] = field(default_factory=dict)
    replicates: int = 1
    streams: np.ndarray | None = None
    start: Start | None = None

    @classmethod
    def single(cls, replicates: int) -> Design:
        """A plain run: one point of ``replicates`` replicates."""
        return cls({}, int(replicates))

    @property
    def points(self) -> int:
        """``P``, the number of design points."""
        for v in self.values.values():
            return len(v)
        return 1 if self.streams is None else len(self.streams)

    def stream_of(self) -> np.ndarray:
        """``(P,)`` group of every point."""
        if self.streams is None:
            return np.zeros(self.points, dtype=np.int64)
        return np.asarray(self.streams, dtype=np.int64)


@dataclass(frozen=True)
class Block:
    """The part of a design that one chunk runs: some points x a range of replicates.

    The chunk's rows are ``len(points) * size``, replicate fastest: ``row = p_local * size + r_local``.
    """

    index: int
    points: np.ndarray
    rep_start: int
    size: int

    @property
    def rows(self) -> int:
        """Rows of the chunk's arrays."""
        return len(self.points) * self.size

    def point_of_row(self) -> np.ndarray:
        """``(rows,)`` design point of each row."""
        return np.repeat(np.asarray(self.points), self.size)

    def replicate_of_row(self) -> np.ndarray:
        """``(rows,)`` replicate (0-based, over the whole design) of each row."""
        return np.tile(np.arange(self.rep_start, self.rep_start + self.size), len(self.points))


def blocks(design: Design, chunk_size: int) -> list[Block]:
    """Split a design into chunks of at most ``chunk_size`` rows (at least one point's replicates
    chunk per chunk): replicates are cut into chunks of ``min(R, chunk_size)``, points grouped so
    that a chunk holds about ``chunk_size`` rows."""
    R, P = design.replicates, design.points
    rep_chunk = min(R, chunk_size)
    per = max(1, chunk_size // rep_chunk)
    out: list[Block] = []
    for p0 in range(0, P, per):
        points = np.arange(p0, min(P, p0 + per))
        for r0 in range(0, R, rep_chunk):
            out.append(Block(len(out), points, r0, min(rep_chunk, R - r0)))
    return out


def stream_seeds(seed: int, rep_chunk: int, group: int) -> tuple[np.random.SeedSequence, ...]:
    """Seeds of replicate chunk ``rep_chunk`` of common-random-number group ``group``: one for the
    draws of the uncertain values, one for the dynamics (noise, events, decisions).

    Group 0 uses ``SeedSequence(seed, spawn_key=(rep_chunk,))``, so a plain run's chunk ``c`` draws
    from the ``c``-th child of ``SeedSequence(seed)``; other groups add the group to the key.
    """
    key = (int(rep_chunk),) if group == 0 else (int(rep_chunk), int(group))
    return tuple(np.random.SeedSequence(seed, spawn_key=key).spawn(2))


class Collector(abc.ABC):
    """What a chunk gives back. Subclass it: it must be picklable, and each chunk gets a fresh copy.

    The engine calls :meth:`begin` before stepping, :meth:`record` at ``t = 0`` and after every
    step, and returns what :meth:`end` returns as the chunk's payload.
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


@dataclass
class ChunkTask:
    """Everything a worker needs to run one chunk (picklable)."""

    scenario: Scenario
    block: Block
    values: dict[str, np.ndarray]  # path -> (len(block.points),) design values of the block's points
    streams: np.ndarray  # (len(block.points),) group of each of the block's points
    rep_chunk: int  # index of the block's replicate chunk
    seed: int
    collector: Collector
    dtype: str = DEFAULT_DTYPE
    engine: str = "numpy"
    start: Start | None = None  # the block's replicates' saved states, if it continues from them

    @property
    def size(self) -> int:
        """Rows of the chunk (what the progress bar counts)."""
        return self.block.rows

    @property
    def index(self) -> int:
        """The chunk's number."""
        return self.block.index


def replicate_task(
    scenario: Scenario,
    index: int,
    start: int,
    size: int,
    seed: int,
    *,
    trajectories: bool = False,
    dtype: str = DEFAULT_DTYPE,
    engine: str = "numpy",
    why: int = 0,
) -> ChunkTask:
    """The task of chunk ``index`` of a plain run: replicates ``start .. start + size`` (``why``:
    the attribution window, 0 for none)."""
    block = Block(index, np.zeros(1, dtype=np.intp), start, size)
    return ChunkTask(
        scenario,
        block,
        {},
        np.zeros(1, dtype=np.int64),
        index,
        seed,
        ReplicateCollector(trajectories, why),
        dtype,
        engine,
    )


def chunk_params(task: ChunkTask) -> tuple[Params, list[np.random.Generator], Layout | None]:
    """The arrays, dynamics generators and row layout of a chunk.

    A chunk of one point with no design values is compiled directly from its group's parameter
    seed (a plain run's chunk); otherwise each group's uncertain values are drawn once for its
    ``size`` replicates and shared by the group's points, and the design values are set on top.
    """
    block, size = task.block, task.block.size
    groups, point_group = np.unique(task.streams, return_inverse=True)
    seeds = [stream_seeds(task.seed, task.rep_chunk, int(g)) for g in groups]
    rngs = [np.random.default_rng(dyn) for _, dyn in seeds]
    if not task.values and len(block.points) == 1:
        params = compile_params(task.scenario, size, np.random.default_rng(seeds[0][0]))
        return params, rngs, None
    rows = block.rows
    values: dict[str, np.ndarray] = {}
    # A design that fixes every uncertain value (lever evaluation on sampled worlds) needs no draws.
    covered = all(slot.path in task.values for slot in uncertain_slots(task.scenario))
    for g, (params_seed, _) in enumerate(() if covered else seeds):
        drawn = sample(task.scenario, size, np.random.default_rng(params_seed))
        mine = np.repeat(point_group == g, size)
        for path, x in drawn.items():
            values.setdefault(path, np.empty(rows))[mine] = np.tile(x, int(mine.sum()) // size)
    for path, x in task.values.items():
        x = np.asarray(x, dtype=np.float64)
        values[path] = x.reshape(-1) if x.ndim == 2 else np.repeat(x, size)
    params = assemble(task.scenario, rows, values)
    if len(block.points) == 1:  # one point: its rows are its replicates, drawn as in a plain run
        return params, rngs, None
    layout = (np.repeat(point_group, size), np.tile(np.arange(size), len(block.points)))
    return params, rngs, layout


def run_chunk(task: ChunkTask):
    """Run one chunk of a design and return its collector's payload."""
    params, rngs, layout = chunk_params(task)
    collector = copy.deepcopy(task.collector)
    collector.begin(task.block, params)
    engine = get_engine(task.engine)
    state = None
    if task.start is not None:  # every point's replicate r continues from saved state r
        points = len(task.block.points)
        arrays = {k: np.concatenate([np.asarray(v)] * points) for k, v in task.start.arrays.items()}
        state = dynamics.restore_state(params, task.start.t, arrays, np.dtype(task.dtype))
    fused = collector.summaries() if engine.fuses_summaries else None
    if fused is not None and state is None and collector.why is None:
        state = engine.simulate(params, rngs, layout, dtype=np.dtype(task.dtype), summaries=fused)
    else:
        state = engine.simulate(
            params,
            rngs,
            layout,
            dtype=np.dtype(task.dtype),
            record=collector.record if collector.records else None,
            why=collector.why,
            state=state,
        )
    return collector.end(task.block, params, state)


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


# --------------------------------------------------------------------------------------------
# Running an ensemble
# --------------------------------------------------------------------------------------------


def versions() -> dict[str, str]:
    """Versions of the package, Python and the libraries a result depends on."""
    import mesa
    import pyarrow

    from sim.version import __version__

    return {
        "alliance-sim": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "pyarrow": pyarrow.__version__,
        "mesa": mesa.__version__,
    }


def _settings(
    scenario: Scenario, chunk_size: int, trajectories: bool, dtype: str, engine: str = "numpy", why: int = 0
) -> dict:
    run = scenario.run
    return {
        "replicates": run.replicates,
        "steps": run.steps,
        "seed": run.seed,
        "dt": run.dt,
        "chunk_size": chunk_size,
        "trajectories": trajectories,
        "dtype": dtype,
        "engine": engine,
        "why": why,
    }


def why_window(why: bool | int | None, replicates: int, engine: str = "numpy") -> int:
    """The attribution window of a run (0: off). ``None`` chooses: on (the default window) up to
    :data:`WHY_AUTO_MAX` replicates, off beyond and on an engine that does not book the forces
    (:data:`sim.model.engines.BOOKS_FORCES`); ``True``/``False`` force it; an int is the window.

    Booking the forces costs 50-80 % more time per step (measured in README, "Why it broke"), more
    than the 15 % a big run should pay by default.
    """
    from sim.model.attribution import DEFAULT_WINDOW

    if why is None:
        return DEFAULT_WINDOW if replicates <= WHY_AUTO_MAX and engine in BOOKS_FORCES else 0
    if why is True:
        return DEFAULT_WINDOW
    return int(why)


def _ignore_sigint() -> None:
    """Workers leave Ctrl-C to the process that drives them, which stops the pool and keeps the
    finished chunks."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def local_executor(workers: int) -> cf.Executor:
    """A process pool with an explicit spawn context (never the global start method)."""
    return cf.ProcessPoolExecutor(
        max_workers=workers, mp_context=multiprocessing.get_context("spawn"), initializer=_ignore_sigint
    )


class InlineExecutor(cf.Executor):
    """Runs each task in the calling process when it is submitted (one worker)."""

    def submit(self, fn, /, *args, **kwargs):
        """Run fn now and return a finished future."""
        future: cf.Future = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as e:  # noqa: BLE001 - handed to the caller through the future
            if isinstance(e, KeyboardInterrupt):
                raise
            future.set_exception(e)
        return future


def _pool(workers: int | None, executor: cf.Executor | None, n_tasks: int):
    """``(pool, renew, own)``: the executor to use in ``pool[0]``, how to replace a broken local
    pool (None for a given executor) and whether this call owns (and shuts down) it."""
    if executor is not None:
        return [executor], None, False
    workers = (os.cpu_count() or 1) if workers is None else workers
    size = max(1, min(workers, n_tasks))

    def make_executor():
        return InlineExecutor() if size <= 1 else local_executor(size)

    return [make_executor()], make_executor, True


def _progress(progress: bool, total: int, initial: int, unit: str, desc: str):
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(
        total=total, initial=initial, unit=unit, desc=desc, dynamic_ncols=True, smoothing=0.1, file=sys.stderr
    )


def design_tasks(
    scenario: Scenario,
    design: Design,
    collector: Collector,
    *,
    seed: int,
    chunk_size: int,
    dtype: str,
    engine: str,
) -> dict[int, ChunkTask]:
    """The chunks of a design, by chunk number."""
    if design.replicates <= 0:
        raise InputError(f"expected a positive number of replicates, got {design.replicates}")
    if chunk_size <= 0:
        raise InputError(f"expected a positive chunk size, got {chunk_size}")
    get_engine(engine)  # an unknown or missing engine fails here, before any work
    known = set(slot_map(scenario)) | {lever_path(name) for name in scenario.levers}
    unknown = sorted(set(design.values) - known)
    if unknown:
        raise InputError(f"not a parameter of the scenario: {', '.join(unknown[:5])}")
    for k, v in design.values.items():
        if np.ndim(v) == 2 and np.shape(v)[1] != design.replicates:
            raise InputError(
                f"{k}: expected per-replicate values of shape (points, {design.replicates}), "
                f"got {np.shape(v)}"
            )
    if design.start is not None:
        lengths = {len(v) for v in design.start.arrays.values()}
        if lengths != {design.replicates}:
            raise InputError(
                f"expected one saved state per replicate ({design.replicates}), got {sorted(lengths)}"
            )
        try:  # the first replicate's state must fit the scenario's arrays
            first = {k: np.asarray(v)[:1] for k, v in design.start.arrays.items()}
            dynamics.restore_state(compile_params(scenario, 1), design.start.t, first)
        except (KeyError, ValueError) as e:
            raise InputError(f"saved states that do not fit the scenario ({e})") from None
    streams = design.stream_of()
    rep_chunk = min(design.replicates, chunk_size)

    def values_of(b: Block) -> dict[str, np.ndarray]:
        reps = slice(b.rep_start, b.rep_start + b.size)
        return {
            k: (np.asarray(v)[b.points][:, reps] if np.ndim(v) == 2 else np.asarray(v)[b.points])
            for k, v in design.values.items()
        }

    def start_of(b: Block) -> Start | None:
        if design.start is None:
            return None
        reps = slice(b.rep_start, b.rep_start + b.size)
        return Start(design.start.t, {k: np.asarray(v)[reps] for k, v in design.start.arrays.items()})

    return {
        b.index: ChunkTask(
            scenario,
            b,
            values_of(b),
            streams[b.points],
            b.rep_start // rep_chunk,
            seed,
            collector,
            dtype,
            engine,
            start_of(b),
        )
        for b in blocks(design, chunk_size)
    }


@locks("out")  # one writer per result folder, for the whole call
def run_design(
    scenario: Scenario,
    design: Design,
    collector: Collector,
    *,
    seed: int | None = None,
    out: str | Path | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    workers: int | None = 1,
    executor: cf.Executor | None = None,
    progress: bool = True,
    desc: str | None = None,
    dtype: str = DEFAULT_DTYPE,
    engine: str = "numpy",
    resume: bool = False,
    force: bool = False,
    name: str | None = None,
    chunk_fn=None,
    source: Path | None = None,
    hint: str | None = None,
    settings: dict | None = None,
    finish: dict | None = None,
):
    """Run a design (points x replicates with common random numbers) and collect its chunks.

    Every simulation of the program runs through here: a plain run is the one-point design
    (:func:`run_ensemble`); sensitivity, sweeps, lever evaluation and calibration are designs.

    Parameters
    ----------
    scenario
        The validated scenario.
    design
        Points x replicates (:class:`Design`).
    collector
        What each chunk returns (:class:`Collector`; a fresh copy per chunk).
    seed
        Seed of every draw (default: the scenario's ``run.seed``).
    out
        Without it the chunks' payloads are returned in chunk order; with it they must be
        :class:`~sim.run.store.ChunkData`, are stored atomically as they finish, and the
        :class:`~sim.run.store.Results` are returned (``resume`` finishes an interrupted design,
        ``force`` replaces another one).
    chunk_size
        Rows per chunk (the unit of work, of seeding and of memory).
    workers, executor
        Local processes (``None``: all cores; 1: in this process) or any
        ``concurrent.futures.Executor`` (a Dask client's ``get_executor()``).
    progress, desc
        A progress bar over rows, and its label.
    dtype, engine
        Precision of the ties and the engine that steps them (:func:`sim.model.engines.get_engine`).
    chunk_fn
        The function run on each :class:`ChunkTask` (default :func:`run_chunk`); a picklable
        stand-in lets tests inject faults.
    source, hint, settings, name, finish
        For stored designs: the scenario file, how to finish an interrupted design (said in the
        errors that keep chunks), the settings recorded in the manifest, the run's label, and the
        values a caller needs to say how to finish it (:attr:`sim.errors.RunError.resume`).
    """
    seed = scenario.run.seed if seed is None else int(seed)
    check_summaries(scenario, source, HIST_BINS)
    tasks = design_tasks(
        scenario, design, collector, seed=seed, chunk_size=chunk_size, dtype=dtype, engine=engine
    )
    n_chunks = len(tasks)
    total = design.points * design.replicates
    fn = chunk_fn or run_chunk
    if out is None:
        payloads: dict[int, object] = {}

        def keep(c: int, payload) -> None:
            payloads[c] = payload

        _execute(
            tasks,
            keep,
            workers=workers,
            executor=executor,
            fn=fn,
            bar=_progress(progress, total, 0, "run", desc or "design"),
            hint=hint or "run it again",
        )
        return [payloads[c] for c in sorted(payloads)]

    out = Path(out)
    settings = settings or {
        "points": design.points,
        "replicates": design.replicates,
        "seed": seed,
        "chunk_size": chunk_size,
        "dtype": dtype,
        "engine": engine,
    }
    manifest = _prepare(out, scenario, scenario.digest(), settings, n_chunks, resume, force, name)
    if manifest.get("status") == "complete":  # --resume of a finished run: nothing is left to do
        return load_results(out)
    done = manifest["chunks"]["done"]
    pending = [c for c in range(n_chunks) if not chunk_intact(out, c, done.get(str(c)))]
    for key in [k for k in done if int(k) in pending]:
        del done[key]
    tasks = {c: tasks[c] for c in pending}
    hint = hint or f"the same call with resume=True and out={out}"

    def save(c: int, chunk: ChunkData) -> None:
        try:
            done[str(c)] = save_chunk(out, chunk)
            write_json(out / MANIFEST, manifest)
        except OSError as e:
            done.pop(str(c), None)
            raise RunError(
                f"cannot write chunk {c} to {out} ({e.strerror}); {len(done)} finished chunks are "
                "kept; free some space and finish with: {hint}",
                hint=hint,
                resume=finish,
            ) from None

    bar = _progress(
        progress,
        total,
        total - sum(t.size for t in tasks.values()),
        "replicate" if design.points == 1 else "run",
        desc or name or "run",
    )
    try:
        _execute(
            tasks,
            save,
            workers=workers,
            executor=executor,
            fn=fn,
            bar=bar,
            hint=hint,
            kept=lambda: len(done),
            where=out,
            source=source,
        )
    except Interrupted as e:
        raise Interrupted(
            f"interrupted; {len(done)} of {n_chunks} chunks are kept in {out}; finish with: " + "{hint}",
            hint=hint,
            resume=finish,
        ) from e
    try:
        finalize(out, n_chunks, bool(settings.get("trajectories")))
    except OSError as e:
        raise RunError(
            f"cannot write the results to {out} ({e.strerror}); all {n_chunks} chunks are kept; "
            "free some space and finish with: {hint}",
            hint=hint,
            resume=finish,
        ) from None
    manifest["status"] = "complete"
    manifest["chunks"]["done"] = {}
    manifest = seal(manifest, out, FINAL_FILES)  # the final files' checksums, then the seal
    write_json(out / MANIFEST, manifest)
    return load_results(out)


def _execute(
    tasks: dict[int, ChunkTask],
    sink,
    *,
    workers,
    executor,
    fn,
    bar,
    hint: str,
    kept=None,
    where: Path | None = None,
    source: Path | None = None,
) -> None:
    """Run ``tasks`` on a pool, handing each finished chunk to ``sink(c, payload)``; failed chunks
    are retried once, a broken local pool is replaced, an interrupt stops the pool at once."""
    pool, renew, own = _pool(workers, executor, len(tasks))
    interrupted = False
    try:
        _drive(pool, renew, tasks, sink, bar, fn, kept or (lambda: 0), where)
    except KeyboardInterrupt:
        interrupted = True
        raise Interrupted("interrupted") from None
    except dynamics.NumericalError as e:
        raise ScenarioError(source, str(e), path=f"mechanisms.{e.mechanism}") from None
    finally:
        if bar is not None:
            bar.close()
        if own:
            pool[0].shutdown(wait=not interrupted, cancel_futures=True)


@locks("out")  # one writer per result folder, from its first check on
def run_ensemble(
    scenario: Scenario | str | Path,
    *,
    replicates: int | None = None,
    steps: int | None = None,
    seed: int | None = None,
    out: str | Path | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    workers: int | None = 1,
    executor: cf.Executor | None = None,
    resume: bool = False,
    force: bool = False,
    trajectories: bool = False,
    dtype: str = DEFAULT_DTYPE,
    progress: bool = True,
    name: str | None = None,
    point: bool = False,
    chunk_fn=None,
    engine: str = "numpy",
    why: bool | int | None = None,
    values: dict | None = None,
) -> Results:
    """Run the replicates of a scenario and return (and, with ``out``, store) the results.

    The one-point :class:`Design` of :func:`run_design`, collected by :class:`ReplicateCollector`.

    Parameters
    ----------
    scenario
        A scenario or the path of a scenario file.
    replicates, steps, seed
        Override the scenario's run settings.
    out
        Result directory; a temporary one is used when omitted.
    chunk_size
        Replicates per chunk (the unit of work, of seeding and of memory).
    workers
        Processes for the local pool (``None``: all cores; 1: run in this process).
    executor
        Any ``concurrent.futures.Executor`` (e.g. a Dask client's ``get_executor()``); overrides
        ``workers``.
    resume, force
        Finish an interrupted run in ``out``, or overwrite another run's results there.
    trajectories
        Keep every replicate's full tie trajectory (small runs only).
    dtype
        Precision of the ties: ``"float32"`` (default) or ``"float64"``.
    progress
        Show a progress bar over replicates.
    name
        Label for the progress bar and the manifest (default: the file's stem).
    point
        When ``scenario`` is a path, use the point value of every uncertain value.
    chunk_fn
        The function run on each :class:`ChunkTask` (default :func:`run_chunk`); a picklable
        stand-in lets tests inject faults.
    engine
        The engine that steps the ties (``numpy``; see :mod:`sim.model.engines`).
    why
        Book each force's part in the alliances' ties (``why:`` columns): None (default) for runs
        of up to :data:`WHY_AUTO_MAX` replicates, True/False to force, an int for the window.
    values
        Parameter values set on top of the scenario (``--set``; :meth:`Scenario.with_values`),
        recorded in the manifest's scenario.
    """
    source = None
    if not isinstance(scenario, Scenario):
        source = path = Path(scenario)
        scenario = load_scenario(path, point=point, values=values)
        name = name or path.stem
    elif values:
        scenario = scenario.with_values(values)
    check_summaries(scenario, source, HIST_BINS)  # the file's own steps, located in it
    scenario = scenario.with_run(replicates=replicates, steps=steps, seed=seed)
    if chunk_size <= 0:
        raise InputError(f"expected a positive chunk size, got {chunk_size}")
    check_fits(scenario, chunk_size, trajectories, source, HIST_BINS)
    if out is None:
        import tempfile

        out = Path(tempfile.mkdtemp(prefix="alliance-sim-"))
        force = True
    out = Path(out)
    window = why_window(why, scenario.run.replicates, engine)
    if window and engine not in BOOKS_FORCES:
        raise InputError(
            f"--why: expected an engine that books the forces' parts (numpy), got --engine "
            f"{engine}; drop --why or use --engine numpy"
        )
    settings = _settings(scenario, chunk_size, trajectories, dtype, engine, window)
    finished = read_manifest(out) if resume and out.is_dir() else None
    done = finished is not None and finished.get("status") == "complete"  # nothing left to write
    _check_writable(out, 0 if done else disk_need(scenario, chunk_size, trajectories, HIST_BINS))
    return run_design(
        scenario,
        Design.single(scenario.run.replicates),
        ReplicateCollector(trajectories, window),
        seed=scenario.run.seed,
        out=out,
        chunk_size=chunk_size,
        workers=workers,
        executor=executor,
        progress=progress,
        desc=name or "run",
        dtype=dtype,
        engine=engine,
        resume=resume,
        force=force,
        name=name,
        chunk_fn=chunk_fn,
        source=source,
        settings=settings,
        finish={"source": source, "out": out, "settings": settings, "point": point, "values": values},
    )


def _check_writable(out: Path, need: int) -> None:
    """Fail early, with one line, when ``out`` cannot take the results."""
    import shutil

    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-test-{os.getpid()}"
        try:
            with open(probe, "wb") as fh:
                fh.write(b"\0" * 4096)
                fh.flush()
                os.fsync(fh.fileno())
        finally:
            probe.unlink(missing_ok=True)
        free = shutil.disk_usage(out).free
    except OSError as e:
        raise ResultsError(
            f"{out}: cannot write results there ({e.strerror}); choose another --out"
        ) from None
    if free < need:
        raise ResultsError(
            f"{out}: expected at least {need / 2**20:.1f} MB free for the results, "
            f"got {free / 2**20:.1f} MB; free some space or choose another --out"
        )


def _prepare(
    out: Path,
    scenario: Scenario,
    digest: str,
    settings: dict,
    n_chunks: int,
    resume: bool,
    force: bool,
    name: str | None,
) -> dict:
    existing = read_manifest(out) if out.exists() else None
    if existing is not None:
        same = existing.get("scenario_hash") == digest and existing.get("settings") == settings
        if resume:
            if not same:
                raise ResultsError(
                    f"{out}: holds a run of another scenario or other settings "
                    f"(hash {existing.get('scenario_hash', '?')[:12]}); --resume needs the same "
                    "scenario and settings"
                )
            if existing.get("status") == "complete":
                return existing
            return existing
        if not force:
            raise ResultsError(
                f"{out}: already holds results; use --resume to finish them or --force to replace them"
            )
        import shutil

        # Only what a run writes goes: --force never deletes a file it did not make.
        for item in out.iterdir():
            if not (item.name in RESULT_ENTRIES or item.name.startswith(".") and ".tmp-" in item.name):
                continue
            if item.is_dir() and not item.is_symlink():
                shutil.rmtree(item)
            else:
                item.unlink()
    elif out.exists() and any(p.name != LOCK_FILE for p in out.iterdir()) and not force:
        raise ResultsError(f"{out}: is not empty and holds no results; choose another --out or use --force")
    out.mkdir(parents=True, exist_ok=True)
    manifest = {
        "format": FORMAT,
        "name": name or "",
        "status": "running",
        "scenario_hash": digest,
        "scenario": scenario.to_data(),
        "focal": scenario.focal_alliance,
        "settings": settings,
        "actors": scenario.actor_names,
        "issues": scenario.issue_names,
        "alliances": list(scenario.alliances),
        "steps": settings["steps"],
        "seed": settings["seed"],
        "versions": versions(),
        "code": code_provenance(),  # sealed with the rest when the run completes
        "chunks": {"total": n_chunks, "done": {}},
    }
    write_json(out / MANIFEST, manifest)
    return manifest


def _drive(
    pool: list[cf.Executor], renew, tasks: dict[int, ChunkTask], sink, bar, fn, kept, where: Path | None
) -> None:
    """Run the tasks on ``pool[0]``, retrying each failed chunk once; a broken local pool is
    replaced (in ``pool[0]``) through ``renew``."""
    attempts = {c: 0 for c in tasks}
    queue = sorted(tasks)
    while queue:
        executor = pool[0]
        # A few chunks in flight at a time: each finished chunk is handed on before the next is
        # submitted, so memory stays bounded and an interrupt loses at most the chunks in flight.
        window = _window(executor)
        waiting, queue = queue, []
        futures: dict[cf.Future, int] = {}
        broken = False
        while waiting or futures:
            while waiting and len(futures) < window and not broken:
                c = waiting.pop(0)
                try:
                    futures[executor.submit(fn, tasks[c])] = c
                except BrokenProcessPool:
                    if renew is None:
                        raise
                    broken = True
                    waiting.insert(0, c)
            if not futures:
                break
            done, _ = cf.wait(futures, return_when=cf.FIRST_COMPLETED)
            for future in sorted(done, key=futures.__getitem__):
                c = futures.pop(future)
                broken |= _hand_on_or_retry(future, c, tasks, attempts, queue, sink, bar, kept, where)
        queue.extend(waiting)
        if queue and broken and renew is not None:
            executor.shutdown(wait=False, cancel_futures=True)
            pool[0] = renew()
        queue.sort()


def _window(executor: cf.Executor) -> int:
    """How many chunks to keep submitted to ``executor`` at once."""
    if isinstance(executor, InlineExecutor):
        return 1  # it runs a chunk when it is submitted
    workers = getattr(executor, "_max_workers", None)
    return 2 * workers if workers else 1 << 30


def _hand_on_or_retry(
    future: cf.Future, c: int, tasks, attempts, queue, sink, bar, kept, where: Path | None
) -> bool:
    """Hand a finished chunk to ``sink``, or queue a failed one for its retry; says if the pool
    broke."""
    broken = False
    try:
        payload = future.result()
    except (dynamics.NumericalError, AllianceError):
        raise  # deterministic: a retry would fail the same way
    except Exception as e:  # noqa: BLE001 - a failed chunk is retried once
        attempts[c] += 1
        broken |= isinstance(e, BrokenProcessPool)
        if attempts[c] >= MAX_ATTEMPTS:
            kept_where = f" in {where}" if where is not None else ""
            raise RunError(
                f"chunk {c} failed {attempts[c]} times ({type(e).__name__}: {e}); "
                f"{kept()} finished chunks are kept{kept_where}"
            ) from e
        queue.append(c)
        return broken
    sink(c, payload)
    if bar is not None:
        bar.update(tasks[c].size)
    return broken


def reusable(
    path: Path,
    out: Path,
    *,
    replicates: int | None = None,
    steps: int | None = None,
    seed: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    dtype: str = DEFAULT_DTYPE,
    engine: str = "numpy",
    why: bool | int | None = None,
    point: bool = False,
    values: dict | None = None,
) -> Results | None:
    """Finished results in ``out`` of exactly the scenario of ``path`` and the settings
    :func:`run_ensemble` would record with these arguments, if any."""
    manifest = read_manifest(out) if out.exists() else None
    if manifest is None or manifest.get("status") != "complete":
        return None
    scenario = load_scenario(path, point=point, values=values).with_run(
        replicates=replicates, steps=steps, seed=seed
    )
    window = why_window(why, scenario.run.replicates, engine)
    settings = _settings(scenario, chunk_size, False, dtype, engine, window)
    if manifest.get("scenario_hash") != scenario.digest() or manifest.get("settings") != settings:
        return None
    return load_results(out)
