"""Multi-factor experiments: several parameters varied together, every point run on common random
numbers, stored in one result folder.

An experiment is a design (:class:`sim.run.designs.Design`) whose points are the combinations of
the factors' values (``full``: every combination, the last factor fastest) or ``N`` points of a
Latin hypercube over the factors' ranges (``lhs``; McKay, Beckman & Conover 1979). Replicate ``r``
of every point sees the same draws of every value not in the design and the same noise, events and
decisions, so the difference between two points is estimated paired (Law 2015, ch. 11).

Its replicate table is a run's, plus a ``point`` column and the factors' values as ``param:``
columns, so ``discover``, ``export`` and ``verify`` read it as they read a run. From it:

- the share of each fate at each point with its Wilson (1927) interval;
- main effects: P(holds) at each level of a factor, pooled over the other factors' points; with a
  full design the effect (last level minus first) is the mean of paired differences per replicate;
- two-way interactions: for a full design the contrast ``(P(a1,b1) - P(a0,b1)) - (P(a1,b0) -
  P(a0,b0))`` of the first and last levels, paired per replicate, with its interval;
- PRIM (Friedman & Fisher 1999) over the factors alone (:func:`sim.analysis.discovery.discover`).

A sweep is the one-factor case of the same design (:mod:`sim.analysis.sweep`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.fates import wilson_interval
from sim.analysis.sensitivity import pick_alliance
from sim.analysis.sweep import check_slot
from sim.errors import InputError
from sim.run.collectors import ReplicateCollector
from sim.run.designs import Block, Design
from sim.run.ensemble import DEFAULT_CHUNK_SIZE, run_design
from sim.run.store import ChunkData, decode_table, encode_table
from sim.spec.scenario import Scenario
from sim.vocabulary import FATES, PARAM_PREFIX, REPLICATE, Z95, Fate, fate_column, param_column

#: the design's point of each row of the replicate table
POINT = "point"
#: the seed of a Latin hypercube design is ``SeedSequence([seed, LHS_TAG])``
LHS_TAG = 0x4C485344  # "LHSD"
DESIGNS = ("full", "lhs")
#: the most points a full design may have before it is refused (use --design lhs)
MAX_FULL_POINTS = 4096


@dataclass(frozen=True)
class Factor:
    """One varied parameter: its path (as ``show`` lists it) and its values (``lhs``: the range
    from the smallest to the largest)."""

    path: str
    values: tuple[float, ...]


def parse_factor(text: str) -> Factor:
    """``PATH=V1,V2,...`` as a :class:`Factor`; ``ValueError`` with what was expected."""
    path, sep, rest = text.partition("=")
    path = path.strip()
    if not sep or not path:
        raise ValueError(f"expected PATH=V1,V2,... (e.g. mechanisms.pressure=0,0.1,0.2), got {text!r}")
    try:
        values = tuple(float(v) for v in rest.split(",") if v.strip())
    except ValueError:
        raise ValueError(f"{path}: expected comma-separated numbers after '=', got {rest!r}") from None
    if len(values) < 2 or not all(np.isfinite(values)):
        raise ValueError(f"{path}: expected at least two finite values, got {rest!r}")
    if len(set(values)) != len(values):
        raise ValueError(f"{path}: expected distinct values, got {rest!r}")
    return Factor(path, values)


def design_points(
    factors: Sequence[Factor], design: str = "full", points: int | None = None, seed: int = 0
) -> pd.DataFrame:
    """The design's points: one row per point, one column per factor path.

    ``full``: every combination of the factors' values, the last factor varying fastest.
    ``lhs``: ``points`` rows, each factor's range (its smallest to its largest value) cut into
    ``points`` strata with one value in each, paired at random across factors (seeded by
    ``seed``)."""
    if not factors:
        raise InputError("expected at least one --factor PATH=V1,V2,...")
    paths = [f.path for f in factors]
    if len(set(paths)) != len(paths):
        raise InputError(f"--factor: each path once, got {', '.join(paths)}")
    if design == "full":
        if points is not None:
            raise InputError("--points applies with --design lhs only (a full design has every combination)")
        n = int(np.prod([len(f.values) for f in factors]))
        if n > MAX_FULL_POINTS:
            raise InputError(
                f"--design full: {n:,} combinations, more than {MAX_FULL_POINTS:,}; expected fewer values "
                "or --design lhs --points N"
            )
        rows = list(itertools.product(*(f.values for f in factors)))
        return pd.DataFrame(rows, columns=paths, dtype=np.float64)
    if design == "lhs":
        if not points or points < 2:
            raise InputError("--design lhs: expected --points N (at least 2)")
        rng = np.random.default_rng(np.random.SeedSequence([int(seed), LHS_TAG]))
        cols = {}
        for f in factors:
            lo, hi = min(f.values), max(f.values)
            u = (rng.permutation(points) + rng.random(points)) / points
            cols[f.path] = lo + u * (hi - lo)
        return pd.DataFrame(cols)
    raise InputError(f"unknown design {design!r}; expected one of {', '.join(DESIGNS)}")


class ExperimentCollector(ReplicateCollector):
    """A run's chunk (:class:`ReplicateCollector`) with each row's design point, its replicate
    number within the point and the factors' values as ``param:`` columns."""

    def __init__(self, points: pd.DataFrame, why: int = 0):
        super().__init__(trajectories=False, why=why)
        self.point_values = {p: points[p].to_numpy(np.float64) for p in points.columns}

    def end(self, block: Block, params, state) -> ChunkData:
        """The chunk's table with ``point``, the replicate within the point and the factors."""
        chunk = super().end(block, params, state)
        table = decode_table(chunk.table_bytes)
        columns = {name: table[name].to_numpy(zero_copy_only=False) for name in table.column_names}
        point = block.point_of_row()
        columns[REPLICATE] = block.replicate_of_row().astype(np.int64)
        for path, values in self.point_values.items():
            columns[param_column(path)] = values[point].astype(np.float32)
        ordered = {POINT: point.astype(np.int32), **columns}
        return ChunkData(chunk.index, encode_table(ordered), chunk.summary, None)


@dataclass
class Experiment:
    """A finished experiment: its design, outcome tables and PRIM boxes."""

    scenario_title: str
    factors: list[Factor]
    design: str
    points: pd.DataFrame  # one row per point, one column per factor
    replicates: int
    seed: int
    alliance: str
    table: pd.DataFrame  # point, factor values..., fate, p, low, high, count
    main: pd.DataFrame  # factor, level, p, low, high, count (P(holds))
    effects: pd.DataFrame  # factor, low_level, high_level, diff, low, high, paired
    interactions: pd.DataFrame  # a, b, contrast, low, high (full designs)
    cells: pd.DataFrame  # a, b, level_a, level_b, p, low, high (the two-way plots)
    discovery: object | None = None  # sim.analysis.discovery.Discovery, or None
    discovery_note: str = ""
    directory: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def paths(self) -> list[str]:
        """The factors' paths, in the order given."""
        return [f.path for f in self.factors]


def run_experiment(
    scenario: Scenario,
    factors: Sequence[Factor],
    *,
    design: str = "full",
    points: int | None = None,
    replicates: int = 1000,
    alliance: str | None = None,
    seed: int | None = None,
    out: str | Path,
    workers: int | None = None,
    executor=None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: bool = True,
    engine: str = "numpy",
    dtype: str = "float32",
    resume: bool = False,
    force: bool = False,
    hint: str | None = None,
) -> Experiment:
    """Run a multi-factor design on common random numbers into one result folder and tabulate it.

    Parameters
    ----------
    scenario
        The validated scenario (its ``run.steps`` is the horizon).
    factors
        The varied parameters (:func:`parse_factor`).
    design, points
        ``full`` (every combination) or ``lhs`` with ``points`` points.
    replicates
        Runs per point.
    alliance
        Whose fates (default: the focal alliance).
    out
        The result folder: a run's layout with ``points`` in its settings.
    seed, workers, executor, chunk_size, progress, engine, dtype, resume, force
        As for :func:`sim.run.ensemble.run_design`.
    hint
        How to finish an interrupted experiment, said in the errors that keep its chunks.
    """
    seed = scenario.run.seed if seed is None else int(seed)
    table = design_points(factors, design, points, seed)
    for f in factors:
        check_slot(scenario, f.path, table[f.path].to_numpy())
    alliance = pick_alliance(alliance, list(scenario.alliances), scenario.focal_alliance)
    scenario = scenario.with_run(replicates=replicates, seed=seed)
    d = Design({p: table[p].to_numpy() for p in table.columns}, int(replicates))
    settings = {
        "kind": "experiment",
        "design": design,
        "factors": {f.path: list(f.values) for f in factors},
        "points": d.points,
        "replicates": int(replicates),
        "steps": scenario.run.steps,
        "seed": seed,
        "chunk_size": chunk_size,
        "dtype": dtype,
        "engine": engine,
        "alliance": alliance,
    }
    results = run_design(
        scenario,
        d,
        ExperimentCollector(table),
        seed=seed,
        out=out,
        chunk_size=chunk_size,
        workers=workers,
        executor=executor,
        progress=progress,
        desc="experiment",
        dtype=dtype,
        engine=engine,
        resume=resume,
        force=force,
        name=f"{scenario.title or 'scenario'} experiment",
        settings=settings,
        hint=hint or f"the same experiment with resume=True and out={out}",
    )
    return tabulate(results.directory if hasattr(results, "directory") else Path(out))


def read_experiment(directory: str | Path) -> Experiment:
    """The experiment stored in ``directory`` (checked as every result folder is)."""
    return tabulate(Path(directory))


def _paired(diff_per_replicate: np.ndarray) -> tuple[float, float, float]:
    """Mean of paired differences and its normal 95 % interval."""
    n = len(diff_per_replicate)
    mean = float(diff_per_replicate.mean())
    se = float(diff_per_replicate.std(ddof=1) / np.sqrt(n)) if n > 1 else float("inf")
    return mean, mean - Z95 * se, mean + Z95 * se


def _levels(values: np.ndarray, design: str, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Each point's level of a factor and the levels' values: the values themselves in a full
    design, the midpoints of ``bins`` equal-count bins in a Latin hypercube."""
    if design == "full":
        levels, index = np.unique(values, return_inverse=True)
        return index, levels
    edges = np.quantile(values, np.linspace(0, 1, bins + 1))
    index = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, bins - 1)
    mids = np.array([values[index == b].mean() if np.any(index == b) else np.nan for b in range(bins)])
    return index, mids


def _fate_table(
    point: np.ndarray, fate: np.ndarray, P: int, pts: pd.DataFrame, paths: list[str]
) -> pd.DataFrame:
    """Each fate's share at each point of the design, with its Wilson interval and count."""
    rows = []
    per_point = np.bincount(point, minlength=P)
    for f_word in FATES:
        counts = np.bincount(point, weights=(fate == f_word), minlength=P)
        low, high = wilson_interval(counts, per_point)
        for i in range(P):
            rows.append(
                {
                    POINT: i,
                    **{p: pts.at[i, p] for p in paths},
                    "fate": f_word,
                    "p": counts[i] / per_point[i],
                    "low": float(np.atleast_1d(low)[i]),
                    "high": float(np.atleast_1d(high)[i]),
                    "count": int(counts[i]),
                }
            )
    return pd.DataFrame(rows)


def _main_effects(factors, level_of, point, holds, grid, design: str) -> tuple[list[dict], list[dict]]:
    """P(holds) at each level of each factor, and each factor's effect from its first level to its
    last (paired by replicate on a full grid)."""
    main, effects = [], []
    for f in factors:
        index, levels = level_of[f.path]
        for k, v in enumerate(levels):
            at = np.isin(point, np.flatnonzero(index == k))
            c, n = int(holds[at].sum()), int(at.sum())
            low, high = wilson_interval(c, n)
            main.append(
                {
                    "factor": f.path,
                    "level": v,
                    "p": c / n if n else np.nan,
                    "low": low,
                    "high": high,
                    "count": n,
                }
            )
        first, last = np.flatnonzero(index == 0), np.flatnonzero(index == len(levels) - 1)
        if design == "full":  # each replicate's share over the other factors' points: paired
            d, lo, hi = _paired(grid[last].mean(axis=0) - grid[first].mean(axis=0))
            paired = True
        else:
            a, b = grid[last].ravel(), grid[first].ravel()
            d = float(a.mean() - b.mean())
            se = float(np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)))
            lo, hi, paired = d - Z95 * se, d + Z95 * se, False
        effects.append(
            {
                "factor": f.path,
                "from": levels[0],
                "to": levels[-1],
                "diff": d,
                "low": lo,
                "high": hi,
                "paired": paired,
            }
        )
    return main, effects


def _interactions(factors, level_of, point, holds, grid, design: str) -> tuple[list[dict], list[dict]]:
    """Each pair of factors' interaction contrast (on a full grid) and P(holds) in each cell of
    their levels."""
    inter, cells = [], []
    for fa, fb in itertools.combinations(factors, 2):
        ia, la = level_of[fa.path]
        ib, lb = level_of[fb.path]
        for ka, va in enumerate(la):
            for kb, vb in enumerate(lb):
                sel = np.flatnonzero((ia == ka) & (ib == kb))
                at = np.isin(point, sel)
                c, n = int(holds[at].sum()), int(at.sum())
                low, high = wilson_interval(c, n) if n else (np.nan, np.nan)
                cells.append(
                    {
                        "a": fa.path,
                        "b": fb.path,
                        "level_a": va,
                        "level_b": vb,
                        "p": c / n if n else np.nan,
                        "low": low,
                        "high": high,
                        "count": n,
                    }
                )
        if design == "full":

            def corner(ka: int, kb: int, ia=ia, ib=ib) -> np.ndarray:
                return grid[np.flatnonzero((ia == ka) & (ib == kb))].mean(axis=0)

            a1, b1 = len(la) - 1, len(lb) - 1
            contrast = (corner(a1, b1) - corner(0, b1)) - (corner(a1, 0) - corner(0, 0))
            d, lo, hi = _paired(contrast)
            inter.append({"a": fa.path, "b": fb.path, "contrast": d, "low": lo, "high": hi})
    return inter, cells


def tabulate(directory: Path) -> Experiment:
    """Tables of a stored experiment: the fates at each point, main effects, interactions, PRIM."""
    from sim.analysis.discovery import AnalysisError, discover
    from sim.run.store import load_results
    from sim.spec.scenario import stored_scenario

    results = load_results(directory)
    manifest_settings = results.manifest.get("settings", {})
    if manifest_settings.get("kind") != "experiment":
        raise InputError(f"{directory}: not an experiment folder (its manifest records no kind = experiment)")
    scenario = stored_scenario(results.manifest["scenario"])
    factors = [Factor(p, tuple(v)) for p, v in manifest_settings["factors"].items()]
    design = manifest_settings["design"]
    alliance = manifest_settings["alliance"]
    R = int(manifest_settings["replicates"])
    P = int(manifest_settings["points"])
    paths = [f.path for f in factors]
    reps = results.replicates
    point = reps[POINT].to_numpy(np.int64)
    replicate = reps[REPLICATE].to_numpy(np.int64)
    fate = reps[fate_column(alliance)].to_numpy()
    # the design's own values (the table holds them in float32, as every sampled value)
    pts = design_points(factors, design, P if design == "lhs" else None, int(manifest_settings["seed"]))
    table = _fate_table(point, fate, P, pts, paths)
    holds = (fate == Fate.HOLDS.word).astype(np.float64)
    grid = np.full((P, R), np.nan)  # P(holds) of replicate r at point p: 0 or 1
    grid[point, replicate] = holds
    bins = min(4, max(2, P // 4))
    level_of = {f.path: _levels(pts[f.path].to_numpy(), design, bins) for f in factors}
    main, effects = _main_effects(factors, level_of, point, holds, grid, design)
    inter, cells = _interactions(factors, level_of, point, holds, grid, design)
    disc, note = None, ""
    try:
        disc = discover(results, Fate.STAB.word, alliance, include=paths)
    except AnalysisError as e:
        note = str(e)
    return Experiment(
        scenario.title or Path(directory).name,
        factors,
        design,
        pts.reset_index(drop=True),
        R,
        int(manifest_settings["seed"]),
        alliance,
        table,
        pd.DataFrame(main),
        pd.DataFrame(effects),
        pd.DataFrame(inter, columns=["a", "b", "contrast", "low", "high"]),
        pd.DataFrame(cells),
        disc,
        note,
        Path(directory),
    )


__all__ = [
    "DESIGNS",
    "Experiment",
    "ExperimentCollector",
    "Factor",
    "PARAM_PREFIX",
    "design_points",
    "parse_factor",
    "read_experiment",
    "run_experiment",
]
