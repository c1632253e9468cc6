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

import base64
import html
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.analysis import outcomes
from sim.present import plots
from sim.run.store import Results, atomic_write_bytes

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

STYLE = """
:root { --ink:#1d2327; --muted:#5b6670; --line:#d9dee3; --bg:#ffffff; --panel:#f5f7f9;
  --holds:#009E73; --stab:#D55E00; --drift:#999999; }
* { box-sizing:border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif; }
main { max-width:1180px; margin:0 auto; padding:28px 28px 60px; }
h1 { font-size:1.65em; margin:0 0 4px; line-height:1.25; }
h2 { font-size:1.3em; margin:36px 0 10px; padding-bottom:4px; border-bottom:2px solid var(--line); }
h3 { font-size:1.1em; margin:24px 0 8px; }
.sub { color:var(--muted); margin:0 0 18px; }
.answer { background:var(--panel); border:1px solid var(--line); border-radius:10px; padding:18px 22px; }
.answer h2 { margin-top:0; border:0; }
.headline { font-size:1.08em; margin:6px 0 14px; }
table { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; }
th, td { text-align:left; padding:6px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
th { font-weight:600; color:var(--muted); font-size:0.9em; }
td.num { white-space:nowrap; }
td.who { min-width:190px; }
td.who .ci { display:inline-block; margin-left:4px; white-space:nowrap; }
.p { font-size:1.25em; font-weight:700; }
.ci { color:var(--muted); font-size:0.88em; display:block; }
.holds .p { color:#00754f; } .stab .p { color:#b34a00; } .drift .p { color:#555; }
.bar { display:flex; height:14px; border-radius:7px; overflow:hidden; min-width:160px; margin-top:6px;
  background:#eee; }
.bar span { display:block; height:100%; }
.bar .h { background:var(--holds); } .bar .s { background:var(--stab); } .bar .d { background:var(--drift); }
.key { font-size:0.85em; color:var(--muted); margin-top:8px; }
.key i { display:inline-block; width:11px; height:11px; border-radius:2px; margin:0 4px -1px 10px; }
.figs { display:grid; grid-template-columns:repeat(auto-fit,minmax(520px,1fr)); gap:18px; }
figure { margin:0; background:#fff; border:1px solid var(--line); border-radius:8px; padding:10px; }
figure img { width:100%; height:auto; display:block; }
figcaption { color:var(--muted); font-size:0.88em; margin-top:6px; }
.small { font-size:0.88em; }
details { margin:10px 0; }
summary { cursor:pointer; font-weight:600; }
code, .mono { font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; font-size:0.9em; }
pre { background:var(--panel); padding:10px 12px; border-radius:6px; overflow-x:auto; }
.desc { white-space:pre-line; }
footer { margin-top:40px; color:var(--muted); font-size:0.85em; }
"""


def esc(value: object) -> str:
    """HTML-escape any value (quotes included), for text and attributes alike."""
    return html.escape(str(value), quote=True)


def _pct(p: float, digits: int = 1) -> str:
    return f"{100 * p:.{digits}f} %"


def _ci(low: float, high: float) -> str:
    return f"95 % CI {100 * low:.1f}–{100 * high:.1f} %"


@dataclass
class FigureEntry:
    """A figure of the report: file name, heading, alt text, caption and how to draw it."""

    key: str
    title: str
    alt: str
    caption: str
    draw: Callable[[], object]


def figure_png(fig) -> bytes:
    """The PNG bytes of a matplotlib Figure."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=plots.DPI)
    return buf.getvalue()


def _slug(text: str) -> str:
    s = re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")
    return s[:40] or "scenario"


def scenario_figures(r: Results, prefix: str) -> list[FigureEntry]:
    """The figures of one scenario, in reading order."""
    unit, _ = plots.time_unit(r)
    focal = r.focal or ""
    entries = []
    if r.alliances:
        entries += [
            FigureEntry(f"{prefix}-fates", "Fate of the focal alliance",
                        f"Bar chart: probability that {focal} holds, ends with a stab in the back "
                        f"(by each defector) or drifts apart, with 95 % intervals ({r.title})",
                        "Bars: share of replicates; whiskers: 95 % Wilson intervals.",
                        lambda: plots.fate_chart(r)),
            FigureEntry(f"{prefix}-survival", "Time until an alliance ends",
                        f"Kaplan-Meier survival curves of each alliance over {unit} ({r.title})",
                        "Kaplan-Meier estimate with Greenwood 95 % band; alliances that hold are "
                        "censored at the horizon.", lambda: plots.survival_chart(r)),
            FigureEntry(f"{prefix}-cohesion", "Cohesion over time",
                        f"Fan charts of the cohesion of each alliance over {unit} ({r.title})",
                        "Median, 25–75 % and 5–95 % of the mean tie among the members; dashed: the "
                        "trust threshold below which a defection counts as drifting apart.",
                        lambda: plots.cohesion_fan(r)),
        ]
    entries += [
        FigureEntry(f"{prefix}-blocs", "Final blocs",
                    f"Network of the actors in their final blocs ({r.title})",
                    "Axelrod–Bennett two-bloc partition of the final ties; node area: capability; "
                    "solid blue: friendly mean tie, dashed vermillion: hostile.",
                    lambda: plots.bloc_network(r)),
        FigureEntry(f"{prefix}-ties", "Mean final ties",
                    f"Heat map of the mean final ties between the actors ({r.title})",
                    "Row: the actor whose disposition it is; column: toward whom.",
                    lambda: plots.ties_heatmap(r)),
    ]
    if r.alliances:
        entries.append(FigureEntry(f"{prefix}-stabs", "Who stabs whom",
                                   f"Matrix of the probability that each actor stabs each partner "
                                   f"in the back ({r.title})",
                                   "Probability, over replicates, of a stab in the back by the row "
                                   "actor against the column actor in some declared alliance.",
                                   lambda: plots.stab_matrix(r)))
    if outcomes.bloc_columns(r.outcomes, r.actors) is not None:
        entries.append(FigureEntry(f"{prefix}-samebloc", "Who ends up together",
                                   f"Heat map of the probability that two actors end in the same "
                                   f"bloc ({r.title})",
                                   "Share of replicates in which the two actors are in the same "
                                   "Axelrod–Bennett bloc at the horizon.",
                                   lambda: plots.same_bloc_heatmap(r)))
    entries.append(FigureEntry(f"{prefix}-balance", "Structural balance",
                               f"Line chart of the structural balance index and frustration over "
                               f"{unit} ({r.title})",
                               "Mean share of balanced (Heider) and unbalanced triads of the "
                               "symmetrised ties.", lambda: plots.balance_chart(r)))
    return entries


def comparison_figures(runs: Sequence[Results]) -> list[FigureEntry]:
    """The side-by-side panels of a comparison."""
    names = ", ".join(r.name for r in runs)
    return [
        FigureEntry("compare-fates", "Fates side by side",
                    f"Grouped bar chart of the fates of the focal alliance in {names}",
                    "Bars: share of replicates; whiskers: 95 % Wilson intervals.",
                    lambda: plots.compare_fates(runs)),
        FigureEntry("compare-survival", "Survival, overlaid",
                    f"Kaplan-Meier survival curves of the focal alliance in {names}",
                    "Kaplan-Meier estimate with Greenwood 95 % band.",
                    lambda: plots.compare_survival(runs)),
        FigureEntry("compare-cohesion", "Cohesion, overlaid",
                    f"Median cohesion of the focal alliance over time in {names}",
                    "Median and 5–95 % band of the mean tie among the members.",
                    lambda: plots.compare_cohesion(runs)),
    ]


# --------------------------------------------------------------------------------------------
# HTML pieces
# --------------------------------------------------------------------------------------------

def _fate_cells(r: Results, alliance: str) -> dict:
    table = outcomes.fate_table(r.outcomes, alliance, r.actors).set_index("outcome")
    by = [(o.split(" by ", 1)[1], row) for o, row in table.iterrows() if " by " in o]
    return {"holds": table.loc["holds"], "stab": table.loc["stab_in_the_back"],
            "drift": table.loc["drift_apart"], "by": by}


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
        items.append(f"<div><b>{esc(who)}</b> stabs {esc(victim)}: {_pct(row['p'])} "
                     f"<span class='ci'>{_ci(row['low'], row['high'])}</span></div>")
    return "".join(items)


def _headline(r: Results, alliance: str, cells: dict) -> str:
    unit, dt = plots.time_unit(r)
    h, s, d = cells["holds"], cells["stab"], cells["drift"]
    who = ""
    if cells["by"]:
        who = " (" + ", ".join(f"by {esc(w)} {_pct(row['p'])}" for w, row in cells["by"]) + ")"
    return (f"<p class='headline'><b>{esc(r.name)}</b>: the alliance <b>{esc(alliance)}</b> holds "
            f"for {r.steps * dt:g} {esc(unit)} in <b>{_pct(h['p'])}</b> of "
            f"{r.n:,} simulated futures ({_ci(h['low'], h['high'])}); it ends with a "
            f"stab in the back in <b>{_pct(s['p'])}</b>{who} and drifts apart in "
            f"<b>{_pct(d['p'])}</b>.</p>")


def answer_section(runs: Sequence[Results]) -> str:
    """The opening section: the fate table of each scenario's focal alliance."""
    rows, heads = [], []
    for r in runs:
        alliance = r.focal
        if alliance is None or f"{alliance}.fate" not in r.outcomes:
            rows.append(f"<tr><td>{esc(r.name)}</td><td colspan='6'>no declared alliance</td></tr>")
            continue
        c = _fate_cells(r, alliance)
        heads.append(_headline(r, alliance, c))
        unit, dt = plots.time_unit(r)
        h, s, d = c["holds"], c["stab"], c["drift"]
        bar = (f"<div class='bar' role='img' aria-label='holds {_pct(h['p'])}, stab in the back "
               f"{_pct(s['p'])}, drift apart {_pct(d['p'])}'>"
               f"<span class='h' style='width:{100 * h['p']:.2f}%'></span>"
               f"<span class='s' style='width:{100 * s['p']:.2f}%'></span>"
               f"<span class='d' style='width:{100 * d['p']:.2f}%'></span></div>")
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
            "</tr>")
    key = ("<div class='key'>Bar:<i style='background:#009E73'></i>holds"
           "<i style='background:#D55E00'></i>stab in the back"
           "<i style='background:#999999'></i>drift apart. Intervals: Wilson score, 95 %.</div>")
    return (
        "<section class='answer' id='answer'><h2>The answer</h2>" + "".join(heads)
        + "<table id='fate-table'><thead><tr><th>scenario</th><th>P(holds)</th>"
        "<th>P(stab in the back)</th><th>who stabs whom</th><th>P(drift apart)</th>"
        "<th>replicates, horizon</th></tr></thead><tbody>" + "".join(rows)
        + "</tbody></table>" + key + "</section>")


def _figure_html(entry: FigureEntry, png: bytes, file_name: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (f"<figure id='fig-{esc(entry.key)}'><img src='data:image/png;base64,{data}' "
            f"alt='{esc(entry.alt)}' title='{esc(entry.title)}'>"
            f"<figcaption><b>{esc(entry.title)}.</b> {esc(entry.caption)} "
            f"<span class='mono'>{esc(file_name)}</span></figcaption></figure>")


def _alliances_table(r: Results) -> str:
    spec = r.manifest.get("scenario", {}).get("alliances") or {}
    rows = []
    for name in r.alliances:
        if f"{name}.fate" not in r.outcomes:
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
            f"<td class='num'>{_median_text(r, name)}</td></tr>")
    if not rows:
        return ""
    return ("<h3>Alliances</h3><table><thead><tr><th>alliance</th><th>members</th><th>holds</th>"
            "<th>stab in the back</th><th>drift apart</th><th>median time to end</th></tr></thead>"
            "<tbody>" + "".join(rows) + "</tbody></table>")


def _median_text(r: Results, alliance: str) -> str:
    unit, dt = plots.time_unit(r)
    curve = outcomes.alliance_survival(r.outcomes, alliance, r.steps)
    m = curve.median()
    if np.isnan(m):
        return (f"beyond the horizon<span class='ci'>S = {curve.final:.3f} at {r.steps * dt:g} "
                f"{esc(unit)}</span>")
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
        from sim.spec.scenario import Scenario

        scenario = Scenario.model_validate(r.manifest["scenario"])
        return [(s.path, describe_value(s.value), getattr(s.value, "claim", None)) for s in slots(scenario)]
    except Exception:  # noqa: BLE001 - fall back to the sampled columns
        return None


def _claim_html(claims, prefix: str) -> str:
    """Short citations: claim id, ¶N (or "public figure") and speaker."""
    parts = []
    for c in claims:
        where = f"¶{c.paragraph}" if c.paragraph is not None else "public figure"
        parts.append(f"<div><a href='#{prefix}-claim-{esc(_slug(c.id))}'><b>{esc(c.id)}</b></a> "
                     f"{esc(where)}, {esc(c.speaker)}</div>")
    return "".join(parts) or "–"


def _claims_list(claims, prefix: str) -> str:
    """Every cited claim once: id, paragraph or source, speaker and paraphrase."""
    if not claims:
        return ""
    rows = []
    for c in claims:
        where = f"¶{c.paragraph} of the source article" if c.paragraph is not None else c.source
        rows.append(f"<tr id='{prefix}-claim-{esc(_slug(c.id))}'><td><b>{esc(c.id)}</b></td>"
                    f"<td>{esc(where)}</td><td>{esc(c.speaker)}</td>"
                    f"<td class='small'>{esc(c.paraphrase)}</td></tr>")
    return (f"<details><summary>{len(claims)} claims cited</summary><table class='small'><thead>"
            "<tr><th>claim</th><th>where</th><th>speaker</th><th>what it says</th></tr></thead>"
            "<tbody>" + "".join(rows) + "</tbody></table></details>")


def parameters_section(r: Results, prefix: str = "s1") -> str:
    """The scenario's parameters: declared value, sampled range, and the claims grounding them."""
    by_param, by_id, note = _load_claims(r)
    sampled = {c[len("param:"):]: c for c in r.columns if c.startswith("param:")}
    declared = _declared_values(r)
    if declared is None:
        declared = [(p, "sampled", None) for p in sampled]

    def claims_for(path: str, claim_id: str | None):
        found = list(by_param.get(path, []))
        parent = path
        while "." in parent and not found:
            parent = parent.rsplit(".", 1)[0]
            found = list(by_param.get(parent, []))
        if claim_id and claim_id in by_id and by_id[claim_id] not in found:
            found.append(by_id[claim_id])
        return found

    cited: dict[str, object] = {}

    def row(path, text, claim_id):
        found = claims_for(path, claim_id)
        cited.update((c.id, c) for c in found)
        col = sampled.get(path)
        if col is not None:
            v = r.read([col])[col].to_numpy(dtype=float)
            rng = f"{np.quantile(v, 0.05):.4g} – {np.quantile(v, 0.95):.4g}"
        else:
            rng = "fixed"
        return (f"<tr><td><code>{esc(path)}</code></td><td class='mono'>{esc(text)}</td>"
                f"<td class='num mono'>{esc(rng)}</td><td class='small'>{_claim_html(found, prefix)}"
                "</td></tr>")

    head = ("<table><thead><tr><th>parameter</th><th>declared</th><th>sampled 5–95 %</th>"
            "<th>grounded in (claim, ¶ of the source article, speaker)</th></tr></thead><tbody>")
    uncertain = [d for d in declared if d[0] in sampled]
    fixed = [d for d in declared if d[0] not in sampled]
    out = [f"<h3>Parameters</h3><p class='small'>{esc(note)}</p>",
           f"<details{' open' if len(uncertain) <= 25 else ''}><summary>{len(uncertain)} uncertain "
           "parameters (sampled per replicate)"
           "</summary>", head, *(row(*d) for d in uncertain), "</tbody></table></details>"]
    if fixed:
        out += [f"<details><summary>{len(fixed)} fixed values</summary>", head,
                *(row(*d) for d in fixed), "</tbody></table></details>"]
    out.append(_claims_list(list(cited.values()), prefix))
    return "".join(out)


def reproduce_section(r: Results) -> str:
    """Run settings, seed, versions and scenario hash, and the command that reruns the scenario."""
    m = r.manifest
    settings = m.get("settings", {}) or {}
    run = (m.get("scenario", {}) or {}).get("run", {}) or {}
    rows = [("scenario hash (SHA-256)", m.get("scenario_hash", "")),
            ("seed", settings.get("seed", m.get("seed", ""))),
            ("replicates", settings.get("replicates", r.n)),
            ("steps", f"{settings.get('steps', r.steps)} × {run.get('dt', settings.get('dt', 1))} "
                      f"{run.get('unit', 'month')}"),
            ("chunk size", settings.get("chunk_size", "")),
            ("dtype", settings.get("dtype", "")),
            ("result directory", str(r.directory))]
    rows += [(f"version of {k}", v) for k, v in (m.get("versions") or {}).items()]
    body = "".join(f"<tr><th>{esc(k)}</th><td class='mono'>{esc(v)}</td></tr>" for k, v in rows)
    cmd = (f"alliance-sim run {r.name or 'SCENARIO'}.toml --replicates "
           f"{settings.get('replicates', r.n)} --steps {settings.get('steps', r.steps)} "
           f"--seed {settings.get('seed', '')} --chunk-size {settings.get('chunk_size', '')}")
    return ("<h3>Reproduce</h3><table class='small'><tbody>" + body + "</tbody></table>"
            "<p class='small'>Rerun with the scenario file whose resolved form has the hash above "
            "(<code>alliance-sim show</code> prints it):</p>"
            f"<pre>{esc(cmd)}</pre>")


def scenario_section(r: Results, index: int, figures_html: str) -> str:
    """Everything about one scenario: description, alliances, figures, parameters, settings."""
    desc = (r.manifest.get("scenario", {}) or {}).get("description", "")
    actors = ", ".join(esc(a) for a in r.actors)
    return (f"<section class='scenario' id='scenario-{index}'><h2>{esc(r.title)}</h2>"
            f"<p class='sub'>scenario <code>{esc(r.name)}</code> · actors: {actors}</p>"
            + (f"<p class='desc'>{esc(desc.strip())}</p>" if desc else "")
            + _alliances_table(r)
            + (f"<h3>Figures</h3><div class='figs'>{figures_html}</div>" if figures_html else "")
            + parameters_section(r, f"s{index}") + reproduce_section(r) + "</section>")


# --------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------

def _write_page(path: Path, title: str, body: list[str]) -> Path:
    """One self-contained page (inline style, no scripts, a CSP that forbids them), atomically."""
    page = ("<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
            f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{esc(title)}</title><style>{STYLE}</style></head><body><main>"
            + "".join(body) + "</main></body></html>\n")
    atomic_write_bytes(path, page.encode("utf-8"))
    return path


def write_report(results: Sequence[Results], path: str | Path) -> Path:
    """Write the HTML report of one result set, or the comparison report of several.

    Parameters
    ----------
    results : sequence of Results
        One result set (a run report) or several (a comparison, in the given order).
    path : str or Path
        The HTML file; the figures go to ``<stem>_figures/`` next to it as PNG files.

    Returns
    -------
    Path
        The HTML file, written atomically (a temporary file, then a rename).
    """
    runs = list(results)
    if not runs:
        raise ValueError("expected at least one result set")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig_dir = path.parent / f"{path.stem}_figures"
    fig_dir.mkdir(exist_ok=True)
    for old in fig_dir.glob("*.png"):
        old.unlink()

    def render(entries: list[FigureEntry]) -> str:
        parts = []
        for entry in entries:
            png = figure_png(entry.draw())
            name = f"{entry.key}.png"
            atomic_write_bytes(fig_dir / name, png)
            parts.append(_figure_html(entry, png, f"{fig_dir.name}/{name}"))
        return "".join(parts)

    comparison = len(runs) > 1
    if comparison:
        title = "Scenario comparison: " + " vs ".join(r.name or r.title for r in runs)
        focal = sorted({r.focal for r in runs if r.focal})
        sub = (f"{len(runs)} scenarios · focal alliance {', '.join(esc(f) for f in focal)} · "
               + " · ".join(f"{esc(r.name)}: {r.n:,} replicates" for r in runs))
    else:
        r = runs[0]
        unit, dt = plots.time_unit(r)
        title = r.title or r.name
        sub = (f"scenario <code>{esc(r.name)}</code> · {r.n:,} replicates × "
               f"{r.steps * dt:g} {esc(unit)} · focal alliance <code>{esc(r.focal or '-')}</code>")

    body = [f"<header><h1>{esc(title)}</h1><p class='sub'>{sub}</p></header>", answer_section(runs)]
    if comparison:
        body.append("<section id='comparison'><h2>Side by side</h2><div class='figs'>"
                    + render(comparison_figures(runs)) + "</div></section>")
    prefixes = [f"{k + 1:02d}-{_slug(r.name or 'scenario')}" for k, r in enumerate(runs)]
    for k, (r, prefix) in enumerate(zip(runs, prefixes, strict=True)):
        body.append(scenario_section(r, k + 1, render(scenario_figures(r, prefix))))
    body.append("<footer>Fates: Wilson (1927) score intervals. Survival: Kaplan &amp; Meier (1958) "
                "with Greenwood (1926) variance (log-log band). Balance: Heider (1946), Cartwright "
                "&amp; Harary (1956). Blocs: Axelrod &amp; Bennett (1993). Figures use the "
                "Okabe–Ito colour-blind-safe palette.</footer>")
    return _write_page(path, title, body)


# --------------------------------------------------------------------------------------------
# Exploration: sensitivity analysis and scenario discovery (sim.analysis.sensitivity)
# --------------------------------------------------------------------------------------------

@dataclass
class ExplorationPart:
    """One section of an exploration page: a heading, a paragraph, tables and figures."""

    heading: str
    intro: str
    tables: Sequence[tuple[str, object]]  # (caption, pandas DataFrame)
    figures: Sequence[FigureEntry]


def table_html(df, digits: int = 3) -> str:
    """A DataFrame as an escaped HTML table (numbers to ``digits`` significant digits)."""
    import pandas as pd

    frame = df.reset_index() if not isinstance(df.index, pd.RangeIndex) else df
    head = "".join(f"<th>{esc(c)}</th>" for c in frame.columns)
    rows = []
    for values in frame.itertuples(index=False):
        cells = []
        for v in values:
            if isinstance(v, (float, np.floating)):
                cells.append(f"<td class='num'>{'–' if not np.isfinite(v) else f'{v:.{digits}g}'}</td>")
            else:
                cells.append(f"<td>{esc(v)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table class='small'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def exploration_section(part: ExplorationPart, figures_html: str) -> str:
    """The HTML of one :class:`ExplorationPart` (figures already rendered)."""
    tables = "".join(f"<h3>{esc(caption)}</h3>{table_html(df)}" for caption, df in part.tables)
    return (f"<section class='exploration'><h2>{esc(part.heading)}</h2>"
            f"<p>{esc(part.intro)}</p>" + tables
            + (f"<div class='figs'>{figures_html}</div>" if figures_html else "") + "</section>")


def write_exploration_report(path: str | Path, title: str, subtitle: str,
                             parts: Sequence[ExplorationPart]) -> Path:
    """Write a self-contained HTML page of sensitivity and discovery sections.

    Same page rules as :func:`write_report`: figures embedded as PNG data URIs and written to
    ``<stem>_figures/``, no script, every string escaped.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig_dir = path.parent / f"{path.stem}_figures"
    fig_dir.mkdir(exist_ok=True)
    body = [f"<header><h1>{esc(title)}</h1><p class='sub'>{esc(subtitle)}</p></header>"]
    for part in parts:
        rendered = []
        for entry in part.figures:
            png = figure_png(entry.draw())
            name = f"{entry.key}.png"
            atomic_write_bytes(fig_dir / name, png)
            rendered.append(_figure_html(entry, png, f"{fig_dir.name}/{name}"))
        body.append(exploration_section(part, "".join(rendered)))
    body.append("<footer>Sobol indices: Saltelli (2002), Saltelli et al. (2010), computed with "
                "SALib (Herman &amp; Usher 2017). Morris screening: Morris (1991), Campolongo et "
                "al. (2007). PRIM: Friedman &amp; Fisher (1999); scenario discovery: Bryant &amp; "
                "Lempert (2010), with the EMA Workbench (Kwakkel 2017).</footer>")
    return _write_page(path, title, body)
