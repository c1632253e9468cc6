"""The Mesa face of the model: :class:`AllianceModel` with one :class:`Country` agent per actor.

``AllianceModel`` runs one replicate by driving :func:`sim.model.dynamics.step` with a replicate axis of
length one, so it is the same model as the numpy engine, not a second one. Use it to step a
scenario by hand, in notebooks, in the SolaraViz app and under ``mesa.batch_run``; use
:func:`sim.run_ensemble` for thousands of replicates.
"""

from __future__ import annotations

import typing
from pathlib import Path

import mesa
import numpy as np

from sim.model import dynamics
from sim.spec.params import Params, compile_params
from sim.spec.scenario import Scenario, load_scenario
from sim.vocabulary import FATES


class Country(mesa.Agent):
    """A state (or alliance acting as one) with its interests, read live from the model."""

    def __init__(self, model: AllianceModel, index: int, name: str):
        super().__init__(model)
        self.index = index
        self.name = name

    @property
    def capability(self) -> float:
        """Share of power (sums to one over actors)."""
        return float(self.model.state.capability[0, self.index])

    @property
    def positions(self) -> dict[str, float]:
        """Position on each issue."""
        return dict(zip(self.model.issue_names, self.model.state.position[0, self.index].tolist()))

    @property
    def saliences(self) -> dict[str, float]:
        """Salience of each issue in [0, 1]."""
        return dict(zip(self.model.issue_names, self.model.state.salience[0, self.index].tolist()))

    @property
    def ties(self) -> dict[str, float]:
        """This country's disposition toward each other actor."""
        row = self.model.ties[self.index]
        return {c.name: float(row[c.index]) for c in self.model.countries if c is not self}

    def __repr__(self) -> str:
        return f"Country({self.name!r}, capability={self.capability:.3f})"


class AllianceModel(mesa.Model):
    """One replicate of an alliance scenario.

    Parameters
    ----------
    scenario
        A :class:`~sim.spec.scenario.Scenario` or the path of a scenario file.
    rng
        Seed or ``numpy.random.Generator``; uncertain parameters are drawn from it first, then each
        step's random numbers.
    params
        Parameters of one replicate to use instead of drawing them.
    point
        Use the point value of every uncertain parameter instead of drawing.

    Examples
    --------
    >>> model = AllianceModel("scenarios/back_to_back.toml", rng=1)  # doctest: +SKIP
    >>> model.run_for(24)  # doctest: +SKIP
    >>> model.datacollector.get_model_vars_dataframe().tail()  # doctest: +SKIP
    """

    def __init__(
        self, scenario: Scenario | str | Path, rng=None, params: Params | None = None, point: bool = False
    ):
        super().__init__(rng=rng)
        if not isinstance(scenario, Scenario):
            scenario = load_scenario(scenario, point=point)
        self.spec = scenario
        self.params = params if params is not None else compile_params(scenario, 1, self.rng)
        self.state = dynamics.initial_state(self.params)
        self.stepper = dynamics.Stepper(self.params)
        self.issue_names = list(self.params.issues)
        self.countries = [Country(self, i, name) for i, name in enumerate(self.params.actors)]
        self._n_events = dynamics.stochastic_event_count(self.params)
        self._n_members = dynamics.member_count(self.params)
        reporters: dict[str, typing.Callable] = {}
        for a_index, al in enumerate(self.params.alliances):
            reporters[f"cohesion:{al.name}"] = lambda m, members=al.members: float(
                dynamics.cohesion(m.state.ties, members)[0]
            )
            reporters[f"status:{al.name}"] = lambda m, a=a_index: (
                "active" if m.state.active[0, a] else FATES[m.state.fate[0, a]]
            )
        self.datacollector = mesa.DataCollector(
            model_reporters=reporters,
            agent_reporters={"capability": "capability"},
        )
        self.datacollector.collect(self)

    @property
    def ties(self) -> np.ndarray:
        """The A x A disposition matrix (row = from, column = to)."""
        return self.state.ties[0]

    @property
    def horizon(self) -> int:
        """Steps in a full run (the scenario's horizon)."""
        return self.params.steps

    def alliance_status(self) -> dict[str, dict]:
        """Each declared alliance: fate so far, end step and defector (None while it holds)."""
        out = {}
        for a, al in enumerate(self.params.alliances):
            active = bool(self.state.active[0, a])
            who = int(self.state.defector[0, a])
            out[al.name] = {
                "status": "active" if active else "ended",
                "fate": FATES[int(self.state.fate[0, a])],
                "end_step": None if active else int(self.state.end_step[0, a]),
                "defector": None if active else self.params.actors[who],
                "cohesion": float(dynamics.cohesion(self.state.ties, al.members)[0]),
            }
        return out

    def step(self) -> None:
        """Advance the replicate by one step and collect its data."""
        d = dynamics.draw(self.rng, 1, self.params.A, self._n_events, self._n_members)
        self.stepper.step(self.state, d)
        self.datacollector.collect(self)
        if self.state.t >= self.params.steps:
            self.running = False
