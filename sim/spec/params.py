"""From a validated :class:`~sim.spec.scenario.Scenario` to arrays, one slice per replicate.

Every uncertain value is drawn once per replicate, in a fixed order (the order the scenario is read
below), from the generator passed in, so a chunk of replicates is fully determined by its seed.
The draws are kept in :attr:`Params.sampled` under the parameter's dotted path
(``actors.China.capability``), which is how they are recorded with each replicate.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.spec.scenario import BOUNDS, Normal, Scenario, point_value

EFFECT_KINDS = ("tie", "position", "salience", "ambition", "dependence", "pressure", "growth")


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
    name: str
    at: int | None
    hazard: np.ndarray | None  # (n,) per unit time
    repeat: bool
    effects: list[CompiledEffect]


@dataclass
class CompiledAlliance:
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
        return len(self.actors)

    @property
    def K(self) -> int:  # noqa: N802
        return len(self.issues)

    def take(self, rows) -> Params:
        """The replicates ``rows`` (an index array or slice) as a new Params."""

        def cut(a):
            return a[rows]

        return Params(
            actors=self.actors, issues=self.issues, n=len(np.arange(self.n)[rows]),
            steps=self.steps, dt=self.dt, bargain_every=self.bargain_every,
            capability=cut(self.capability), growth=cut(self.growth), position=cut(self.position),
            salience=cut(self.salience), low=self.low, high=self.high, ties=cut(self.ties),
            ambition=cut(self.ambition), strategic_value=cut(self.strategic_value),
            dependence=cut(self.dependence), pressure_values=cut(self.pressure_values),
            pressure_index=self.pressure_index, pressure_weight=self.pressure_weight,
            coef={k: cut(v) for k, v in self.coef.items()},
            events=[CompiledEvent(e.name, e.at, None if e.hazard is None else cut(e.hazard), e.repeat,
                                  [CompiledEffect(f.kind, f.i, f.j, f.op, cut(f.value), f.symmetric)
                                   for f in e.effects]) for e in self.events],
            alliances=[CompiledAlliance(a.name, a.members, *(cut(getattr(a, k)) for k in ALLIANCE_KEYS))
                       for a in self.alliances],
            sampled={k: cut(v) for k, v in self.sampled.items()},
        )


ALLIANCE_KEYS = ("theta_stay", "theta_trust", "h0", "beta", "power_shift", "betrayal_shock",
                 "reputation")
COEFFICIENTS = ("affinity", "balance", "threat", "pressure", "competition", "dependence", "noise")


class _Sampler:
    def __init__(self, n: int, rng: np.random.Generator):
        self.n = n
        self.rng = rng
        self.sampled: dict[str, np.ndarray] = {}

    def __call__(self, path: str, value, kind: str, bounds: tuple[float, float] | None = None
                 ) -> np.ndarray:
        if isinstance(value, (int, float)):
            return np.full(self.n, float(value))
        n, rng = self.n, self.rng
        if value.dist == "uniform":
            x = value.low + (value.high - value.low) * rng.random(n)
        elif value.dist == "triangular":
            if value.low == value.high:
                x = np.full(n, value.low)
            else:
                x = rng.triangular(value.low, value.mode, value.high, n)
        elif value.dist == "normal":
            x = value.mean + value.sd * rng.standard_normal(n)
        elif value.dist == "beta":
            x = value.low + (value.high - value.low) * rng.beta(value.a, value.b, n)
        else:  # pragma: no cover - the scenario model admits no other
            raise ValueError(value.dist)
        lo, hi = bounds or BOUNDS.get(kind, (-np.inf, np.inf))
        if isinstance(value, Normal):
            lo = lo if value.low is None else max(lo, value.low)
            hi = hi if value.high is None else min(hi, value.high)
        x = np.clip(x, lo, hi)
        self.sampled[path] = x
        return x


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
    rng = np.random.default_rng(rng)
    draw = _Sampler(n, rng)
    actors, issues = scenario.actor_names, scenario.issue_names
    ai = {a: i for i, a in enumerate(actors)}
    ki = {k: i for i, k in enumerate(issues)}
    A, K, T = len(actors), len(issues), scenario.run.steps

    cap = np.empty((n, A))
    growth = np.empty((n, A))
    for a, spec in scenario.actors.items():
        cap[:, ai[a]] = draw(f"actors.{a}.capability", spec.capability, "capability")
        growth[:, ai[a]] = draw(f"actors.{a}.growth", spec.growth, "growth")
    total = cap.sum(axis=1, keepdims=True)
    cap = np.divide(cap, total, out=np.full_like(cap, 1.0 / A), where=total > 0)

    low = np.array([scenario.issues[k].low for k in issues], dtype=float)
    high = np.array([scenario.issues[k].high for k in issues], dtype=float)
    pos = np.broadcast_to(0.5 * (low + high), (n, A, K)).copy()
    sal = np.zeros((n, A, K))
    for a, per in scenario.positions.items():
        for k, v in per.items():
            pos[:, ai[a], ki[k]] = draw(f"positions.{a}.{k}", v, "position",
                                        (low[ki[k]], high[ki[k]]))  # on the issue's scale
    for a, per in scenario.salience.items():
        for k, v in per.items():
            sal[:, ai[a], ki[k]] = draw(f"salience.{a}.{k}", v, "salience")

    ties = np.zeros((n, A, A))
    if scenario.tie_matrix is not None:
        for i, row in enumerate(scenario.tie_matrix):
            for j, v in enumerate(row):
                if i != j:
                    ties[:, i, j] = draw(f"tie_matrix.{actors[i]}.{actors[j]}", v, "tie")
    for t_index, t in enumerate(scenario.ties):
        x = draw(f"ties.{t_index}.{t.from_}.{t.to}", t.value, "tie")
        ties[:, ai[t.from_], ai[t.to]] = x
        if t.symmetric:
            ties[:, ai[t.to], ai[t.from_]] = x

    amb = np.zeros((n, A, A))
    for a, per in scenario.spheres.items():
        for m, v in per.items():
            amb[:, ai[a], ai[m]] = draw(f"spheres.{a}.{m}", v, "ambition")
    sval = np.ones((n, A))
    for m, v in scenario.strategic_value.items():
        sval[:, ai[m]] = draw(f"strategic_value.{m}", v, "strategic_value")
    dep = np.zeros((n, A, A))
    for a, per in scenario.dependence.items():
        for m, v in per.items():
            dep[:, ai[a], ai[m]] = draw(f"dependence.{a}.{m}", v, "dependence")

    # Pressure: piecewise linear between knots, flat outside them.
    knots: list[list[tuple[int, np.ndarray]]] = []
    for a in actors:
        sched = scenario.pressure.get(a, 0.0)
        if isinstance(sched, list):
            knots.append([(p.at, draw(f"pressure.{a}.{p.at}", p.value, "pressure")) for p in sched])
        else:
            knots.append([(0, draw(f"pressure.{a}", sched, "pressure"))])
    J = max(len(k) for k in knots) + 1
    pvals = np.zeros((n, A, J))
    pidx = np.zeros((T, A), dtype=np.intp)
    pw = np.zeros((T, A))
    steps = np.arange(T)
    for a, ks in enumerate(knots):
        times = np.array([t for t, _ in ks], dtype=float)
        for j, (_, v) in enumerate(ks):
            pvals[:, a, j] = v
        pvals[:, a, len(ks):] = ks[-1][1][:, None]
        left = np.clip(np.searchsorted(times, steps, side="right") - 1, 0, len(ks) - 1)
        right = np.minimum(left + 1, len(ks) - 1)
        span = times[right] - times[left]
        w = np.where(span > 0, (steps - times[left]) / np.where(span > 0, span, 1.0), 0.0)
        pidx[:, a] = left
        pw[:, a] = np.clip(w, 0.0, 1.0)

    coef = {c: draw(f"mechanisms.{c}", getattr(scenario.mechanisms, c), "coefficient")
            for c in COEFFICIENTS}

    events = []
    for name, ev in scenario.events.items():
        hazard = None if ev.hazard is None else draw(f"events.{name}.hazard", ev.hazard, "hazard")
        effects = []
        for e_index, f in enumerate(ev.effects):
            op = "shift" if f.shift is not None else "set"
            value = f.shift if f.shift is not None else f.set
            path = f"events.{name}.effects.{e_index}.{op}"
            x = draw(path, value, "effect")
            if f.kind in ("tie", "dependence"):
                i, j = ai[f.from_], ai[f.to]
            elif f.kind in ("position", "salience"):
                i, j = ai[f.actor], ki[f.issue]
            elif f.kind == "ambition":
                i, j = ai[f.actor], ai[f.target]
            else:
                i, j = ai[f.actor], -1
            effects.append(CompiledEffect(f.kind, i, j, op, x, f.symmetric))
        events.append(CompiledEvent(name, ev.at, hazard, ev.repeat, effects))

    alliances = []
    for name, al in scenario.alliances.items():
        members = np.array([ai[m] for m in al.members], dtype=np.intp)
        kinds = {"theta_stay": "threshold", "theta_trust": "threshold", "h0": "hazard",
                 "beta": "coefficient", "power_shift": "coefficient", "betrayal_shock": "shock",
                 "reputation": "shock"}
        values = [draw(f"alliances.{name}.{k}", getattr(al, k), kinds[k]) for k in ALLIANCE_KEYS]
        alliances.append(CompiledAlliance(name, members, *values))

    return Params(
        actors=actors, issues=issues, n=n, steps=T, dt=scenario.run.dt,
        bargain_every=scenario.mechanisms.bargain_every, capability=cap, growth=growth,
        position=pos, salience=sal, low=low, high=high, ties=ties, ambition=amb,
        strategic_value=sval, dependence=dep, pressure_values=pvals, pressure_index=pidx,
        pressure_weight=pw, coef=coef, events=events, alliances=alliances, sampled=draw.sampled,
    )


def point_params(scenario: Scenario) -> dict[str, float]:
    """Point values of every uncertain parameter, keyed like :attr:`Params.sampled`."""
    out = {}
    for path, value in iter_values(scenario):
        out[path] = point_value(value)
    return out


def iter_values(scenario: Scenario):
    """Every numeric parameter of a scenario as (dotted path, value), in sampling order."""
    for a, spec in scenario.actors.items():
        yield f"actors.{a}.capability", spec.capability
        yield f"actors.{a}.growth", spec.growth
    for a, per in scenario.positions.items():
        for k, v in per.items():
            yield f"positions.{a}.{k}", v
    for a, per in scenario.salience.items():
        for k, v in per.items():
            yield f"salience.{a}.{k}", v
    if scenario.tie_matrix is not None:
        actors = scenario.actor_names
        for i, row in enumerate(scenario.tie_matrix):
            for j, v in enumerate(row):
                if i != j:
                    yield f"tie_matrix.{actors[i]}.{actors[j]}", v
    for n, t in enumerate(scenario.ties):
        yield f"ties.{n}.{t.from_}.{t.to}", t.value
    for a, per in scenario.spheres.items():
        for m, v in per.items():
            yield f"spheres.{a}.{m}", v
    for m, v in scenario.strategic_value.items():
        yield f"strategic_value.{m}", v
    for a, per in scenario.dependence.items():
        for m, v in per.items():
            yield f"dependence.{a}.{m}", v
    for a in scenario.actor_names:
        sched = scenario.pressure.get(a)
        if sched is None:
            continue
        if isinstance(sched, list):
            for p in sched:
                yield f"pressure.{a}.{p.at}", p.value
        else:
            yield f"pressure.{a}", sched
    for c in COEFFICIENTS:
        yield f"mechanisms.{c}", getattr(scenario.mechanisms, c)
    for name, ev in scenario.events.items():
        if ev.hazard is not None:
            yield f"events.{name}.hazard", ev.hazard
        for e_index, f in enumerate(ev.effects):
            op = "shift" if f.shift is not None else "set"
            yield f"events.{name}.effects.{e_index}.{op}", f.shift if f.shift is not None else f.set
    for name, al in scenario.alliances.items():
        for k in ALLIANCE_KEYS:
            yield f"alliances.{name}.{k}", getattr(al, k)
