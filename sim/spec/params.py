"""From a validated :class:`~sim.spec.scenario.Scenario` to arrays, one slice per replicate.

Every uncertain value is drawn once per replicate, in a fixed order (the order the scenario is read
below), from the generator passed in, so a chunk of replicates is fully determined by its seed.
The draws are kept in :attr:`Params.sampled` under the parameter's dotted path
(``actors.China.capability``), which is how they are recorded with each replicate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.spec.parammap import Slot, slot_map, slots
from sim.spec.scenario import Scenario, ScenarioError
from sim.spec.values import Distribution, point_value
from sim.vocabulary import ALLIANCE_KEYS


@dataclass
class CompiledEffect:
    """An event effect as indices into the arrays and one value per replicate."""

    kind: str
    i: int  # from / actor
    j: int  # to / target / issue
    op: str  # "shift" or "set"
    value: np.ndarray  # (n,)
    symmetric: bool = False


@dataclass
class CompiledEvent:
    """An event with its timing (step or hazard per replicate) and compiled effects."""

    name: str
    at: int | None
    hazard: np.ndarray | None  # (n,) per unit time
    repeat: bool
    effects: list[CompiledEffect]


@dataclass
class CompiledAlliance:
    """A declared alliance's members and decision-rule parameters, one value per replicate."""

    name: str
    members: np.ndarray  # (m,) actor indices
    theta_stay: np.ndarray  # (n,)
    theta_trust: np.ndarray
    h0: np.ndarray
    beta: np.ndarray
    power_shift: np.ndarray
    betrayal_shock: np.ndarray
    reputation: np.ndarray


@dataclass
class Params:
    """All the numbers of ``n`` replicates of one scenario (leading axis = replicate)."""

    actors: list[str]
    issues: list[str]
    n: int
    steps: int
    dt: float
    bargain_every: int
    capability: np.ndarray  # (n, A), shares summing to one
    growth: np.ndarray  # (n, A)
    position: np.ndarray  # (n, A, K)
    salience: np.ndarray  # (n, A, K)
    low: np.ndarray  # (K,)
    high: np.ndarray  # (K,)
    ties: np.ndarray  # (n, A, A), zero diagonal
    ambition: np.ndarray  # (n, A, A): ambition of row over column as a client
    strategic_value: np.ndarray  # (n, A)
    dependence: np.ndarray  # (n, A, A)
    pressure_values: np.ndarray  # (n, A, J) knot values
    pressure_index: np.ndarray  # (steps, A) left knot used at each step
    pressure_weight: np.ndarray  # (steps, A) weight of the right knot
    coef: dict[str, np.ndarray]  # name -> (n,)
    events: list[CompiledEvent]
    alliances: list[CompiledAlliance]
    sampled: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def A(self) -> int:  # noqa: N802 - the model's symbol
        """Number of actors."""
        return len(self.actors)

    @property
    def K(self) -> int:  # noqa: N802
        """Number of issues."""
        return len(self.issues)

    def take(self, rows) -> Params:
        """The replicates ``rows`` (an index array or slice) as a new Params."""

        def cut(a):
            return a[rows]

        return Params(
            actors=self.actors,
            issues=self.issues,
            n=len(np.arange(self.n)[rows]),
            steps=self.steps,
            dt=self.dt,
            bargain_every=self.bargain_every,
            capability=cut(self.capability),
            growth=cut(self.growth),
            position=cut(self.position),
            salience=cut(self.salience),
            low=self.low,
            high=self.high,
            ties=cut(self.ties),
            ambition=cut(self.ambition),
            strategic_value=cut(self.strategic_value),
            dependence=cut(self.dependence),
            pressure_values=cut(self.pressure_values),
            pressure_index=self.pressure_index,
            pressure_weight=self.pressure_weight,
            coef={k: cut(v) for k, v in self.coef.items()},
            events=[
                CompiledEvent(
                    e.name,
                    e.at,
                    None if e.hazard is None else cut(e.hazard),
                    e.repeat,
                    [CompiledEffect(f.kind, f.i, f.j, f.op, cut(f.value), f.symmetric) for f in e.effects],
                )
                for e in self.events
            ],
            alliances=[
                CompiledAlliance(a.name, a.members, *(cut(getattr(a, k)) for k in ALLIANCE_KEYS))
                for a in self.alliances
            ],
            sampled={k: cut(v) for k, v in self.sampled.items()},
        )


def draw_slot(slot: Slot, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` draws of one uncertain slot, clipped to the slot's bounds (:func:`clip_bounds`)."""
    value = slot.value
    if not isinstance(value, Distribution):  # pragma: no cover - plain numbers are not drawn
        raise TypeError(f"{slot.path} is not uncertain")
    return value.draw(n, rng, slot.bounds)


def sample(scenario: Scenario, n: int, rng: np.random.Generator | None = None) -> dict[str, np.ndarray]:
    """``n`` draws of every uncertain value of ``scenario``, by path, in sampling order."""
    rng = np.random.default_rng(rng)
    if scenario.correlations:  # a Gaussian copula over the marginals (sim.spec.correlation)
        from sim.spec.correlation import sample_values

        return sample_values(scenario, n, rng)
    return {slot.path: draw_slot(slot, n, rng) for slot in slots(scenario) if slot.uncertain}


def compile_params(scenario: Scenario, n: int, rng: np.random.Generator | None = None) -> Params:
    """Draw ``n`` replicates' parameters from ``scenario``.

    Parameters
    ----------
    scenario
        A validated scenario.
    n
        Number of replicates.
    rng
        Source of the draws of uncertain values (unused when every value is a plain number).
    """
    return assemble(scenario, n, sample(scenario, n, rng))


def assemble(scenario: Scenario, n: int, values: dict[str, np.ndarray]) -> Params:
    """The arrays of ``n`` replicates whose slots take ``values`` (path -> ``(n,)`` array).

    Slots missing from ``values`` take their point value (the scenario's number, or the point of
    its distribution). Every path of the parameter map may be given, uncertain or not: this is how
    a design fixes values at its points. Capabilities are renormalised to shares, ties are set in
    the scenario's order (later entries win), a flat pressure fills every knot.

    Levers (``levers.NAME``, :mod:`sim.spec.lever_values`) may be given too; they are applied on top
    of the slots, and those not given stay at their status quo.

    Raises
    ------
    ScenarioError
        When ``values`` names a path that is not a slot or a lever of the scenario.
    """
    from sim.spec.lever_values import LEVER_PREFIX, apply_levers

    levers = {
        k: v
        for k, v in values.items()
        if k.startswith(LEVER_PREFIX) and k.removeprefix(LEVER_PREFIX) in scenario.levers
    }
    values = {k: v for k, v in values.items() if k not in levers}
    known = slot_map(scenario)
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ScenarioError(None, f"not a parameter of the scenario: {', '.join(unknown[:5])}")
    sampled: dict[str, np.ndarray] = {}
    into = _Landing.empty(scenario, n)
    for slot in known.values():
        if slot.path in values:
            x = np.asarray(values[slot.path], dtype=np.float64)
            if x.shape != (n,):
                x = np.broadcast_to(x, (n,)).copy()
            sampled[slot.path] = x
        else:
            x = np.full(n, point_value(slot.value))
        into.place(slot, x, scenario)
    A = len(scenario.actors)
    total = into.cap.sum(axis=1, keepdims=True)
    cap = np.divide(into.cap, total, out=np.full_like(into.cap, 1.0 / A), where=total > 0)
    pvals, pidx, pw = _pressure_schedule(into.knots, n, scenario.run.steps)
    params = Params(
        actors=scenario.actor_names,
        issues=scenario.issue_names,
        n=n,
        steps=scenario.run.steps,
        dt=scenario.run.dt,
        bargain_every=scenario.mechanisms.bargain_every,
        capability=cap,
        growth=into.growth,
        position=into.pos,
        salience=into.sal,
        low=into.low,
        high=into.high,
        ties=into.ties,
        ambition=into.amb,
        strategic_value=into.sval,
        dependence=into.dep,
        pressure_values=pvals,
        pressure_index=pidx,
        pressure_weight=pw,
        coef=into.coef,
        events=_compile_events(scenario, into.hazards, into.effects),
        alliances=_compile_alliances(scenario, into.decision),
        sampled=sampled,
    )
    if scenario.levers:
        lever_values = {k: np.broadcast_to(np.asarray(v, dtype=np.float64), (n,)) for k, v in levers.items()}
        apply_levers(params, scenario, lever_values)
        sampled.update(lever_values)
    return params


@dataclass
class _Landing:
    """The arrays the slots of the parameter map land in, before they become :class:`Params`."""

    cap: np.ndarray
    growth: np.ndarray
    low: np.ndarray
    high: np.ndarray
    pos: np.ndarray
    sal: np.ndarray
    ties: np.ndarray
    amb: np.ndarray
    sval: np.ndarray
    dep: np.ndarray
    knots: list[list[tuple[int, np.ndarray]]]
    coef: dict[str, np.ndarray] = field(default_factory=dict)
    hazards: dict[int, np.ndarray] = field(default_factory=dict)
    effects: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)
    decision: dict[tuple[int, str], np.ndarray] = field(default_factory=dict)
    seen_pressure: set[int] = field(default_factory=set)

    @classmethod
    def empty(cls, scenario: Scenario, n: int) -> _Landing:
        """Arrays at their defaults: positions mid-scale, strategic values 1, the rest 0."""
        A, K = len(scenario.actors), len(scenario.issues)
        low = np.array([issue.low for issue in scenario.issues.values()], dtype=float)
        high = np.array([issue.high for issue in scenario.issues.values()], dtype=float)
        return cls(
            cap=np.empty((n, A)),
            growth=np.empty((n, A)),
            low=low,
            high=high,
            pos=np.broadcast_to(0.5 * (low + high), (n, A, K)).copy(),
            sal=np.zeros((n, A, K)),
            ties=np.zeros((n, A, A)),
            amb=np.zeros((n, A, A)),
            sval=np.ones((n, A)),
            dep=np.zeros((n, A, A)),
            knots=[[(0, np.zeros(n))] for _ in range(A)],
        )

    def place(self, slot: Slot, x: np.ndarray, scenario: Scenario) -> None:
        """Put one slot's values where its target says."""
        head, *index = slot.target
        matrix = {"position": self.pos, "salience": self.sal, "ambition": self.amb, "dependence": self.dep}
        vector = {"capability": self.cap, "growth": self.growth, "strategic_value": self.sval}
        if head in matrix:
            matrix[head][:, index[0], index[1]] = x
        elif head in vector:
            vector[head][:, index[0]] = x
        elif head == "tie":
            i, j, symmetric = index
            self.ties[:, i, j] = x
            if symmetric:
                self.ties[:, j, i] = x
        elif head == "pressure":
            a, j = index
            if a not in self.seen_pressure:
                self.knots[a] = []
                self.seen_pressure.add(a)
            schedule = scenario.pressure[scenario.actor_names[a]]
            at = schedule[j].at if isinstance(schedule, list) and j is not None else 0
            self.knots[a].append((at, x))
        elif head == "coef":
            self.coef[index[0]] = x
        elif head == "event_hazard":
            self.hazards[index[0]] = x
        elif head == "effect":
            self.effects[(index[0], index[1])] = x
        elif head == "alliance":
            self.decision[(index[0], index[1])] = x


def _pressure_schedule(
    knots: list[list[tuple[int, np.ndarray]]], n: int, T: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each actor's pressure, piecewise linear between its knots and flat outside them: the knot
    values ``(n, A, J)``, and for every step the left knot ``(T, A)`` and the weight of the right."""
    A = len(knots)
    J = max(len(k) for k in knots) + 1
    pvals = np.zeros((n, A, J))
    pidx = np.zeros((T, A), dtype=np.intp)
    pw = np.zeros((T, A))
    steps = np.arange(T)
    for a, ks in enumerate(knots):
        times = np.array([t for t, _ in ks], dtype=float)
        for j, (_, v) in enumerate(ks):
            pvals[:, a, j] = v
        pvals[:, a, len(ks) :] = ks[-1][1][:, None]
        left = np.clip(np.searchsorted(times, steps, side="right") - 1, 0, len(ks) - 1)
        right = np.minimum(left + 1, len(ks) - 1)
        span = times[right] - times[left]
        w = np.where(span > 0, (steps - times[left]) / np.where(span > 0, span, 1.0), 0.0)
        pidx[:, a] = left
        pw[:, a] = np.clip(w, 0.0, 1.0)
    return pvals, pidx, pw


def _compile_events(
    scenario: Scenario, hazards: dict[int, np.ndarray], effects: dict[tuple[int, int], np.ndarray]
) -> list[CompiledEvent]:
    ai = {a: i for i, a in enumerate(scenario.actor_names)}
    ki = {k: i for i, k in enumerate(scenario.issue_names)}
    events = []
    for e, (name, ev) in enumerate(scenario.events.items()):
        compiled = []
        for f_index, f in enumerate(ev.effects):
            op = "shift" if f.shift is not None else "set"
            # the scenario's validation guarantees the names each kind needs
            if f.kind in ("tie", "dependence"):
                i, j = ai[str(f.from_)], ai[str(f.to)]
            elif f.kind in ("position", "salience"):
                i, j = ai[str(f.actor)], ki[str(f.issue)]
            elif f.kind == "ambition":
                i, j = ai[str(f.actor)], ai[str(f.target)]
            else:
                i, j = ai[str(f.actor)], -1
            compiled.append(CompiledEffect(f.kind, i, j, op, effects[(e, f_index)], f.symmetric))
        events.append(CompiledEvent(name, ev.at, hazards.get(e), ev.repeat, compiled))
    return events


def _compile_alliances(
    scenario: Scenario, decision: dict[tuple[int, str], np.ndarray]
) -> list[CompiledAlliance]:
    ai = {a: i for i, a in enumerate(scenario.actor_names)}
    return [
        CompiledAlliance(
            name,
            np.array([ai[m] for m in al.members], dtype=np.intp),
            *(decision[(k, key)] for key in ALLIANCE_KEYS),
        )
        for k, (name, al) in enumerate(scenario.alliances.items())
    ]
