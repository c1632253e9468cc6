"""The sections of a run's report: the answer with its framing, and each scenario's alliances,
reading, parameters with their claims, variance, events and how to reproduce it."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sim.analysis import outcomes
from sim.present import plots
from sim.present.page import esc, figure_card, not_a_forecast, sample_note
from sim.present.page_figures import FigureEntry
from sim.run.store import Results
from sim.vocabulary import (
    BASIS_SHORT,
    FATE_DEFINITIONS,
    FATE_LABELS,
    FATES,
    PARAM_PREFIX,
    fate_column,
)


def percent(p: float, digits: int = 1) -> str:
    """A share as a percentage with ``digits`` decimals."""
    return f"{100 * p:.{digits}f} %"


def ci_text(low: float, high: float) -> str:
    """A 95 % interval of a share, in percent."""
    return f"95 % CI {100 * low:.1f}–{100 * high:.1f} %"


def slug(text: str) -> str:
    """A file-name-safe short form of ``text`` (a scenario's name in its figures' names)."""
    s = re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")
    return s[:40] or "scenario"


def _fate_cells(r: Results, alliance: str) -> dict:
    table = plots.fates(r, alliance, r.actors).set_index("outcome")
    by = [(o.split(" by ", 1)[1], row) for o, row in table.iterrows() if " by " in o]
    return {
        "holds": table.loc["holds"],
        "stab": table.loc["stab_in_the_back"],
        "drift": table.loc["drift_apart"],
        "by": by,
    }


def _members(r: Results, alliance: str) -> list[str]:
    return outcomes.alliance_members(r.manifest.get("scenario", {})).get(alliance, [])


def _who_text(r: Results, alliance: str, by) -> str:
    if not by:
        return "<span class='small'>no stab in the back</span>"
    members = _members(r, alliance)
    items = []
    for who, row in by:
        others = [m for m in members if m != who]
        victim = others[0] if len(others) == 1 else "the other members"
        items.append(
            f"<div><b>{esc(who)}</b> stabs {esc(victim)}: {percent(row['p'])} "
            f"<span class='ci'>{ci_text(row['low'], row['high'])}</span></div>"
        )
    return "".join(items)


def _headline(r: Results, alliance: str, cells: dict) -> str:
    unit, dt = plots.time_unit(r)
    h, s, d = cells["holds"], cells["stab"], cells["drift"]
    who = ""
    if cells["by"]:
        who = " (" + ", ".join(f"by {esc(w)} {percent(row['p'])}" for w, row in cells["by"]) + ")"
    return (
        f"<p class='headline'><b>{esc(r.name)}</b>: under these assumptions, the alliance "
        f"<b>{esc(alliance)}</b> holds for {r.steps * dt:g} {esc(unit)} in <b>{percent(h['p'])}</b> "
        f"of {r.n:,} model runs ({ci_text(h['low'], h['high'])}); it ends with a "
        f"stab in the back in <b>{percent(s['p'])}</b>{who} and drifts apart in "
        f"<b>{percent(d['p'])}</b>.</p>"
    )


def _trust_text(r: Results, alliance: str) -> str:
    """The trust threshold of an alliance in words (a number, or the range it is drawn from)."""
    v = ((r.manifest.get("scenario", {}).get("alliances") or {}).get(alliance) or {}).get("theta_trust")
    if isinstance(v, (int, float)):
        return f"{v:g}"
    if isinstance(v, dict):
        lo, hi = v.get("low"), v.get("high")
        if lo is not None and hi is not None:
            return f"drawn per run from {lo:g} to {hi:g}"
        if "mean" in v:
            return f"drawn per run around {v['mean']:g}"
    return "the alliance's θ_trust"


def framing_html(runs: Sequence[Results]) -> str:
    """What the numbers are and are not, and what each fate means, where the answer is given."""
    alliance = next((r.focal for r in runs if r.focal), None)
    trust = _trust_text(runs[0], alliance) if alliance else "θ_trust"
    defs = "".join(
        f"<dt>{esc(FATE_LABELS[k])}</dt><dd>{esc(FATE_DEFINITIONS[f])}</dd>" for k, f in enumerate(FATES)
    )
    return (
        not_a_forecast(
            "Each percentage is a share of model runs, not a probability that the world will do this."
        )
        + f"<dl class='fates' id='fate-definitions'>{defs}</dl>"
        f"<p class='note'>Disposition: a member's tie toward another in [−1, 1]. Trust "
        f"threshold: {esc(trust)}. The fate comes from the members' own decisions to stay or "
        "defect; it is decided at the first defection.</p>"
    )


def answer_section(runs: Sequence[Results]) -> str:
    """The opening section: the fate table of each scenario's focal alliance."""
    rows, heads = [], []
    for r in runs:
        alliance = r.focal
        if alliance is None or not plots.has_fate(r, alliance):
            rows.append(f"<tr><td>{esc(r.name)}</td><td colspan='6'>no declared alliance</td></tr>")
            continue
        c = _fate_cells(r, alliance)
        heads.append(_headline(r, alliance, c))
        unit, dt = plots.time_unit(r)
        h, s, d = c["holds"], c["stab"], c["drift"]
        bar = (
            f"<div class='bar' role='img' aria-label='holds {percent(h['p'])}, stab in the back "
            f"{percent(s['p'])}, drift apart {percent(d['p'])}'>"
            f"<span class='h' style='width:{100 * h['p']:.2f}%'></span>"
            f"<span class='s' style='width:{100 * s['p']:.2f}%'></span>"
            f"<span class='d' style='width:{100 * d['p']:.2f}%'></span></div>"
        )
        rows.append(
            "<tr>"
            f"<td><b>{esc(r.name)}</b><div class='small'>{esc(r.title)}</div>"
            f"<div class='small'>alliance <code>{esc(alliance)}</code></div>{bar}</td>"
            f"<td class='num holds'><span class='p'>{percent(h['p'])}</span>"
            f"<span class='ci'>{ci_text(h['low'], h['high'])}</span></td>"
            f"<td class='num stab'><span class='p'>{percent(s['p'])}</span>"
            f"<span class='ci'>{ci_text(s['low'], s['high'])}</span></td>"
            f"<td class='small who'>{_who_text(r, alliance, c['by'])}</td>"
            f"<td class='num drift'><span class='p'>{percent(d['p'])}</span>"
            f"<span class='ci'>{ci_text(d['low'], d['high'])}</span></td>"
            f"<td class='num'>{r.n:,}<span class='ci'>{r.steps * dt:g} "
            f"{esc(unit)}</span></td>"
            "</tr>"
        )
    key = (
        "<div class='key'>Bar:<i style='background:#009E73'></i>holds"
        "<i style='background:#D55E00'></i>stab in the back"
        "<i style='background:#999999'></i>drift apart. Intervals: Wilson score, 95 %.</div>"
    )
    return (
        "<section class='answer' id='answer'><h2>The answer, under these assumptions</h2>"
        + "".join(heads)
        + framing_html(runs)
        + "<table id='fate-table'><thead><tr><th>scenario</th><th>P(holds)</th>"
        "<th>P(stab in the back)</th><th>who stabs whom</th><th>P(drift apart)</th>"
        "<th>replicates, horizon</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
        + key
        + "</section>"
    )


def _figure_html(entry: FigureEntry, png: bytes, file_name: str) -> str:
    """A figure card (:func:`sim.present.page.figure_card`)."""
    return figure_card(entry, png, file_name)


def _alliances_table(r: Results) -> str:
    spec = r.manifest.get("scenario", {}).get("alliances") or {}
    rows = []
    for name in r.alliances:
        if not plots.has_fate(r, name):
            continue
        c = _fate_cells(r, name)
        members = ", ".join(esc(m) for m in _members(r, name))
        label = (spec.get(name) or {}).get("label", "")
        rows.append(
            f"<tr><td><code>{esc(name)}</code>{' (focal)' if name == r.focal else ''}"
            f"<div class='small'>{esc(label)}</div></td><td>{members}</td>"
            f"<td class='num'>{percent(c['holds']['p'])}<span class='ci'>"
            f"{ci_text(c['holds']['low'], c['holds']['high'])}</span></td>"
            f"<td class='num'>{percent(c['stab']['p'])}<span class='ci'>"
            f"{ci_text(c['stab']['low'], c['stab']['high'])}</span></td>"
            f"<td class='num'>{percent(c['drift']['p'])}<span class='ci'>"
            f"{ci_text(c['drift']['low'], c['drift']['high'])}</span></td>"
            f"<td class='num'>{_median_text(r, name)}</td></tr>"
        )
    if not rows:
        return ""
    return (
        "<h3>Alliances</h3><table><thead><tr><th>alliance</th><th>members</th><th>holds</th>"
        "<th>stab in the back</th><th>drift apart</th><th>median time to end</th></tr></thead>"
        "<tbody>" + "".join(rows) + "</tbody></table>"
    )


def reading_note(r: Results) -> str:
    """Why the blocs and the fates can disagree, and what saturated ties mean, with this run's
    figures: how often the focal alliance ended while its members still ended in one bloc, and
    how often its final cohesion sits at the +1 bound."""
    alliance = r.focal
    if alliance is None or fate_column(alliance) not in r.columns:
        return ""
    members = _members(r, alliance)
    from sim.vocabulary import bloc_column, cohesion_column

    blocs = [bloc_column(m) for m in members]
    have_blocs = all(b in r.columns for b in blocs) and len(members) >= 2
    note = _reading_figures(r, alliance, blocs if have_blocs else [])
    parts = []
    if have_blocs:
        if note.ended > 0:
            parts.append(
                f"In this run {esc(alliance)} ended in {percent(note.ended)} of the runs, yet its "
                f"members ended in the same bloc in {percent(note.together_ended)} of those and in "
                f"{percent(note.together)} of all runs. The two answer different questions: the "
                "<b>fate</b> comes from the members' own decisions (the first defection ends the "
                "alliance), the <b>blocs</b> from the final ties among all actors, split in two "
                "where frustration is least (Axelrod &amp; Bennett 1993). Former partners that "
                "both stand against a third power can stay in one bloc after their alliance ends."
            )
    if cohesion_column(alliance) in r.columns:
        at_top = note.at_top
        parts.append(
            "Ties are bounded at ±1 (each step's change is clipped there). "
            f"At the horizon the members' mean tie sits at the +1 bound in {percent(at_top)} of the "
            "runs: there the forces would push the ties higher still, the bound stops them, and a "
            "flat median at +1.00 says the ties are saturated, not that nothing acts on them."
        )
    if not parts:
        return ""
    return "<h3>Reading these figures</h3>" + "".join(f"<p class='small'>{p}</p>" for p in parts)


def _reading_figures(r: Results, alliance: str, blocs: list[str]):
    """How often the alliance ended, how often its members ended in one bloc (overall and among
    the runs where it ended), how often its final cohesion sat at the +1 bound."""
    from sim.analysis.digest import ReadingNote, digest_of
    from sim.analysis.digest_tallies import AT_TOP
    from sim.vocabulary import cohesion_column

    d = digest_of(r)
    if d is not None:
        return d.blocs_and_fates(alliance)
    cols = [c for c in [fate_column(alliance), cohesion_column(alliance), *blocs] if c in r.columns]
    frame = r.read(cols)
    ended = (frame[fate_column(alliance)] != "holds").to_numpy()
    nan = float("nan")
    together = (frame[blocs].nunique(axis=1) == 1).to_numpy() if blocs else None
    at_top = nan
    if cohesion_column(alliance) in frame:
        at_top = float(np.mean(frame[cohesion_column(alliance)].to_numpy(dtype=float) >= AT_TOP))
    return ReadingNote(
        float(ended.mean()),
        float(together.mean()) if together is not None else nan,
        float(together[ended].mean()) if together is not None and ended.any() else nan,
        at_top,
    )


def _median_text(r: Results, alliance: str) -> str:
    unit, dt = plots.time_unit(r)
    curve = plots.survival(r, alliance)
    m = curve.median()
    if np.isnan(m):
        return (
            f"beyond the horizon<span class='ci'>S = {curve.final:.3f} at {r.steps * dt:g} {esc(unit)}</span>"
        )
    return f"{m * dt:g} {esc(unit)}"


def load_claims(r: Results):
    """(claims by parameter, claims by id, note) from the scenario's claims file, if readable."""
    path = r.manifest.get("scenario", {}).get("claims")
    if not path:
        return {}, {}, "This scenario names no claims file."
    try:
        from sim.spec.claims import claims_by_param

        claims = list(_claims_read(path, *_stamp(path)))
    except Exception as e:  # noqa: BLE001 - a missing or malformed claims file is reported in the page
        return {}, {}, f"The claims file {path} could not be read ({type(e).__name__}: {e})."
    return claims_by_param(claims), {c.id: c for c in claims}, f"Claims from {path}."


def _stamp(path: str) -> tuple[int, int]:
    """Modification time and size of a file (``(0, -1)`` when it cannot be read)."""
    try:
        st = Path(path).stat()
    except OSError:
        return 0, -1
    return st.st_mtime_ns, st.st_size


@functools.lru_cache(maxsize=8)
def _claims_read(path: str, mtime_ns: int, size: int) -> tuple:
    """A claims file's claims, parsed once per version of the file (a page's sections each look
    them up; parsing took a twentieth of a comparison page's time)."""
    from sim.spec.claims import load_claims as read

    return tuple(read(path))


def _declared_values(r: Results) -> list[tuple[str, str, str | None]] | None:
    """(path, declared value, claim id) of every numeric parameter, from the stored scenario."""
    try:
        from sim.present.show import describe_value
        from sim.spec.parammap import slots
        from sim.spec.scenario import stored_scenario

        scenario = stored_scenario(r.manifest["scenario"])
        return [(s.path, describe_value(s.value), getattr(s.value, "claim", None)) for s in slots(scenario)]
    except Exception:  # noqa: BLE001 - fall back to the sampled columns
        return None


def basis_badge(basis: str) -> str:
    """A value's basis as a small labelled badge (article, figure, assumption, none)."""
    short = BASIS_SHORT.get(basis, basis)
    return f"<span class='basis {esc(short)}' title='{esc(basis)}'>{esc(short)}</span>"


def _claim_html(claims, prefix: str) -> str:
    """Short citations: claim id, ¶N (or "public figure") and speaker."""
    parts = []
    for c in claims:
        where = f"¶{c.paragraph}" if c.paragraph is not None else "public figure"
        parts.append(
            f"<div><a href='#{prefix}-claim-{esc(slug(c.id))}'><b>{esc(c.id)}</b></a> "
            f"{esc(where)}, {esc(c.speaker)}</div>"
        )
    return "".join(parts) or "–"


def _claims_list(claims, prefix: str) -> str:
    """Every cited claim once: id, paragraph or source, speaker and paraphrase."""
    if not claims:
        return ""
    rows = []
    for c in claims:
        where = f"¶{c.paragraph} of the source article" if c.paragraph is not None else c.source
        rows.append(
            f"<tr id='{prefix}-claim-{esc(slug(c.id))}'><td><b>{esc(c.id)}</b> "
            f"{basis_badge(c.kind)}</td><td>{esc(where)}</td><td>{esc(c.speaker)}</td>"
            f"<td class='small'>{esc(c.paraphrase)}<div class='note'><i>How it becomes "
            f"numbers:</i> {esc(' '.join(c.basis.split()))}</div></td></tr>"
        )
    return (
        f"<details><summary>{len(claims)} claims cited</summary><table class='small'><thead>"
        "<tr><th>claim</th><th>where</th><th>speaker</th><th>what it says</th></tr></thead>"
        "<tbody>" + "".join(rows) + "</tbody></table></details>"
    )


def _sampled_range(r: Results, column: str) -> tuple[float, float]:
    """The 5 % and 95 % quantiles of a sampled value over the run (exact, as numpy's)."""
    from sim.analysis.digest import digest_of

    d = digest_of(r)
    if d is not None:
        q = d.quantiles(column)
        return q[0.05], q[0.95]
    v = r.read([column])[column].to_numpy(dtype=float)
    return float(np.quantile(v, 0.05)), float(np.quantile(v, 0.95))


def parameters_section(r: Results, prefix: str = "s1") -> str:
    """The scenario's parameters: declared value, sampled range, and the claims grounding them."""
    by_param, by_id, note = load_claims(r)
    sampled = {c[len("param:") :]: c for c in r.columns if c.startswith("param:")}
    declared = _declared_values(r)
    if declared is None:
        declared = [(p, "sampled", None) for p in sampled]

    from sim.spec.claims import basis_of
    from sim.spec.claims import claims_for as nearest_claims

    def claims_for(path: str, claim_id: str | None):
        found = nearest_claims(by_param, path)
        if claim_id and claim_id in by_id and by_id[claim_id] not in found:
            found.append(by_id[claim_id])
        return found

    cited: dict[str, object] = {}

    def row(path, text, claim_id):
        found = claims_for(path, claim_id)
        cited.update((c.id, c) for c in found)
        col = sampled.get(path)
        if col is not None:
            low, high = _sampled_range(r, col)
            rng = f"{low:.4g} – {high:.4g}"
        else:
            rng = "fixed"
        basis = basis_of(found, path)
        return (
            f"<tr><td><code>{esc(path)}</code></td><td class='mono'>{esc(text)}</td>"
            f"<td class='num mono'>{esc(rng)}</td><td>{basis_badge(basis)}</td>"
            f"<td class='small'>{_claim_html(found, prefix)}</td></tr>"
        )

    head = (
        "<table><thead><tr><th>parameter</th><th>declared</th><th>sampled 5–95 %</th>"
        "<th>basis</th><th>grounded in (claim, ¶ of the source article, speaker)</th></tr>"
        "</thead><tbody>"
    )
    uncertain = [d for d in declared if d[0] in sampled]
    fixed = [d for d in declared if d[0] not in sampled]
    out = [
        f"<h3>Parameters</h3><p class='small'>{esc(note)} Basis: <i>article</i> = a claim of "
        "the source article (¶N), <i>figure</i> = a public figure, <i>assumption</i> = a "
        "modelling assumption (a coefficient, a range or a scenario's storyline), the weakest "
        "of its claims where several ground a value.</p>",
        f"<details{' open' if len(uncertain) <= 25 else ''}><summary>{len(uncertain)} uncertain "
        "parameters (sampled per replicate)"
        "</summary>",
        head,
        *(row(*d) for d in uncertain),
        "</tbody></table></details>",
    ]
    if fixed:
        out += [
            f"<details><summary>{len(fixed)} fixed values</summary>",
            head,
            *(row(*d) for d in fixed),
            "</tbody></table></details>",
        ]
    out.append(_claims_list(list(cited.values()), prefix))
    return "".join(out)


def variance_section(r: Results) -> str:
    """How much of the focal alliance's fate the article's claims, public figures and modelling
    assumptions each explain (:func:`sim.analysis.variance.variance_by_basis`)."""
    from sim.analysis.variance import BASIS_PLURAL, describe, percent, share_text, variance_by_basis
    from sim.spec.claims import basis_of, claims_for

    alliance = r.focal
    sampled = [c for c in r.columns if c.startswith(PARAM_PREFIX)]
    if alliance is None or fate_column(alliance) not in r.columns or len(sampled) == 0 or r.n < 100:
        return ""
    from sim.analysis.digest import digest_of

    by_param, _, _ = load_claims(r)

    def basis(p: str) -> str:
        return basis_of(claims_for(by_param, p), p)

    d = digest_of(r)
    frame = None if d is not None else r.read([fate_column(alliance), *sampled])
    parts = []
    for fate, label in (("holds", "holds"), ("stab_in_the_back", "ends with a stab in the back")):
        if d is not None:  # on the digest's seeded sample of the rows (every row of a small run)
            y = (d.sample.read([fate_column(alliance)])[fate_column(alliance)] == fate).to_numpy()
            if y.all() or not y.any():
                continue
            table = d.variance_by_basis(alliance, fate, basis)
        else:
            assert frame is not None
            y = (frame[fate_column(alliance)] == fate).to_numpy()
            if y.all() or not y.any():
                continue
            table = variance_by_basis(frame, y, basis)
        explained = float(table.loc[table["basis"] != "interactions and chance", "share"].clip(lower=0).sum())
        rest = f"{percent(min(max(1.0 - explained, 0.0), 1.0))} % (the rest)"

        def shown(b, sh, no, rest=rest):
            return rest if b == "interactions and chance" else share_text(sh, no)

        rows = "".join(
            f"<tr><td>{esc(BASIS_PLURAL.get(b, b))}</td><td class='num'>{int(n) or ''}</td>"
            f"<td class='num'>{esc(shown(b, sh, no))}</td>"
            f"<td class='small'>{esc(top)}</td></tr>"
            for b, n, sh, no, top in table[["basis", "inputs", "share", "noise", "top"]].itertuples(
                index=False
            )
        )
        parts.append(
            f"<h4>Whether {esc(alliance)} {esc(label)}</h4><p>{esc(describe(table, label))}</p>"
            "<table class='small'><thead><tr><th>basis</th><th>sampled values</th>"
            "<th>share of variance, first order (± noise)</th><th>largest</th></tr>"
            f"</thead><tbody>{rows}</tbody></table>"
        )
    if not parts:
        return ""
    return (
        "<h3>What the answer rests on</h3><p class='small'>Given-data first-order sensitivity "
        "indices (Plischke, Borgonovo &amp; Smith 2013) from this run's own replicates, with "
        "Kelley's bias correction, summed by the basis of each sampled value. A share is the "
        "part of the outcome's variance that the values of that basis explain on their own."
        + (" " + esc(sample_note(vars(d.sample.info))) if d is not None else "")
        + "</p>"
        + "".join(parts)
    )


def events_section(r: Results) -> str:
    """The focal alliance's fates in the runs where each stochastic event fired and where it did
    not (:func:`sim.analysis.events.fates_given_events`)."""
    from sim.analysis.events import fates_given_events, recorded_events

    alliance = r.focal
    names = recorded_events(r.columns)
    if alliance is None or not names or fate_column(alliance) not in r.columns:
        return ""
    from sim.analysis.digest import digest_of
    from sim.vocabulary import end_step_column, event_first_step_column

    d = digest_of(r)
    if d is not None:
        table = d.fates_given_events(alliance)
    else:
        frame = r.read(
            [fate_column(alliance), end_step_column(alliance), *(event_first_step_column(n) for n in names)]
        )
        table = fates_given_events(frame, alliance)
    labels = {
        n: ((r.manifest.get("scenario", {}).get("events") or {}).get(n) or {}).get("label", "") for n in names
    }

    def cell(row, key):
        p = getattr(row, f"p_{key}")
        if not np.isfinite(p):
            return "<td class='num'>–</td>"
        return (
            f"<td class='num'>{percent(p)}<span class='ci'>"
            f"{ci_text(getattr(row, f'low_{key}'), getattr(row, f'high_{key}'))}</span></td>"
        )

    rows = []
    for name in names:
        t = table[table["event"] == name].set_index("fate")
        fired = int(t["fired"].iloc[0])
        stab = t.loc["stab_in_the_back"]
        after = stab["after_event"]
        cells = "".join(
            cell(row, key)
            for fate in FATES
            for row in [next(t.loc[[fate]].itertuples())]
            for key in ("fired", "not")
        )
        rows.append(
            f"<tr><td><code>{esc(name)}</code><div class='small'>{esc(labels[name])}</div>"
            f"</td><td class='num'>{percent(fired / max(r.n, 1))}</td>{cells}"
            f"<td class='num'>{'–' if not np.isfinite(after) else percent(after)}</td></tr>"
        )
    head = "".join(f"<th>{esc(FATE_LABELS[k])}: fired</th><th>not fired</th>" for k in range(len(FATES)))
    return (
        "<h3>Fates and events</h3><p class='small'>The fate of <code>"
        f"{esc(alliance)}</code> in the runs where each stochastic event fired (at any time "
        "before the horizon) and in those where it did not, with 95 % Wilson intervals; the "
        "last column is the share of stabs in the back that came at or after the event's first "
        "firing. These are associations across runs, not effects: runs with an event also "
        "differ in the hazard drawn for it. The per-run columns are "
        "<code>event:&lt;name&gt;.first_step</code> (−1: never) and "
        "<code>event:&lt;name&gt;.count</code>.</p><table class='small'><thead><tr>"
        f"<th>event</th><th>runs where it fired</th>{head}<th>stabs after it</th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
    )


def reproduce_section(r: Results) -> str:
    """Run settings, seed, versions and scenario hash, and the command that reruns the scenario."""
    m = r.manifest
    settings = m.get("settings", {}) or {}
    run = (m.get("scenario", {}) or {}).get("run", {}) or {}
    rows = [
        ("scenario hash (SHA-256)", m.get("scenario_hash", "")),
        ("seed", settings.get("seed", m.get("seed", ""))),
        ("replicates", settings.get("replicates", r.n)),
        (
            "steps",
            f"{settings.get('steps', r.steps)} × {run.get('dt', settings.get('dt', 1))} "
            f"{run.get('unit', 'month')}",
        ),
        ("chunk size", settings.get("chunk_size", "")),
        ("dtype", settings.get("dtype", "")),
        ("result directory", str(r.directory)),
    ]
    rows += [(f"version of {k}", v) for k, v in (m.get("versions") or {}).items()]
    body = "".join(f"<tr><th>{esc(k)}</th><td class='mono'>{esc(v)}</td></tr>" for k, v in rows)
    opts = (
        f"--replicates {settings.get('replicates', r.n)} --steps "
        f"{settings.get('steps', r.steps)} --seed {settings.get('seed', '')}"
        + (" --point" if settings.get("point") else "")
    )
    name = f"{r.name or 'SCENARIO'}.toml"
    cmd = (
        f"alliance-sim show {name} {opts} | grep hash    # must print the hash above\n"
        f"alliance-sim run {name} {opts} --chunk-size {settings.get('chunk_size', '')} "
        f"--dtype {settings.get('dtype') or 'float32'}"
    )
    return (
        "<h3>Reproduce</h3><table class='small'><tbody>" + body + "</tbody></table>"
        "<p class='small'>Check that a scenario file is the one this run used (the first "
        "command prints the hash of its resolved form with these run settings), then rerun "
        "it: the same hash, seed and chunk size give the same bytes.</p>"
        f"<pre>{esc(cmd)}</pre>"
    )


def scenario_section(r: Results, index: int, figures_html: str) -> str:
    """Everything about one scenario: description, alliances, figures, parameters, settings."""
    desc = (r.manifest.get("scenario", {}) or {}).get("description", "")
    actors = ", ".join(esc(a) for a in r.actors)
    return (
        f"<section class='scenario' id='scenario-{index}'><h2>{esc(r.title)}</h2>"
        f"<p class='sub'>scenario <code>{esc(r.name)}</code> · actors: {actors}</p>"
        + (f"<p class='desc'>{esc(desc.strip())}</p>" if desc else "")
        + _alliances_table(r)
        + reading_note(r)
        + (f"<h3>Figures</h3><div class='figs'>{figures_html}</div>" if figures_html else "")
        + events_section(r)
        + variance_section(r)
        + parameters_section(r, f"s{index}")
        + reproduce_section(r)
        + "</section>"
    )
