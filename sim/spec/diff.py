"""What differs between two scenarios: every parameter whose value differs, and the structure.

Parameters are compared by their path in the parameter map (:func:`sim.spec.parammap.slots`):
a value present in one scenario only, or given differently (another number, another distribution),
is a difference. Structure compared alongside: actors, issues, events (and their timing), alliance
members, the focal alliance and the run settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.spec.parammap import slots
from sim.spec.scenario import Scenario


@dataclass(frozen=True)
class ParameterDifference:
    """One parameter path whose value differs (``None`` where a scenario lacks it)."""

    path: str
    a: object
    b: object


def _same(x, y) -> bool:
    if isinstance(x, (int, float)) and isinstance(y, (int, float)):
        return float(x) == float(y)
    if isinstance(x, (int, float)) or isinstance(y, (int, float)):
        return False
    return x.model_dump() == y.model_dump()


def parameter_differences(a: Scenario, b: Scenario) -> list[ParameterDifference]:
    """Every parameter path whose value differs between ``a`` and ``b``, in ``a``'s order then the
    paths only ``b`` has."""
    va = {s.path: s.value for s in slots(a)}
    vb = {s.path: s.value for s in slots(b)}
    out = [ParameterDifference(p, v, vb.get(p)) for p, v in va.items() if p not in vb or not _same(v, vb[p])]
    out += [ParameterDifference(p, None, v) for p, v in vb.items() if p not in va]
    return out


def structure_differences(a: Scenario, b: Scenario) -> list[str]:
    """Differences of structure, one sentence each (empty when the two have the same shape)."""
    notes = []

    def names(label, x, y):
        only_a, only_b = [n for n in x if n not in y], [n for n in y if n not in x]
        if only_a:
            notes.append(f"{label} only in A: {', '.join(only_a)}")
        if only_b:
            notes.append(f"{label} only in B: {', '.join(only_b)}")

    names("actors", list(a.actors), list(b.actors))
    names("issues", list(a.issues), list(b.issues))
    names("events", list(a.events), list(b.events))
    names("alliances", list(a.alliances), list(b.alliances))
    for name in a.events.keys() & b.events.keys():
        ea, eb = a.events[name], b.events[name]
        if (ea.at, ea.repeat) != (eb.at, eb.repeat) or (ea.hazard is None) != (eb.hazard is None):
            notes.append(
                f"event {name}: timing differs (A: at {ea.at}, repeat {ea.repeat}; "
                f"B: at {eb.at}, repeat {eb.repeat})"
            )
        if len(ea.effects) != len(eb.effects) or any(
            fa.model_dump(exclude={"shift", "set"}) != fb.model_dump(exclude={"shift", "set"})
            for fa, fb in zip(ea.effects, eb.effects, strict=False)
        ):
            notes.append(f"event {name}: effects act on different targets")
    for name in a.alliances.keys() & b.alliances.keys():
        if a.alliances[name].members != b.alliances[name].members:
            notes.append(
                f"alliance {name}: members {', '.join(a.alliances[name].members)} in A, "
                f"{', '.join(b.alliances[name].members)} in B"
            )
    if a.focal_alliance != b.focal_alliance:
        notes.append(f"focal alliance: {a.focal_alliance} in A, {b.focal_alliance} in B")
    ra, rb = a.run.model_dump(), b.run.model_dump()
    for key in ra:
        if ra[key] != rb[key]:
            notes.append(f"run.{key}: {ra[key]} in A, {rb[key]} in B")
    return notes
