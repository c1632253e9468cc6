"""The files and page of a multi-factor experiment (:mod:`sim.analysis.experiment`): the fates at
each point, main effects and two-way interactions with their intervals, and PRIM over the factors.
Built with the page kit (:mod:`sim.present.page`): the answer first, with its noise."""

from __future__ import annotations

import functools
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.analysis.noise import runs_to_separate, within_noise
from sim.files import atomic_write
from sim.present import plots
from sim.present.page import Page, esc, minus, noise_badge, pct, pp, table_html, titled
from sim.present.page_figures import FigureEntry
from sim.vocabulary import FATE_LABELS, FATES

#: what the experiment writes beside its result store
FILES = {
    "table": "experiment.csv",
    "main": "main_effects.csv",
    "effects": "effects.csv",
    "interactions": "interactions.csv",
}


def _words(path: str) -> str:
    from sim.present.show import describe_path

    words = describe_path(path)
    return path if words == path else f"{words} ({path})"


def main_effects_figure(e) -> Figure:
    """P(holds) at each level of each factor (pooled over the others), with 95 % intervals."""
    k = len(e.factors)
    fig = plots._figure(min(4.0 * k, 12.0), 3.6)
    for i, f in enumerate(e.factors):
        ax = fig.add_subplot(1, k, i + 1)
        m = e.main[e.main.factor == f.path]
        err = np.vstack([m.p - m.low, m.high - m.p])
        ax.errorbar(m.level, m.p, yerr=err, marker="o", capsize=3, color=plots.FATE_COLORS[FATES[0]])
        ax.set_ylim(0, 1)
        ax.set_xlabel(plots.text(_words(f.path), 40), fontsize=8)
        if i == 0:
            ax.set_ylabel(f"P({plots.text(e.alliance)} holds)")
        ax.grid(color="#dddddd", linewidth=0.6)
        ax.spines[["top", "right"]].set_visible(False)
    fig.suptitle(
        plots.text(
            "Main effects: P(holds) at each level, pooled over the other factors "
            f"({e.replicates} runs per point)",
            100,
        ),
        fontsize=10,
    )
    return fig


def interaction_figure(e, a: str, b: str) -> Figure:
    """P(holds) against the levels of ``a``, one line per level of ``b``, with 95 % intervals:
    lines that are not parallel show an interaction."""
    fig = plots._figure(6.0, 3.8)
    ax = fig.add_subplot()
    cells = e.cells[(e.cells.a == a) & (e.cells.b == b)]
    levels = sorted(cells.level_b.unique())
    colors = [plots.OKABE_ITO[i % len(plots.OKABE_ITO)] for i in range(len(levels))]
    for color, vb in zip(colors, levels):
        c = cells[cells.level_b == vb].sort_values("level_a")
        err = np.vstack([c.p - c.low, c.high - c.p])
        ax.errorbar(c.level_a, c.p, yerr=err, marker="o", capsize=3, color=color, label=f"{vb:.4g}")
    ax.set_ylim(0, 1)
    ax.set_xlabel(plots.text(_words(a), 60), fontsize=8)
    ax.set_ylabel(f"P({plots.text(e.alliance)} holds)")
    ax.legend(title=plots.text(b, 40), frameon=False, fontsize=8, title_fontsize=8)
    ax.grid(color="#dddddd", linewidth=0.6)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def answer(e) -> str:
    """The answer (HTML): the factor that moves P(holds) most, with its interval, and whether the
    others and the interactions stand out from noise."""
    eff = e.effects.assign(size=e.effects["diff"].abs()).sort_values("size", ascending=False)
    top = eff.iloc[0]
    kind = "paired change" if top.paired else "change"
    text = (
        f"Of the {len(e.factors)} factors, the {esc(_words(top.factor))} moves P(<b>{esc(e.alliance)}</b> "
        f"holds) most: from {minus(format(top['from'], '.4g'))} to {minus(format(top.to, '.4g'))} it "
        "changes by "
        f"{pp(top['diff'])} ({kind}, 95 % interval {pp(top.low)} to {pp(top.high)})"
    )
    if within_noise(top.low, top.high):
        need = runs_to_separate(top["diff"], (top.high - top.low) / 2, e.replicates)
        text += ", which cannot be told from noise" + (
            f" (about {need:,} runs per point would separate it)" if need else ""
        )
    text += "."
    quiet = [r.factor for r in eff.iloc[1:].itertuples() if within_noise(r.low, r.high)]
    if quiet:
        text += f" The change due to {esc(', '.join(quiet))} cannot be told from noise."
    if len(e.interactions):
        told = [r for r in e.interactions.itertuples() if not within_noise(r.low, r.high)]
        if told:
            r = max(told, key=lambda r: abs(r.contrast))
            text += (
                f" {esc(r.a)} and {esc(r.b)} interact: the effect of one depends on the other by "
                f"{pp(r.contrast)} ({pp(r.low)} to {pp(r.high)})."
            )
        else:
            text += " No two-way interaction can be told from noise."
    elif len(e.factors) > 1:
        text += " Interaction contrasts are computed for full designs only; the plots show them binned."
    return text


def _figures(e) -> list[FigureEntry]:
    """The experiment's figures: the main effects, then one per pair of factors."""
    figures = [
        FigureEntry(
            "main_effects",
            "Main effects",
            "P(holds) against the levels of each factor",
            "Points: share of runs that hold at each level, pooled over the other factors; bars: 95 % "
            "Wilson intervals.",
            lambda: main_effects_figure(e),
        )
    ]
    for a, b in itertools.combinations(e.paths, 2):
        figures.append(
            FigureEntry(
                f"interaction_{len(figures)}",
                f"{a} × {b}",
                f"P(holds) against {a}, one line per value of {b}",
                "Lines that are not parallel show an interaction; bars: 95 % Wilson intervals"
                + ("" if e.design == "full" else "; values grouped into equal-count bins"),
                functools.partial(interaction_figure, e, a, b),
            )
        )
    return figures


def _effects_table(e) -> str:
    """Each factor's change in P(holds) from its first to its last level, with its interval and
    whether it is told from noise (or the runs per point that would tell it)."""
    rows: list[dict] = []
    for r in e.effects.itertuples():
        verdict = "yes"
        if within_noise(r.low, r.high):
            need = runs_to_separate(r.diff, (r.high - r.low) / 2, e.replicates)
            verdict = noise_badge() + (f" about {need:,} runs per point" if need else "")
        rows.append(
            {
                "factor": esc(_words(r.factor)),
                "from → to": minus(f"{r._2:.4g} → {r.to:.4g}"),
                "change in P(holds)": pp(r.diff),
                "95 % interval": f"{pp(r.low)} to {pp(r.high)}" + ("" if r.paired else " (unpaired)"),
                "told from noise?": verdict,
            }
        )
    frame = pd.DataFrame(rows)
    return table_html(frame, html_columns=list(frame.columns))


def _interactions_table(e) -> str:
    """Each pair of factors' interaction contrast, paired by run, with its interval."""
    rows = []
    for r in e.interactions.itertuples():
        rows.append(
            {
                "factors": esc(f"{r.a} × {r.b}"),
                "interaction contrast": pp(r.contrast),
                "paired 95 % interval": f"{pp(r.low)} to {pp(r.high)}",
                "told from noise?": noise_badge() if within_noise(r.low, r.high) else "yes",
            }
        )
    frame = pd.DataFrame(rows)
    return table_html(frame, html_columns=list(frame.columns))


def _points_table(e) -> str:
    """The share of each fate at each point of the design, with its 95 % interval."""
    rows = []
    for _, group in e.table.groupby("point", sort=True):
        first = group.iloc[0]
        row = {"point": int(first.point), **{p: f"{first[p]:.4g}" for p in e.paths}}
        for r in group.itertuples():
            row[FATE_LABELS[FATES.index(r.fate)]] = f"{pct(r.p)} ({pct(r.low)}–{pct(r.high)})"
        rows.append(row)
    return table_html(pd.DataFrame(rows))


def write_experiment(e, out: str | Path) -> dict[str, Path]:
    """Write the experiment's tables (CSV), figures and page (``report.html``) into ``out``."""
    from sim.present.exploration import PRIM_REFERENCES, discovery_section

    out = Path(out)
    paths = {k: out / name for k, name in FILES.items()}
    atomic_write(e.table.to_csv, paths["table"], index=False)
    atomic_write(e.main.to_csv, paths["main"], index=False)
    atomic_write(e.effects.to_csv, paths["effects"], index=False)
    atomic_write(e.interactions.to_csv, paths["interactions"], index=False)
    design = "full factorial" if e.design == "full" else f"Latin hypercube of {len(e.points)} points"
    page = Page(
        out / "report.html",
        titled("Experiment", ", ".join(e.paths)),
        f"{esc(e.scenario_title)} · {esc(design)} · {len(e.points)} points × {e.replicates:,} runs "
        f"(common random numbers) · alliance <code>{esc(e.alliance)}</code> · seed {esc(e.seed)}",
    )
    page.answer(answer(e))
    page.glossary(
        ["holds", "stab", "drift", "wilson", "paired", "pp", "within_noise", "coverage", "density"],
        [
            (
                "main effect",
                "P(holds) at one level of a factor, pooled over every point of the other factors.",
            ),
            (
                "interaction",
                "How much the change due to one factor (first to last level) differs between the first "
                "and last levels of another; zero when the effects simply add.",
            ),
        ],
    )
    figures = _figures(e)
    page.section("Main effects and interactions", page.figures(figures), "figures")
    page.section(
        "Change in P(holds) from each factor's first to last level",
        _effects_table(e),
    )
    if len(e.interactions):
        page.section("Two-way interactions, paired by run", _interactions_table(e))
    page.section("Share of each fate at each point (95 % interval)", _points_table(e))
    if e.discovery is not None:
        page.add(
            discovery_section(
                e.discovery, page, heading="Where stabs in the back concentrate: PRIM over the factors"
            )
        )
        page.cite(*PRIM_REFERENCES)
    elif e.discovery_note:
        page.section("PRIM over the factors", f"<p>{esc(e.discovery_note)}</p>")
    page.cite(
        "Intervals of each share: Wilson (1927).",
        "Common random numbers and paired differences: Law (2015), ch. 11.",
        "Latin hypercube sampling: McKay, Beckman & Conover (1979).",
    )
    paths["report"] = page.write()
    return paths


def summary_text(e) -> str:
    """The experiment for the terminal: each factor's change in P(holds) with its interval, then
    the interactions."""
    lines = [
        f"{e.scenario_title}: {len(e.points)} points x {e.replicates:,} runs "
        f"({'full factorial' if e.design == 'full' else 'Latin hypercube'}, common random numbers); "
        f"P({e.alliance} holds), first to last level of each factor (95 % interval):"
    ]
    width = max(len(p) for p in e.paths)
    for r in e.effects.itertuples():
        noise = "  cannot be told from noise" if within_noise(r.low, r.high) else ""
        lines.append(
            f"  {r.factor:<{width}}  {r._2:>8.4g} -> {r.to:<8.4g} {100 * r.diff:+6.1f} pp "
            f"[{100 * r.low:+.1f}, {100 * r.high:+.1f}]{'' if r.paired else ' unpaired'}{noise}"
        )
    for r in e.interactions.itertuples():
        noise = "  cannot be told from noise" if within_noise(r.low, r.high) else ""
        lines.append(
            f"  interaction {r.a} x {r.b}: {100 * r.contrast:+.1f} pp "
            f"[{100 * r.low:+.1f}, {100 * r.high:+.1f}]{noise}"
        )
    return "\n".join(lines)
