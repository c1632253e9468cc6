"""Chunks: one block of a design as a task a worker runs, and how it runs it.

A :class:`ChunkTask` carries everything a worker needs (it is pickled to the worker);
:func:`run_chunk` draws the chunk's uncertain values and random generators from its stream seeds
(:func:`sim.run.designs.stream_seeds`), steps it on the engine it names
(:func:`sim.model.engines.get_engine`), from the scenario's start or from saved states, and returns
its collector's payload.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.model import dynamics
from sim.model.engines import Layout, get_engine
from sim.run.collectors import Collector, ReplicateCollector
from sim.run.designs import Block, Start, stream_seeds
from sim.spec.parammap import uncertain_slots
from sim.spec.params import Params, assemble, compile_params, sample
from sim.spec.scenario import Scenario
from sim.vocabulary import DEFAULT_DTYPE


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


@dataclass
class ChunkRun:
    """A chunk between the phases of :func:`run_chunk`: its arrays, generators, layout, fresh
    collector and state (``None`` before a run from the scenario's start)."""

    task: ChunkTask
    params: Params
    rngs: list[np.random.Generator]
    layout: Layout | None
    collector: Collector
    state: dynamics.State | None
    prepared: object = None  # the engine's packing of the chunk, made ahead of the step if it can


def begin_chunk(task: ChunkTask) -> ChunkRun:
    """The first phase of a chunk: draw its parameters, start its collector, restore its saved
    states (every point's replicate r continues from saved state r)."""
    params, rngs, layout = chunk_params(task)
    collector = copy.deepcopy(task.collector)
    collector.begin(task.block, params)
    state = None
    if task.start is not None:
        points = len(task.block.points)
        arrays = {k: np.concatenate([np.asarray(v)] * points) for k, v in task.start.arrays.items()}
        state = dynamics.restore_state(params, task.start.t, arrays, np.dtype(task.dtype))
    run = ChunkRun(task, params, rngs, layout, collector, state)
    engine = get_engine(task.engine)
    prepare = getattr(engine, "prepare", None)
    fused = _fused(engine, collector)
    if prepare is not None and fused is not None:  # the compiled engine packs the chunk here
        run.prepared = prepare(params, rngs, layout, dtype=np.dtype(task.dtype), summaries=fused, state=state)
    return run


def _fused(engine, collector: Collector):
    """The summaries ``engine`` fills for ``collector`` inside its own loop (None: it calls the
    collector's ``record`` instead)."""
    return collector.summaries() if engine.fuses_summaries and collector.why is None else None


def step_chunk(run: ChunkRun) -> ChunkRun:
    """The second phase: the engine steps the chunk to the horizon (filling the collector's
    summaries itself where it can, else calling its ``record`` every step)."""
    engine = get_engine(run.task.engine)
    dtype = np.dtype(run.task.dtype)
    collector, params = run.collector, run.params
    fused = _fused(engine, collector)
    if fused is not None:
        if run.prepared is not None:  # packed when the chunk began (an engine with ``prepare``)
            simulate: Any = engine.simulate
            run.state = simulate(
                params, run.rngs, run.layout, dtype=dtype, summaries=fused, prepared=run.prepared
            )
            run.prepared = None
        else:
            run.state = engine.simulate(
                params, run.rngs, run.layout, dtype=dtype, summaries=fused, state=run.state
            )
    else:
        run.state = engine.simulate(
            params,
            run.rngs,
            run.layout,
            dtype=dtype,
            record=collector.record if collector.records else None,
            why=collector.why,
            state=run.state,
        )
    return run


def end_chunk(run: ChunkRun):
    """The last phase: the collector's payload from the final state."""
    assert run.state is not None
    return run.collector.end(run.task.block, run.params, run.state)


def run_chunk(task: ChunkTask):
    """Run one chunk of a design and return its collector's payload."""
    return end_chunk(step_chunk(begin_chunk(task)))
