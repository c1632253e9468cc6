"""Search for non-dominated policies: NSGA-II over the levers, one generation = one design.

Each lever is a real decision variable on [0, 1] mapped onto its range, its whole numbers or its
options (:func:`sim.spec.levers.from_unit`), so the standard simulated binary crossover and
polynomial mutation of NSGA-II (Deb, Pratap, Agarwal & Meyarivan 2002) apply to every kind of
lever. A policy's objectives are its metrics' means over the same sampled worlds (or, with
``statistic="p10"``, each metric's worse decile over them: a robust optimisation in the sense of
Kasprzyk et al. 2013 and Hamarat et al. 2014). All the solutions Platypus asks to evaluate in one
generation run as one design of the experiment runner, on common worlds and replicates.

Convergence is reported as the hypervolume of the non-dominated set after each generation
(Zitzler & Thiele 1999), with every objective normalised by its natural range (probabilities on
[0, 1], ties on [-1, 1], costs on [0, largest departure]), so generations are comparable.

References
----------
Deb, K., Pratap, A., Agarwal, S. & Meyarivan, T. (2002). A fast and elitist multiobjective
genetic algorithm: NSGA-II. IEEE Trans. Evol. Comput. 6(2), 182-197.
Zitzler, E. & Thiele, L. (1999). Multiobjective evolutionary algorithms: a comparative case study
and the strength Pareto approach. IEEE Trans. Evol. Comput. 3(4), 257-271.
Hamarat, C., Kwakkel, J. H., Pruyt, E. & Loonen, E. T. (2014). An exploratory approach for adaptive
policymaking by using multi-objective robust optimization. Simul. Model. Pract. Theory 46, 25-39.
Hadka, D. Platypus: a free and open source Python library for multiobjective optimization.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.policy import (
    LEVER_PREFIX,
    METRIC_PREFIX,
    Objectives,
    PolicyError,
    objectives,
    sample_worlds,
    simulate,
)
from sim.run.store import write_json
from sim.spec.levers import from_unit, lever_names, status_quo
from sim.spec.scenario import Scenario, load_scenario

STATISTICS = ("mean", "p10")
SEARCH_HINT = "needs Platypus: pip install 'alliance-sim[levers]'"


def natural_range(scenario: Scenario, obj: Objectives) -> tuple[np.ndarray, np.ndarray]:
    """The range each metric can take: probabilities [0, 1], ties [-1, 1], a cost
    [0, the largest departure its levers allow]."""
    lo, hi = [], []
    for m in obj.metrics:
        if m.kind == "tie":
            lo.append(-1.0)
            hi.append(1.0)
        elif m.levers is not None:  # a cost
            lo.append(0.0)
            hi.append(
                float(
                    sum(
                        max(abs(b - scenario.levers[n].status_quo_value) for b in scenario.levers[n].bounds)
                        for n in m.levers
                    )
                )
                or 1.0
            )
        else:
            lo.append(0.0)
            hi.append(1.0)
    return np.array(lo), np.array(hi)


def summarise(M: np.ndarray, sign: np.ndarray, statistic: str) -> np.ndarray:
    """Each policy's objective values from ``M`` (P, S, K): the mean over worlds, or the worse
    decile (10th percentile of a maximised metric, 90th of a minimised one)."""
    if statistic == "mean":
        return M.mean(axis=1)
    worse = np.where(sign > 0, np.percentile(M, 10, axis=1), np.percentile(M, 90, axis=1))
    return worse


def run_hypervolume(fronts: list[list[list[float]]], sign: np.ndarray) -> np.ndarray:
    """Hypervolume of each generation's non-dominated set, every objective scaled to the range
    it spans over all the generations' sets together (ideal 1, nadir 0), so a search whose
    metrics move over a small part of their natural range still shows its progress. Computed
    exactly (Monte Carlo-free) by slicing on the first objective (While et al. 2006's HSO idea)
    for up to a few hundred points in a few objectives.

    References
    ----------
    While, L., Hingston, P., Barone, L. & Huband, S. (2006). A faster algorithm for calculating
    hypervolume. IEEE Trans. Evol. Comput. 10(1), 29-38.
    """
    if not fronts or not any(fronts):
        return np.zeros(len(fronts))
    allp = np.array([p for f in fronts for p in f], dtype=float) * sign  # larger is better
    lo, hi = allp.min(axis=0), allp.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    out = []
    for f in fronts:
        pts = (np.array(f, dtype=float) * sign - lo) / span  # in [0, 1], reference point 0
        out.append(_hso(pts[np.all(pts > 0, axis=1)]))
    return np.array(out)


def _hso(points: np.ndarray) -> float:
    """Volume dominated by ``points`` (maximisation) above the origin: slice on the first
    objective, recurse on the rest (While et al. 2006); two objectives by one sweep."""
    if len(points) == 0:
        return 0.0
    if points.shape[1] == 1:
        return float(points[:, 0].max())
    order = np.argsort(-points[:, 0], kind="stable")
    p = points[order]
    lower = np.append(p[1:, 0], 0.0)
    widths = p[:, 0] - lower
    if points.shape[1] == 2:  # the area under a staircase
        return float((widths * np.maximum.accumulate(p[:, 1])).sum())
    volume = 0.0
    for k in np.flatnonzero(widths > 0):
        volume += widths[k] * _hso(_nondominated_max(p[: k + 1, 1:]))
    return volume


def _nondominated_max(points: np.ndarray) -> np.ndarray:
    """The rows of ``points`` no other row dominates (maximisation)."""
    ge = (points[None, :, :] >= points[:, None, :]).all(axis=2)  # [i, j]: j at least as good as i
    gt = (points[None, :, :] > points[:, None, :]).any(axis=2)
    return points[~(ge & gt).any(axis=1)]


@dataclass
class SearchResults:
    """The non-dominated policies found and how the search converged."""

    scenario: Scenario
    objectives: Objectives
    pareto: pd.DataFrame  # lever:NAME and metric:NAME columns
    convergence: pd.DataFrame  # generation, evaluations, hypervolume, seconds
    settings: dict = field(default_factory=dict)

    def write(self, out: Path) -> dict[str, Path]:
        """``pareto.parquet``, ``convergence.csv`` and ``manifest.json`` in ``out``."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        paths = {
            "pareto": out / "pareto.parquet",
            "convergence": out / "convergence.csv",
            "manifest": out / "manifest.json",
        }
        self.pareto.to_parquet(paths["pareto"], index=False)
        self.convergence.to_csv(paths["convergence"], index=False)
        write_json(
            paths["manifest"],
            {
                "kind": "optimize",
                "scenario": self.scenario.to_data(),
                "scenario_sha256": self.scenario.digest(),
                "metrics": {
                    n: m.model_dump(mode="json", by_alias=True, exclude_none=True)
                    for n, m in zip(self.objectives.names, self.objectives.metrics)
                },
                **self.settings,
            },
        )
        return paths


def optimize(
    scenario: Scenario | str | Path,
    *,
    evaluations: int = 5000,
    population: int = 100,
    worlds: int = 64,
    replicates: int = 4,
    seed: int | None = None,
    owner: str | None = None,
    statistic: str = "mean",
    steps: int | None = None,
    out: str | Path | None = None,
    chunk_size: int = 4096,
    workers: int | None = 1,
    executor=None,
    progress: bool = True,
    on_generation=None,
    engine: str = "numpy",
) -> SearchResults:
    """Search the levers for non-dominated policies with NSGA-II (module docstring).

    Parameters
    ----------
    scenario
        A scenario (or its file) with ``[levers]`` and ``[metrics]``.
    evaluations
        Policy evaluations in all (each on ``worlds`` worlds x ``replicates`` replicates).
    population
        NSGA-II's population size (the size of each generation's design).
    worlds, replicates
        Common worlds and replicates every policy is evaluated on.
    seed
        Seed of the worlds, the replicates and the search (default: the scenario's).
    owner
        Search only this actor's levers (others at their status quo), judged by its metrics and
        the unowned ones.
    statistic
        ``"mean"`` or ``"p10"`` (each metric's worse decile over the worlds).
    on_generation
        Called after each generation with its row of the convergence table (a dict).
    engine
        The engine that steps the replicates (``numpy`` or ``numba``).
    """
    try:
        import platypus
    except ImportError:
        raise PolicyError(f"optimize {SEARCH_HINT}") from None
    if statistic not in STATISTICS:
        raise PolicyError(f"expected a statistic in {STATISTICS}, got {statistic!r}")
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    scenario = scenario.with_run(steps=steps)
    seed = scenario.run.seed if seed is None else seed
    obj = objectives(scenario, owner)
    names = lever_names(scenario, owner)
    if not names:
        raise PolicyError("the scenario declares no [levers]" + (f" owned by {owner!r}" if owner else ""))
    world_values = sample_worlds(scenario, worlds, seed)
    sq = status_quo(scenario)
    sign = obj.sign
    generation = [0]

    def decode(us: np.ndarray) -> dict[str, np.ndarray]:
        out = {n: np.full(len(us), v) for n, v in sq.items()}
        for k, n in enumerate(names):
            out[n] = from_unit(scenario.levers[n], us[:, k])
        return out

    class Levers(platypus.Problem):
        def __init__(self):
            super().__init__(len(names), len(obj.names))
            self.types[:] = platypus.Real(0.0, 1.0)
            self.directions[:] = [
                platypus.Direction.MAXIMIZE if s > 0 else platypus.Direction.MINIMIZE for s in sign
            ]
            self.pending: dict[int, list[float]] = {}

        def evaluate(self, solution):
            solution.objectives[:] = self.pending.pop(id(solution))

    problem = Levers()

    class OneDesign(platypus.Evaluator):
        """All of a generation's solutions as one design."""

        def evaluate_all(self, jobs, **kwargs):
            if not jobs:
                return jobs
            us = np.array([[float(v) for v in job.solution.variables] for job in jobs])
            M = simulate(
                scenario,
                obj,
                decode(us),
                world_values,
                replicates=replicates,
                seed=seed,
                chunk_size=chunk_size,
                workers=workers,
                executor=executor,
                progress=progress,
                desc=f"generation {generation[0]}",
                engine=engine,
            )
            values = summarise(M, sign, statistic)
            for job, v in zip(jobs, values):
                problem.pending[id(job.solution)] = [float(x) for x in v]
                job.run()
            return jobs

    own_pool = None
    if executor is None:
        # one pool for the whole search: a new process pool per generation would pay its start-up
        # (interpreters importing numpy) fifty times over
        import os

        from sim.run.executors import local_executor

        size = (os.cpu_count() or 1) if workers is None else workers
        if size > 1:
            executor = own_pool = local_executor(size)
    random.seed(seed)  # Platypus draws from the random module
    algorithm = platypus.NSGAII(problem, population_size=population, evaluator=OneDesign())
    lo, hi = natural_range(scenario, obj)
    hv = platypus.Hypervolume(minimum=list(lo), maximum=list(hi))
    rows = []
    start = time.perf_counter()

    fronts: list[list] = []

    def after(alg):
        generation[0] += 1
        front = platypus.nondominated(alg.result)
        fronts.append([list(x.objectives) for x in front])
        row = {
            "generation": generation[0],
            "evaluations": alg.nfe,
            "front": len(front),
            "hypervolume": float(hv.calculate(front)) if front else 0.0,
            "seconds": round(time.perf_counter() - start, 3),
        }
        rows.append(row)
        if on_generation is not None:
            on_generation(row)

    try:
        algorithm.run(evaluations, callback=after)
    finally:
        if own_pool is not None:
            own_pool.shutdown(wait=True, cancel_futures=True)
    convergence = pd.DataFrame(rows)
    convergence["hypervolume_run"] = run_hypervolume(fronts, sign)
    front = platypus.nondominated(algorithm.result)
    us = np.array([[float(v) for v in s.variables] for s in front])
    policies = decode(us)
    pareto = pd.DataFrame({LEVER_PREFIX + n: policies[n] for n in scenario.levers})
    for k, n in enumerate(obj.names):
        pareto[METRIC_PREFIX + n] = [float(s.objectives[k]) for s in front]
    pareto = pareto.drop_duplicates().reset_index(drop=True)
    result = SearchResults(
        scenario,
        obj,
        pareto,
        convergence,
        {
            "seed": seed,
            "evaluations": algorithm.nfe,
            "population": population,
            "worlds": worlds,
            "replicates": replicates,
            "steps": scenario.run.steps,
            "owner": owner,
            "statistic": statistic,
            "levers": names,
            "seconds": round(time.perf_counter() - start, 3),
        },
    )
    if out is not None:
        result.write(Path(out))
    return result
