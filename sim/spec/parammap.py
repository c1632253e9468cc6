"""The parameter map: one walk over a scenario that yields every numeric slot once.

A *slot* is one number of a scenario that lands in the model's arrays: an actor's capability, a
position, a tie, a coefficient, an event's hazard, an alliance's threshold... Each slot has

- ``path``: its dotted name (``positions.China.taiwan``), used in result columns (``param:<path>``),
  claims, designs and reports;
- ``value``: the plain number or the distribution the scenario gives it;
- ``kind``: what sort of number it is (``capability``, ``position``, ``tie``, ``coefficient`` ...);
- ``bounds``: the interval every value of the slot must lie in, read from the pydantic field that
  validates it (a position's from its issue's scale), so that sampling, designs and validation
  agree by construction;
- ``target``: where it lands in :class:`sim.spec.params.Params`, as the array's name followed by
  indices (``("position", i, k)``);
- ``loc``: where it is written in the scenario's data (:meth:`Scenario.to_data`, the keys and
  indices down to the number: ``("ties", 3, "value")``), which is where a value set from the
  command line goes (:mod:`sim.spec.set_values`) and where validation reports it.

:func:`slots` walks in the scenario's sampling order; compiling (:func:`sim.spec.params.compile_params`),
sampling, overriding a design's values (:func:`sim.spec.params.assemble`), ``show``, the claims checks
and the memory budget all read this one walk.
"""

from __future__ import annotations

import functools
import typing
from collections.abc import Iterator
from dataclasses import dataclass

from pydantic import BaseModel

from sim.spec.schema import (
    Alliance,
    Effect,
    Event,
    Measurement,
    Mechanisms,
    PressurePoint,
    Scenario,
    Tie,
)
from sim.spec.values import Bounded, Distribution, Value
from sim.vocabulary import ALLIANCE_KEYS, MECHANISMS


@dataclass(frozen=True)
class Slot:
    """One numeric slot of a scenario (see the module docstring)."""

    path: str
    value: Value
    kind: str
    bounds: tuple[float, float]
    target: tuple
    loc: tuple = ()

    @property
    def uncertain(self) -> bool:
        """Whether the scenario gives a distribution (drawn once per replicate) rather than a number."""
        return not isinstance(self.value, (int, float))


def _bounds_in(annotation) -> tuple[float, float] | None:
    """The ``Bounded(lo, hi)`` interval inside a (possibly nested) type annotation."""
    for meta in getattr(annotation, "__metadata__", ()):
        if isinstance(meta, Bounded):
            return float(meta.lo), float(meta.hi)
    for arg in typing.get_args(annotation):
        found = _bounds_in(arg)
        if found is not None:
            return found
    return None


@functools.cache
def field_bounds(model: type[BaseModel], name: str) -> tuple[float, float]:
    """The interval the pydantic field ``model.name`` admits for its numbers.

    Raises ``LookupError`` for a field that carries no ``Bounded`` annotation (a programming error:
    every numeric slot of a scenario is bounded).
    """
    info = model.model_fields[name]
    found = _bounds_in(info.annotation)
    if found is None:
        for meta in info.metadata:
            if isinstance(meta, Bounded):
                found = float(meta.lo), float(meta.hi)
    if found is None:
        raise LookupError(f"{model.__name__}.{name} has no bounds")
    return found


def _actor_bounds(name: str) -> tuple[float, float]:
    from sim.spec.schema import Actor

    return field_bounds(Actor, name)


def _intersect(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    return max(a[0], b[0]), min(a[1], b[1])


def slots(scenario: Scenario) -> Iterator[Slot]:
    """Every numeric slot of ``scenario`` once, in sampling order.

    The order is the order uncertain values are drawn in (so it fixes which random numbers each
    replicate's values come from): actors, positions, saliences, the tie matrix, ties, spheres,
    strategic values, dependences, pressure, mechanism coefficients, events, alliances, and last
    the measurement models of quantitative series (``measurements.NAME.a``, ``.b``: after every
    value the dynamics read, so adding a measurement leaves every other draw as it was).
    """
    ai = {a: i for i, a in enumerate(scenario.actor_names)}
    ki = {k: i for i, k in enumerate(scenario.issue_names)}
    yield from _actor_slots(scenario, ai, ki)
    yield from _tie_slots(scenario, ai)
    yield from _relation_slots(scenario, ai)
    yield from _pressure_slots(scenario, ai)
    for c in MECHANISMS:
        yield Slot(
            f"mechanisms.{c}",
            getattr(scenario.mechanisms, c),
            "coefficient",
            field_bounds(Mechanisms, c),
            ("coef", c),
            ("mechanisms", c),
        )
    yield from _event_slots(scenario)
    yield from _alliance_slots(scenario)


def _actor_slots(scenario: Scenario, ai: dict[str, int], ki: dict[str, int]) -> Iterator[Slot]:
    """Capabilities and growth, then positions (bounded by each issue's scale), then saliences."""
    cap_b, growth_b = _actor_bounds("capability"), _actor_bounds("growth")
    for a, spec in scenario.actors.items():
        yield Slot(
            f"actors.{a}.capability",
            spec.capability,
            "capability",
            cap_b,
            ("capability", ai[a]),
            ("actors", a, "capability"),
        )
        yield Slot(
            f"actors.{a}.growth", spec.growth, "growth", growth_b, ("growth", ai[a]), ("actors", a, "growth")
        )
    position_b = field_bounds(Scenario, "positions")
    for a, per in scenario.positions.items():
        for k, v in per.items():
            issue = scenario.issues[k]
            b = _intersect(position_b, (float(issue.low), float(issue.high)))  # the issue's scale
            yield Slot(
                f"positions.{a}.{k}", v, "position", b, ("position", ai[a], ki[k]), ("positions", a, k)
            )
    salience_b = field_bounds(Scenario, "salience")
    for a, per in scenario.salience.items():
        for k, v in per.items():
            yield Slot(
                f"salience.{a}.{k}", v, "salience", salience_b, ("salience", ai[a], ki[k]), ("salience", a, k)
            )


def _tie_slots(scenario: Scenario, ai: dict[str, int]) -> Iterator[Slot]:
    """The tie matrix's off-diagonal entries, then the ``[[ties]]`` in the file's order."""
    if scenario.tie_matrix is not None:
        actors = scenario.actor_names
        matrix_b = field_bounds(Scenario, "tie_matrix")
        for i, row in enumerate(scenario.tie_matrix):
            for j, v in enumerate(row):
                if i != j:
                    yield Slot(
                        f"tie_matrix.{actors[i]}.{actors[j]}",
                        v,
                        "tie",
                        matrix_b,
                        ("tie", i, j, False),
                        ("tie_matrix", i, j),
                    )
    tie_b = field_bounds(Tie, "value")
    for n, t in enumerate(scenario.ties):
        yield Slot(
            f"ties.{n}.{t.from_}.{t.to}",
            t.value,
            "tie",
            tie_b,
            ("tie", ai[t.from_], ai[t.to], t.symmetric),
            ("ties", n, "value"),
        )


def _relation_slots(scenario: Scenario, ai: dict[str, int]) -> Iterator[Slot]:
    """Spheres (ambitions), strategic values and dependences."""
    sphere_b = field_bounds(Scenario, "spheres")
    for a, per in scenario.spheres.items():
        for m, v in per.items():
            yield Slot(
                f"spheres.{a}.{m}", v, "ambition", sphere_b, ("ambition", ai[a], ai[m]), ("spheres", a, m)
            )
    value_b = field_bounds(Scenario, "strategic_value")
    for m, v in scenario.strategic_value.items():
        yield Slot(
            f"strategic_value.{m}",
            v,
            "strategic_value",
            value_b,
            ("strategic_value", ai[m]),
            ("strategic_value", m),
        )
    dep_b = field_bounds(Scenario, "dependence")
    for a, per in scenario.dependence.items():
        for m, v in per.items():
            yield Slot(
                f"dependence.{a}.{m}",
                v,
                "dependence",
                dep_b,
                ("dependence", ai[a], ai[m]),
                ("dependence", a, m),
            )


def _pressure_slots(scenario: Scenario, ai: dict[str, int]) -> Iterator[Slot]:
    """Each actor's pressure, in actor order: a flat value, or one slot per knot of a schedule."""
    pressure_b = field_bounds(PressurePoint, "value")
    for a in scenario.actor_names:
        sched = scenario.pressure.get(a)
        if sched is None:
            continue
        if isinstance(sched, list):
            for j, p in enumerate(sched):
                yield Slot(
                    f"pressure.{a}.{p.at}",
                    p.value,
                    "pressure",
                    pressure_b,
                    ("pressure", ai[a], j),
                    ("pressure", a, j, "value"),
                )
        else:
            yield Slot(
                f"pressure.{a}", sched, "pressure", pressure_b, ("pressure", ai[a], None), ("pressure", a)
            )


def _event_slots(scenario: Scenario) -> Iterator[Slot]:
    """Each event's hazard (stochastic events), then each effect's shift or set."""
    hazard_b = field_bounds(Event, "hazard")
    for e, (name, ev) in enumerate(scenario.events.items()):
        if ev.hazard is not None:
            yield Slot(
                f"events.{name}.hazard",
                ev.hazard,
                "hazard",
                hazard_b,
                ("event_hazard", e),
                ("events", name, "hazard"),
            )
        for f_index, f in enumerate(ev.effects):
            op, amount = ("shift", f.shift) if f.shift is not None else ("set", f.set)
            yield Slot(
                f"events.{name}.effects.{f_index}.{op}",
                typing.cast(Value, amount),
                "effect",
                field_bounds(Effect, op),
                ("effect", e, f_index),
                ("events", name, "effects", f_index, op),
            )


# the kind of each alliance decision parameter
_ALLIANCE_KINDS = {
    "theta_stay": "threshold",
    "theta_trust": "threshold",
    "h0": "hazard",
    "beta": "coefficient",
    "power_shift": "coefficient",
    "betrayal_shock": "shock",
    "reputation": "shock",
}


def _alliance_slots(scenario: Scenario) -> Iterator[Slot]:
    """Each alliance's decision rule, parameter by parameter."""
    for a_index, (name, al) in enumerate(scenario.alliances.items()):
        for k in ALLIANCE_KEYS:
            yield Slot(
                f"alliances.{name}.{k}",
                getattr(al, k),
                _ALLIANCE_KINDS[k],
                field_bounds(Alliance, k),
                ("alliance", a_index, k),
                ("alliances", name, k),
            )
    for name, gauge in scenario.measurements.items():
        for k in ("a", "b"):
            yield Slot(
                f"measurements.{name}.{k}",
                getattr(gauge, k),
                "measurement",
                field_bounds(Measurement, k),
                ("measurement", name, k),
            )


def slot_map(scenario: Scenario) -> dict[str, Slot]:
    """The slots of ``scenario`` by path."""
    return {s.path: s for s in slots(scenario)}


def uncertain_slots(scenario: Scenario) -> list[Slot]:
    """The slots whose value is a distribution (what sensitivity and calibration vary)."""
    return [s for s in slots(scenario) if s.uncertain]


def clip_bounds(slot: Slot) -> tuple[float, float]:
    """The interval a draw of ``slot`` is clipped to: its field's bounds, narrowed by a normal's own
    ``low``/``high`` when it gives them (:meth:`sim.spec.values.Distribution.within`)."""
    if isinstance(slot.value, Distribution):
        return slot.value.within(slot.bounds)
    return slot.bounds
