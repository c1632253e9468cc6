"""Sobol indices over time: which assumptions decide whether an alliance is still active at step t.

The Saltelli design of :mod:`sim.analysis.sensitivity` is run once through the experiment runner
with a collector that counts, per design point, the replicates in which the alliance is still
active after each step of a time grid; each step's share ``P(active after t)`` is one output, and
its Sobol indices (total ``ST`` and first-order ``S1``, with the same common-random-number layout
as the end-of-run analysis) are estimated step by step. The given-data counterpart, from a finished
run without new simulations, is :func:`sim.analysis.given_data.given_data`.

References
----------
Saltelli, A. (2002); Saltelli, A. et al. (2010): see :mod:`sim.analysis.sensitivity`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.sensitivity import (
    AnalysisError,
    pick_alliance,
    scenario_factors,
    sobol_design,
    sobol_indices,
    to_scale,
)
from sim.run.collectors import Collector
from sim.run.designs import Block, Design
from sim.run.ensemble import run_design
from sim.spec.params import Params
from sim.spec.scenario import Scenario, load_scenario


def time_grid(steps: int, points: int = 12) -> np.ndarray:
    """``points`` steps spread evenly over ``0 .. steps - 1`` (fewer if the run is shorter)."""
    return np.unique(np.linspace(0, steps - 1, points).round().astype(np.int64))


class ActiveCounts(Collector):
    """Per design point of a chunk, how many replicates have the alliance still active after each
    step of a time grid."""

    def __init__(self, alliance: str, grid: np.ndarray):
        self.alliance, self.grid = alliance, np.asarray(grid)

    def end(self, block: Block, params: Params, state) -> tuple[np.ndarray, np.ndarray]:
        """``(points, counts)``: the chunk's design points and their ``(points, len(grid))`` counts."""
        a = [al.name for al in params.alliances].index(self.alliance)
        end = np.where(state.active[:, a], params.steps, state.end_step[:, a])
        alive = end[:, None] > self.grid[None, :]
        counts = alive.reshape(len(block.points), block.size, len(self.grid)).sum(axis=1)
        return np.asarray(block.points), counts


@dataclass
class SobolOverTime:
    """Sobol indices of ``P(active after step t)`` for each step of a grid."""

    alliance: str
    steps: np.ndarray  # the grid
    shares: np.ndarray  # (design points, len(steps)) P(active after t) per design point
    ST: pd.DataFrame  # index: steps; columns: factors
    S1: pd.DataFrame
    settings: dict = field(default_factory=dict)
    ST_conf: pd.DataFrame | None = None  # 95 % bootstrap half-widths of ST, same shape
    S1_conf: pd.DataFrame | None = None


def sobol_over_time(
    scenario: Scenario | str | Path,
    *,
    samples: int = 256,
    replicates: int = 8,
    seed: int = 0,
    alliance: str | None = None,
    include=None,
    points: int = 12,
    workers: int | None = None,
    progress: bool = True,
    steps: int | None = None,
    resamples: int = 200,
    engine: str = "numpy",
) -> SobolOverTime:
    """Run a Saltelli design and estimate Sobol indices of ``P(alliance active after step t)``.

    Parameters
    ----------
    scenario
        A scenario or the path of a scenario file.
    samples, replicates, seed, include, workers, steps, engine
        As in :func:`sim.analysis.sensitivity.run_sensitivity`.
    points
        Steps of the time grid (:func:`time_grid`).
    resamples
        Bootstrap resamples of each step's indices.
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    scenario = scenario.with_run(steps=steps)
    factors = scenario_factors(scenario, include)
    if not factors:
        raise AnalysisError("no uncertain values to vary in the scenario")
    alliance = pick_alliance(alliance, list(scenario.alliances), scenario.focal_alliance)
    grid = time_grid(scenario.run.steps, points)
    U = sobol_design(factors, samples, seed=seed)
    X = to_scale(factors, U)
    stride = len(factors) + 2  # the rows of one base sample share their random numbers
    design = Design(
        {f.name: X[:, j] for j, f in enumerate(factors)},
        replicates,
        np.arange(len(X), dtype=np.int64) // stride,
    )
    started = time.perf_counter()
    parts = run_design(
        scenario,
        design,
        ActiveCounts(alliance, grid),
        seed=seed,
        workers=workers,
        progress=progress,
        desc="design",
        engine=engine,
    )
    counts = np.zeros((design.points, len(grid)), dtype=np.int64)
    for pts, c in parts:
        counts[pts] += c
    shares = counts / replicates
    st, s1, stc, s1c = {}, {}, {}, {}
    for k, t in enumerate(grid):
        df = sobol_indices(factors, shares[:, k], resamples=resamples, seed=seed)
        st[int(t)], s1[int(t)] = df["ST"], df["S1"]
        stc[int(t)], s1c[int(t)] = df["ST_conf"], df["S1_conf"]
    ST = pd.DataFrame(st).T.rename_axis("step")
    S1 = pd.DataFrame(s1).T.rename_axis("step")
    return SobolOverTime(
        alliance,
        grid,
        shares,
        ST,
        S1,
        {
            "samples": samples,
            "replicates": replicates,
            "seed": seed,
            "factors": len(factors),
            "design_points": len(X),
            "replicate_runs": int(len(X) * replicates),
            "seconds": round(time.perf_counter() - started, 2),
            "scenario_hash": scenario.digest(),
        },
        pd.DataFrame(stc).T.rename_axis("step")[ST.columns],
        pd.DataFrame(s1c).T.rename_axis("step")[S1.columns],
    )
