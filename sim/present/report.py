"""The HTML report of one run or a comparison of several: one self-contained file.

The report opens with the answer (for the focal alliance of each scenario: P(holds),
P(stab in the back) and who stabs whom, P(drift apart), each with a 95 % Wilson interval), then
the figures, then for each scenario what is needed to reproduce it: its parameters with the claims
that ground them, the run settings, seed, package versions and scenario hash.

Figures are embedded as base64 PNG data URIs and also written as PNG files to
``<stem>_figures/`` next to the HTML file. The page needs no network access, loads no script and
no external style sheet (its Content-Security-Policy forbids both). Every string that comes from a
scenario or a manifest is HTML-escaped.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from sim.analysis import outcomes
from sim.files import all_or_nothing
from sim.present import plots
from sim.present.page import (
    FigureEntry,
    Page,
    esc,
    figure_card,
    not_a_forecast,
    sample_note,
    write_html,
)
from sim.present.why_report import why_section
from sim.run.store import Results
from sim.vocabulary import (
    BASIS_SHORT,
    FATE_DEFINITIONS,
    FATE_LABELS,
    FATES,
    PARAM_PREFIX,
    fate_column,
)


def _pct(p: float, digits: int = 1) -> str:
    return f"{100 * p:.{digits}f} %"


def _ci(low: float, high: float) -> str:
    return f"95 % CI {100 * low:.1f}–{100 * high:.1f} %"


def _slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")
    return s[:40] or "scenario"


def _cell_noise(n: int) -> str:
    """The largest Monte Carlo error of a share in a matrix of shares over ``n`` replicates."""
    if n <= 0:
        return ""
    return f"Each cell's 95 % interval is at most ±{100 * 1.96 * 0.5 / np.sqrt(n):.1f} pp ({n:,} replicates)."


def scenario_figures(r: Results, prefix: str) -> list[FigureEntry]:
    """The figures of one scenario, in reading order."""
    unit, _ = plots.time_unit(r)
    focal = r.focal or ""
    entries = []
    if r.alliances:
        entries += [
            FigureEntry(
                f"{prefix}-fates",
                "Fate of the focal alliance",
                f"Bar chart: probability that {focal} holds, ends with a stab in the back "
                f"(by each defector) or drifts apart, with 95 % intervals ({r.title})",
                "Bars: share of replicates; whiskers: 95 % Wilson intervals.",
                lambda: plots.fate_chart(r),
            ),
            FigureEntry(
                f"{prefix}-survival",
                "Time until an alliance ends",
                f"Kaplan-Meier survival curves of each alliance over {unit} ({r.title})",
                "Kaplan-Meier estimate with Greenwood 95 % band; alliances that hold are "
                "censored at the horizon.",
                lambda: plots.survival_chart(r),
            ),
            FigureEntry(
                f"{prefix}-cohesion",
                "Cohesion over time",
                f"Fan charts of the cohesion of each alliance over {unit} ({r.title})",
                "Median, 25–75 % and 5–95 % of the mean tie among the members; dashed: the "
                "trust threshold below which a defection counts as drifting apart (its "
                "median over the runs, with its 5–95 % range shaded where it is uncertain). "
                "Ties are bounded at ±1: a band pressed against +1 means the ties are "
                "saturated (as friendly as the model allows), not still growing.",
                lambda: plots.cohesion_fan(r),
            ),
        ]
    entries += [
        FigureEntry(
            f"{prefix}-blocs",
            "Final blocs",
            f"Network of the actors in their final blocs ({r.title})",
            "Axelrod–Bennett two-bloc partition of the final ties over all actors, each "
            "tie weighted by both actors' capabilities, so a small state may sit opposite "
            "a partner it is friendly with when its ties to the larger powers outweigh "
            f"that; node area: capability; solid blue: friendly mean tie, dashed "
            f"vermillion: hostile; pairs with |mean tie| < {plots.BLOC_EDGE_THRESHOLD:g} "
            "are not drawn (the legend counts them).",
            lambda: plots.bloc_network(r),
        ),
        FigureEntry(
            f"{prefix}-ties",
            "Mean final ties",
            f"Heat map of the mean final ties between the actors ({r.title})",
            "Row: the actor whose disposition it is; column: toward whom.",
            lambda: plots.ties_heatmap(r),
        ),
    ]
    if r.alliances:
        entries.append(
            FigureEntry(
                f"{prefix}-stabs",
                "Who stabs whom",
                f"Matrix of the probability that each actor stabs each partner in the back ({r.title})",
                "Probability, over replicates, of a stab in the back by the row "
                f"actor against the column actor in some declared alliance. {_cell_noise(r.n)}",
                lambda: plots.stab_matrix(r),
            )
        )
    if plots.has_blocs(r):
        entries.append(
            FigureEntry(
                f"{prefix}-samebloc",
                "Who ends up together",
                f"Heat map of the probability that two actors end in the same bloc ({r.title})",
                "Share of replicates in which the two actors are in the same "
                "Axelrod–Bennett bloc at the horizon (from the final ties "
                "over everyone, not from the alliance's fate); the diagonal is left out (an actor is "
                f"always in its own bloc). {_cell_noise(r.n)}",
                lambda: plots.same_bloc_heatmap(r),
            )
        )
    entries.append(
        FigureEntry(
            f"{prefix}-balance",
            "Structural balance",
            f"Line chart of the structural balance index and frustration over {unit} ({r.title})",
            "Mean share of balanced (Heider) and unbalanced triads of the symmetrised ties.",
            lambda: plots.balance_chart(r),
        )
    )
    return entries


def comparison_figures(runs: Sequence[Results]) -> list[FigureEntry]:
    """The side-by-side panels of a comparison."""
    names = ", ".join(r.name for r in runs)
    return [
        FigureEntry(
            "compare-fates",
            "Fates side by side",
            f"Grouped bar chart of the fates of the focal alliance in {names}",
            "Bars: share of replicates; whiskers: 95 % Wilson intervals.",
            lambda: plots.compare_fates(runs),
        ),
        FigureEntry(
            "compare-survival",
            "Survival, overlaid",
            f"Kaplan-Meier survival curves of the focal alliance in {names}",
            "Kaplan-Meier estimate with Greenwood 95 % band.",
            lambda: plots.compare_survival(runs),
        ),
        FigureEntry(
            "compare-cohesion",
            "Cohesion, overlaid",
            f"Median cohesion of the focal alliance over time in {names}",
            "Median and 5–95 % band of the mean tie among the members.",
            lambda: plots.compare_cohesion(runs),
        ),
    ]


# --------------------------------------------------------------------------------------------
# HTML pieces
# --------------------------------------------------------------------------------------------


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
            f"<div><b>{esc(who)}</b> stabs {esc(victim)}: {_pct(row['p'])} "
            f"<span class='ci'>{_ci(row['low'], row['high'])}</span></div>"
        )
    return "".join(items)


def _headline(r: Results, alliance: str, cells: dict) -> str:
    unit, dt = plots.time_unit(r)
    h, s, d = cells["holds"], cells["stab"], cells["drift"]
    who = ""
    if cells["by"]:
        who = " (" + ", ".join(f"by {esc(w)} {_pct(row['p'])}" for w, row in cells["by"]) + ")"
    return (
        f"<p class='headline'><b>{esc(r.name)}</b>: under these assumptions, the alliance "
        f"<b>{esc(alliance)}</b> holds for {r.steps * dt:g} {esc(unit)} in <b>{_pct(h['p'])}</b> "
        f"of {r.n:,} model runs ({_ci(h['low'], h['high'])}); it ends with a "
        f"stab in the back in <b>{_pct(s['p'])}</b>{who} and drifts apart in "
        f"<b>{_pct(d['p'])}</b>.</p>"
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
            f"<div class='bar' role='img' aria-label='holds {_pct(h['p'])}, stab in the back "
            f"{_pct(s['p'])}, drift apart {_pct(d['p'])}'>"
            f"<span class='h' style='width:{100 * h['p']:.2f}%'></span>"
            f"<span class='s' style='width:{100 * s['p']:.2f}%'></span>"
            f"<span class='d' style='width:{100 * d['p']:.2f}%'></span></div>"
        )
        rows.append(
            "<tr>"
            f"<td><b>{esc(r.name)}</b><div class='small'>{esc(r.title)}</div>"
            f"<div class='small'>alliance <code>{esc(alliance)}</code></div>{bar}</td>"
            f"<td class='num holds'><span class='p'>{_pct(h['p'])}</span>"
            f"<span class='ci'>{_ci(h['low'], h['high'])}</span></td>"
            f"<td class='num stab'><span class='p'>{_pct(s['p'])}</span>"
            f"<span class='ci'>{_ci(s['low'], s['high'])}</span></td>"
            f"<td class='small who'>{_who_text(r, alliance, c['by'])}</td>"
            f"<td class='num drift'><span class='p'>{_pct(d['p'])}</span>"
            f"<span class='ci'>{_ci(d['low'], d['high'])}</span></td>"
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
            f"<td class='num'>{_pct(c['holds']['p'])}<span class='ci'>"
            f"{_ci(c['holds']['low'], c['holds']['high'])}</span></td>"
            f"<td class='num'>{_pct(c['stab']['p'])}<span class='ci'>"
            f"{_ci(c['stab']['low'], c['stab']['high'])}</span></td>"
            f"<td class='num'>{_pct(c['drift']['p'])}<span class='ci'>"
            f"{_ci(c['drift']['low'], c['drift']['high'])}</span></td>"
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
                f"In this run {esc(alliance)} ended in {_pct(note.ended)} of the runs, yet its "
                f"members ended in the same bloc in {_pct(note.together_ended)} of those and in "
                f"{_pct(note.together)} of all runs. The two answer different questions: the "
                "<b>fate</b> comes from the members' own decisions (the first defection ends the "
                "alliance), the <b>blocs</b> from the final ties among all actors, split in two "
                "where frustration is least (Axelrod &amp; Bennett 1993). Former partners that "
                "both stand against a third power can stay in one bloc after their alliance ends."
            )
    if cohesion_column(alliance) in r.columns:
        at_top = note.at_top
        parts.append(
            "Ties are bounded at ±1 (each step's change is clipped there). "
            f"At the horizon the members' mean tie sits at the +1 bound in {_pct(at_top)} of the "
            "runs: there the forces would push the ties higher still, the bound stops them, and a "
            "flat median at +1.00 says the ties are saturated, not that nothing acts on them."
        )
    if not parts:
        return ""
    return "<h3>Reading these figures</h3>" + "".join(f"<p class='small'>{p}</p>" for p in parts)


def _reading_figures(r: Results, alliance: str, blocs: list[str]):
    """How often the alliance ended, how often its members ended in one bloc (overall and among
    the runs where it ended), how often its final cohesion sat at the +1 bound."""
    from sim.analysis.digest import AT_TOP, ReadingNote, digest_of
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


def _load_claims(r: Results):
    """(claims by parameter, claims by id, note) from the scenario's claims file, if readable."""
    path = r.manifest.get("scenario", {}).get("claims")
    if not path:
        return {}, {}, "This scenario names no claims file."
    try:
        from sim.spec.claims import claims_by_param, load_claims

        claims = load_claims(path)
    except Exception as e:  # noqa: BLE001 - a missing or malformed claims file is reported in the page
        return {}, {}, f"The claims file {path} could not be read ({type(e).__name__}: {e})."
    return claims_by_param(claims), {c.id: c for c in claims}, f"Claims from {path}."


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
            f"<div><a href='#{prefix}-claim-{esc(_slug(c.id))}'><b>{esc(c.id)}</b></a> "
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
            f"<tr id='{prefix}-claim-{esc(_slug(c.id))}'><td><b>{esc(c.id)}</b> "
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
    by_param, by_id, note = _load_claims(r)
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

    by_param, _, _ = _load_claims(r)

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
            f"<td class='num'>{_pct(p)}<span class='ci'>"
            f"{_ci(getattr(row, f'low_{key}'), getattr(row, f'high_{key}'))}</span></td>"
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
            f"</td><td class='num'>{_pct(fired / max(r.n, 1))}</td>{cells}"
            f"<td class='num'>{'–' if not np.isfinite(after) else _pct(after)}</td></tr>"
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


def _signed(x: float) -> str:
    return f"{100 * x:+.1f}".replace("-", "−") + " pp"


def _interval(low: float, high: float) -> str:
    if not np.isfinite(low):
        return "–"
    return f"{100 * low:+.1f} to {100 * high:+.1f} pp".replace("-", "−")


def _noise_verdict(t, n: int, paired: bool) -> str:
    """Whether a fate's difference stands out from its noise, and if not, how many replicates
    per scenario would separate it were it to stay the same size."""
    from sim.analysis.noise import runs_to_separate, within_noise
    from sim.present.page import noise_badge

    low, high = (t.paired_low, t.paired_high) if paired else (t.unpaired_low, t.unpaired_high)
    if not within_noise(low, high):
        return "yes"
    need = runs_to_separate(t.diff, (high - low) / 2, n)
    if need is None:
        return noise_badge() + " no difference at all"
    return noise_badge() + f" about {need:,} replicates each would separate a difference this size"


def difference_section(runs: Sequence[Results]) -> str:
    """Each fate's B − A against the first scenario, with the paired and the unpaired interval."""
    from sim.analysis.compare import fate_differences, pairing
    from sim.analysis.digest import digest_of
    from sim.analysis.digest import fate_differences as streamed_differences

    base = runs[0]
    alliance = base.focal
    if alliance is None:
        return ""
    parts = []
    for other in runs[1:]:
        if fate_column(alliance) not in other.columns or fate_column(alliance) not in base.columns:
            continue
        if digest_of(base) is not None and digest_of(other) is not None:  # both files, in step
            table = streamed_differences(base, other, alliance)
        else:
            table = fate_differences(base, other, alliance)
        why = pairing(base, other)
        rows = []
        for t in table.itertuples(index=False):
            cls = "pos" if t.diff > 0 else "neg" if t.diff < 0 else ""
            rows.append(
                f"<tr><td>{esc(FATE_LABELS[FATES.index(t.fate)])}</td>"
                f"<td class='num'>{_pct(t.p_a)}</td><td class='num'>{_pct(t.p_b)}</td>"
                f"<td class='num {cls}'><b>{_signed(t.diff)}</b></td>"
                f"<td class='num'>{_interval(t.paired_low, t.paired_high)}</td>"
                f"<td class='num'>{_interval(t.unpaired_low, t.unpaired_high)}</td>"
                f"<td class='small'>{_noise_verdict(t, min(base.n, other.n), why is None)}</td></tr>"
            )
        holds = table.set_index("fate").loc["holds"]
        if why is None:
            seed = (base.manifest.get("settings") or {}).get("seed")
            note = (
                f"Paired by replicate: both runs used seed {esc(seed)} with the same chunk size, "
                "so replicate r of each drew from the same random stream (common random "
                "numbers) and the paired interval is that of the mean difference over the "
                f"{base.n:,} pairs. For P(holds) it is {100 * holds.paired_width:.1f} pp wide "
                f"against {100 * holds.unpaired_width:.1f} pp unpaired (Newcombe's interval for "
                "independent runs)."
            )
            if holds.paired_width > 0.8 * holds.unpaired_width:
                note += (
                    " Pairing narrows it little here: the two scenarios draw different "
                    "numbers of random values (other uncertain values or events), so their "
                    "random streams part after the first draws and replicate r of one no "
                    "longer shares its chance with replicate r of the other. Scenarios that "
                    "differ only in values (or a sweep) pair tightly."
                )
        else:
            note = (
                f"These runs cannot be paired ({esc(why)}): only the unpaired interval "
                "(Newcombe 1998) is given. Run both with the same --seed, --chunk-size and "
                "--replicates to pair them."
            )
        parts.append(
            f"<h3>{esc(other.name)} − {esc(base.name)}</h3>"
            "<table class='diff'><thead><tr><th>fate of "
            f"<code>{esc(alliance)}</code></th><th>A: {esc(base.name)}</th><th>B: {esc(other.name)}"
            "</th><th>B − A</th><th>95 % CI, paired</th><th>95 % CI, unpaired</th>"
            "<th>told from noise?</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table><p class='small'>{note} pp: percentage points."
            "</p>"
        )
    if not parts:
        return ""
    return (
        "<section id='difference'><h2>The difference, under these assumptions</h2>"
        + "".join(parts)
        + "</section>"
    )


def parameter_diff_section(runs: Sequence[Results]) -> str:
    """Which parameters differ between the first scenario and each other one: value, basis and
    claims on each side; then the differences of structure."""
    from sim.present.show import short_value
    from sim.spec.claims import basis_of, grounding_claims
    from sim.spec.diff import parameter_differences, structure_differences
    from sim.spec.scenario import Scenario

    def scenario(r):
        try:
            return Scenario.model_validate(r.manifest["scenario"])
        except Exception:  # noqa: BLE001 - an old or foreign manifest: no table
            return None

    base = runs[0]
    sa = scenario(base)
    if sa is None:
        return ""
    ca, _, _ = _load_claims(base)
    parts = []
    for other in runs[1:]:
        sb = scenario(other)
        if sb is None:
            continue
        cb, _, _ = _load_claims(other)

        def side(claims, path, value):
            if value is None:
                return "<td class='mono'>–</td><td></td>"
            found = grounding_claims(claims, path, value)
            ids = ", ".join(esc(c.id) for c in found) or "no claim"
            return (
                f"<td class='mono'>{esc(short_value(value))}</td>"
                f"<td>{basis_badge(basis_of(found, path))} <span class='small'>{ids}</span></td>"
            )

        diffs = parameter_differences(sa, sb)
        rows = "".join(
            f"<tr><td><code>{esc(d.path)}</code></td>{side(ca, d.path, d.a)}{side(cb, d.path, d.b)}</tr>"
            for d in diffs
        )
        notes = structure_differences(sa, sb)
        parts.append(
            f"<h3>{esc(base.name)} (A) and {esc(other.name)} (B): {len(diffs)} parameters differ</h3>"
            + (
                "<table class='small'><thead><tr><th>parameter</th><th>A</th><th>A basis, claims</th>"
                "<th>B</th><th>B basis, claims</th></tr></thead><tbody>" + rows + "</tbody></table>"
                if diffs
                else "<p>No parameter differs.</p>"
            )
            + ("<ul class='small'>" + "".join(f"<li>{esc(n)}</li>" for n in notes) + "</ul>" if notes else "")
        )
    if not parts:
        return ""
    return (
        "<section id='parameter-differences'><h2>What differs between the scenarios</h2>"
        "<p class='small'>Every value that differs (– where a scenario lacks it), with its "
        "basis and the claims grounding it on each side; "
        "<code>alliance-sim diff A.toml B.toml</code> prints the same in a terminal.</p>"
        + "".join(parts)
        + "</section>"
    )


# --------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------


def _write_page(path: Path, title: str, body: list[str]) -> Path:
    """One self-contained page from ready parts (:func:`sim.present.page.write_html`)."""
    return write_html(path, title, body)


def report_glossary(runs: Sequence[Results]) -> list[str]:
    """The glossary keys of a run or comparison report: the fates, their intervals, ties and
    cohesion, the variance split, the forces' parts when booked, the differences when compared."""
    from sim.analysis.why import has_why

    keys = ["holds", "stab", "drift", "wilson", "tie", "cohesion", "variance_share"]
    if any(has_why(r.columns, a, r.alliances) for r in runs for a in r.alliances):
        keys.append("force_part")
    if len(runs) > 1:
        keys += ["pp", "paired", "unpaired", "within_noise"]
    return keys


@all_or_nothing()  # a failure leaves none of its files
def write_report(results: Sequence[Results], path: str | Path, *, progress: bool = False) -> Path:
    """Write the HTML report of one result set, or the comparison report of several.

    Parameters
    ----------
    results : sequence of Results
        One result set (a run report) or several (a comparison, in the given order).
    path : str or Path
        The HTML file; the figures go to ``<stem>_figures/`` next to it as PNG files.
    progress : bool
        Count the parts written (the answer, each figure) on a progress bar on standard error.

    Returns
    -------
    Path
        The HTML file, written atomically (a temporary file, then a rename).
    """
    from sim.analysis.digest import digested

    runs = [digested(r) for r in results]  # each run's table read once, in row groups
    if not runs:
        raise ValueError("expected at least one result set")
    comparison = len(runs) > 1
    if comparison:
        title = "Scenario comparison: " + " vs ".join(r.name or r.title for r in runs)
        focal = sorted({r.focal for r in runs if r.focal})
        sub = f"{len(runs)} scenarios · focal alliance {', '.join(esc(f) for f in focal)} · " + " · ".join(
            f"{esc(r.name)}: {r.n:,} replicates" for r in runs
        )
    else:
        r = runs[0]
        unit, dt = plots.time_unit(r)
        title = r.title or r.name
        sub = (
            f"scenario <code>{esc(r.name)}</code> · {r.n:,} replicates × "
            f"{r.steps * dt:g} {esc(unit)} · focal alliance <code>{esc(r.focal or '-')}</code>"
        )
    page = Page(path, title, sub)
    with report_progress(page, progress) as step:
        page.answer_raw(answer_section(runs))
        step()
        _write_parts(page, runs, comparison)
        return page.write()


def report_progress(page: Page, on: bool):
    """A context giving a ``step()`` that advances a progress bar of the report's parts; each
    figure ``page`` draws when it is written is a step too (no bar when ``on`` is false)."""
    import contextlib

    @contextlib.contextmanager
    def scope():
        if not on:
            yield lambda: None
            return
        import sys

        from tqdm.auto import tqdm

        bar = tqdm(unit="part", desc="writing the report", leave=False, file=sys.stderr)
        page.on_drawn = lambda: bar.update(1)
        try:
            yield lambda: bar.update(1)
        finally:
            bar.close()

    return scope()


def _write_parts(page: Page, runs: list, comparison: bool) -> None:
    """Everything of a report after its answer: the glossary, the comparison, each scenario."""
    page.glossary(report_glossary(runs))
    if comparison:
        page.add(difference_section(runs))
        page.add(parameter_diff_section(runs))
        page.add(
            "<section id='comparison'><h2>Side by side</h2>"
            + page.figures(comparison_figures(runs))
            + "</section>"
        )
        page.add(
            "<h2>Each scenario in detail</h2><p class='small'>Open a scenario for its "
            "figures, the variance split by basis, its parameters and how to reproduce "
            "it.</p>"
        )

    def render(entries: list[FigureEntry]) -> str:
        return "".join(page.figure(e) for e in entries)

    prefixes = [f"{k + 1:02d}-{_slug(r.name or 'scenario')}" for k, r in enumerate(runs)]
    for k, (r, prefix) in enumerate(zip(runs, prefixes, strict=True)):
        section = scenario_section(r, k + 1, render(scenario_figures(r, prefix))) + why_section(
            r, k + 1, prefix, render
        )
        if comparison:
            section = (
                f"<details class='scenario-fold' id='details-{k + 1}'><summary>"
                f"{esc(r.name)}: {esc(r.title)}</summary>{section}</details>"
            )
        page.add(section)
    page.cite(
        "Fates: Wilson (1927) score intervals.",
        "Survival: Kaplan & Meier (1958) with Greenwood (1926) variance (log-log band).",
        "Balance: Heider (1946), Cartwright & Harary (1956).",
        "Blocs: Axelrod & Bennett (1993).",
        "Variance split: Plischke, Borgonovo & Smith (2013), Kelley (1935).",
    )
    if comparison:
        page.cite("Unpaired differences: Newcombe (1998); paired: common random numbers (Law 2015).")
    page.cite("Figures use the Okabe–Ito colour-blind-safe palette.")
