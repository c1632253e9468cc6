"""The page of a calibration on the observed record: the record and how probable the scenario
found it, prior against posterior for each value the record moved (with the claims that value
rests on), prior and posterior predictive checks of each observation, scenario scores and the view
from today."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.calibration import Calibration, Projection


def claim_reading(cal: Calibration) -> pd.DataFrame:
    """For each moved value: its prior and posterior, the observations that moved it, and the
    claims grounding it with what the record says of them (toward the low or the high end of the
    claim's range, or narrower around its middle)."""
    claims: dict = {}
    if cal.scenario.claims:
        try:
            from sim.spec.claims import claims_by_param, load_claims

            claims = claims_by_param(load_claims(cal.scenario.claims))
        except (OSError, ValueError):
            claims = {}
    rows = []
    for m in cal.moved:
        span = (m.high - m.low) if np.isfinite(m.high - m.low) and m.high > m.low else m.prior_sd
        shift = (m.post_mean - m.prior_mean) / span if span else 0.0
        if abs(shift) < 0.05:
            reading = (
                "middle of the range kept, spread narrowed" if m.post_sd < m.prior_sd else "little change"
            )
        else:
            reading = f"toward the {'high' if shift > 0 else 'low'} end of the range"
        cited = claims.get(m.path, [])
        rows.append(
            {
                "value": m.path,
                "KS": m.ks,
                "prior": f"{m.prior_mean:.3g} ± {m.prior_sd:.2g}",
                "posterior": f"{m.post_mean:.3g} ± {m.post_sd:.2g}",
                "record says": reading,
                "claims": "; ".join(f"{c.id} ({c.cite}, {c.speaker})" for c in cited) or "(none)",
                "moved by": ", ".join(m.cited),
            }
        )
    return pd.DataFrame(rows)


def moved_figure(cal: Calibration, top: int = 6):
    """Prior and posterior histograms of the values the record moved most."""
    from sim.present.plots import NEGATIVE, POSITIVE, _figure, _style, text

    shown = (cal.moved or cal.shifts)[:top]
    cols = min(3, max(len(shown), 1))
    rows = -(-max(len(shown), 1) // cols)
    fig = _figure(3.4 * cols, 2.4 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax, m in zip(axes, shown):
        x = cal.ensemble.sampled[m.path]
        bins = np.linspace(x.min(), x.max(), 31)
        ax.hist(x, bins=bins, density=True, color=NEGATIVE, alpha=0.45, label="prior")
        ax.hist(x[cal.accepted], bins=bins, density=True, color=POSITIVE, alpha=0.6, label="posterior")
        ax.set_title(text(m.path, 40), fontsize=8)
        ax.tick_params(labelsize=7)
        _style(ax)
    for ax in axes[len(shown) :]:
        ax.set_visible(False)
    axes[0].legend(fontsize=7, frameon=False)
    return fig


def predictive_frame(cal: Calibration) -> pd.DataFrame:
    """Prior and posterior share of replicates in which each observation happened."""
    pri, post = cal.prior_predictive, cal.posterior_predictive
    return pd.DataFrame(
        {
            "id": pri["id"],
            "date": pri["date"],
            "observed": pri["observed"],
            "prior": pri["p_happened"],
            "prior 95 %": [f"{a:.3f}-{b:.3f}" for a, b in zip(pri["low"], pri["high"])],
            "posterior": post["p_happened"],
            "posterior 95 %": [f"{a:.3f}-{b:.3f}" for a, b in zip(post["low"], post["high"])],
        }
    )


def write_history_report(
    cal: Calibration,
    path: str | Path,
    *,
    scores: pd.DataFrame | None = None,
    projection: Projection | None = None,
) -> Path:
    """Write the self-contained HTML page of a calibration (same rules as every report: figures
    embedded as PNG, no script, every string escaped)."""
    from sim.present.report import (
        _figure_html,
        _write_page,
        atomic_write_bytes,
        esc,
        figure_png,
        table_html,
    )

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig_dir = path.parent / f"{path.stem}_figures"
    fig_dir.mkdir(exist_ok=True)
    r = cal.record
    o = r.observations[cal.binding.index]
    title = f"Conditioned on the record: {cal.source.stem}"
    body = [
        f"<header><h1>{esc(title)}</h1><p class='sub'>{esc(len(r))} observations from "
        f"{esc(r.start.isoformat())} to {esc(r.last_date.isoformat())} ({esc(r.path.name)}); "
        f"{esc(f'{cal.ensemble.n:,}')} prior replicates, seed {esc(cal.ensemble.seed)}</p></header>"
    ]
    if projection is not None:
        body.append(
            f"<section class='answer'><h2>The view from today</h2><p class='headline'>"
            f"{esc(projection.sentence())}.</p></section>"
        )
    body.append(
        "<section><h2>How probable the record was</h2>"
        f"<p>{esc(len(cal.accepted))} replicates accepted: acceptance rate "
        f"{esc(f'{cal.acceptance:.2%}')} (the probability the scenario gave the record under the "
        f"error model), effective sample size of the likelihood weights {esc(f'{cal.ess:.0f}')}. "
        f"Binding observation: {esc(o.id)} ({esc(o.describe())}, {esc(o.date.isoformat())}); without "
        f"it acceptance would be {esc(f'{cal.binding.acceptance_without:.2%}')}.</p></section>"
    )
    png = figure_png(moved_figure(cal))
    atomic_write_bytes(fig_dir / "moved.png", png)
    from sim.present.report import FigureEntry

    entry = FigureEntry(
        "moved",
        "Prior and posterior of the values the record moved",
        "histograms of prior and accepted draws",
        "Two-sample Kolmogorov-Smirnov test at level 0.001 against the prior draws.",
        lambda: None,
    )
    body.append(
        "<section><h2>What the record moved</h2>"
        "<p>Each value the record moved, with the claims it rests on and which way the "
        "record reads them.</p>"
        + table_html(claim_reading(cal))
        + f"<div class='figs'>{_figure_html(entry, png, f'{fig_dir.name}/moved.png')}</div>"
        + "</section>"
    )
    if cal.correlations:
        corr = pd.DataFrame(cal.correlations, columns=["value", "with", "Spearman rank correlation"])
        body.append(
            "<section><h2>Values the record ties together</h2><p>Rank correlations between "
            "the accepted draws (the prior draws every value independently). The posterior "
            "scenario file carries marginals only; the accepted replicates, and the view "
            "from today, keep these correlations.</p>" + table_html(corr) + "</section>"
        )
    body.append(
        "<section><h2>Predictive checks</h2><p>Share of replicates in which each "
        "observation happened, before and after conditioning (95 % Wilson intervals; "
        "the posterior's use the accepted replicates).</p>" + table_html(predictive_frame(cal)) + "</section>"
    )
    if scores is not None:
        body.append(
            "<section><h2>Scenario scores</h2><p>Probability each scenario gave the record, "
            "log score, and log Bayes factor against the best, with Monte Carlo standard "
            "errors.</p>" + table_html(scores) + "</section>"
        )
    body.append(
        "<footer>ABC rejection with the error model as kernel: Pritchard et al. (1999), "
        "Beaumont et al. (2002), Wilkinson (2013). Bayes factors: Kass &amp; Raftery (1995). "
        "Wilson (1927) intervals.</footer>"
    )
    return _write_page(path, title, body)


def predictive_by_scenario(predictive: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per observation, one column per scenario: the share of its replicates in which the
    observation happened."""
    names = list(predictive)
    first = predictive[names[0]]
    out = first[["id", "date", "observed"]].copy()
    for name in names:
        out[name] = predictive[name]["p_happened"].to_numpy()
    return out


def write_scores_report(
    scores: pd.DataFrame, predictive: dict[str, pd.DataFrame], path: str | Path, subtitle: str
) -> Path:
    """The page of `alliance-sim score`: the ranking with log Bayes factors, and each observation's
    prior predictive probability under each scenario."""
    from sim.present.report import _write_page, esc, table_html

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    title = "Which scenario anticipated the record best?"
    body = [
        f"<header><h1>{esc(title)}</h1><p class='sub'>{esc(subtitle)}</p></header>",
        "<section><h2>Ranking</h2><p>Probability each scenario gave the whole record under the "
        "error model (the mean of the record's likelihood over its prior replicates), its log, "
        "and the log Bayes factor against the best, with Monte Carlo standard errors (|log BF| "
        "below 1 is barely worth a mention on Kass &amp; Raftery's scale).</p>"
        + table_html(scores)
        + "</section>",
        "<section><h2>Prior predictive check</h2><p>Share of each scenario's replicates in which "
        "each observation happened (no reading error).</p>"
        + table_html(predictive_by_scenario(predictive))
        + "</section>",
        "<footer>Bayes factors: Kass &amp; Raftery (1995). ABC with the error model as kernel: "
        "Wilkinson (2013).</footer>",
    ]
    return _write_page(path, title, body)
