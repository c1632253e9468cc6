"""Text rendering of a resolved scenario, each value with the claims that ground it.

One row per parameter: its dotted path, whether this file changes it from the file it extends
(``+`` new, ``*`` changed), its value (a number or a distribution), the point value, its basis
(article claim, public figure or modelling assumption: :attr:`sim.spec.claims.Claim.kind`) and its
provenance, i.e. the grounding claims, each as ``id ¶N speaker`` for the source article or ``id
publisher`` for a public figure or the literature. Rows are grouped by section (actors, positions,
ties, ...) and cut to the terminal's width unless ``wide``; the claims cited follow in full below
the table. A row whose claims give another value is marked ``≠``, a row no claim grounds
``(none)``; a value a calibration narrowed shows the observations that moved it, then its prior's
claims. The header gives the scenario hash a run of it records, each event's effects with
their targets, and which of two ``[[ties]]`` entries for the same direction wins (the later one).
"""

from __future__ import annotations

import os
import shutil
import textwrap
from pathlib import Path

from sim.errors import printable as escaped
from sim.spec.claims import Claim, basis_of, claims_by_param, load_claims, matches
from sim.spec.parammap import slots
from sim.spec.scenario import ScenarioError, load_scenario, scenario_chain
from sim.spec.set_values import assignment_text
from sim.spec.values import point_value
from sim.vocabulary import BASIS_SHORT

SPEAKERS = {
    "article narrative": "article",
    "NATO's Secretary-General": "NATO SG",
    "the White House": "White House",
}


def describe_value(v) -> str:
    """A number, or a distribution as a reader sees it (``uniform(0.2, 0.4)``)."""
    return f"{float(v):g}" if isinstance(v, (int, float)) else str(v)


def short_value(v) -> str:
    """The compact form used in the table: ``U(lo, hi)``, ``T(lo, mode, hi)``, ``N(mean, sd)``."""
    return f"{float(v):g}" if isinstance(v, (int, float)) else v.short()


def cite(claim: Claim) -> str:
    """``id ¶N speaker`` for an article claim, ``id publisher`` for a public source."""
    if claim.paragraph is not None:
        return f"{claim.id} ¶{claim.paragraph} {SPEAKERS.get(claim.speaker, claim.speaker)}"
    return f"{claim.id} {claim.speaker}"


def _width() -> int:
    if os.environ.get("COLUMNS", "").isdigit():
        return max(60, int(os.environ["COLUMNS"]))
    return max(60, shutil.get_terminal_size((120, 24)).columns)


def printable(text: str) -> str:
    """Text from a scenario made safe for a terminal (:func:`sim.errors.printable`)."""
    return escaped(text)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def effect_target(effect) -> str:
    """What an event effect acts on, in words: ``tie China → Russia (both ways)``,
    ``position of China on taiwan``, ``ambition of Russia over Kazakhstan``, ``pressure on China``."""
    kind = effect.kind
    if kind in ("tie", "dependence"):
        arrow = "↔" if effect.symmetric else "→"
        both = " (both ways)" if effect.symmetric else ""
        return f"{kind} {effect.from_} {arrow} {effect.to}{both}"
    if kind in ("position", "salience"):
        return f"{kind} of {effect.actor} on {effect.issue}"
    if kind == "ambition":
        return f"ambition of {effect.actor} over {effect.target}"
    if kind == "pressure":
        return f"pressure on {effect.actor}"
    return f"growth of {effect.actor}"


def effect_text(effect) -> str:
    """An effect in words: ``shift tie China → Russia by U(-0.15, -0.05)``."""
    if effect.shift is not None:
        return f"shift {effect_target(effect)} by {short_value(effect.shift)}"
    return f"set {effect_target(effect)} to {short_value(effect.set)}"


def tie_overrides(scenario) -> dict[int, str]:
    """For each ``[[ties]]`` entry that shares a direction with another, which one wins.

    Entries are applied in order (a file's own after those of the file it extends), so a later
    entry for the same direction replaces an earlier one (a ``symmetric`` entry sets both
    directions). Returns ``{index: note}`` for every entry involved.
    """

    def directions(t) -> list[tuple[str, str]]:
        return [(t.from_, t.to)] + ([(t.to, t.from_)] if t.symmetric else [])

    last: dict[tuple[str, str], int] = {}
    for n, t in enumerate(scenario.ties):
        for d in directions(t):
            last[d] = n
    notes: dict[int, str] = {}
    for n, t in enumerate(scenario.ties):
        lost = [(d, last[d]) for d in directions(t) if last[d] != n]
        won = {d for d in directions(t) if last[d] == n}
        beaten = [m for m, u in enumerate(scenario.ties[:n]) if won & set(directions(u))]
        if lost:
            notes[n] = "; ".join(f"{a}→{b} replaced by ties.{m}" for (a, b), m in lost)
        elif beaten:
            notes[n] = "wins over " + ", ".join(f"ties.{m}" for m in beaten)
    return notes


def bargaining_text(every: int) -> str:
    """Whether positions move by expected-utility bargaining, and how to turn it on when off."""
    if every:
        return (
            f"bargaining: on, one round of expected-utility bargaining over the positions every {every} "
            "steps (Scholz, Calbert & Smith 2011)"
        )
    return (
        "bargaining: off (mechanisms.bargain_every = 0, as in every shipped scenario); set "
        "bargain_every = N under [mechanisms] to move the positions by one round of expected-utility "
        "bargaining every N steps"
    )


def parent_values(path: str | Path, point: bool = False) -> tuple[Path | None, dict]:
    """The file ``path`` extends and its values by parameter path (``(None, {})`` for a base)."""
    chain = scenario_chain(path)
    if len(chain) < 2:
        return None, {}
    try:
        parent = load_scenario(chain[-2], point=point)
    except ScenarioError:  # a parent that is not a whole scenario on its own
        return chain[-2], {}
    return chain[-2], {sl.path: sl.value for sl in slots(parent)}


def render(
    path: str | Path,
    point: bool = False,
    width: int | None = None,
    wide: bool = False,
    replicates: int | None = None,
    steps: int | None = None,
    seed: int | None = None,
    values: dict | None = None,
) -> str:
    """The scenario at ``path`` as text: header, one row per parameter, then the claims cited.

    Parameters
    ----------
    path
        The scenario file.
    point
        Show point values (as ``run --point`` uses them).
    width
        Cut rows to this many characters (default: the terminal's width), unless ``wide``.
    wide
        Never cut: every label and provenance is shown whole.
    replicates, steps, seed
        Run settings as ``run`` would override them: the printed scenario hash is then the one the
        run's manifest and report record.
    values
        Parameter values set on top of the file (``--set``): shown in place, marked ``=``.
    """
    width = 10**6 if wide else (width or _width())
    scenario = load_scenario(path, point=point, values=values)
    scenario = scenario.with_run(replicates=replicates, steps=steps, seed=seed)
    parent, before = parent_values(path, point)
    return _scenario_text(scenario, path, parent, before, width)


def _scenario_text(
    scenario, path, parent: Path | None, before: dict, width: int, head=(), claims=None
) -> str:
    """Header (after ``head``), structure, the parameter table and the claims cited (``claims``:
    default, those of the scenario's claims file)."""
    fit = _Fit()
    if claims is None:
        claims = load_claims(scenario.claims) if scenario.claims else []
    lines = _header(scenario, path, parent, width)
    lines[1:1] = list(head)
    lines += _structure(scenario, width, fit)
    rows, cited = _parameter_rows(scenario, claims_by_param(claims), parent, before)
    lines += _table(rows, width, fit)
    if parent is not None and before:
        gone = [p for p in before if p not in {sl.path: sl.value for sl in slots(scenario)}]
        if gone:
            lines += ["", "values of the parent this file removes: " + ", ".join(gone)]
    if cited:
        lines += ["", "claims cited"]
        order = {c.id: n for n, c in enumerate(claims)}
        for c in sorted(cited, key=lambda c: order.get(c.id, 0)):
            where = f"¶{c.paragraph}, {c.speaker}" if c.paragraph is not None else f"{c.speaker}: {c.source}"
            lines += textwrap.wrap(
                f"{c.id} [{BASIS_SHORT[c.kind]}] ({where}) {' '.join(c.paraphrase.split())}",
                width,
                subsequent_indent="    ",
            )
    if fit.cut:
        lines += ["", "(… marks text cut to the terminal's width: --wide shows every row whole)"]
    return printable("\n".join(lines))


def render_results(folder: str | Path, width: int | None = None, wide: bool = False) -> str:
    """A result folder as text: what it is, its settings, the code that wrote it (version, the
    hash of the ``sim/`` sources, the git commit and whether the tree had changes), the library
    versions, then the scenario it ran as :func:`render` shows a file (values set on the command
    line marked ``=``). The folder is read through the integrity layer: its seal and checksums
    are checked first."""
    from sim.run.folders import KIND_WORDS, checked_manifest
    from sim.run.provenance import describe
    from sim.spec.scenario import stored_scenario

    width = 10**6 if wide else (width or _width())
    found = checked_manifest(Path(folder))
    m = found.manifest
    if found.scenario is None:
        raise ScenarioError(found.manifest_file, "stores no scenario", path="scenario")
    scenario = stored_scenario(found.scenario)
    head = [f"result folder: {folder} ({KIND_WORDS[found.kind]}; seal and checksums checked)"]
    recorded = m.get("settings")
    settings: dict = recorded if isinstance(recorded, dict) else m
    shown = {
        k: v
        for k, v in settings.items()
        if isinstance(v, (int, float, str, bool)) and k not in ("format", "name", "status")
    }
    if shown:
        head += textwrap.wrap(
            "settings: " + ", ".join(f"{k} {v}" for k, v in shown.items()), width, subsequent_indent="    "
        )
    head += [f"{what}: {value}" for what, value in describe(m.get("code"))]
    versions = m.get("versions")
    if isinstance(versions, dict):
        head += textwrap.wrap(
            "versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()), width, subsequent_indent="    "
        )
    return _scenario_text(scenario, folder, None, {}, width, head, claims=_claims_or_none(scenario.claims))


class _Fit:
    """Cuts a text to a width, remembering whether it cut anything."""

    def __init__(self):
        self.cut = False

    def __call__(self, text: str, room: int) -> str:
        if len(text) > room:
            self.cut = True
        return _cut(text, room)


def _claims_or_none(path) -> list[Claim]:
    """The claims of a scenario's claims file; none when it has none or it is not here (a result
    folder written in another checkout)."""
    if not path:
        return []
    try:
        return load_claims(path)
    except (OSError, ScenarioError):
        return []


def _header(scenario, path: str | Path, parent: Path | None, width: int) -> list[str]:
    """Title, description, run settings and hash, the parent, actors, issues and alliances."""
    lines = [f"# {scenario.title or Path(path).stem}"]
    if scenario.description:
        lines += textwrap.wrap(" ".join(scenario.description.split()), width)
    run = scenario.run
    lines.append(
        f"run: {run.steps} steps of {run.dt:g} {run.unit}, {run.replicates} replicates, seed {run.seed}"
    )
    lines += textwrap.wrap(
        bargaining_text(scenario.mechanisms.bargain_every), width, subsequent_indent="    "
    )
    lines.append(
        f"scenario hash: {scenario.digest()}  (what a run with these settings records; "
        "-n/-t/--seed/--point change it as they change the run)"
    )
    if parent is not None:
        lines.append(
            f"extends: {os.path.relpath(parent.resolve())}  (+ marks a value this file "
            "adds, * one it changes)"
        )
    if scenario.overrides:
        lines += textwrap.wrap(
            "set on the command line (= marks them in the table): "
            + ", ".join(f"--set {assignment_text(p, v)}" for p, v in scenario.overrides.items()),
            width,
            subsequent_indent="    ",
        )
    lines += textwrap.wrap(
        f"actors ({len(scenario.actors)}): {', '.join(scenario.actors)}", width, subsequent_indent="    "
    )
    lines += textwrap.wrap(
        f"issues ({len(scenario.issues)}): "
        + ", ".join(f"{k} [{i.low:g}, {i.high:g}]" for k, i in scenario.issues.items()),
        width,
        subsequent_indent="    ",
    )
    for name, al in scenario.alliances.items():
        lines.append(
            f"alliance {name}: {' + '.join(al.members)}"
            + ("  (focal)" if name == scenario.focal_alliance else "")
        )
    return lines


def _structure(scenario, width: int, fit: _Fit) -> list[str]:
    """Events with their effects, levers, metrics, correlations, the claims file and the bases."""
    lines = []
    for name, ev in scenario.events.items():
        when = f"at step {ev.at}" if ev.at is not None else f"hazard {describe_value(ev.hazard)}"
        if ev.repeat:
            when += ", repeats"
        lines.append(fit(f"event {name} ({when}): {ev.label}", width))
        for n, f in enumerate(ev.effects):
            lines.append(fit(f"    effect {n}: {effect_text(f)}", width))
    for name, lever in scenario.levers.items():
        choice = (
            ", ".join(f"{k}={v:g}" for k, v in lever.options.items())
            if lever.options is not None
            else f"[{lever.low:g}, {lever.high:g}]" + (" whole numbers" if lever.integer else "")
        )
        lines.append(
            fit(
                f"lever {name} ({lever.owner}; {choice}; status quo {lever.status_quo_value:g}; "
                f"claim {lever.claim}): {lever.label}",
                width,
            )
        )
    for name, m in scenario.metrics.items():
        what = m.alliance or (f"{m.from_} -> {m.to}" if m.kind == "tie" else ", ".join(m.levers or []))
        bound = "" if m.threshold is None else f", threshold {m.threshold:g}"
        lines.append(
            fit(
                f"metric {name}: {m.direction} {m.kind} of {what}{bound}"
                + (f" ({m.owner})" if m.owner else ""),
                width,
            )
        )
    for key, rho in scenario.correlations.items():
        lines.append(fit(f"rank correlation {key}: {rho:g}", width))
    lines.append(f"claims: {os.path.relpath(scenario.claims) if scenario.claims else '(none)'}")
    lines.append(
        "basis: article = a claim of the source article (¶N); figure = a public figure; "
        "assumption = a modelling assumption (a coefficient, a range or a storyline)"
    )
    lines.append("")
    return lines


def _parameter_rows(
    scenario, by_param: dict, parent: Path | None, before: dict
) -> tuple[list[tuple], list[Claim]]:
    """One row per slot (path, mark against the parent, value, point value, basis, provenance),
    and the claims cited, in the order first cited."""
    overrides = tie_overrides(scenario)
    rows = []
    cited: list[Claim] = []
    for slot in slots(scenario):
        p, v = slot.path, slot.value
        found = by_param.get(p, [])
        good = [c for c in found if any(g.param == p and matches(g, v) for g in c.grounds)]
        posterior = getattr(v, "claim", None) or ""
        if not found:
            prov = posterior if posterior.startswith("posterior given") else "(none)"
        else:
            prov = "; ".join(cite(c) for c in (good or found))
            if not good and posterior.startswith("posterior given"):
                # a calibration narrowed it (alliance-sim calibrate): the claims give the prior
                prov = f"{posterior}; prior: {prov}"
            elif not good:
                prov = "≠ " + prov
            cited += [c for c in found if c not in cited]
        if p.startswith("ties."):
            note = overrides.get(int(p.split(".")[1]))
            if note:
                prov = f"[{note}] {prov}"
        if p.startswith("events.") and ".effects." in p:
            _, ev_name, _, e_index, _ = p.split(".", 4)
            prov = f"[{effect_target(scenario.events[ev_name].effects[int(e_index)])}] {prov}"
        mark = ""
        if p in (scenario.overrides or {}):
            mark = "="
            prov = f"[set on the command line] {prov}"
        elif parent is not None:
            if p not in before:
                mark = "+"
            elif short_value(before[p]) != short_value(v):
                mark = "*"
        basis = BASIS_SHORT[basis_of(good or found, p)]
        rows.append((p, mark, short_value(v), point_value(v), basis, prov))
    return rows, cited


def _table(rows: list[tuple], width: int, fit: _Fit) -> list[str]:
    """The parameter table, a blank line between the top-level tables."""
    pw = max((len(r[0]) for r in rows), default=10)
    vw = max((len(r[2]) for r in rows), default=5)
    bw = max(len(b) for b in BASIS_SHORT.values())
    head = f"{'parameter':<{pw}}    {'value':<{vw}}  {'point':>8}  {'basis':<{bw}}  "
    lines = [head + "provenance (claim ¶ speaker)"]
    room = max(width - len(head), 20)
    section = None
    for p, mark, text, pt, basis, prov in rows:
        top = p.split(".", 1)[0]
        if top != section:
            if section is not None:
                lines.append("")
            section = top
        lines.append(f"{p:<{pw}}  {mark:1} {text:<{vw}}  {pt:>8.3g}  {basis:<{bw}}  {fit(prov, room)}")
    return lines


def _provenance(claims_by: dict, path: str, value) -> str:
    """``basis: id, id`` for a value (``-`` where the scenario lacks it)."""
    from sim.spec.claims import grounding_claims

    if value is None:
        return "-"
    found = grounding_claims(claims_by, path, value)
    ids = ", ".join(c.id for c in found) or "no claim"
    return f"{BASIS_SHORT[basis_of(found, path)]}: {ids}"


def scenario_of(path: str | Path, values: dict | None = None):
    """The scenario of a file (with ``values`` set on top), or the one a result folder stored
    (read through the integrity layer)."""
    if Path(path).is_dir():
        from sim.run.folders import checked_manifest
        from sim.spec.scenario import stored_scenario

        found = checked_manifest(Path(path), rows=False)
        if found.scenario is None:
            raise ScenarioError(found.manifest_file, "stores no scenario", path="scenario")
        scenario = stored_scenario(found.scenario)
        return scenario.with_values(values, origin="--set") if values else scenario
    return load_scenario(path, values=values)


def render_diff(
    path_a: str | Path,
    path_b: str | Path,
    width: int | None = None,
    wide: bool = False,
    values: dict | None = None,
) -> str:
    """The parameters that differ between two scenarios (files, or result folders' stored
    scenarios), each with its value, basis and claims on both sides, then the differences of
    structure (actors, events, alliances, run settings). ``values`` are set on top of B
    (``--set``), and a value of B set on the command line is marked ``(--set)``."""
    from sim.spec.diff import parameter_differences, structure_differences

    width = 10**6 if wide else (width or _width())
    a, b = scenario_of(path_a), scenario_of(path_b, values)
    ca = claims_by_param(_claims_or_none(a.claims)) if a.claims else {}
    cb = claims_by_param(_claims_or_none(b.claims)) if b.claims else {}
    set_a, set_b = a.overrides or {}, b.overrides or {}
    diffs = parameter_differences(a, b)
    lines = [f"A: {path_a}  ({a.title})", f"B: {path_b}  ({b.title})", ""]
    if not diffs:
        lines.append("no parameter differs")
    rows = [
        (
            d.path,
            ("-" if d.a is None else short_value(d.a)) + (" (--set)" if d.path in set_a else ""),
            _provenance(ca, d.path, d.a),
            ("-" if d.b is None else short_value(d.b)) + (" (--set)" if d.path in set_b else ""),
            _provenance(cb, d.path, d.b),
        )
        for d in diffs
    ]
    if rows:
        heads = ("parameter", "A", "A basis: claims", "B", "B basis: claims")
        widths = [max(len(h), *(len(r[k]) for r in rows)) for k, h in enumerate(heads)]
        cut = False

        def line(cells) -> str:
            nonlocal cut
            text = "  ".join(f"{c:<{w}}" for c, w in zip(cells, widths, strict=True)).rstrip()
            cut |= len(text) > width
            return _cut(text, width)

        lines.append(line(heads))
        lines += [line(r) for r in rows]
        lines.append(f"{len(rows)} parameters differ")
        if cut:
            lines.append("(… marks text cut to the terminal's width: --wide shows every row whole)")
    notes = structure_differences(a, b)
    if notes:
        lines += ["", "structure:"] + [f"  {n}" for n in notes]
    return printable("\n".join(lines))


_MECHANISM_WORDS = {
    "affinity": "interest affinity coefficient",
    "balance": "structural balance coefficient",
    "threat": "balance-of-threat coefficient",
    "pressure": "external pressure coefficient",
    "competition": "sphere competition coefficient",
    "dependence": "dependence coefficient",
    "noise": "noise of the ties",
}
_ALLIANCE_WORDS = {
    "theta_stay": "disposition below which members lean to defect (θ_stay)",
    "theta_trust": "trust threshold (θ_trust)",
    "h0": "base defection hazard (h0)",
    "beta": "sensitivity of defection to disposition (β)",
    "power_shift": "effect of power shifts on defection",
    "betrayal_shock": "betrayal shock",
    "reputation": "reputation cost of defecting",
}


def describe_path(path: str) -> str:
    """A parameter path in words: ``positions.China.taiwan`` -> ``China's position on taiwan``,
    ``mechanisms.threat`` -> ``balance-of-threat coefficient``; the path itself when unknown."""
    p = path.split(".")
    head = p[0]
    try:
        if head == "mechanisms":
            return _MECHANISM_WORDS.get(p[1], p[1])
        if head == "actors":
            return f"{p[1]}'s {'capability share' if p[2] == 'capability' else 'monthly growth'}"
        if head in ("positions", "salience"):
            what = "position on" if head == "positions" else "salience of"
            return f"{p[1]}'s {what} {p[2]}"
        if head in ("ties", "tie_matrix"):
            a, b = (p[2], p[3]) if head == "ties" else (p[1], p[2])
            return f"initial tie {a} → {b}"
        if head == "spheres":
            return f"{p[1]}'s ambition over {p[2]}"
        if head == "dependence":
            return f"{p[1]}'s dependence on {p[2]}"
        if head == "strategic_value":
            return f"strategic value of {p[1]}"
        if head == "pressure":
            return f"pressure on {p[1]}" + (f" at step {p[2]}" if len(p) > 2 else "")
        if head == "events":
            if p[2] == "hazard":
                return f"event {p[1]}: monthly hazard"
            return f"event {p[1]}: size of effect {p[3]}"
        if head == "alliances":
            return f"{p[1]}: {_ALLIANCE_WORDS.get(p[2], p[2])}"
    except IndexError:
        pass
    return path


def readable_label(path: str, claims_by: dict | None = None) -> str:
    """``path (in words) [claim ids]``: how tables name a parameter for a reader."""
    text = describe_path(path)
    label = path if text == path else f"{path} ({text})"
    if claims_by:
        from sim.spec.claims import claims_for

        ids = [c.id for c in claims_for(claims_by, path)]
        if ids:
            label += f" [{', '.join(ids)}]"
    return label
