"""Text rendering of a resolved scenario, each value with the claims that ground it.

One row per parameter: its dotted path, its value (a number or a distribution), the point value
and its provenance, i.e. the grounding claims, each as ``id ¶N speaker`` for the source article or
``id publisher`` for a public figure or the literature. Rows are grouped by section (actors,
positions, ties, ...) and cut to the terminal's width; the claims cited follow in full below the
table. A row whose claims give another value is marked ``≠``, a row no claim grounds ``(none)``;
a value a calibration narrowed shows the observations that moved it, then its prior's claims.
"""

from __future__ import annotations

import os
import re
import shutil
import textwrap
from pathlib import Path

from sim.spec.claims import Claim, claims_by_param, load_claims, matches
from sim.spec.parammap import slots
from sim.spec.scenario import load_scenario, point_value

SPEAKERS = {
    "article narrative": "article",
    "NATO's Secretary-General": "NATO SG",
    "the White House": "White House",
}


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


def short_value(v) -> str:
    """The compact form used in the table: ``U(lo, hi)``, ``T(lo, mode, hi)``, ``N(mean, sd)``."""
    if isinstance(v, (int, float)):
        return f"{float(v):g}"
    if v.dist == "uniform":
        return f"U({v.low:g}, {v.high:g})"
    if v.dist == "triangular":
        return f"T({v.low:g}, {v.mode:g}, {v.high:g})"
    if v.dist == "normal":
        return f"N({v.mean:g}, {v.sd:g})"
    return f"B({v.a:g}, {v.b:g}; {v.low:g}, {v.high:g})"


def cite(claim: Claim) -> str:
    """``id ¶N speaker`` for an article claim, ``id publisher`` for a public source."""
    if claim.paragraph is not None:
        return f"{claim.id} ¶{claim.paragraph} {SPEAKERS.get(claim.speaker, claim.speaker)}"
    return f"{claim.id} {claim.speaker}"


def _width() -> int:
    if os.environ.get("COLUMNS", "").isdigit():
        return max(60, int(os.environ["COLUMNS"]))
    return max(60, shutil.get_terminal_size((120, 24)).columns)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Text from a scenario made safe for a terminal: control characters (an escape sequence
    could recolour or retitle the terminal) are shown escaped."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def render(path: str | Path, point: bool = False, width: int | None = None) -> str:
    """The scenario at ``path`` as text: header, one row per parameter, then the claims cited."""
    width = width or _width()
    scenario = load_scenario(path, point=point)
    claims = load_claims(scenario.claims) if scenario.claims else []
    by_param = claims_by_param(claims)
    lines = [f"# {scenario.title or Path(path).stem}"]
    if scenario.description:
        lines += textwrap.wrap(" ".join(scenario.description.split()), width)
    run = scenario.run
    lines.append(f"run: {run.steps} steps of {run.dt:g} {run.unit}, {run.replicates} replicates, "
                 f"seed {run.seed}; bargaining every {scenario.mechanisms.bargain_every or '-'} steps")
    lines += textwrap.wrap(f"actors ({len(scenario.actors)}): {', '.join(scenario.actors)}", width,
                           subsequent_indent="    ")
    lines += textwrap.wrap(f"issues ({len(scenario.issues)}): " + ", ".join(
        f"{k} [{i.low:g}, {i.high:g}]" for k, i in scenario.issues.items()), width,
        subsequent_indent="    ")
    for name, al in scenario.alliances.items():
        lines.append(f"alliance {name}: {' + '.join(al.members)}"
                     + ("  (focal)" if name == scenario.focal_alliance else ""))
    for name, ev in scenario.events.items():
        when = f"at step {ev.at}" if ev.at is not None else f"hazard {describe_value(ev.hazard)}"
        lines.append(_cut(f"event {name} ({when}): {ev.label}", width))
    lines.append(f"claims: {os.path.relpath(scenario.claims) if scenario.claims else '(none)'}")
    lines.append("")

    rows = []
    cited: list[Claim] = []
    for slot in slots(scenario):
        p, v = slot.path, slot.value
        found = by_param.get(p, [])
        posterior = getattr(v, "claim", None) or ""
        if not found:
            prov = posterior if posterior.startswith("posterior given") else "(none)"
        else:
            good = [c for c in found if any(g.param == p and matches(g, v) for g in c.grounds)]
            prov = "; ".join(cite(c) for c in (good or found))
            if not good and posterior.startswith("posterior given"):
                # a calibration narrowed it (alliance-sim calibrate): the claims give the prior
                prov = f"{posterior}; prior: {prov}"
            elif not good:
                prov = "≠ " + prov
            for c in found:
                if c not in cited:
                    cited.append(c)
        rows.append((p, short_value(v), point_value(v), prov))
    pw = max((len(r[0]) for r in rows), default=10)
    vw = max((len(r[1]) for r in rows), default=5)
    head = f"{'parameter':<{pw}}  {'value':<{vw}}  {'point':>8}  "
    lines.append(head + "provenance (claim ¶ speaker)")
    room = max(width - len(head), 20)
    section = None
    for p, text, pt, prov in rows:
        top = p.split(".", 1)[0]
        if top != section:
            if section is not None:
                lines.append("")
            section = top
        lines.append(f"{p:<{pw}}  {text:<{vw}}  {pt:>8.3g}  {_cut(prov, room)}")

    if cited:
        lines += ["", "claims cited"]
        order = {c.id: n for n, c in enumerate(claims)}
        for c in sorted(cited, key=lambda c: order.get(c.id, 0)):
            where = f"¶{c.paragraph}, {c.speaker}" if c.paragraph is not None else \
                f"{c.speaker}: {c.source}"
            lines += textwrap.wrap(f"{c.id} ({where}) {' '.join(c.paraphrase.split())}", width,
                                   subsequent_indent="    ")
    return printable("\n".join(lines))
