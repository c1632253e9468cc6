"""Global sensitivity analysis (SALib) and scenario discovery (PRIM) of a scenario's uncertainties.

Sensitivity analysis asks which uncertain inputs move the answer. Every uncertain value of a
scenario (``{dist = ...}``, see :mod:`sim.spec.scenario`) becomes a *factor* with the scenario's own
distribution: uniform, triangular and beta within their support, a normal truncated to its mean
± 3 sd and to the field's bounds. A design is drawn in the unit hypercube (Saltelli's scheme for
Sobol indices, Morris trajectories for elementary effects), mapped through each factor's inverse
distribution function, and every design point is run ``R`` times on the vectorized engine; the
outputs are the focal alliance's P(holds), P(stab in the back) and P(drift apart) at each point.

The whole design runs as one batch per block of design points: one :class:`~sim.spec.params.Params`
holds ``points x R`` replicates, built by overriding the sampled arrays (:func:`override`).
Random numbers are common within one Saltelli base sample (or one Morris trajectory): replicate
``r`` of every design point of base sample ``j`` gets the same draws of the values left out of
the design and the same noise, event and decision draws, so the differences the estimators take
(``f(A_j) - f(AB_ij)``) come from the factors alone; different base samples draw independently,
so the mean over the design estimates the ensemble's mean. The indices are those of the
R-replicate share ``p_R(x, w)`` with the random world ``w`` as one more input (held fixed within
a base sample): ST_i is the expected total effect of factor i given the world, S1_i its expected
first-order effect given the world, both relative to the whole variance of ``p_R``. Blocks run
on a process pool with an explicit ``spawn`` context and results are placed by the block's first
design row, never by completion order.

Scenario discovery asks the converse: in which region of the input space does an outcome happen?
:func:`discover` runs PRIM on the sampled parameters of an ensemble's replicates (``param:``
columns, as floats) against an outcome and reports boxes with their coverage (share of all cases
of interest inside the box), density (share of the box's cases that are of interest) and the
restricted dimensions with their ranges.

References
----------
Saltelli, A. (2002). Making best use of model evaluations to compute sensitivity indices.
    Computer Physics Communications 145(2), 280-297.
Saltelli, A., Annoni, P., Azzini, I., Campolongo, F., Ratto, M. & Tarantola, S. (2010). Variance
    based sensitivity analysis of model output. Design and estimator for the total sensitivity
    index. Computer Physics Communications 181(2), 259-270.
Sobol', I. M. (2001). Global sensitivity indices for nonlinear mathematical models and their Monte
    Carlo estimates. Mathematics and Computers in Simulation 55, 271-280.
Morris, M. D. (1991). Factorial sampling plans for preliminary computational experiments.
    Technometrics 33(2), 161-174.
Campolongo, F., Cariboni, J. & Saltelli, A. (2007). An effective screening design for sensitivity
    analysis of large models. Environmental Modelling & Software 22(10), 1509-1518.
Friedman, J. H. & Fisher, N. I. (1999). Bump hunting in high-dimensional data. Statistics and
    Computing 9(2), 123-143.
Bryant, B. P. & Lempert, R. J. (2010). Thinking inside the box: a participatory, computer-assisted
    approach to scenario discovery. Technological Forecasting and Social Change 77(1), 34-49.
Herman, J. & Usher, W. (2017). SALib: an open-source Python library for sensitivity analysis.
    Journal of Open Source Software 2(9), 97.
Kwakkel, J. H. (2017). The Exploratory Modeling Workbench: an open source toolkit for exploratory
    modeling, scenario discovery, and (multi-objective) robust decision making. Environmental
    Modelling & Software 96, 239-250.
"""

from __future__ import annotations

import fnmatch
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.errors import InputError
from sim.extras import install_hint
from sim.run.collectors import Collector
from sim.run.designs import Block, Design
from sim.run.ensemble import run_design
from sim.spec.parammap import Slot, slots
from sim.spec.params import Params
from sim.spec.scenario import Scenario, load_scenario
from sim.spec.values import Distribution, Uniform
from sim.vocabulary import FATE_OUTPUTS, FATES

OUTCOMES = FATES
OUTPUTS = FATE_OUTPUTS
BLOCK_ROWS = 4096  # replicates (design points x R) per block: the runner's fastest chunk size

EXPLORE_HINT = f"needs the 'explore' extra: {install_hint('explore')}"


class AnalysisError(InputError):
    """An analysis that cannot be set up as asked (bad method, no factors, missing outcome)."""


def pick_alliance(alliance: str | None, declared: list[str], focal: str | None) -> str:
    """``alliance``, or the focal one when omitted; an error naming the declared ones if unknown."""
    alliance = alliance or focal
    if alliance not in declared:
        raise AnalysisError(
            f"unknown alliance {alliance!r}; expected one of {', '.join(declared) or '(none declared)'}"
        )
    return alliance


# --------------------------------------------------------------------------------------------
# Factors: the uncertain values of a scenario
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Factor:
    """One uncertain input: its parameter path, distribution and the range it is varied in.

    Parameters
    ----------
    name
        Dotted parameter path, as :func:`sim.spec.parammap.slots` yields it.
    value
        The scenario's distribution (:class:`~sim.spec.values.Distribution`).
    low, high
        The range the factor is varied in: the distribution's support (a normal's mean ± 3 sd
        within the field's bounds, :meth:`~sim.spec.values.Distribution.spread`); a normal is
        truncated to it, so that the quantile function stays strictly increasing.
    """

    name: str
    value: Distribution
    low: float
    high: float

    @classmethod
    def uniform(cls, name: str, low: float, high: float) -> Factor:
        """A factor uniform on [low, high]."""
        return cls(name, Uniform(dist="uniform", low=float(low), high=float(high)), float(low), float(high))

    @classmethod
    def of(cls, name: str, value: Distribution, bounds: tuple[float, float]) -> Factor | None:
        """The factor of a distribution in a field with ``bounds``; None for a degenerate range."""
        low, high = value.spread(bounds)
        return cls(name, value, float(low), float(high)) if high > low else None

    @property
    def dist(self) -> str:
        """The distribution's name (``uniform``, ``triangular``, ``normal``, ``beta``)."""
        return self.value.dist

    def ppf(self, u) -> np.ndarray:
        """Map unit-interval values to the factor's scale (inverse distribution function)."""
        return self.value.ppf(u, (self.low, self.high), tails="truncate")

    def frozen(self):
        """The scipy.stats frozen distribution of the factor (what the EMA Workbench samples)."""
        return self.value.frozen((self.low, self.high))

    def to_data(self) -> dict:
        """The factor as plain data: name, distribution, range and shape parameters (NaN where a
        distribution has no such parameter), as the analysis's JSON stores it."""
        shape = {k: math.nan for k in ("mode", "mean", "sd", "a", "b")}
        shape.update({k: float(v) for k, v in self.value if k in shape})
        return {"name": self.name, "dist": self.dist, "low": self.low, "high": self.high, **shape}


def factor_of(slot: Slot) -> Factor | None:
    """The factor of one slot of the parameter map, or None for a plain number or a degenerate range."""
    if not isinstance(slot.value, Distribution):
        return None
    return Factor.of(slot.path, slot.value, slot.bounds)


def scenario_factors(scenario: Scenario, include: Sequence[str] | None = None) -> list[Factor]:
    """The uncertain values of a scenario as factors, in sampling order.

    Parameters
    ----------
    scenario
        A validated scenario.
    include
        Glob patterns of parameter paths to keep (``"mechanisms.*"``, ``"alliances.china_russia.*"``);
        all uncertain values when omitted.
    """
    out = []
    for slot in slots(scenario):
        if include and not any(fnmatch.fnmatchcase(slot.path, p) for p in include):
            continue
        f = factor_of(slot)
        if f is not None:
            out.append(f)
    return out


def family(path: str) -> str:
    """The group of a parameter for grouped Sobol indices: an actor's capability and growth,
    one actor's positions, one actor's saliences, one tie, an event's hazard and effects, an
    actor's pressure schedule; a mechanism coefficient or an alliance parameter stays alone."""
    parts = path.split(".")
    head = parts[0]
    if head in ("actors", "positions", "salience", "spheres", "dependence", "pressure", "events"):
        return ".".join(parts[:2])
    if head == "ties":
        return "ties." + ".".join(parts[2:])
    return path


def problem(factors: Sequence[Factor], groups: Sequence[str] | None = None) -> dict:
    """The SALib problem of a design in the unit hypercube (one dimension per factor)."""
    p = {"num_vars": len(factors), "names": [f.name for f in factors], "bounds": [[0.0, 1.0]] * len(factors)}
    if groups is not None:
        p["groups"] = list(groups)
    return p


def to_scale(factors: Sequence[Factor], U: np.ndarray) -> np.ndarray:
    """Map a unit-hypercube design ``U`` (rows x factors) to the factors' scales."""
    U = np.atleast_2d(np.asarray(U, dtype=np.float64))
    return np.column_stack([f.ppf(U[:, j]) for j, f in enumerate(factors)]) if factors else U


# --------------------------------------------------------------------------------------------
# Designs and indices (SALib): arrays in, arrays out
# --------------------------------------------------------------------------------------------

#: above this share of binomial noise in an output's variance, the indices are mostly noise
NOISE_TARGET = 0.3
#: the outputs in words
OUTPUT_WORDS = {"p_holds": "P(holds)", "p_stab": "P(stab in the back)", "p_drift": "P(drift apart)"}


def _salib():
    try:
        import SALib  # noqa: F401
    except ImportError:
        raise AnalysisError(f"sensitivity analysis {EXPLORE_HINT}") from None


def next_power_of_two(n: int) -> int:
    """The smallest power of two at least ``n`` (Sobol' designs are balanced only at those)."""
    return 1 << max(int(n) - 1, 0).bit_length()


def replicates_for_noise(share: float, replicates: int, target: float = NOISE_TARGET) -> int | None:
    """Replicates per design point that would bring a binomial noise share ``share`` (measured
    with ``replicates``) down to ``target``: the noise variance falls as ``1 / R`` while the
    inputs' part stays, so ``R' = R * share / (1 - share) * (1 - target) / target``. None when the
    inputs explain nothing (``share >= 1``): more replicates only confirm that."""
    if not np.isfinite(share) or share >= 1.0:
        return None
    if share <= target:
        return int(replicates)
    return int(math.ceil(replicates * share / (1.0 - share) * (1.0 - target) / target))


def sobol_design(
    factors: Sequence[Factor], samples: int, *, groups: Sequence[str] | None = None, seed: int = 0
) -> np.ndarray:
    """Saltelli's design for first-order and total Sobol indices, in the unit hypercube.

    ``samples * (D + 2)`` rows, ``D`` the number of factors (or of groups); a scrambled Sobol'
    sequence, so ``samples`` should be a power of two.

    References
    ----------
    Saltelli (2002); Saltelli et al. (2010).
    """
    _salib()
    from SALib.sample import sobol as sobol_sample

    return sobol_sample.sample(
        problem(factors, groups), samples, calc_second_order=False, scramble=True, seed=seed
    )


def sobol_indices(
    factors: Sequence[Factor],
    Y: np.ndarray,
    *,
    groups: Sequence[str] | None = None,
    conf_level: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """First-order (S1) and total (ST) Sobol indices with bootstrap confidence half-widths.

    Returns
    -------
    DataFrame
        Indexed by factor (or group): ``S1``, ``S1_conf``, ``ST``, ``ST_conf``; sorted by ``ST``.

    References
    ----------
    Saltelli (2002) for S1, Saltelli et al. (2010) (Jansen's estimator) for ST.
    """
    _salib()
    from SALib.analyze import sobol

    p = problem(factors, groups)
    Y = np.asarray(Y, dtype=np.float64)
    if np.ptp(Y) == 0:
        names = list(dict.fromkeys(groups)) if groups is not None else p["names"]
        zero = np.zeros(len(names))
        return pd.DataFrame(
            {"S1": zero, "S1_conf": zero, "ST": zero, "ST_conf": zero}, index=pd.Index(names, name="factor")
        )
    res = sobol.analyze(
        p,
        Y,
        calc_second_order=False,
        num_resamples=resamples,
        conf_level=conf_level,
        print_to_console=False,
        seed=seed,
    )
    names = list(dict.fromkeys(groups)) if groups is not None else p["names"]
    df = pd.DataFrame(
        {k: np.asarray(res[k], dtype=float) for k in ("S1", "S1_conf", "ST", "ST_conf")},
        index=pd.Index(names, name="factor"),
    )
    return df.sort_values("ST", ascending=False)


def morris_design(
    factors: Sequence[Factor], trajectories: int, *, levels: int = 4, seed: int = 0
) -> np.ndarray:
    """Morris trajectories (``trajectories * (D + 1)`` rows) in the unit hypercube.

    References
    ----------
    Morris (1991); Campolongo, Cariboni & Saltelli (2007) for mu*.
    """
    _salib()
    from SALib.sample import morris as morris_sample

    return morris_sample.sample(problem(factors), trajectories, num_levels=levels, seed=seed)


def morris_indices(
    factors: Sequence[Factor],
    U: np.ndarray,
    Y: np.ndarray,
    *,
    levels: int = 4,
    conf_level: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Morris elementary effects: ``mu_star`` (mean absolute effect, with its bootstrap
    confidence half-width), ``mu`` and ``sigma``, per unit of each factor's quantile scale.

    References
    ----------
    Morris (1991); Campolongo, Cariboni & Saltelli (2007).
    """
    _salib()
    from SALib.analyze import morris

    res = morris.analyze(
        problem(factors),
        np.asarray(U, dtype=np.float64),
        np.asarray(Y, dtype=np.float64),
        num_resamples=resamples,
        conf_level=conf_level,
        num_levels=levels,
        print_to_console=False,
        seed=seed,
    )
    df = pd.DataFrame(
        {
            "mu_star": np.asarray(res["mu_star"], dtype=float),
            "mu_star_conf": np.asarray(res["mu_star_conf"], dtype=float),
            "mu": np.asarray(res["mu"], dtype=float),
            "sigma": np.asarray(res["sigma"], dtype=float),
        },
        index=pd.Index([f.name for f in factors], name="factor"),
    )
    return df.sort_values("mu_star", ascending=False)


# --------------------------------------------------------------------------------------------
# Running a design through the experiment runner
# --------------------------------------------------------------------------------------------


class FateCounts(Collector):
    """Per design point of a chunk, how many of its replicates end in each fate of one alliance."""

    def __init__(self, alliance: str):
        self.alliance = alliance

    def end(self, block: Block, params: Params, state) -> tuple[np.ndarray, np.ndarray]:
        """``(points, counts)``: the chunk's design points and their ``(points, 3)`` fate counts."""
        a = [al.name for al in params.alliances].index(self.alliance)
        fate = state.fate[:, a].reshape(len(block.points), block.size)
        counts = np.stack([(fate == k).sum(axis=1) for k in range(len(FATES))], axis=1)
        return np.asarray(block.points), counts


def fate_shares(
    scenario: Scenario,
    values: dict[str, np.ndarray],
    *,
    replicates: int,
    alliance: str,
    seed: int = 0,
    streams: np.ndarray | None = None,
    workers: int | None = 1,
    progress: bool = False,
    chunk_size: int = BLOCK_ROWS,
    dtype: str = "float32",
    engine: str = "numpy",
    executor=None,
) -> np.ndarray:
    """``(P, 3)`` share of each design point's replicates that hold, end in a stab in the back, or
    drift apart, run through the experiment runner (:func:`sim.run.ensemble.run_design`)."""
    design = Design({k: np.asarray(v, dtype=np.float64) for k, v in values.items()}, replicates, streams)
    parts = run_design(
        scenario,
        design,
        FateCounts(alliance),
        seed=seed,
        chunk_size=chunk_size,
        workers=workers,
        executor=executor,
        progress=progress,
        desc="design",
        dtype=dtype,
        engine=engine,
    )
    counts = np.zeros((design.points, len(FATES)), dtype=np.int64)
    for points, c in parts:
        counts[points] += c
    return counts / replicates


def evaluate_design(
    scenario: Scenario,
    factors: Sequence[Factor],
    X: np.ndarray,
    *,
    replicates: int,
    seed: int = 0,
    alliance: str | None = None,
    workers: int | None = None,
    progress: bool = True,
    block_rows: int = BLOCK_ROWS,
    dtype: str = "float32",
    crn_stride: int | None = None,
    engine: str = "numpy",
) -> pd.DataFrame:
    """Run every design point ``replicates`` times and return the fate shares per point.

    Parameters
    ----------
    scenario
        The scenario whose factors ``X`` sets.
    factors, X
        The factors and the design on their scales (rows x factors).
    replicates
        Replicates per design point (``R``), sharing their random numbers across points.
    seed
        Seed of the replicates' draws (the same for every design point).
    alliance
        The alliance whose fate is counted (default: the scenario's focal alliance).
    workers
        Processes (``None``: all cores; 1: in this process).
    block_rows
        Rows (design points x replicates) per chunk of work.
    crn_stride
        Design rows ``k`` and ``l`` share their random numbers (common random numbers) when
        ``k // crn_stride == l // crn_stride``: pass the rows of one Saltelli base sample
        (``D + 2``) or one Morris trajectory (``D + 1``), so that the differences the estimators
        take come from the factors alone while the base samples see independent draws. Default:
        every row shares one set of streams.
    engine
        The engine that steps the replicates.

    Returns
    -------
    DataFrame
        One row per design row, in design order: ``p_holds``, ``p_stab``, ``p_drift``.
    """
    alliance = pick_alliance(alliance, list(scenario.alliances), scenario.focal_alliance)
    if replicates <= 0:
        raise AnalysisError(f"expected a positive number of replicates, got {replicates}")
    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    streams = (
        np.zeros(len(X), dtype=np.int64)
        if not crn_stride
        else np.arange(len(X), dtype=np.int64) // crn_stride
    )
    values = {f.name: X[:, j] for j, f in enumerate(factors)}
    if not values:
        raise AnalysisError("expected at least one factor in the design")
    shares = fate_shares(
        scenario,
        values,
        replicates=replicates,
        alliance=alliance,
        seed=seed,
        streams=streams,
        workers=workers,
        progress=progress,
        chunk_size=block_rows,
        dtype=dtype,
        engine=engine,
    )
    return pd.DataFrame(shares, columns=[OUTPUTS[k] for k in FATES])


# --------------------------------------------------------------------------------------------
# A sensitivity run
# --------------------------------------------------------------------------------------------


@dataclass
class Sensitivity:
    """A finished sensitivity analysis: the design, its outputs and the indices per output."""

    scenario_name: str
    method: str
    alliance: str
    factors: list[Factor]
    groups: list[str] | None
    U: np.ndarray  # unit-hypercube design
    X: np.ndarray  # the same on the factors' scales
    outputs: pd.DataFrame  # one row per design row
    indices: dict[str, pd.DataFrame]  # output name -> indices table
    settings: dict = field(default_factory=dict)

    def noise_share(self, output: str) -> float:
        """Share of the output's variance over the design that finite ``R`` would explain were
        the replicates independent: ``mean(p (1 - p)) / R / var(p)`` (binomial sampling)."""
        p = self.outputs[output].to_numpy()
        R = self.settings.get("replicates", 1)
        var = p.var()
        return float(np.mean(p * (1 - p)) / R / var) if var > 0 else math.nan

    def table(self, output: str = "p_stab", top: int | None = None) -> pd.DataFrame:
        """The indices of one output, most influential first (``top`` rows)."""
        df = self.indices[output]
        return df if top is None else df.head(top)


def _factors(scenario: Scenario, include: Sequence[str] | None) -> list[Factor]:
    """The uncertain values to vary (:func:`scenario_factors`), refused in one line when none match."""
    factors = scenario_factors(scenario, include)
    if not factors:
        raise AnalysisError(
            "no uncertain values to vary"
            + (f" match {', '.join(include)}" if include else " in the scenario")
        )
    return factors


def _unit_design(
    method: str, factors: list[Factor], samples: int, groups: list[str] | None, levels: int, seed: int
) -> tuple[np.ndarray, int]:
    """The design in the unit cube and the base samples it has (Sobol's rounded up to a power of two)."""
    if method == "sobol":
        samples = next_power_of_two(samples)  # the Sobol' sequence is balanced at powers of two
        return sobol_design(factors, samples, groups=groups, seed=seed), samples
    return morris_design(factors, samples, levels=levels, seed=seed), samples


def run_sensitivity(
    scenario: Scenario | str | Path,
    *,
    method: str = "sobol",
    samples: int = 1024,
    replicates: int = 16,
    seed: int = 0,
    alliance: str | None = None,
    include: Sequence[str] | None = None,
    grouped: bool = False,
    levels: int = 4,
    workers: int | None = None,
    progress: bool = True,
    steps: int | None = None,
    name: str | None = None,
    engine: str = "numpy",
) -> Sensitivity:
    """Vary a scenario's uncertain values, run each design point ``replicates`` times, and
    estimate Sobol indices (``method="sobol"``) or Morris screening measures (``"morris"``) of
    P(holds), P(stab in the back) and P(drift apart) of the focal alliance.

    Parameters
    ----------
    scenario
        A scenario or the path of a scenario file.
    method
        ``"sobol"`` (``samples`` base samples, ``samples * (D + 2)`` design points) or
        ``"morris"`` (``samples`` trajectories, ``samples * (D + 1)`` design points).
    samples
        Base samples (Sobol; a power of two) or trajectories (Morris).
    replicates
        Replicates per design point.
    include
        Glob patterns of the parameter paths to vary (default: every uncertain value); the
        others keep being drawn from their distributions, alike for every design point.
    grouped
        Sobol indices of groups of parameters (:func:`family`) instead of single parameters.
    steps
        Override the scenario's horizon.
    engine
        The engine that steps the replicates.

    References
    ----------
    Saltelli (2002); Saltelli et al. (2010); Morris (1991); Campolongo et al. (2007).
    """
    if not isinstance(scenario, Scenario):
        name = name or Path(scenario).stem
        scenario = load_scenario(scenario)
    scenario = scenario.with_run(steps=steps)
    if method not in ("sobol", "morris"):
        raise AnalysisError(f"expected method 'sobol' or 'morris', got {method!r}")
    factors = _factors(scenario, include)
    alliance = pick_alliance(alliance, list(scenario.alliances), scenario.focal_alliance)
    groups = [family(f.name) for f in factors] if grouped and method == "sobol" else None
    if groups is not None and len(set(groups)) < 2:
        raise AnalysisError("grouped Sobol indices need at least two groups")
    requested = samples
    U, samples = _unit_design(method, factors, samples, groups, levels, seed)
    X = to_scale(factors, U)
    t0 = time.perf_counter()
    units = len(set(groups)) if groups is not None else len(factors)
    stride = units + 2 if method == "sobol" else len(factors) + 1
    outputs = evaluate_design(
        scenario,
        factors,
        X,
        replicates=replicates,
        seed=seed,
        alliance=alliance,
        workers=workers,
        progress=progress,
        crn_stride=stride,
        engine=engine,
    )
    elapsed = time.perf_counter() - t0
    indices = {}
    for out in outputs.columns:
        Y = outputs[out].to_numpy()
        indices[out] = (
            sobol_indices(factors, Y, groups=groups, seed=seed)
            if method == "sobol"
            else morris_indices(factors, U, Y, levels=levels, seed=seed)
        )
    settings = {
        **dict(samples=samples, samples_requested=requested, replicates=replicates, seed=seed),
        **dict(steps=scenario.run.steps, design_points=len(X), factors=len(factors)),
        "groups": None if groups is None else len(set(groups)),
        "include": list(include or []),
        "levels": levels if method == "morris" else None,
        "seconds": round(elapsed, 2),
        "replicate_runs": int(len(X) * replicates),
        "scenario_hash": scenario.digest(),
    }
    return Sensitivity(
        name or scenario.title or "scenario",
        method,
        alliance,
        factors,
        groups,
        U,
        X,
        outputs,
        indices,
        settings,
    )


def noise_warning(s: Sensitivity, output: str) -> str | None:
    """A sentence when binomial noise is more than :data:`NOISE_TARGET` of an output's variance,
    saying how many replicates per design point would bring it down; None otherwise."""
    share = s.noise_share(output)
    R = int(s.settings.get("replicates", 1))
    if not np.isfinite(share) or share <= NOISE_TARGET:
        return None
    name = OUTPUT_WORDS.get(output, output)
    need = replicates_for_noise(share, R)
    if need is None:
        return (
            f"warning: binomial noise is {share:.2f} of the variance of {name} at R = {R}: "
            "the inputs move it less than chance does; these indices are mostly noise"
        )
    return (
        f"warning: binomial noise is {share:.2f} of the variance of {name} at R = {R} (above "
        f"{NOISE_TARGET}); about --replicates {need} would bring it to {NOISE_TARGET}"
    )
