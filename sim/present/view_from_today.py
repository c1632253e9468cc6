"""The page of the view from today: a calibration's posterior draws (accepted replicates, or the
particles sequential Monte Carlo kept) continued from the last observation
(:class:`sim.analysis.calibration.Projection`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.calibration import Projection
from sim.files import all_or_nothing
from sim.present.page import Page, esc, pct, table_html
from sim.present.page_figures import FigureEntry
from sim.vocabulary import FATE_LABELS, FATES


def still_active_figure(proj: Projection, dt: float = 1.0, unit: str = "months"):
    """Share of the continued replicates whose alliance is still in force, step by step from the
    last observation, with its 95 % Wilson band."""
    from sim.analysis.likelihood import wilson
    from sim.present import plots

    fig = plots._figure(7.5, 3.4)
    ax = fig.add_subplot()
    steps = np.arange(proj.start_step, proj.end_step + 1)
    end = proj.table[f"{proj.alliance}.end_step"].to_numpy()
    held = proj.fates == 0
    n = len(proj.fates)
    alive = np.array([int(((end > t) | held).sum()) for t in steps])
    band = np.array([wilson(k, n) for k in alive])
    t = (steps - proj.start_step) * dt
    ax.fill_between(t, band[:, 0], band[:, 1], color=plots.FATE_COLORS["holds"], alpha=0.2, lw=0)
    ax.step(
        t, alive / max(n, 1), where="post", color=plots.FATE_COLORS["holds"], lw=2, label="still in force"
    )
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(f"{unit} after {proj.start_date:%B %Y}")
    ax.set_ylabel("share of continued runs")
    ax.set_title(
        plots.text(f"{proj.alliance} from {proj.start_date:%B %Y} to {proj.end_date:%B %Y} ({n:,} runs)"),
        fontsize=10,
    )
    plots._style(ax)
    ax.legend(frameon=False, fontsize=8, loc="lower left")
    return fig


@all_or_nothing()  # a failure leaves none of its files
def write_projection_report(
    proj: Projection, path: str | Path, source: str = "", dt: float = 1.0, unit: str = "months"
) -> Path:
    """The page of the view from today: the answer with every fate's interval, the glossary, the
    fates table and the share still in force over time."""
    n = len(proj.fates)
    page = Page(
        path,
        f"The view from today: {proj.alliance}",
        f"{n:,} posterior draws continued from {esc(f'{proj.start_date:%B %Y}')} "
        f"(step {proj.start_step}) to {esc(f'{proj.end_date:%B %Y}')} (step {proj.end_step})"
        + (f" · calibration <code>{esc(source)}</code>" if source else ""),
    )
    rows = []
    parts = []
    for k, fate in enumerate(FATES):
        p, lo, hi = proj.p(fate)
        rows.append(
            {
                "fate": FATE_LABELS[k],
                "share of runs": pct(p),
                "95 % interval": f"{pct(lo)}–{pct(hi)}",
                "runs": int(round(p * n)),
            }
        )
        if k:
            parts.append(f"P({FATE_LABELS[k]}) = {p:.2f} ({lo:.2f}–{hi:.2f})")
    page.answer(
        f"{esc(proj.sentence())}; {esc('; '.join(parts))}.",
        note="It conditions on the dated record as read through its error model; the intervals are the Monte "
        "Carlo error of the posterior draws, which are few when the record is hard to match.",
    )
    page.glossary(["holds", "stab", "drift", "wilson", "acceptance"])
    page.section("Fates at the horizon", table_html(pd.DataFrame(rows)))
    entry = FigureEntry(
        "still-active",
        "Still in force, month by month",
        f"Step chart of the share of continued runs in which {proj.alliance} is still in force",
        "Line: share of the posterior draws, continued from their states at the last observation; band: 95 % "
        "Wilson interval.",
        lambda: still_active_figure(proj, dt, unit),
    )
    page.section("Over time", page.figures([entry]), "figure")
    page.cite(
        "ABC rejection with the error model as kernel: Pritchard et al. (1999), Wilkinson (2013); SMC²: "
        "Chopin, Jacob & Papaspiliopoulos (2013).",
        "Intervals: Wilson (1927).",
    )
    return page.write()
