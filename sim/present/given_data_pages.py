"""Figures, files and pages of sensitivity from a finished run (:mod:`sim.analysis.given_data`)
and of Sobol indices over time (:mod:`sim.analysis.over_time`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.analysis.given_data import DUMMY, OUTPUT_WORDS, GivenDataResult
from sim.files import all_or_nothing, atomic_write, atomic_write_text
from sim.present import plots
from sim.present.page import Page, esc, noise_badge, sample_note, table_html, titled
from sim.present.page_figures import FigureEntry

METHOD_NAMES = {"delta": "Borgonovo's delta", "pawn": "PAWN (median KS)"}
METHOD_SYMBOL = {"delta": "δ", "pawn": "PAWN"}
REFERENCES = {
    "delta": (
        "Delta: Borgonovo (2007); given-data estimator on equiprobable classes: Plischke, Borgonovo "
        "& Smith (2013).",
    ),
    "pawn": ("PAWN: Pianosi & Wagener (2015), as SALib defines it (Herman & Usher 2017).",),
}


def indices_over_time_chart(
    df, ylabel: str, title: str, top: int = 6, dt: float = 1.0, unit: str = "steps", noise=None, conf=None
) -> Figure:
    """Indices (one column per parameter, one row per step) against time, for the ``top``
    parameters with the largest mean index; ``noise`` (a series over the same steps), dashed grey;
    ``conf`` (half-widths, same shape as ``df``), shaded bands."""
    fig = plots._figure(8.6, 4.0)
    ax = fig.add_subplot()
    order = df.mean().sort_values(ascending=False).index[:top]
    colors = plots.OKABE_ITO + plots.TOL_MUTED
    t = np.asarray(df.index, dtype=float) * dt
    for k, name in enumerate(order):
        color = colors[k % len(colors)]
        ax.plot(t, df[name], marker="o", ms=3, lw=1.4, color=color, label=plots.text(name, 40))
        if conf is not None and name in conf:
            ax.fill_between(t, df[name] - conf[name], df[name] + conf[name], color=color, alpha=0.12, lw=0)
    if noise is not None:
        ax.plot(t, noise, ls="--", lw=1, color="#999999", label="noise level")
    ax.set_xlabel(unit)
    ax.set_ylabel(ylabel)
    ax.set_title(plots.text(title, 90), fontsize=10)
    ax.set_ylim(bottom=0)
    plots._style(ax)
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def over_time_chart(result: GivenDataResult, top: int = 6, dt: float = 1.0, unit: str = "steps") -> Figure:
    """Index of each of the ``top`` parameters (largest mean index over time) for "the alliance is
    still active after step t", against t; dashed grey: the noise level."""
    df = result.over_time
    return indices_over_time_chart(
        df.drop(columns=[DUMMY]),
        METHOD_NAMES.get(result.method, result.method),
        f"Which assumptions decide whether {result.alliance} is still active at t "
        f"({result.settings.get('replicates', 0):,} replicates, no new runs)",
        top,
        dt,
        unit,
        noise=df[DUMMY],
    )


@all_or_nothing()  # a failure leaves none of its files
def write_sobol_over_time(result, out: str | Path, dt: float = 1.0, unit: str = "steps") -> dict[str, Path]:
    """Write ``sobol_over_time_ST.csv``, ``sobol_over_time_S1.csv``, ``sobol_over_time.png``
    (total indices against time) and the page ``over_time.html`` of a
    :class:`sim.analysis.over_time.SobolOverTime` into ``out``."""
    from sim.present.page_figures import figure_png
    from sim.run.store import atomic_write_bytes

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "ST": out / "sobol_over_time_ST.csv",
        "S1": out / "sobol_over_time_S1.csv",
        "figure": out / "sobol_over_time.png",
    }
    atomic_write(result.ST.to_csv, paths["ST"])
    atomic_write(result.S1.to_csv, paths["S1"])
    title = (
        f"Which assumptions decide whether {result.alliance} is still active at t (Sobol ST, "
        f"{result.settings['design_points']:,} design points x {result.settings['replicates']})"
    )

    def draw():
        return indices_over_time_chart(
            result.ST, "total Sobol index ST", title, dt=dt, unit=unit, conf=result.ST_conf
        )

    png = figure_png(draw())  # drawn once: for its file and for the page
    atomic_write_bytes(paths["figure"], png)
    paths["report"] = _sobol_over_time_page(result, out / "over_time.html", lambda: png, dt, unit)
    return paths


def _sobol_over_time_page(result, path: Path, draw, dt: float, unit: str) -> Path:
    from sim.present.show import describe_path

    st = result.settings
    mean = result.ST.mean().sort_values(ascending=False)
    conf = result.ST_conf.mean() if result.ST_conf is not None else pd.Series(np.nan, index=mean.index)
    page = Page(
        path,
        titled("Sensitivity over time (Sobol)", result.alliance),
        f"alliance <code>{esc(result.alliance)}</code> · {st['design_points']:,} design points × "
        f"{st['replicates']} replicates = {st['replicate_runs']:,} runs · {len(result.steps)} points in time",
    )
    clear = [n for n in mean.index if mean[n] - conf[n] > 0]
    lead = ", ".join(f"{esc(describe_path(n))} (mean ST {mean[n]:.2f} ± {conf[n]:.2f})" for n in clear[:3])
    noisy = len(mean) - len(clear)
    page.answer(
        (
            "Averaged over the run, the uncertain values that decide most whether "
            f"<b>{esc(result.alliance)}</b> is still active are {lead}; {noisy} of the {len(mean)} cannot "
            "be told from noise (their mean interval includes zero)."
        )
        if clear
        else f"No uncertain value moves whether <b>{esc(result.alliance)}</b> is still active beyond the "
        "noise of this design."
    )
    page.glossary(["ST", "S1", "conf", "within_noise"])
    figure = FigureEntry(
        "sobol-over-time",
        "Total Sobol indices against time",
        f"Line chart of the total Sobol index of P({result.alliance} active after t) for the leading values",
        "Lines: ST at each point in time; bands: 95 % bootstrap intervals.",
        draw,
    )
    page.section("Over time", page.figures([figure]), "figure")
    rows = []
    for k, n in enumerate(mean.index[:15], 1):
        rows.append(
            {
                "rank": k,
                "parameter": f"<code>{esc(n)}</code>",
                "in words": esc(describe_path(n)),
                "mean ST ± 95 %": esc(f"{mean[n]:.3f} ± {conf[n]:.3f}"),
                "largest ST": esc(f"{result.ST[n].max():.3f} at {int(result.ST[n].idxmax()) * dt:g} {unit}"),
                "told from noise?": "yes" if n in clear else noise_badge(),
            }
        )
    frame = pd.DataFrame(rows)
    page.section("The leading values", table_html(frame, html_columns=list(frame.columns)))
    page.cite(
        "Sobol indices: Saltelli (2002); Saltelli et al. (2010); computed with SALib (Herman & Usher 2017)."
    )
    return page.write()


@all_or_nothing()  # a failure leaves none of its files
def write_given_data(
    result: GivenDataResult,
    out: str | Path,
    dt: float = 1.0,
    unit: str = "steps",
    claims: dict | None = None,
    title: str = "",
) -> dict[str, Path]:
    """Write ``indices.csv`` (parameter x output), ``over_time.csv`` (step x parameter),
    ``settings.json``, ``over_time.png`` and the page ``report.html`` into ``out``."""
    from sim.present.page_figures import figure_png
    from sim.run.store import atomic_write_bytes

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "indices": out / "indices.csv",
        "over_time": out / "over_time.csv",
        "settings": out / "settings.json",
        "figure": out / "over_time.png",
    }
    atomic_write(result.indices.rename_axis("parameter").to_csv, paths["indices"])
    atomic_write(result.over_time.to_csv, paths["over_time"])
    noise = {} if result.noise is None else result.noise.to_dict(orient="index")
    atomic_write_text(
        paths["settings"],
        json.dumps(
            {"method": result.method, "alliance": result.alliance, **result.settings, "noise": noise},
            indent=1,
        ),
    )

    def draw():
        return over_time_chart(result, dt=dt, unit=unit)

    png = figure_png(draw())  # drawn once: for its file and for the page
    atomic_write_bytes(paths["figure"], png)
    paths["report"] = given_data_page(result, out / "report.html", lambda: png, claims, title)
    return paths


def given_data_answer(result: GivenDataResult) -> str:
    """The answer of a given-data analysis (HTML): which values stand out from noise for the fate,
    by how much, and how many do not — or how many replicates would separate the largest."""
    from sim.present.show import describe_path

    v = result.verdict("fate")
    n = result.settings["replicates"]
    sym = METHOD_SYMBOL.get(result.method, result.method)
    level = float(result.indices.loc[DUMMY, "fate"])
    above = v[~v.within_noise]
    sample = result.settings.get("sample")
    head = (
        f"From a seeded sample of {n:,} of the run's {int(sample['total']):,} replicates (no new runs), "
        if sample
        else f"From the run's {n:,} replicates (no new runs), "
    )
    if above.empty:
        need = v.replicates_needed.dropna()
        return head + (
            f"no uncertain value stands out from noise for the fate of <b>{esc(result.alliance)}</b>: every "
            f"{sym} is at or below the noise level {level:.4f}"
            + (f"; about {int(need.min()):,} replicates would separate the largest." if len(need) else ".")
        )
    lead = ", ".join(
        f"{esc(describe_path(str(p)))} ({sym} {r['index']:.3f}, {r['above_noise']:.3f} above the bias)"
        for p, r in above.head(3).iterrows()
    )
    return head + (
        f"{len(above)} of the {len(v)} uncertain values stand out from noise for the fate of "
        f"<b>{esc(result.alliance)}</b>, led by {lead}; the other {len(v) - len(above)} cannot be told from "
        f"noise (noise level {level:.4f})."
    )


def given_data_page(
    result: GivenDataResult, path: Path, draw, claims: dict | None = None, title: str = ""
) -> Path:
    """The page of delta or PAWN indices from a finished run: answer with its noise, glossary, the
    table of the leading values (every output side by side, one verdict), the figure over time."""
    from sim.present.show import describe_path

    st = result.settings
    name = METHOD_NAMES.get(result.method, result.method)
    sym = METHOD_SYMBOL.get(result.method, result.method)
    page = Page(
        path,
        titled(f"Sensitivity from a finished run ({name})", title or result.alliance),
        f"alliance <code>{esc(result.alliance)}</code> · {st['replicates']:,} replicates · "
        f"{st['parameters']} sampled values · {st.get('dummies', 1)} made-up inputs measure the noise · "
        f"<code>{esc(st.get('directory', ''))}</code>",
    )
    note = sample_note(st.get("sample"))
    page.answer(given_data_answer(result), details=f"<p class='note'>{esc(note)}</p>" if note else "")
    page.glossary([result.method, "noise_level", "within_noise"])
    outputs = [o for o in ("fate", "stab", "holds", "end") if o in result.indices.columns]
    v = result.verdict("fate", 20)
    rows = []
    for k, (p, r) in enumerate(v.iterrows(), 1):
        row = {
            "rank": str(k),
            "parameter": f"<code>{esc(p)}</code>",
            "in words": esc(describe_path(str(p))),
        }
        if claims:
            from sim.spec.claims import claims_for

            row["claims"] = esc(", ".join(c.id for c in claims_for(claims, str(p))))
        for o in outputs:
            x = float(result.indices.loc[p, o])
            mark = "" if x > float(result.indices.loc[DUMMY, o]) else " ~"
            row[f"{sym}: {OUTPUT_WORDS[o]}"] = esc(f"{x:.4f}{mark}")
        row["above the bias (fate)"] = esc(f"{r['above_noise']:+.4f}".replace("-", "−"))
        need = r["replicates_needed"]
        row["told from noise? (fate)"] = (
            "yes"
            if not r["within_noise"]
            else noise_badge() + (f" about {int(need):,} replicates" if pd.notna(need) else "")
        )
        rows.append(row)
    level_row = {
        "rank": "",
        "parameter": "noise level",
        "in words": f"mean + {st.get('noise_z', 2.0):.1f} sd of the made-up inputs",
    }
    if claims:
        level_row["claims"] = ""
    for o in outputs:
        level_row[f"{sym}: {OUTPUT_WORDS[o]}"] = esc(f"{float(result.indices.loc[DUMMY, o]):.4f}")
    level_row["above the bias (fate)"] = ""
    level_row["told from noise? (fate)"] = ""
    rows.append(level_row)
    frame = pd.DataFrame(rows)
    note = (
        "<p class='small'>~ marks an index at or below its output's noise level. Whether the alliance "
        "holds and whether it ends in a stab in the back are near complements when drifting apart is "
        "rare, so their indices nearly agree; the fate's is the one ranked.</p>"
    )
    page.section(
        "The leading uncertain values, every outcome side by side",
        table_html(frame, html_columns=list(frame.columns)) + note,
    )
    figure = FigureEntry(
        "over-time",
        "Which values decide whether the alliance is still active, over time",
        f"Line chart of the {name} of P({result.alliance} active after t) for the leading values",
        "Lines: the index at each point in time; dashed: the noise level.",
        draw,
    )
    page.section("Over time", page.figures([figure]), "figure")
    page.cite(*REFERENCES.get(result.method, ()))
    return page.write()
