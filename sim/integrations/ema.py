"""An EMA Workbench model of a scenario, for exploratory modelling from one's own code.

:func:`ema_model` wraps a scenario as an ``ema_workbench.Model``: its uncertainties are the
scenario's uncertain values (with their own distributions: uniform, triangular, beta, and a
normal truncated to mean ± 3 sd and the field's bounds) and its outcomes are the focal
alliance's P(holds), P(stab in the back) and P(drift apart), each estimated from ``replicates``
runs of the vectorized engine at the experiment's values. Replicate ``r`` uses the same random
numbers in every experiment (common random numbers, as in :mod:`sim.analysis.sensitivity`), so differences
between experiments come from the uncertainties alone.

Examples
--------
>>> from ema_workbench import perform_experiments  # doctest: +SKIP
>>> from sim.integrations.ema import ema_model  # doctest: +SKIP
>>> model = ema_model("scenarios/status_quo.toml", replicates=256)  # doctest: +SKIP
>>> experiments, outcomes = perform_experiments(model, scenarios=100)  # doctest: +SKIP
>>> outcomes["p_stab"].mean()  # doctest: +SKIP

Uncertainty names are the parameter paths made into Python identifiers (``mechanisms.pressure``
becomes ``mechanisms__pressure``); :attr:`ScenarioFunction.paths` maps them back. A scenario's
levers (``[levers]``) become the model's levers, named ``levers__NAME``: a ``RealParameter`` over a
range, an ``IntegerParameter`` for an integer lever, a ``CategoricalParameter`` of the option
values for an options lever; a lever an experiment leaves out stays at its status quo. EMA's
policies and its optimiser (``perform_experiments(model, scenarios, policies)``,
``MultiprocessingEvaluator.optimize``) then work on them.

References
----------
Kwakkel, J. H. (2017). The Exploratory Modeling Workbench: an open source toolkit for exploratory
    modeling, scenario discovery, and (multi-objective) robust decision making. Environmental
    Modelling & Software 96, 239-250.
Bryant, B. P. & Lempert, R. J. (2010). Thinking inside the box: a participatory,
    computer-assisted approach to scenario discovery. Technological Forecasting and Social
    Change 77(1), 34-49.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sim.analysis.sensitivity import (
    OUTPUTS,
    AnalysisError,
    Factor,
    fate_shares,
    pick_alliance,
    scenario_factors,
)
from sim.extras import install_hint
from sim.spec.scenario import Scenario, load_scenario
from sim.vocabulary import FATES


def identifier(path: str) -> str:
    """A parameter path as a Python identifier: dots become ``__``, anything else ``_``."""
    name = re.sub(r"\W", "_", path.replace(".", "__"))
    return name if name.isidentifier() else f"p_{name}"


def frozen_distribution(f: Factor):
    """The scipy.stats frozen distribution of a factor (what EMA samples from)."""
    return f.frozen()


class ScenarioFunction:
    """The model function EMA calls with one experiment's values (picklable, so it runs on EMA's
    multiprocessing evaluator too).

    Parameters
    ----------
    scenario
        The scenario.
    factors
        Its uncertain values, as :func:`sim.analysis.sensitivity.scenario_factors` gives them.
    replicates
        Runs per experiment.
    seed
        Seed of the replicates' random numbers (the same for every experiment).
    alliance
        The alliance whose fate is counted.
    """

    def __init__(
        self,
        scenario: Scenario,
        factors: Sequence[Factor],
        replicates: int,
        seed: int,
        alliance: str,
        dtype: str = "float32",
    ):
        self.scenario = scenario
        self.factors = list(factors)
        self.paths = {identifier(f.name): f.name for f in self.factors}
        self.levers = {identifier(f"levers.{n}"): f"levers.{n}" for n in scenario.levers}
        if len(self.paths) != len(self.factors):
            raise AnalysisError("two parameter paths map to the same identifier")
        self.replicates = replicates
        self.seed = seed
        self.alliance = alliance
        self.dtype = dtype

    def __call__(self, **values) -> dict[str, float]:
        """The fate shares at one point (keyword per uncertainty or lever; the rest at their point
        values and status quo)."""
        unknown = set(values) - set(self.paths) - set(self.levers)
        if unknown:
            raise AnalysisError(f"not an uncertainty or a lever of this model: {', '.join(sorted(unknown))}")
        point = {
            f.name: np.array([float(values.get(identifier(f.name), f.value.point()))]) for f in self.factors
        }
        for key, path in self.levers.items():
            if key in values:
                point[path] = np.array([float(values[key])])
        shares = fate_shares(
            self.scenario,
            point,
            replicates=self.replicates,
            alliance=self.alliance,
            seed=self.seed,
            dtype=self.dtype,
        )
        return {OUTPUTS[k]: float(shares[0, i]) for i, k in enumerate(FATES)}


def ema_model(
    scenario: Scenario | str | Path,
    *,
    replicates: int = 200,
    seed: int = 0,
    alliance: str | None = None,
    include: Sequence[str] | None = None,
    steps: int | None = None,
    name: str = "alliance_sim",
):
    """An ``ema_workbench.Model`` of a scenario.

    Parameters
    ----------
    scenario
        A scenario or the path of a scenario file.
    replicates
        Runs per experiment behind each estimated probability.
    seed
        Seed of the replicates' random numbers.
    alliance
        The alliance whose fate is the outcome (default: the focal alliance).
    include
        Glob patterns of the parameter paths exposed as uncertainties (default: all uncertain
        values); the others are drawn from their distributions, alike in every experiment.
    steps
        Override the scenario's horizon.
    name
        The model's name (a Python identifier).

    Returns
    -------
    ema_workbench.Model
        Uncertainties: one ``RealParameter`` per uncertain value, with its distribution.
        Outcomes: ``p_holds``, ``p_stab``, ``p_drift`` (``ScalarOutcome``).
    """
    import warnings

    try:
        with warnings.catch_warnings():  # the workbench warns about its optional parallel backend
            warnings.filterwarnings("ignore", message="ipyparallel not installed")
            from ema_workbench import Model, RealParameter, ScalarOutcome
    except ImportError:
        raise AnalysisError(
            f"the EMA Workbench adapter needs the 'explore' extra: {install_hint('explore')}"
        ) from None
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    scenario = scenario.with_run(steps=steps)
    alliance = pick_alliance(alliance, list(scenario.alliances), scenario.focal_alliance)
    if replicates <= 0:
        raise AnalysisError(f"expected a positive number of replicates, got {replicates}")
    factors = scenario_factors(scenario, include)
    if not factors:
        raise AnalysisError("no uncertain values to expose as uncertainties")
    function = ScenarioFunction(scenario, factors, replicates, seed, alliance)
    model = Model(name, function=function)
    model.uncertainties = [
        RealParameter.from_dist(identifier(f.name), frozen_distribution(f)) for f in factors
    ]
    model.outcomes = [ScalarOutcome(OUTPUTS[k]) for k in FATES]
    model.levers = ema_levers(scenario)
    return model


def ema_levers(scenario: Scenario) -> list:
    """The scenario's levers as EMA Workbench parameters (module docstring)."""
    from ema_workbench import CategoricalParameter, IntegerParameter, RealParameter

    out = []
    for name, lever in scenario.levers.items():
        key = identifier(f"levers.{name}")
        if lever.options is not None:
            out.append(CategoricalParameter(key, sorted(set(lever.options.values()))))
        elif lever.integer:
            low, high = lever.bounds
            out.append(IntegerParameter(key, int(low), int(high)))
        else:
            out.append(RealParameter(key, *lever.bounds))
    return out
