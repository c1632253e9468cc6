"""The main analyses as one flat set of functions, re-exported by ``import sim``.

Each function takes a scenario (a :class:`~sim.spec.schema.Scenario` or the path of a scenario
file), runs the designs it needs on common random numbers, and returns the analysis's result
object; the keyword arguments not listed in a docstring go to the function it calls (named under
See Also). Every function runs on all local cores unless ``workers`` says otherwise, as the
command line does.

A first session::

    import sim

    base = sim.run_ensemble("scenarios/status_quo.toml", replicates=2000, seed=1)
    comparison = sim.compare(["scenarios/back_to_back.toml", "scenarios/stab_in_the_back.toml"],
                             "results/comparison", replicates=2000, seed=1)
    swept = sim.sweep("scenarios/stab_in_the_back.toml", "mechanisms.competition", [0, 0.1, 0.2])
    indices = sim.sensitivity("scenarios/stab_in_the_back.toml", method="morris", samples=16)
    policies = sim.levers("scenarios/policy.toml", owner="NATO", policies=16, worlds=32)
    posterior = sim.calibrate("scenarios/status_quo.toml", "seeds/observations.toml")
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the result types, for readers and type checkers only (imports stay lazy)
    import pandas as pd

    from sim.analysis.calibration import Calibration
    from sim.analysis.compare import Comparison
    from sim.analysis.discovery import Discovery
    from sim.analysis.levers import PolicyResults
    from sim.analysis.optimize import SearchResults
    from sim.analysis.sensitivity import Sensitivity
    from sim.analysis.sweep import Sweep
    from sim.run.store import Results
    from sim.spec.schema import Scenario


def _scenario(scenario) -> Scenario:
    from sim.spec.scenario import load_scenario
    from sim.spec.schema import Scenario

    return scenario if isinstance(scenario, Scenario) else load_scenario(scenario)


def compare(
    scenarios: Sequence[str | Path],
    out: str | Path = "results/comparison",
    *,
    replicates: int | None = None,
    seed: int | None = None,
    workers: int | None = None,
    progress: bool = True,
    **options,
) -> Comparison:
    """Run several scenarios on the same settings and compare their fates, paired by replicate.

    Parameters
    ----------
    scenarios : sequence of path
        Scenario files, each run into ``out/<name>`` (finished results of exactly the same
        scenario and settings are used again).
    out : path
        The folder of the runs.
    replicates, seed : int, optional
        The same for every scenario (default: each scenario's own); with one seed, replicate
        ``r`` of every scenario draws the same random numbers.
    workers : int, optional
        Local processes (default: all cores).
    progress : bool
        Show a progress bar.
    **options
        ``steps``, ``chunk_size``, ``point``, ``dtype``, ``engine``, ``why``, ``force``,
        ``executor``.

    Returns
    -------
    Comparison
        ``runs`` (one :class:`~sim.run.store.Results` each) and ``differences()``: each run against
        the first, every fate's B − A with its paired and unpaired 95 % interval.

    See Also
    --------
    sim.analysis.compare.compare

    Examples
    --------
    >>> import sim
    >>> c = sim.compare(["scenarios/back_to_back.toml", "scenarios/stab_in_the_back.toml"],
    ...                 "results/comparison", replicates=2000, seed=1)
    >>> c.differences()[0].table[["fate", "diff", "paired_low", "paired_high"]]
    """
    from sim.analysis.compare import compare as run_comparison

    return run_comparison(
        scenarios, out, replicates=replicates, seed=seed, workers=workers, progress=progress, **options
    )


def sweep(
    scenario: Scenario | str | Path,
    path: str,
    values: Sequence[float],
    *,
    replicates: int = 500,
    steps: int | None = None,
    seed: int | None = None,
    alliance: str | None = None,
    workers: int | None = None,
    progress: bool = True,
    engine: str = "numpy",
) -> Sweep:
    """Run one parameter across values on common random numbers and tabulate the fates.

    Parameters
    ----------
    scenario : Scenario or path
        The scenario.
    path : str
        The parameter, as ``alliance-sim show`` lists it (``mechanisms.pressure``,
        ``alliances.china_russia.h0``).
    values : sequence of float
        At least two values, inside the parameter's bounds.
    replicates : int
        Runs per value; replicate ``r`` of every value draws the same random numbers.
    steps, seed : int, optional
        Override the scenario's horizon and seed.
    alliance : str, optional
        Whose fates (default: the focal alliance).
    workers : int, optional
        Local processes (default: all cores).
    progress : bool
        Show a progress bar.
    engine : str
        ``"numpy"`` or ``"numba"``.

    Returns
    -------
    Sweep
        ``table``: one row per value and fate with the share and its 95 % Wilson interval;
        ``paired``: each value's difference from the first, paired by replicate.

    See Also
    --------
    sim.analysis.sweep.run_sweep

    Examples
    --------
    >>> import sim
    >>> s = sim.sweep("scenarios/stab_in_the_back.toml", "mechanisms.competition", [0, 0.1, 0.2],
    ...               replicates=300, seed=5)
    >>> s.table.pivot(index="value", columns="fate", values="p")
    """
    from sim.analysis.sweep import run_sweep, sweep_values

    return run_sweep(
        _scenario(scenario).with_run(steps=steps),
        path,
        sweep_values(values),
        replicates=replicates,
        alliance=alliance,
        seed=seed,
        workers=workers,
        progress=progress,
        engine=engine,
    )


def _factors(factors) -> list:
    """Factors given as ``{path: values}`` or as :class:`sim.analysis.experiment.Factor`."""
    from sim.analysis.experiment import Factor

    if isinstance(factors, dict):
        return [Factor(p, tuple(float(v) for v in values)) for p, values in factors.items()]
    return list(factors)


def experiment(
    scenario: Scenario | str | Path,
    factors: dict[str, Sequence[float]],
    out: str | Path,
    *,
    design: str = "full",
    points: int | None = None,
    replicates: int = 1000,
    steps: int | None = None,
    seed: int | None = None,
    alliance: str | None = None,
    workers: int | None = None,
    progress: bool = True,
    engine: str = "numpy",
):
    """Run several parameters together on common random numbers into one result folder.

    Parameters
    ----------
    scenario : Scenario or path
        The scenario.
    factors : dict
        Parameter path (as ``alliance-sim show`` lists it) -> its values (``design="lhs"``: the
        smallest and largest give its range).
    out : str or Path
        The result folder (a run's layout: ``discover``, ``export`` and ``verify`` read it).
    design : str
        ``"full"`` (every combination) or ``"lhs"`` (a Latin hypercube of ``points`` points).
    points : int, optional
        Points of a Latin hypercube.
    replicates : int
        Runs per point; replicate ``r`` of every point draws the same random numbers.
    steps, seed : int, optional
        Override the scenario's horizon and seed.
    alliance : str, optional
        Whose fates (default: the focal alliance).
    workers : int, optional
        Local processes (default: all cores).
    progress : bool
        Show a progress bar.
    engine : str
        ``"numpy"`` or ``"numba"``.

    Returns
    -------
    Experiment
        ``table`` (each fate at each point with its 95 % interval), ``main`` (P(holds) at each
        level of each factor), ``effects`` (first to last level, paired), ``interactions`` (paired
        two-way contrasts of a full design) and ``discovery`` (PRIM over the factors).

    See Also
    --------
    sim.analysis.experiment.run_experiment

    Examples
    --------
    >>> import sim
    >>> e = sim.experiment("scenarios/stab_in_the_back.toml",
    ...                    {"mechanisms.competition": [0, 0.1, 0.2], "mechanisms.pressure": [0, 0.1]},
    ...                    "results/my-experiment", replicates=500)
    >>> e.effects
    """
    from sim.analysis.experiment import run_experiment

    return run_experiment(
        _scenario(scenario).with_run(steps=steps),
        _factors(factors),
        out=out,
        design=design,
        points=points,
        replicates=replicates,
        seed=seed,
        alliance=alliance,
        workers=workers,
        progress=progress,
        engine=engine,
    )


def export(
    results: str | Path, out: str | Path, *, fmt: str = "csv", columns: Sequence[str] | None = None
) -> dict:
    """Write a result folder's replicate table as CSV or plain Parquet, row group by row group.

    Parameters
    ----------
    results : str or Path
        A folder written by ``run`` or ``experiment`` (checked first: seal and checksums).
    out : str or Path
        The file to write.
    fmt : str
        ``"csv"`` or ``"parquet"``.
    columns : sequence of str, optional
        Column names or patterns (``"*.fate"``, ``"param:mechanisms.*"``); default: all.

    Returns
    -------
    dict
        ``rows``, ``columns`` and ``path`` written.

    See Also
    --------
    sim.run.export.export_table

    Examples
    --------
    >>> import sim
    >>> sim.export("results/status_quo", "status_quo.csv", columns=["replicate", "*.fate"])
    """
    from sim.run.export import export_table

    return export_table(results, out, fmt=fmt, columns=columns)


def sensitivity(
    scenario: Scenario | str | Path,
    *,
    method: str = "sobol",
    samples: int = 1024,
    replicates: int = 16,
    seed: int = 0,
    include: Sequence[str] | None = None,
    workers: int | None = None,
    progress: bool = True,
    **options,
) -> Sensitivity:
    """Which uncertain values decide the focal alliance's fate: Sobol indices or Morris screening.

    Parameters
    ----------
    scenario : Scenario or path
        A scenario with uncertain values (``{dist = ...}``).
    method : {"sobol", "morris"}
        Sobol' first-order and total indices (Saltelli's design) or Morris's elementary effects.
    samples : int
        Sobol base samples (a power of two) or Morris trajectories.
    replicates : int
        Runs per design point; the binomial noise's share of each output's variance is reported.
    seed : int
        Seed of the design and the runs.
    include : sequence of str, optional
        Glob patterns of the parameter paths to vary (``"mechanisms.*"``); the others are drawn
        as usual, alike at every design point.
    workers : int, optional
        Local processes (default: all cores).
    progress : bool
        Show a progress bar.
    **options
        ``alliance``, ``grouped``, ``levels``, ``steps``, ``name``, ``engine``.

    Returns
    -------
    Sensitivity
        ``table(output, top)``: indices with their confidence intervals for ``"p_holds"``,
        ``"p_stab"`` or ``"p_drift"``; ``noise_share(output)``.

    See Also
    --------
    sim.analysis.sensitivity.run_sensitivity

    Examples
    --------
    >>> import sim
    >>> s = sim.sensitivity("scenarios/stab_in_the_back.toml", method="morris", samples=16,
    ...                     replicates=16, include=["mechanisms.*"])
    >>> s.table("p_stab", 5)
    """
    from sim.analysis.sensitivity import run_sensitivity

    return run_sensitivity(
        scenario,
        method=method,
        samples=samples,
        replicates=replicates,
        seed=seed,
        include=include,
        workers=workers,
        progress=progress,
        **options,
    )


def levers(
    scenario: Scenario | str | Path,
    *,
    policies: int = 64,
    worlds: int = 256,
    replicates: int = 8,
    owner: str | None = None,
    seed: int | None = None,
    out: str | Path | None = None,
    workers: int | None = None,
    progress: bool = True,
    **options,
) -> PolicyResults:
    """Evaluate policies (settings of the scenario's levers) on common sampled worlds.

    Every policy meets the same worlds (draws of the uncertain values) and the same replicates,
    so the policies' metrics are paired; robustness is regret against the best policy in each
    world, the share of worlds that satisfice, and percentiles over worlds (XLRM: Lempert, Popper
    & Bankes 2003).

    Parameters
    ----------
    scenario : Scenario or path
        A scenario with ``[levers]`` and ``[metrics]``.
    policies : int
        A Latin hypercube of this many policies, plus the status quo (policy 0).
    worlds, replicates : int
        Sampled worlds, and replicates per policy and world.
    owner : str, optional
        Vary only this actor's levers, judged by its metrics.
    seed : int, optional
        Seed of worlds, policies and replicates (default: the scenario's).
    out : path, optional
        Folder for the tables (and the resumable runs).
    workers : int, optional
        Local processes (default: all cores).
    progress : bool
        Show a progress bar.
    **options
        ``grid_values``, ``steps``, ``chunk_size``, ``executor``, ``resume``, ``force``,
        ``policy_values``, ``engine``.

    Returns
    -------
    PolicyResults
        ``table``: one row per policy (``lever:``, ``metric:``, ``regret:``, ``satisficing``,
        ``rank``).

    See Also
    --------
    vulnerability, optimize, sim.analysis.levers.evaluate

    Examples
    --------
    >>> import sim
    >>> result = sim.levers("scenarios/policy.toml", owner="NATO", policies=16, worlds=48,
    ...                     replicates=4, seed=3)
    >>> result.table.sort_values("rank").head()
    """
    from sim.analysis.levers import evaluate

    return evaluate(
        scenario,
        policies=policies,
        worlds=worlds,
        replicates=replicates,
        owner=owner,
        seed=seed,
        out=out,
        workers=workers,
        progress=progress,
        **options,
    )


def optimize(
    scenario: Scenario | str | Path,
    *,
    evaluations: int = 5000,
    population: int = 100,
    worlds: int = 64,
    replicates: int = 4,
    owner: str | None = None,
    seed: int | None = None,
    out: str | Path | None = None,
    workers: int | None = None,
    progress: bool = True,
    **options,
) -> SearchResults:
    """Search the levers for non-dominated policies (NSGA-II), each generation run as one design.

    Parameters
    ----------
    scenario : Scenario or path
        A scenario with ``[levers]`` and ``[metrics]``.
    evaluations : int
        Policy evaluations in all.
    population : int
        Policies per generation.
    worlds, replicates : int
        The common worlds and replicates every policy is evaluated on.
    owner : str, optional
        Search only this actor's levers, judged by its metrics.
    seed : int, optional
        Seed of worlds, replicates and search (default: the scenario's).
    out : path, optional
        Folder for ``pareto.parquet`` and ``convergence.csv``.
    workers : int, optional
        Local processes (default: all cores).
    progress : bool
        Show a progress bar.
    **options
        ``statistic`` (``"mean"`` or ``"p10"``), ``steps``, ``chunk_size``, ``executor``,
        ``on_generation``, ``engine``.

    Returns
    -------
    SearchResults
        ``pareto``: the non-dominated policies with their metrics; ``convergence``: one row per
        generation with its hypervolume.

    See Also
    --------
    levers, sim.analysis.optimize.optimize

    Examples
    --------
    >>> import sim
    >>> front = sim.optimize("scenarios/policy.toml", owner="China", evaluations=500)
    >>> front.pareto.head()
    """
    from sim.analysis.optimize import optimize as search

    return search(
        scenario,
        evaluations=evaluations,
        population=population,
        worlds=worlds,
        replicates=replicates,
        owner=owner,
        seed=seed,
        out=out,
        workers=workers,
        progress=progress,
        **options,
    )


def vulnerability(result: PolicyResults, policy: int | None = None, **options) -> Discovery:
    """Where a policy fails: PRIM boxes of the uncertain values over the worlds in which it misses
    a metric's threshold (Bryant & Lempert 2010).

    Parameters
    ----------
    result : PolicyResults
        What :func:`levers` returned (or :func:`sim.analysis.levers.load_policy_results` read).
    policy : int, optional
        The policy whose failures to explain (default: the most robust).
    **options
        ``boxes``, ``min_coverage``, ``max_qp``, ``include``.

    Returns
    -------
    Discovery
        The boxes, each with its coverage, density and restricted values.

    See Also
    --------
    discover, sim.analysis.policy_tables.vulnerability

    Examples
    --------
    >>> import sim
    >>> result = sim.levers("scenarios/policy.toml", owner="NATO", policies=16, worlds=48)
    >>> box = sim.vulnerability(result, min_coverage=0.3, max_qp=0.2)
    >>> box.boxes[0].limits
    """
    from sim.analysis.policy_tables import vulnerability as failures

    return failures(result, policy, **options)


def discover(
    results: Results | str | Path, outcome: str = "stab_in_the_back", alliance: str | None = None, **options
) -> Discovery:
    """Scenario discovery: PRIM boxes of the sampled values where an outcome happens.

    Parameters
    ----------
    results : Results or path
        A finished run (or its folder).
    outcome : str
        ``"stab_in_the_back"``, ``"holds"``, ``"drift_apart"``, or ``"stab_in_the_back by NAME"``.
    alliance : str, optional
        Default: the run's focal alliance.
    **options
        ``boxes``, ``min_coverage``, ``max_qp``, ``peel_alpha``, ``mass_min``.

    Returns
    -------
    Discovery
        The boxes, each with its coverage, density, mass and restricted values (with quasi-p
        values), and the base rate of the outcome.

    See Also
    --------
    sim.analysis.discovery.discover

    Examples
    --------
    >>> import sim
    >>> run = sim.run_ensemble("scenarios/status_quo.toml", replicates=8000, seed=3)
    >>> sim.discover(run, "stab_in_the_back").boxes[0].limits
    """
    from sim.analysis.discovery import discover as prim

    if not hasattr(results, "replicates"):
        from sim.run.store import load_results

        results = load_results(results)
    return prim(results, outcome, alliance, **options)


def calibrate(
    scenario: str | Path,
    observations: str | Path,
    *,
    replicates: int = 50_000,
    seed: int | None = None,
    out: str | Path | None = None,
    workers: int | None = None,
    progress: bool = True,
    **options,
) -> Calibration:
    """Condition a scenario on dated observations (ABC rejection or SMC²) and fit the posterior.

    Parameters
    ----------
    scenario : path
        The scenario file.
    observations : path
        An observations file (``seeds/observations.toml``): dated, sourced readings of alliances,
        ties and events.
    replicates : int
        Prior replicates, each run to the last observation.
    seed : int, optional
        Seed of the draws, the dynamics and the acceptance (default: the scenario's).
    out : path, optional
        Folder for ``posterior.toml`` (a scenario every command accepts), the accepted samples and
        their states; nothing is written without it.
    workers : int, optional
        Local processes (default: all cores; the result does not depend on them).
    progress : bool
        Show a progress bar.
    **options
        ``min_accepted``, ``exclude``, ``chunk_size``, ``force``, ``engine``, ``method`` (``auto``,
        ``rejection`` or ``smc``: sequential Monte Carlo, for informative records), ``particles``.

    Returns
    -------
    Calibration
        The accepted replicates, the acceptance rate and effective sample size, the binding
        observation, and the parameters the record moved.

    See Also
    --------
    sim.analysis.calibration.calibrate

    Examples
    --------
    >>> import sim
    >>> cal = sim.calibrate("scenarios/status_quo.toml", "seeds/observations.toml",
    ...                     replicates=50_000, out="results/status_quo-calibrated")
    >>> [m.path for m in cal.moved]
    """
    from sim.analysis.calibration import calibrate as condition

    return condition(
        scenario,
        observations,
        replicates=replicates,
        seed=seed,
        out=out,
        workers=workers,
        progress=progress,
        **options,
    )


def score(
    scenarios: Sequence[str | Path],
    observations: str | Path,
    *,
    replicates: int = 20_000,
    seed: int = 0,
    workers: int | None = None,
    progress: bool = True,
    **options,
) -> pd.DataFrame:
    """Rank scenarios by the probability each gave the observed record.

    Parameters
    ----------
    scenarios : sequence of path
        Scenario files.
    observations : path
        An observations file.
    replicates : int
        Prior replicates per scenario.
    seed : int
        Seed of every scenario's replicates.
    workers : int, optional
        Local processes (default: all cores).
    progress : bool
        Show a progress bar.
    **options
        ``chunk_size``, ``predictive`` (a dict that receives each scenario's predictive table),
        ``engine``, ``method`` (``prior`` or ``smc``: the evidence by sequential Monte Carlo),
        ``particles``.

    Returns
    -------
    DataFrame
        One row per scenario: ``rank``, ``p_record``, ``log_score`` and its standard error, the log
        Bayes factor against the best and its standard error, and the binding observation.

    See Also
    --------
    calibrate, sim.analysis.calibration.score_scenarios

    Examples
    --------
    >>> import sim
    >>> sim.score(["scenarios/status_quo.toml", "scenarios/back_to_back.toml"],
    ...           "seeds/observations.toml", replicates=20_000)
    """
    from sim.analysis.calibration import score_scenarios

    return score_scenarios(
        [Path(p) for p in scenarios],
        Path(observations),
        replicates=replicates,
        seed=seed,
        workers=workers,
        progress=progress,
        **options,
    )
