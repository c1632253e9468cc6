"""Text rendering of a resolved scenario, each value with the claims that ground it."""

from __future__ import annotations

from pathlib import Path

from .claims import claims_by_param, load_claims
from .params import iter_values
from .scenario import load_scenario, point_value


def describe_value(v) -> str:
    """A number, or a distribution in a short form with its point value."""
    if isinstance(v, (int, float)):
        return f"{float(v):g}"
    d = v.dist
    if d == "uniform":
        return f"uniform({v.low:g}, {v.high:g})"
    if d == "triangular":
        return f"triangular({v.low:g}, {v.mode:g}, {v.high:g})"
    if d == "normal":
        return f"normal({v.mean:g}, sd {v.sd:g})"
    return f"beta({v.a:g}, {v.b:g}) on [{v.low:g}, {v.high:g}]"


def render(path: str | Path, point: bool = False) -> str:
    scenario = load_scenario(path, point=point)
    by_param = claims_by_param(load_claims(scenario.claims)) if scenario.claims else {}
    lines = [f"# {scenario.title or Path(path).stem}"]
    if scenario.description:
        lines.append(scenario.description.strip())
    run = scenario.run
    lines.append(f"run: {run.steps} steps of {run.dt:g} {run.unit}, {run.replicates} replicates, "
                 f"seed {run.seed}; bargaining every {scenario.mechanisms.bargain_every or '-'} steps")
    lines.append(f"actors ({len(scenario.actors)}): {', '.join(scenario.actors)}")
    lines.append(f"issues ({len(scenario.issues)}): " + ", ".join(
        f"{k} [{i.low:g}, {i.high:g}]" for k, i in scenario.issues.items()))
    for name, al in scenario.alliances.items():
        lines.append(f"alliance {name}: {' + '.join(al.members)}"
                     + ("  (focal)" if name == scenario.focal_alliance else ""))
    for name, ev in scenario.events.items():
        when = f"at step {ev.at}" if ev.at is not None else f"hazard {describe_value(ev.hazard)}"
        lines.append(f"event {name} ({when}): {ev.label}")
    lines.append("")
    rows = [(p, describe_value(v), point_value(v), by_param.get(p, [])) for p, v in iter_values(scenario)]
    width = max((len(r[0]) for r in rows), default=10)
    vwidth = max((len(r[1]) for r in rows), default=5)
    lines.append(f"{'parameter':<{width}}  {'value':<{vwidth}}  {'point':>8}  provenance")
    for p, text, pt, claims in rows:
        prov = "; ".join(f"{c.id} {c.cite} ({c.speaker})" for c in claims) or "-"
        lines.append(f"{p:<{width}}  {text:<{vwidth}}  {pt:>8.3g}  {prov}")
    return "\n".join(lines)
