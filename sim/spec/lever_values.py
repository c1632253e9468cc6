"""Levers: what an actor can choose, applied to a chunk's arrays before the first step.

A lever (``[levers.NAME]`` in a scenario, :class:`~sim.spec.scenario.Lever`) has one value per
replicate row, under the path ``levers.NAME``; each of its effects adds ``scale * value`` to its
target or sets the target to it (:class:`~sim.spec.scenario.LeverEffect`). Applied values are
clipped to the bounds the kernel keeps the target in (ties in [-1, 1], ambitions and saliences in
[0, 1], positions on the issue's scale, growth in [-0.5, 0.5], the rest non-negative).

Levers are chosen, never sampled: policies (points of lever values) are the analyst's, and the
uncertain values of the scenario are what varies between worlds (Lempert, Popper & Bankes 2003).

References
----------
Lempert, R. J., Popper, S. W. & Bankes, S. C. (2003). Shaping the Next One Hundred Years: New
Methods for Quantitative, Long-Term Policy Analysis. RAND, MR-1626.
"""

from __future__ import annotations

import numpy as np

from sim.spec.params import Params
from sim.spec.scenario import Scenario
from sim.spec.schema import Lever

LEVER_PREFIX = "levers."


def lever_path(name: str) -> str:
    """The design-value path of a lever: ``levers.NAME``."""
    return LEVER_PREFIX + name


def status_quo(scenario: Scenario) -> dict[str, float]:
    """Each lever's status-quo value by lever name (the scenario as written)."""
    return {name: lever.status_quo_value for name, lever in scenario.levers.items()}


def option_name(lever: Lever, value: float) -> str | None:
    """The name of the option of an options lever whose value is ``value`` (None for a ranged
    lever or a value no option has)."""
    if lever.options is None:
        return None
    for name, v in lever.options.items():
        if abs(v - float(value)) <= 1e-9 * max(1.0, abs(v)):
            return name
    return None


def snap(lever: Lever, x: np.ndarray) -> np.ndarray:
    """Values in [low, high] (or anywhere) made admissible: rounded for an integer lever, the
    nearest option's value for an options lever, clipped to the range otherwise."""
    x = np.asarray(x, dtype=float)
    if lever.options is not None:
        values = np.array(sorted(set(lever.options.values())))
        index = np.abs(x[..., None] - values).argmin(axis=-1)
        return values[index]
    x = np.clip(x, *lever.bounds)
    return np.round(x) if lever.integer else x


def _apply(arr: np.ndarray, index: tuple, op: str, value: np.ndarray, lo: float, hi: float) -> None:
    where = (slice(None), *index)
    new = arr[where] + value if op == "shift" else value
    arr[where] = np.clip(new, lo, hi)


def apply_levers(params: Params, scenario: Scenario, values: dict[str, np.ndarray]) -> Params:
    """Apply the levers named in ``values`` (``levers.NAME`` -> ``(n,)``) to ``params`` in place.

    Levers not in ``values`` stay at their status quo, which leaves the scenario as written only
    when it is a shift of 0; any other status quo is applied too, so that a run with the levers at
    their status quo and a run without levers agree. Returns ``params``.
    """
    if not scenario.levers:
        return params
    actor_index = {a: i for i, a in enumerate(params.actors)}
    issue_index = {k: i for i, k in enumerate(params.issues)}
    event_index = {e.name: i for i, e in enumerate(params.events)}

    def actors(name: str | None) -> int:
        assert name is not None  # the scenario model requires it for the effect's kind
        return actor_index[name]

    def issues(name: str | None) -> int:
        assert name is not None
        return issue_index[name]

    n = params.n
    for name, lever in scenario.levers.items():
        v = values.get(lever_path(name))
        if v is None:
            if lever.status_quo_value == 0.0 and all(f.op == "shift" for f in lever.effects):
                continue
            v = np.full(n, lever.status_quo_value)
        v = np.asarray(v, dtype=float)
        for f in lever.effects:
            x = f.scale * v
            k = f.kind
            if k in ("tie", "dependence"):
                arr = params.ties if k == "tie" else params.dependence
                lo, hi = (-1.0, 1.0) if k == "tie" else (0.0, 1e6)
                pairs = [(f.from_, f.to)] + ([(f.to, f.from_)] if f.symmetric else [])
                for a, b in pairs:
                    _apply(arr, (actors(a), actors(b)), f.op, x, lo, hi)
            elif k == "position":
                j = issues(f.issue)
                _apply(params.position, (actors(f.actor), j), f.op, x, params.low[j], params.high[j])
            elif k == "salience":
                _apply(params.salience, (actors(f.actor), issues(f.issue)), f.op, x, 0.0, 1.0)
            elif k == "ambition":
                _apply(params.ambition, (actors(f.actor), actors(f.target)), f.op, x, 0.0, 1.0)
            elif k == "strategic_value":
                _apply(params.strategic_value, (actors(f.actor),), f.op, x, 0.0, 1e6)
            elif k == "growth":
                _apply(params.growth, (actors(f.actor),), f.op, x, -0.5, 0.5)
            elif k == "pressure":
                i = actors(f.actor)
                pv = params.pressure_values
                new = pv[:, i, :] + x[:, None] if f.op == "shift" else np.repeat(x[:, None], pv.shape[2], 1)
                pv[:, i, :] = np.clip(new, 0.0, 1e6)
            elif k == "hazard":
                assert f.event is not None
                ev = params.events[event_index[f.event]]
                assert ev.hazard is not None  # a lever may move stochastic events only
                new = ev.hazard + x if f.op == "shift" else x
                ev.hazard = np.clip(new, 0.0, 1e3)
            else:  # pragma: no cover - the scenario model admits no other kinds
                raise ValueError(k)
    return params


MAX_GRID = 1_000_000  # policies a full grid may hold


def lever_names(scenario: Scenario, owner: str | None = None) -> list[str]:
    """The scenario's levers, or only those ``owner`` controls."""
    return [n for n, lever in scenario.levers.items() if owner is None or lever.owner == owner]


def from_unit(lever: Lever, u: np.ndarray) -> np.ndarray:
    """Map u in [0, 1) onto a lever: evenly over the range (integers: each whole number an equal
    share), or onto the options in their written order."""
    if lever.options is not None:
        values = np.array(list(lever.options.values()))
        return values[np.minimum((u * len(values)).astype(int), len(values) - 1)]
    low, high = lever.bounds
    if lever.integer:
        k = int(high - low) + 1
        return low + np.minimum(np.floor(u * k), k - 1)
    return low + (high - low) * u


def latin_hypercube(
    scenario: Scenario, names: list[str], n: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """``n`` policies over the levers ``names`` by Latin hypercube sampling (McKay, Beckman &
    Conover 1979): each lever's range cut into ``n`` equal strata, one value in each, the strata
    paired at random across levers. Returns lever name -> ``(n,)`` values."""
    out = {}
    for name in names:
        u = (rng.permutation(n) + rng.random(n)) / n
        out[name] = from_unit(scenario.levers[name], u)
    return out


def grid(scenario: Scenario, names: list[str], k: int) -> dict[str, np.ndarray]:
    """Every combination of ``k`` evenly spaced values per ranged lever (its bounds included; an
    integer lever's whole numbers when it has at most ``k``) and of every option of an options
    lever. Returns lever name -> ``(k1 * k2 * ...,)`` values, the last lever varying fastest."""
    if k < 2:
        raise ValueError(f"expected at least 2 values per lever, got {k}")
    axes = []
    for name in names:
        lever = scenario.levers[name]
        if lever.options is not None:
            axes.append(np.array(list(lever.options.values())))
        elif lever.integer:
            axes.append(np.unique(np.round(np.linspace(*lever.bounds, k))))
        else:
            axes.append(np.linspace(*lever.bounds, k))
    size = int(np.prod([len(a) for a in axes])) if axes else 0
    if size > MAX_GRID:
        raise ValueError(
            f"expected a grid of at most {MAX_GRID:,} policies, got {size:,}; use fewer "
            f"values per lever or a Latin hypercube"
        )
    mesh = np.meshgrid(*axes, indexing="ij")
    return {name: m.ravel() for name, m in zip(names, mesh)}


def with_status_quo(scenario: Scenario, policies: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The status quo (every lever of the scenario at its status-quo value) as policy 0, then
    ``policies``, with levers they do not name held at their status quo."""
    sq = status_quo(scenario)
    n = len(next(iter(policies.values()))) if policies else 0
    return {
        name: np.concatenate([[sq[name]], policies.get(name, np.full(n, sq[name]))])
        for name in scenario.levers
    }
