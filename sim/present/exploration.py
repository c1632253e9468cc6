"""Figures, pages and files of the exploration analyses: sensitivity (Sobol, Morris), scenario
discovery (PRIM) and one-parameter sweeps. Every page is built with the page kit
(:mod:`sim.present.page`) from computed results, and opens with its answer and its noise."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.analysis.discovery import Discovery
from sim.analysis.sensitivity import Sensitivity
from sim.files import all_or_nothing, atomic_write, atomic_write_text
from sim.present import plots
from sim.present.page import Page, esc, minus, noise_badge, pct, pp, sample_note, table_html, titled, warning
from sim.present.page_figures import FigureEntry
from sim.vocabulary import FATE_LABELS, FATES

OUTPUT_LABELS = {"p_holds": "P(holds)", "p_stab": "P(stab in the back)", "p_drift": "P(drift apart)"}

SOBOL_REFERENCES = (
    "Sobol indices: Saltelli (2002); Saltelli et al. (2010) (Jansen's estimator); Sobol' (2001); "
    "computed with SALib (Herman & Usher 2017).",
)
MORRIS_REFERENCES = (
    "Morris screening: Morris (1991); Campolongo, Cariboni & Saltelli (2007); computed with SALib "
    "(Herman & Usher 2017).",
)
PRIM_REFERENCES = (
    "PRIM: Friedman & Fisher (1999); scenario discovery and quasi-p values: Bryant & Lempert (2010), "
    "with the EMA Workbench (Kwakkel 2017).",
    "Intervals of coverage, density and the base rate: Wilson (1927).",
)


def _claims_text(claims: dict | None, path: str) -> str:
    if not claims:
        return ""
    from sim.spec.claims import claims_for

    return ", ".join(c.id + (f" (¶{c.paragraph})" if c.paragraph else "") for c in claims_for(claims, path))


# --------------------------------------------------------------------------------------------
# Sensitivity: Sobol and Morris
# --------------------------------------------------------------------------------------------


def sensitivity_figure(s: Sensitivity, outputs: Sequence[str] = ("p_stab", "p_holds"), top: int = 12):
    """Horizontal bars of the most influential factors per output, with confidence intervals,
    one panel per output, each panel as wide as half the page."""
    from sim.present.plots import NEGATIVE, POSITIVE, _figure, _style, text

    outputs = [o for o in outputs if o in s.indices]
    rows = min(top, max(len(s.indices[o]) for o in outputs))
    height = 1.2 + 0.32 * rows
    fig = _figure(4.6 * len(outputs), height)
    axes = fig.subplots(1, len(outputs), squeeze=False)[0]
    for ax, out in zip(axes, outputs):
        df = s.table(out, top).iloc[::-1]
        y = np.arange(len(df))
        if s.method == "sobol":
            ax.barh(
                y + 0.2,
                df.ST,
                0.4,
                xerr=df.ST_conf,
                color=NEGATIVE,
                label="total (ST)",
                error_kw={"elinewidth": 0.8, "capsize": 2},
            )
            ax.barh(
                y - 0.2,
                df.S1,
                0.4,
                xerr=df.S1_conf,
                color=POSITIVE,
                label="first order (S1)",
                error_kw={"elinewidth": 0.8, "capsize": 2},
            )
            ax.set_xlabel("Sobol index, 95 % interval")
        else:
            ax.barh(
                y,
                df.mu_star,
                0.6,
                xerr=df.mu_star_conf,
                color=NEGATIVE,
                label="μ* (mean absolute effect)",
                error_kw={"elinewidth": 0.8, "capsize": 2},
            )
            ax.plot(df.sigma, y, "o", color=POSITIVE, ms=4, label="σ (spread of effects)")
            ax.set_xlabel("elementary effect per step of the factor's range")
        ax.set_yticks(y, [text(i, 34) for i in df.index], fontsize=8)
        ax.set_title(text(f"{OUTPUT_LABELS.get(out, out)} of {s.alliance}"), fontsize=10)
        ax.axvline(0, color="#888888", lw=0.6)
        _style(ax)
        ax.grid(axis="x", color="#dddddd", linewidth=0.6)
        ax.legend(fontsize=8, frameon=False, loc="lower right")
    return fig


def index_verdicts(s: Sensitivity, output: str, top: int | None = None) -> pd.DataFrame:
    """Each factor's main index with its 95 % half-width, whether it can be told from noise (its
    interval excludes zero) and, if not, about how many base samples (Sobol) or trajectories
    (Morris) would separate it were it to stay the same size."""
    from sim.analysis.noise import runs_to_separate

    df = s.table(output, top)
    key, conf = ("ST", "ST_conf") if s.method == "sobol" else ("mu_star", "mu_star_conf")
    n = int(s.settings.get("samples") or 1)
    rows = []
    for name, r in df.iterrows():
        v, h = float(r[key]), float(r[conf])
        noisy = not (v - h > 0)
        rows.append(
            {
                "factor": name,
                "index": v,
                "conf": h,
                "within_noise": noisy,
                "samples_needed": runs_to_separate(v, h, n) if noisy else None,
            }
        )
    return pd.DataFrame(rows).set_index("factor")


def _sensitivity_answer(s: Sensitivity, claims: dict | None) -> str:
    from sim.present.show import describe_path

    key = "ST" if s.method == "sobol" else "μ*"
    parts = []
    for out in ("p_stab", "p_holds"):
        if out not in s.indices:
            continue
        v = index_verdicts(s, out)
        clear = v[~v.within_noise]
        lead = ", ".join(
            f"{esc(describe_path(str(f)))} ({key} {r['index']:.2f} ± {r['conf']:.2f})"
            for f, r in clear.head(3).iterrows()
        )
        noisy = int(v.within_noise.sum())
        if clear.empty:
            parts.append(
                f"No uncertain value moves {esc(OUTPUT_LABELS[out])} of <b>{esc(s.alliance)}</b> beyond "
                f"the noise of this design: every one of the {len(v)} intervals includes zero."
            )
        else:
            parts.append(
                f"The uncertain values that move {esc(OUTPUT_LABELS[out])} of <b>{esc(s.alliance)}</b> "
                f"most are {lead}; {noisy} of the {len(v)} cannot be told from noise (their 95 % "
                "interval includes zero)."
            )
    return " ".join(parts)


def _sensitivity_table(s: Sensitivity, output: str, claims: dict | None, top: int = 15) -> str:
    from sim.present.show import describe_path

    v = index_verdicts(s, output, top)
    df = s.table(output, top)
    rows = []
    for k, (name, r) in enumerate(df.iterrows(), 1):
        verdict = v.loc[name]
        if verdict.within_noise:
            need = verdict.samples_needed
            unit = "--samples" if s.method == "sobol" else "trajectories (--samples)"
            note = noise_badge() + (f" about {int(need):,} {unit}" if pd.notna(need) else " no effect seen")
        else:
            note = "yes"
        row = {
            "rank": k,
            "parameter": f"<code>{esc(name)}</code>",
            "in words": esc(describe_path(str(name))),
        }
        if claims:
            row["claims"] = esc(_claims_text(claims, str(name)))
        if s.method == "sobol":
            row["ST (total) ± 95 %"] = esc(f"{r.ST:.3f} ± {r.ST_conf:.3f}")
            row["S1 (first order) ± 95 %"] = esc(f"{r.S1:.3f} ± {r.S1_conf:.3f}")
        else:
            row["μ* ± 95 %"] = esc(f"{r.mu_star:.3f} ± {r.mu_star_conf:.3f}")
            row["σ"] = esc(f"{r.sigma:.3f}")
        row["told from noise?"] = note
        rows.append(row)
    frame = pd.DataFrame(rows)
    return table_html(frame, html_columns=list(frame.columns))


@all_or_nothing()  # a failure leaves none of its files
def write_sensitivity(s: Sensitivity, out: str | Path, claims: dict | None = None) -> dict[str, Path]:
    """Write the design and its outputs (Parquet), the indices (CSV), the settings (JSON) and the
    page ``report.html`` with its figure to ``out``; returns the paths by kind."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    design = pd.DataFrame(s.X, columns=[f.name for f in s.factors])
    design = pd.concat([design, s.outputs], axis=1)
    design.index.name = "design_row"
    paths = {"design": out / "design.parquet"}
    atomic_write(design.to_parquet, paths["design"])
    frames = []
    for o, df in s.indices.items():
        frames.append(df.reset_index().assign(output=o))
    paths["indices"] = out / "indices.csv"
    atomic_write(pd.concat(frames, ignore_index=True).to_csv, paths["indices"], index=False)
    meta = {
        "scenario": s.scenario_name,
        "method": s.method,
        "alliance": s.alliance,
        "factors": [f.to_data() for f in s.factors],
        "groups": s.groups,
        **s.settings,
        "noise_share": {o: s.noise_share(o) for o in s.outputs.columns},
    }
    paths["settings"] = out / "sensitivity.json"
    atomic_write_text(paths["settings"], json.dumps(meta, indent=1, default=_json_default))
    paths["report"] = write_sensitivity_page(s, out / "report.html", claims)
    paths["figure"] = out / "report_figures" / "sensitivity.png"
    return paths


def write_sensitivity_page(s: Sensitivity, path: Path, claims: dict | None = None) -> Path:
    """The page of a Sobol or Morris analysis: the answer with its noise, the glossary, the figure,
    each output's table with a verdict per index, and how it was computed."""
    from sim.analysis.sensitivity import noise_warning

    st = s.settings
    method = "Sobol" if s.method == "sobol" else "Morris"
    page = Page(
        path,
        titled(f"Sensitivity ({method})", s.scenario_name),
        f"{esc(method)} · alliance <code>{esc(s.alliance)}</code> · {st['design_points']:,} design points × "
        f"{st['replicates']} replicates = {st['replicate_runs']:,} runs · {st['seconds']:.0f} s",
    )
    warnings = [
        w[0].upper() + w[1:] + "."
        for o in ("p_stab", "p_holds")
        if o in s.outputs
        for w in [noise_warning(s, o)]
        if w
    ]
    page.answer(_sensitivity_answer(s, claims), details="".join(warning(w) for w in warnings))
    keys = ["S1", "ST", "conf"] if s.method == "sobol" else ["mu_star", "sigma", "conf"]
    page.glossary([*keys, "within_noise", "noise_share"])
    figure = FigureEntry(
        "sensitivity",
        "Most influential uncertainties",
        f"{method} indices of P(stab in the back) and P(holds), with 95 % intervals",
        "Bars: index estimates; whiskers: 95 % bootstrap intervals; a whisker reaching zero marks "
        "an index that cannot be told from noise.",
        lambda: sensitivity_figure(s),
    )
    page.section("The most influential uncertainties", page.figures([figure]), "figure")
    for out in ("p_stab", "p_holds"):
        if out in s.indices:
            page.section(f"{OUTPUT_LABELS[out]} of {s.alliance}", _sensitivity_table(s, out, claims))
    unit = "groups" if s.groups else "parameters"
    n_units = st["groups"] or st["factors"]
    how = (
        f"{n_units} uncertain {unit} varied over their scenario distributions; "
        f"{st['design_points']:,} design points, each run {st['replicates']} times on common random "
        f"numbers ({st['replicate_runs']:,} runs). Binomial noise share of the variance of P(stab in "
        f"the back): {_share(s.noise_share('p_stab'))}; of P(holds): {_share(s.noise_share('p_holds'))}. "
        "An index's interval shrinks as one over the square root of the base samples; the "
        "binomial noise share falls with --replicates."
    )
    if st.get("samples_requested") not in (None, st.get("samples")):
        how += (
            f" {st['samples_requested']} samples were asked for; the design uses {st['samples']}, the "
            "next power of two, where the Sobol' sequence is balanced."
        )
    page.section("How it was computed", f"<p>{esc(how)}</p>")
    page.cite(*(SOBOL_REFERENCES if s.method == "sobol" else MORRIS_REFERENCES))
    return page.write()


def _share(x: float) -> str:
    return f"{x:.2f}" if np.isfinite(x) else "none (the output did not vary over the design)"


def _json_default(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(type(x).__name__)


# --------------------------------------------------------------------------------------------
# Scenario discovery
# --------------------------------------------------------------------------------------------


def discovery_figure(d: Discovery):
    """The first box: its peeling trajectory (coverage vs density) and, when it restricts
    anything, its limits, each restricted dimension drawn as the kept share of its sampled range.
    None when PRIM found no box (nothing to draw)."""
    from sim.present.plots import NEGATIVE, POSITIVE, _figure, _style, text

    if not d.boxes:
        return None
    b = d.boxes[0]
    restricted = not b.limits.empty
    fig = _figure(9.0 if restricted else 4.4, 0.9 + max(3.0, 0.34 * len(b.limits)))
    if restricted:
        ax1, ax2 = fig.subplots(1, 2, width_ratios=[1, 1.3])
    else:
        ax1, ax2 = fig.subplots(), None
    t = b.trajectory
    sc = ax1.scatter(t.coverage, t.density, c=t.res_dim, cmap="viridis", s=14)
    row = t.loc[b.chosen]
    ax1.plot(row.coverage, row.density, "o", ms=11, mfc="none", mec=NEGATIVE, mew=1.6)
    ax1.axhline(d.base_rate, color="#888888", lw=0.8, ls="--")
    ax1.text(
        0.02,
        d.base_rate,
        " base rate",
        va="bottom",
        fontsize=8,
        color="#555555",
        transform=ax1.get_yaxis_transform(),
    )
    ax1.set_xlabel("coverage")
    ax1.set_ylabel("density")
    ax1.set_title(text(f"peeling trajectory: {d.outcome} ({d.alliance})", 50), fontsize=10)
    fig.colorbar(sc, ax=ax1, label="restricted dimensions")
    _style(ax1)
    if ax2 is None:
        return fig
    lim = b.limits.iloc[::-1]
    y = np.arange(len(lim))
    span = (lim.full_high - lim.full_low).replace(0, 1)
    lo = (lim.low - lim.full_low) / span
    hi = (lim.high - lim.full_low) / span
    ax2.barh(y, np.ones(len(lim)), color="#eeeeee", height=0.6)
    ax2.barh(y, hi - lo, left=lo, color=POSITIVE, height=0.6)
    for yy, (_, r) in zip(y, lim.iterrows()):
        ax2.text(1.02, yy, f"{r.low:.3g} .. {r.high:.3g}", va="center", fontsize=8)
    ax2.set_yticks(y, [text(i, 30) for i in lim.index], fontsize=8)
    ax2.set_xlim(0, 1.4)
    ax2.set_xticks([0, 0.5, 1], ["min", "", "max"])
    ax2.set_title(text(f"box 1: coverage {b.coverage:.2f}, density {b.density:.2f}"), fontsize=10)
    ax2.spines[["top", "right"]].set_visible(False)
    return fig


def discovery_answer(d: Discovery) -> str:
    """The answer of a discovery in one or two sentences (HTML): the base rate with its interval,
    then the box's restrictions, density, lift and coverage with theirs, or why there is none."""
    from sim.analysis.discovery import box_noise, no_region_text
    from sim.analysis.likelihood import wilson

    unit = d.settings.get("unit", "runs")
    unit = "runs" if unit == "replicates" else unit
    lo, hi = wilson(d.cases, d.n)
    text = (
        f"<b>{esc(plots.fate_label(d.outcome))}</b> ({esc(d.alliance)}) happens in {d.cases:,} of "
        f"{d.n:,} {esc(unit)}: {pct(d.base_rate)} (95 % interval {pct(lo)}–{pct(hi)}). "
    )
    if not d.boxes:
        note = d.settings.get("note") or "PRIM found no box"
        return text + esc(note[0].upper() + note[1:]) + "."
    b = d.boxes[0]
    if b.limits.empty:
        return text + esc(no_region_text(d, b)[0].upper() + no_region_text(d, b)[1:]) + "."
    q = box_noise(d, b)
    text += (
        f"PRIM's box restricts {len(b.limits)} of the {len(d.dimensions)} uncertain values; inside it "
        f"the outcome happens in {pct(b.density)} of the {esc(unit)} (95 % interval "
        f"{pct(q['density'][0])}–{pct(q['density'][1])}), {q['lift']:.2f} times the base rate "
        f"({q['lift_low']:.2f}–{q['lift_high']:.2f}), and the box holds {pct(b.coverage)} of all "
        f"cases ({pct(q['coverage'][0])}–{pct(q['coverage'][1])})."
    )
    comment = weak_box_comment(q)
    return text + (f" {esc(comment)}" if comment else "")


def weak_box_comment(q: dict) -> str:
    """A sentence when a box's lift is near 1 (below 1.25, or its interval reaching 1.1)."""
    if q["lift"] < 1.25 or q["lift_low"] < 1.1:
        return (
            f"A lift of {q['lift']:.2f} is weak: the outcome is barely more frequent inside the box "
            "than everywhere, so the box names no region worth watching."
        )
    return ""


def discovery_section(
    d: Discovery, page: Page, claims: dict | None = None, heading: str | None = None
) -> str:
    """The evidence of a discovery: the figure (when there is a box) and each box's restrictions
    with the claims behind them, headers in words."""
    from sim.analysis.discovery import box_noise, no_region_text
    from sim.present.show import describe_path

    parts = [
        f"<p>PRIM on {len(d.dimensions)} sampled values of {d.n:,} "
        f"{esc(d.settings.get('unit', 'replicates'))}: "
        f"each box is read at its densest point with coverage ≥ {d.settings.get('min_coverage', 0.5):g}, "
        f"keeping the restrictions with quasi-p ≤ {d.settings.get('max_qp')}.</p>"
    ]
    figure = discovery_figure(d)
    if figure is not None:
        parts.append(
            page.figures(
                [
                    FigureEntry(
                        "discovery",
                        "Scenario discovery (PRIM)",
                        "PRIM peeling trajectory and the box's limits",
                        (
                            "Left: coverage and density along the peeling trajectory (circle: the "
                            "chosen box; dashed: the base rate). Right: the kept range of each "
                            "restricted value."
                            if not d.boxes[0].limits.empty
                            else "Coverage and density along the peeling trajectory (circle: the "
                            "chosen box; dashed: the base rate); no restriction to show."
                        ),
                        lambda: figure,
                    )
                ]
            )
        )
    for b in d.boxes:
        if b.limits.empty:
            if b.index > 1:  # the first box's is the answer, said above
                parts.append(f"<p>Box {b.index}: {esc(no_region_text(d, b))}.</p>")
            continue
        q = box_noise(d, b)
        df = b.limits.reset_index()
        frame = pd.DataFrame(
            {
                "parameter": df.dimension,
                "in words": [describe_path(dim) for dim in df.dimension],
                "kept from": df.low,
                "kept to": df.high,
                "sampled from": df.full_low,
                "sampled to": df.full_high,
                "quasi-p": df.qp,
            }
        )
        if claims:
            frame["claims"] = [_claims_text(claims, dim) for dim in df.dimension]
        comment = weak_box_comment(q)
        parts.append(
            f"<h3>Box {b.index}: coverage {b.coverage:.3f} ({q['coverage'][0]:.3f}–{q['coverage'][1]:.3f}), "
            f"density {b.density:.3f} ({q['density'][0]:.3f}–{q['density'][1]:.3f}), lift {q['lift']:.2f} "
            f"({q['lift_low']:.2f}–{q['lift_high']:.2f}), mass {b.mass:.3f}</h3>"
            + (f"<p class='note'>{esc(comment)}</p>" if comment else "")
            + table_html(frame)
        )
    title = heading or f"Where {plots.fate_label(d.outcome)} concentrates"
    return f"<section id='discovery'><h2>{esc(title)}</h2>{''.join(parts)}</section>"


DISCOVERY_GLOSSARY = ("base_rate", "coverage", "density", "mass", "lift", "qp", "wilson")


@all_or_nothing()  # a failure leaves none of its files
def write_discovery(d: Discovery, out: str | Path, claims: dict | None = None) -> dict[str, Path]:
    """Write the boxes (CSV), the trajectories (CSV) and the page (with the figure when PRIM found
    a box); returns the paths by kind."""
    from sim.run.store import safe_name

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    slug = safe_name(d.outcome.replace(" ", "_"), fallback="outcome")
    paths = {"boxes": out / f"prim_{slug}.csv"}
    atomic_write(d.table().to_csv, paths["boxes"], index=False)
    paths["trajectory"] = out / f"prim_{slug}_trajectory.csv"
    trajectory = pd.concat([b.trajectory.assign(box=b.index) for b in d.boxes] or [pd.DataFrame()])
    atomic_write(trajectory.to_csv, paths["trajectory"], index_label="step")
    page = Page(
        out / f"discovery_{slug}.html",
        titled("Scenario discovery", f"{plots.fate_label(d.outcome)} ({d.alliance})"),
        f"alliance <code>{esc(d.alliance)}</code> · {d.n:,} {esc(d.settings.get('unit', 'replicates'))} · "
        f"{len(d.dimensions)} uncertain values",
    )
    note = sample_note(d.settings.get("sample"))
    page.answer(discovery_answer(d), details=f"<p class='note'>{esc(note)}</p>" if note else "")
    page.glossary(DISCOVERY_GLOSSARY)
    page.add(discovery_section(d, page, claims))
    page.cite(*PRIM_REFERENCES)
    paths["report"] = page.write()
    return paths


# --------------------------------------------------------------------------------------------
# Sweeps
# --------------------------------------------------------------------------------------------


def sweep_figure(sw) -> Figure:
    """P(holds), P(stab in the back) and P(drift apart) against the swept value, with 95 % Wilson
    bands, and the scenario's own range of the value shaded (:class:`sim.analysis.sweep.Sweep`)."""
    from sim.present.show import describe_path

    fig = plots._figure(8.5, 4.2)
    ax = fig.add_subplot()
    own = getattr(sw, "own_range", None)
    if own is not None:
        lo, hi = own
        if hi > lo:
            ax.axvspan(lo, hi, color="#E69F00", alpha=0.15, linewidth=0, label="the scenario's own range")
        else:
            ax.axvline(lo, color="#E69F00", lw=1.5, ls="--", label="the scenario's own value")
    for word in FATES:
        t = sw.table[sw.table["fate"] == word]
        color = plots.FATE_COLORS[word]
        ax.fill_between(t["value"], t["low"], t["high"], color=color, alpha=0.2, linewidth=0)
        ax.plot(
            t["value"],
            t["p"],
            color=color,
            marker="o",
            markersize=4,
            linewidth=2,
            label=FATE_LABELS[FATES.index(word)],
        )
    ax.set_ylim(0, 1)
    words = describe_path(sw.path)
    ax.set_xlabel(plots.text(words if words == sw.path else f"{words} ({sw.path})", 90))
    ax.set_ylabel(f"share of runs: fate of {plots.text(sw.alliance)}")
    ax.set_title(
        plots.text(
            f"{sw.alliance} as the {words} varies ({sw.replicates} runs per value, common random "
            "numbers; bands: 95 % intervals)",
            95,
        ),
        fontsize=10,
    )
    ax.legend(frameon=False, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.grid(color="#dddddd", linewidth=0.6)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def _own_text(sw) -> str:
    own = getattr(sw, "own_range", None)
    if own is None:
        return ""
    lo, hi = own
    return (
        f"the scenario itself sets it to {lo:.4g}"
        if hi <= lo
        else f"the scenario itself draws it from {lo:.4g} to {hi:.4g}"
    )


def sweep_answer(sw) -> str:
    """The sweep's answer (HTML): P(holds) at the first and the last value with their intervals,
    the paired change and whether it stands out from noise, and the scenario's own range."""
    from sim.analysis.noise import runs_to_separate, within_noise
    from sim.present.show import describe_path

    t = sw.table[sw.table.fate == FATES[0]].reset_index(drop=True)
    first, last = t.iloc[0], t.iloc[-1]
    d = sw.paired[sw.paired.fate == FATES[0]].reset_index(drop=True).iloc[-1]
    words = describe_path(sw.path)
    text = (
        f"As the {esc(words)} (<code>{esc(sw.path)}</code>) goes from {minus(f'{first.value:.4g}')} to "
        f"{minus(f'{last.value:.4g}')}, P(<b>{esc(sw.alliance)}</b> holds) goes from {pct(first.p)} (95 % "
        f"interval {pct(first.low)}–{pct(first.high)}) to {pct(last.p)} ({pct(last.low)}–{pct(last.high)}): "
        f"a paired change of {pp(d['diff'])} ({pp(d.low)} to {pp(d.high)})"
    )
    if within_noise(d.low, d.high):
        need = runs_to_separate(d["diff"], (d.high - d.low) / 2, sw.replicates)
        text += ", which cannot be told from noise" + (
            f" (about {need:,} runs per value would separate a change this size)" if need else ""
        )
    own = _own_text(sw)
    return text + "." + (f" For comparison, {esc(own)}." if own else "")


@all_or_nothing()  # a failure leaves none of its files
def write_sweep(sw, out: str | Path) -> dict[str, Path]:
    """Write a sweep's table (CSV), paired differences (CSV), figure (PNG) and page
    (``report.html``) to ``out``; returns the paths by kind."""
    from sim.analysis.noise import runs_to_separate, within_noise
    from sim.present.show import describe_path

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"table": out / "sweep.csv", "paired": out / "sweep_paired.csv"}
    atomic_write(sw.table.to_csv, paths["table"], index=False)
    atomic_write(sw.paired.to_csv, paths["paired"], index=False)
    words = describe_path(sw.path)
    page = Page(
        out / "report.html",
        titled("Sweep", words),
        f"{esc(sw.scenario_title)} · <code>{esc(sw.path)}</code> · alliance "
        f"<code>{esc(sw.alliance)}</code> · {len(sw.values)} values × {sw.replicates} runs · "
        f"seed {esc(sw.seed)}",
    )
    page.answer(sweep_answer(sw))
    page.glossary(
        ["sweep_value", "scenario_range", "holds", "stab", "drift", "wilson", "paired", "pp", "within_noise"]
    )
    figure = FigureEntry(
        "sweep",
        f"Fates against the {words}",
        f"Line chart of the fates of {sw.alliance} against {sw.path}",
        "Lines: share of runs; bands: 95 % Wilson intervals; shaded: where the scenario itself puts "
        "the value.",
        lambda: sweep_figure(sw),
    )
    page.section(f"The fates as the {words} varies", page.figures([figure]), "figure")
    rows = []
    for v, group in sw.table.groupby("value", sort=False):
        row = {"value": f"{v:.4g}"}
        for r in group.itertuples():
            row[FATE_LABELS[FATES.index(r.fate)]] = f"{pct(r.p)} ({pct(r.low)}–{pct(r.high)})"
        rows.append(row)
    page.section(
        "Share of each fate at each value (95 % interval)",
        table_html(pd.DataFrame(rows).rename(columns={"value": f"{words} ({sw.path})"})),
    )
    rows = []
    for i, r in enumerate(sw.paired[sw.paired.fate == FATES[0]].itertuples()):
        if i == 0:
            verdict = "(the reference)"
        elif within_noise(r.low, r.high):
            need = runs_to_separate(r.diff, (r.high - r.low) / 2, sw.replicates)
            verdict = noise_badge() + (f" about {need:,} runs per value" if need else " no change")
        else:
            verdict = "yes"
        rows.append(
            {
                "value": esc(f"{r.value:.4g}"),
                "change in P(holds) from the first value": pp(r.diff),
                "paired 95 % interval": f"{pp(r.low)} to {pp(r.high)}",
                "told from noise?": verdict,
            }
        )
    frame = pd.DataFrame(rows)
    page.section(
        "Change in P(holds) from the first value, paired by run",
        table_html(frame, html_columns=list(frame.columns))
        + "<p class='small'>Run r of every value shares its draws (common random numbers), so each "
        "change is the mean of paired differences and its interval is narrower than two independent "
        "runs would give.</p>",
    )
    page.cite(
        "Intervals of each share: Wilson (1927).",
        "Common random numbers and paired differences: Law (2015), ch. 11.",
    )
    paths["report"] = page.write()
    paths["figure"] = out / "report_figures" / "sweep.png"
    return paths
