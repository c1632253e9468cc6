"""Search for non-dominated policies: NSGA-II over the levers, one generation = one design.

Each lever is a real decision variable on [0, 1] mapped onto its range, its whole numbers or its
options (:func:`sim.spec.lever_values.from_unit`), so the standard simulated binary crossover and
polynomial mutation of NSGA-II (Deb, Pratap, Agarwal & Meyarivan 2002) apply to every kind of
lever. A policy's objectives are its metrics' means over the same sampled worlds (or, with
``statistic="p10"``, each metric's worse decile over them: a robust optimisation in the sense of
Kasprzyk et al. 2013 and Hamarat et al. 2014). All the solutions Platypus asks to evaluate in one
generation run as one design of the experiment engine, on common worlds and replicates.

Convergence is reported as the hypervolume of the non-dominated set after each generation
(Zitzler & Thiele 1999), on one scale throughout: every objective normalised by its natural range
(probabilities on [0, 1], ties on [-1, 1], costs on [0, largest departure]), the reference point a
tenth of each range beyond its worst end (so that a policy at the worst end of one metric still
counts), the ideal corner at 1. Exact hypervolume costs time exponential in the number of objectives, so up
to :data:`EXACT_OBJECTIVES` objectives it is computed exactly (slicing objectives, While et al.
2006) and above that estimated by Monte Carlo in the front's bounding box (Bader & Zitzler 2011),
with its standard error: the driver's share of the work stays small and the workers stay busy.

The search's own estimates of its best policies are optimistic: they were selected because they
looked good on these worlds and replicates (the optimizer's curse, Smith & Winkler 2006). The
non-dominated set — duplicates removed, sorted by the first objective — is therefore run again,
with the status quo, on fresh worlds and replicates, and both sets of values are kept.

References
----------
Deb, K., Pratap, A., Agarwal, S. & Meyarivan, T. (2002). A fast and elitist multiobjective
genetic algorithm: NSGA-II. IEEE Trans. Evol. Comput. 6(2), 182-197.
Zitzler, E. & Thiele, L. (1999). Multiobjective evolutionary algorithms: a comparative case study
and the strength Pareto approach. IEEE Trans. Evol. Comput. 3(4), 257-271.
While, L., Hingston, P., Barone, L. & Huband, S. (2006). A faster algorithm for calculating
hypervolume. IEEE Trans. Evol. Comput. 10(1), 29-38.
Bader, J. & Zitzler, E. (2011). HypE: an algorithm for fast hypervolume-based many-objective
optimization. Evolutionary Computation 19(1), 45-76.
Smith, J. E. & Winkler, R. L. (2006). The optimizer's curse: skepticism and postdecision surprise
in decision analysis. Management Science 52(3), 311-322.
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

from sim.analysis.levers import (
    LEVER_PREFIX,
    METRIC_PREFIX,
    Objectives,
    PolicyError,
    natural_range,
    objectives,
    sample_worlds,
    simulate,
)
from sim.analysis.robustness import robustness
from sim.extras import install_hint
from sim.files import all_or_nothing, atomic_write
from sim.run.lock import locks
from sim.run.provenance import code_provenance
from sim.run.store import write_json
from sim.spec.lever_values import from_unit, lever_names, status_quo
from sim.spec.scenario import Scenario, load_scenario

STATISTICS = ("mean", "p10")
SEARCH_HINT = f"needs Platypus: {install_hint('levers')}"


def summarise(M: np.ndarray, sign: np.ndarray, statistic: str) -> np.ndarray:
    """Each policy's objective values from ``M`` (P, S, K): the mean over worlds, or the worse
    decile (10th percentile of a maximised metric, 90th of a minimised one)."""
    if statistic == "mean":
        return M.mean(axis=1)
    worse = np.where(sign > 0, np.percentile(M, 10, axis=1), np.percentile(M, 90, axis=1))
    return worse


#: up to this many objectives the hypervolume is exact; above it, a Monte Carlo estimate
EXACT_OBJECTIVES = 4
#: points sampled for a Monte Carlo hypervolume (its relative error is about 1 / sqrt of this)
HV_SAMPLES = 20_000
FRESH_TAG = 0x46524553  # "FRES": the out-of-sample worlds' seed is SeedSequence([seed, FRESH_TAG])


#: the hypervolume's reference point lies this share of each natural range beyond its worst end,
#: so that a policy at the worst end of one metric still adds volume
HV_MARGIN = 0.1


def scaled(values: np.ndarray, sign: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Objective values mapped onto [0, 1] by their natural range widened by :data:`HV_MARGIN`
    below its worst end: 1 the best end, 0 the reference point (a minimised metric is turned
    around). The space the hypervolume is measured in, so its largest value is 1."""
    span = np.where(hi > lo, hi - lo, 1.0)
    v = (np.asarray(values, dtype=float) - lo) / span
    v = np.where(sign > 0, v, 1.0 - v)
    return np.clip((v + HV_MARGIN) / (1.0 + HV_MARGIN), 0.0, 1.0)


def hypervolume(points: np.ndarray, uniform: np.ndarray | None = None) -> tuple[float, float]:
    """Hypervolume of ``points`` (n, K) in [0, 1]^K (larger is better, reference point 0), and its
    standard error.

    Exact (zero error) for up to :data:`EXACT_OBJECTIVES` objectives; above, the share of
    ``uniform`` points (m, K) in [0, 1)^K, stretched over the bounding box of the points, that the
    points dominate, times the box's volume (Bader & Zitzler 2011), with the binomial standard
    error of that share. Passing the same ``uniform`` sample for every generation keeps successive
    estimates comparable (common random numbers).
    """
    pts = np.asarray(points, dtype=float)
    if pts.ndim != 2 or len(pts) == 0:
        return 0.0, 0.0
    pts = pts[np.all(pts > 0, axis=1)]
    if len(pts) == 0:
        return 0.0, 0.0
    K = pts.shape[1]
    if K <= EXACT_OBJECTIVES:
        return _hso(_nondominated_max(pts)), 0.0
    if uniform is None:
        uniform = np.random.default_rng(0).random((HV_SAMPLES, K))
    top = pts.max(axis=0)
    volume = float(np.prod(top))
    u = uniform * top
    hit = np.zeros(len(u), dtype=bool)
    for start in range(0, len(pts), 16):  # (m, 16, K) comparisons at a time
        block = pts[start : start + 16]
        hit |= (u[:, None, :] <= block[None, :, :]).all(axis=2).any(axis=1)
    f = float(hit.mean())
    return volume * f, volume * float(np.sqrt(f * (1 - f) / len(u)))


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


def statistic_se(
    X: np.ndarray, sign: np.ndarray, statistic: str, resamples: int = 100, seed: int = 0
) -> np.ndarray:
    """Standard error ``(P, K)`` of each policy's objective values (:func:`summarise`) from its
    metrics replicate by replicate, ``X`` (P, S, R, K): a bootstrap over worlds, each bringing its
    replicates along (the same worlds for every policy)."""
    S = X.shape[1]
    M = X.mean(axis=2)
    rng = np.random.default_rng([seed, 0x534545])  # "SEE"
    draws = []
    for _ in range(resamples):
        ws = np.asarray(rng.integers(0, S, size=S), dtype=np.intp)
        draws.append(summarise(M[:, ws], sign, statistic))
    return np.std(draws, axis=0, ddof=1)


def dominates(a: np.ndarray, b: np.ndarray, sign: np.ndarray) -> bool:
    """Whether objective values ``a`` dominate ``b`` (at least as good on every metric, better on
    one), each metric oriented by ``sign``."""
    x, y = np.asarray(a) * sign, np.asarray(b) * sign
    return bool(np.all(x >= y) and np.any(x > y))


FRESH_PREFIX = "fresh:"


@dataclass
class SearchResults:
    """The non-dominated policies found, how the search converged, and both again on fresh worlds.

    ``pareto`` holds one row per distinct non-dominated policy, sorted by the first objective
    (best first): ``lever:NAME``, the search's own objective values ``metric:NAME`` and the values
    on fresh worlds and replicates ``fresh:NAME`` with their standard errors ``fresh:NAME:se``.
    ``status_quo`` is the same one row for every lever at its status quo.
    """

    scenario: Scenario
    objectives: Objectives
    pareto: pd.DataFrame
    convergence: pd.DataFrame  # generation, evaluations, front, hypervolume, hypervolume_se, seconds
    settings: dict = field(default_factory=dict)
    status_quo: pd.DataFrame | None = None

    @all_or_nothing()  # a failure leaves none of its files
    def write(self, out: Path) -> dict[str, Path]:
        """``pareto.parquet``, ``convergence.csv`` and ``manifest.json`` (with the status quo's
        values) in ``out``."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        paths = {
            "pareto": out / "pareto.parquet",
            "convergence": out / "convergence.csv",
            "manifest": out / "manifest.json",
        }
        atomic_write(self.pareto.to_parquet, paths["pareto"], index=False)
        atomic_write(self.convergence.to_csv, paths["convergence"], index=False)
        sq = {} if self.status_quo is None else {k: float(v) for k, v in self.status_quo.iloc[0].items()}
        write_json(
            paths["manifest"],
            {
                "kind": "optimize",
                "scenario": self.scenario.to_data(),
                "scenario_sha256": self.scenario.digest(),
                "code": code_provenance(),
                "metrics": {
                    n: m.model_dump(mode="json", by_alias=True, exclude_none=True)
                    for n, m in zip(self.objectives.names, self.objectives.metrics)
                },
                "status_quo": sq,
                **self.settings,
            },
        )
        return paths


@locks("out")  # one writer per folder
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
    resume: bool = False,
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
        Common worlds and replicates every policy is evaluated on (and as many fresh ones for
        the out-of-sample check).
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
    resume
        Finish the interrupted search in ``out``: its finished generations are taken from its log
        instead of simulated again (:mod:`sim.analysis.search_log`); the result is the one the
        uninterrupted search gives.
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
    key = {
        "scenario": scenario.digest() if out is not None else None,
        **dict(worlds=worlds, replicates=replicates, seed=seed, statistic=statistic, owner=owner),
        **dict(population=population, levers=names, engine=engine, chunk_size=chunk_size),
    }
    log = _generation_log(out, key, resume)
    executor, own_pool = _search_pool(executor, workers)
    search = _Search(
        scenario, obj, names, status_quo(scenario), statistic, replicates, chunk_size, workers, executor
    )
    search.progress, search.engine = progress, engine
    generation = [0]
    problem = _levers_problem(platypus, search)
    random.seed(seed)  # Platypus draws from the random module
    evaluator = _one_design(platypus, search, problem, log, generation, world_values, seed)
    algorithm = platypus.NSGAII(problem, population_size=population, evaluator=evaluator)
    lo, hi = natural_range(scenario, obj)
    uniform = np.random.default_rng([seed, 0x4856]).random((HV_SAMPLES, len(obj.names)))  # "HV"
    rows: list[dict] = []
    start = time.perf_counter()
    after = _recorder(platypus, search, (lo, hi, uniform), rows, generation, start, on_generation)
    try:
        algorithm.run(evaluations, callback=after)
        pareto = _pareto(search, platypus.nondominated(algorithm.result))
        sq_in, (M, X), fresh_seed = _fresh_check(search, pareto, world_values, worlds, seed)
    finally:
        if own_pool is not None:
            own_pool.shutdown(wait=True, cancel_futures=True)
    fresh, fresh_se = summarise(M, obj.sign, statistic), statistic_se(X, obj.sign, statistic, seed=seed)
    sq_row = _with_fresh(search, pareto, sq_in, fresh, fresh_se)
    rob = robustness(M, obj.sign, obj.threshold, replicates=X, seed=seed)
    settings = {
        **dict(seed=seed, evaluations=algorithm.nfe, population=population, worlds=worlds),
        **dict(replicates=replicates, steps=scenario.run.steps, owner=owner, statistic=statistic),
        **dict(levers=names, fresh_seed=fresh_seed),
        **_robustness_settings(len(obj.names), rob),
        "seconds": round(time.perf_counter() - start, 3),
    }
    result = SearchResults(scenario, obj, pareto, pd.DataFrame(rows), settings, sq_row)
    if out is not None:
        result.write(Path(out))
    return result


@dataclass
class _Search:
    """What every step of a search shares: the scenario, its objectives, the levers searched, the
    status quo and how a set of policies is run."""

    scenario: Scenario
    obj: Objectives
    names: list[str]
    sq: dict[str, float]
    statistic: str
    replicates: int
    chunk_size: int
    workers: int | None
    executor: object
    progress: bool = True
    engine: str = "numpy"

    def decode(self, us: np.ndarray) -> dict[str, np.ndarray]:
        """Policies from points of the unit cube (a lever not searched at its status quo)."""
        out = {n: np.full(len(us), v) for n, v in self.sq.items()}
        for k, n in enumerate(self.names):
            out[n] = from_unit(self.scenario.levers[n], us[:, k])
        return out

    def run(self, policies: dict[str, np.ndarray], on: dict[str, np.ndarray], run_seed: int, desc: str, **kw):
        """The metrics of ``policies`` on the worlds ``on`` (:func:`sim.analysis.levers.simulate`)."""
        return simulate(
            self.scenario,
            self.obj,
            policies,
            on,
            replicates=self.replicates,
            seed=run_seed,
            chunk_size=self.chunk_size,
            workers=self.workers,
            executor=self.executor,
            progress=self.progress,
            desc=desc,
            engine=self.engine,
            **kw,
        )


def _generation_log(out, key: dict, resume: bool):
    """The log of the search's finished generations in ``out`` (so that ``resume`` can finish an
    interrupted search), or ``None`` without a folder."""
    if out is None:
        if resume:
            raise PolicyError("resume=True: expected the folder of the interrupted search (out=...)")
        return None
    from sim.analysis.search_log import GenerationLog

    return GenerationLog(out, key, resume=resume)


def _fresh_check(search: _Search, pareto: pd.DataFrame, world_values, worlds: int, seed: int):
    """The status quo's statistics on the search's worlds, then the metrics ``(M, X)`` of the status
    quo and the front on fresh worlds (and the seed of their replicates)."""
    statistic, sign, scenario = search.statistic, search.obj.sign, search.scenario
    sq_policy = {n: np.array([v]) for n, v in search.sq.items()}
    sq_in = summarise(search.run(sq_policy, world_values, seed, "status quo"), sign, statistic)[0]
    fresh_worlds = sample_worlds(scenario, worlds, seed, tag=FRESH_TAG)
    both = {
        n: np.concatenate([[search.sq[n]], pareto[LEVER_PREFIX + n].to_numpy(dtype=float)])
        for n in scenario.levers
    }
    fresh_seed = (seed + 1) % 2**63
    return sq_in, search.run(both, fresh_worlds, fresh_seed, "fresh worlds", per_replicate=True), fresh_seed


def _search_pool(executor, workers: int | None):
    """The executor for the whole search and the pool this search owns (``None`` when given one).

    One pool for the whole search: a new process pool per generation would pay its start-up
    (interpreters importing numpy) fifty times over."""
    if executor is not None:
        return executor, None
    import os

    from sim.run.executors import local_executor

    size = (os.cpu_count() or 1) if workers is None else workers
    if size > 1:
        pool = local_executor(size)
        return pool, pool
    return None, None


def _levers_problem(platypus, search: _Search):
    """The Platypus problem of the search: a variable per lever in [0, 1], an objective per metric
    (its values handed over by the evaluator before Platypus asks for them)."""

    class Levers(platypus.Problem):
        def __init__(self):
            super().__init__(len(search.names), len(search.obj.names))
            self.types[:] = platypus.Real(0.0, 1.0)
            self.directions[:] = [
                platypus.Direction.MAXIMIZE if s > 0 else platypus.Direction.MINIMIZE for s in search.obj.sign
            ]
            self.pending: dict[int, list[float]] = {}

        def evaluate(self, solution):
            solution.objectives[:] = self.pending.pop(id(solution))

    return Levers()


def _one_design(platypus, search: _Search, problem, log, generation: list[int], world_values, seed: int):
    """The Platypus evaluator that runs all of a generation's solutions as one design (or takes
    them from the log of an interrupted search)."""

    class OneDesign(platypus.Evaluator):
        """All of a generation's solutions as one design."""

        def evaluate_all(self, jobs, **kwargs):
            if not jobs:
                return jobs
            us = np.array([[float(v) for v in job.solution.variables] for job in jobs])
            values = log.get(generation[0], us) if log is not None else None
            if values is None:
                M = search.run(search.decode(us), world_values, seed, f"generation {generation[0]}")
                values = summarise(M, search.obj.sign, search.statistic)
                if log is not None:
                    log.put(generation[0], us, values)
            for job, v in zip(jobs, values):
                problem.pending[id(job.solution)] = [float(x) for x in v]
                job.run()
            return jobs

    return OneDesign()


def _recorder(
    platypus, search: _Search, scale, rows: list[dict], generation: list[int], start: float, on_generation
):
    """The callback that counts a generation and records its row of the convergence table (the
    front's size and hypervolume), handing it to ``on_generation``."""
    lo, hi, uniform = scale

    def after(alg):
        generation[0] += 1
        front = platypus.nondominated(alg.result)
        points = scaled(np.array([list(x.objectives) for x in front], dtype=float), search.obj.sign, lo, hi)
        hv, hv_se = hypervolume(points, uniform) if front else (0.0, 0.0)
        row = {
            "generation": generation[0],
            "evaluations": alg.nfe,
            "front": len(front),
            "hypervolume": hv,
            "hypervolume_se": hv_se,
            "seconds": round(time.perf_counter() - start, 3),
        }
        rows.append(row)
        if on_generation is not None:
            on_generation(row)

    return after


def _pareto(search: _Search, front) -> pd.DataFrame:
    """The non-dominated policies found, a row each (levers, then metrics), without duplicates,
    sorted by the first metric from best."""
    scenario, obj = search.scenario, search.obj
    us = np.array([[float(v) for v in s.variables] for s in front])
    policies = search.decode(us)
    pareto = pd.DataFrame({LEVER_PREFIX + n: policies[n] for n in scenario.levers})
    for k, n in enumerate(obj.names):
        pareto[METRIC_PREFIX + n] = [float(s.objectives[k]) for s in front]
    levers = [LEVER_PREFIX + n for n in scenario.levers]
    pareto = pareto.drop_duplicates(subset=levers).reset_index(drop=True)
    first = METRIC_PREFIX + obj.names[0]
    return pareto.sort_values(
        [first, *levers], ascending=[obj.sign[0] < 0, *[True] * len(levers)], kind="stable"
    ).reset_index(drop=True)


def _with_fresh(search: _Search, pareto: pd.DataFrame, sq_in, fresh, fresh_se) -> pd.DataFrame:
    """Add each policy's metrics on fresh worlds (with their errors) to ``pareto``, and return the
    status quo's row: its levers, its metrics on the search's worlds and on the fresh ones."""
    names, sq, levers = search.obj.names, search.sq, search.scenario.levers
    for k, n in enumerate(names):
        pareto[FRESH_PREFIX + n] = fresh[1:, k]
        pareto[f"{FRESH_PREFIX}{n}:se"] = fresh_se[1:, k]
    return pd.DataFrame(
        {
            **{LEVER_PREFIX + n: [sq[n]] for n in levers},
            **{METRIC_PREFIX + n: [sq_in[k]] for k, n in enumerate(names)},
            **{FRESH_PREFIX + n: [fresh[0, k]] for k, n in enumerate(names)},
            **{f"{FRESH_PREFIX}{n}:se": [fresh_se[0, k]] for k, n in enumerate(names)},
        }
    )


def _robustness_settings(objectives_count: int, rob) -> dict:
    """How the hypervolume was computed, and the front's satisficing shares on fresh worlds."""
    return {
        "hypervolume": "exact" if objectives_count <= EXACT_OBJECTIVES else "monte carlo",
        "hypervolume_samples": HV_SAMPLES if objectives_count > EXACT_OBJECTIVES else None,
        "fresh_satisficing": [float(x) for x in rob.satisficing],
        "fresh_satisficing_se": [
            float(x) for x in (rob.satisficing_se if rob.satisficing_se is not None else [])
        ],
    }
