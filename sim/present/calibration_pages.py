"""The page of a calibration on the observed record: the record and how probable the scenario
found it, prior against posterior for each value the record moved (with the claims that value
rests on), prior and posterior predictive checks of each observation, scenario scores and the view
from today."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.calibration import Calibration, Projection
from sim.files import all_or_nothing


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
    fig = _figure(4.4 * cols if cols > 1 else 5.2, 3.0 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax, m in zip(axes, shown):
        x = cal.ensemble.sampled[m.path]
        bins = np.linspace(x.min(), x.max(), 31)
        ax.hist(x, bins=bins, density=True, color=NEGATIVE, alpha=0.45, label="prior")
        ax.hist(x[cal.accepted], bins=bins, density=True, color=POSITIVE, alpha=0.6, label="posterior")
        ax.set_title(text(m.path, 40), fontsize=9)
        ax.set_xlabel("value", fontsize=8)
        ax.set_ylabel("density of the draws", fontsize=8)
        ax.tick_params(labelsize=8)
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


@all_or_nothing()  # a failure leaves none of its files
def write_history_report(
    cal: Calibration,
    path: str | Path,
    *,
    scores: pd.DataFrame | None = None,
    projection: Projection | None = None,
) -> Path:
    """Write the self-contained HTML page of a calibration (the page kit's rules: answer first with
    its intervals, a glossary, figures as PNG, no script, every string escaped)."""
    from sim.analysis.likelihood import wilson
    from sim.present.page import FigureEntry, Page, esc, table_html

    r = cal.record
    o = r.observations[cal.binding.index]
    title = f"Conditioned on the record: {cal.source.stem}"
    page = Page(
        path,
        title,
        f"{esc(len(r))} observations from {esc(r.start.isoformat())} to {esc(r.last_date.isoformat())} "
        f"({esc(r.path.name)}); {esc(f'{cal.ensemble.n:,}')} prior replicates, seed {esc(cal.ensemble.seed)}",
    )
    k = len(cal.accepted)
    lo, hi = wilson(k, cal.ensemble.n)
    record = (
        f"The scenario gave the record a probability of {cal.acceptance:.2%} (95 % interval "
        f"{lo:.2%}–{hi:.2%}): {k:,} of {cal.ensemble.n:,} prior runs accepted."
    )
    if projection is not None:
        page.answer(f"{esc(projection.sentence())}. {esc(record)}", heading="The view from today")
    else:
        page.answer(esc(record))
    page.glossary(["acceptance", "ess", "ks", "predictive", "wilson", "log_bf", "mc_se"])
    page.section(
        "How probable the record was",
        f"<p>{esc(k)} replicates accepted: acceptance rate {esc(f'{cal.acceptance:.2%}')} (95 % interval "
        f"{esc(f'{lo:.2%}')}–{esc(f'{hi:.2%}')}; the probability the scenario gave the record under the "
        f"error model), effective sample size of the likelihood weights {esc(f'{cal.ess:.0f}')}. "
        f"Binding observation: {esc(o.id)} ({esc(o.describe())}, {esc(o.date.isoformat())}); without "
        f"it acceptance would be {esc(f'{cal.binding.acceptance_without:.2%}')}.</p>",
    )
    entry = FigureEntry(
        "moved",
        "Prior and posterior of the values the record moved",
        "histograms of prior and accepted draws",
        "Two-sample Kolmogorov-Smirnov test at level 0.001 against the prior draws.",
        lambda: moved_figure(cal),
    )
    page.section(
        "What the record moved",
        "<p>Each value the record moved, with the claims it rests on and which way the "
        "record reads them.</p>" + table_html(claim_reading(cal)) + page.figures([entry]),
    )
    if cal.correlations:
        corr = pd.DataFrame(cal.correlations, columns=["value", "with", "Spearman rank correlation"])
        page.section(
            "Values the record ties together",
            "<p>Rank correlations between "
            "the accepted draws (the prior draws every value independently). The posterior "
            "scenario file carries marginals only; the accepted replicates, and the view "
            "from today, keep these correlations.</p>" + table_html(corr),
        )
    page.section(
        "Predictive checks",
        "<p>Share of replicates in which each "
        "observation happened, before and after conditioning (95 % Wilson intervals; "
        "the posterior's use the accepted replicates).</p>" + table_html(predictive_frame(cal)),
    )
    if scores is not None:
        page.section(
            "Scenario scores",
            "<p>Probability each scenario gave the record, "
            "log score, and log Bayes factor against the best, with Monte Carlo standard "
            "errors.</p>" + table_html(scores),
        )
    page.cite(
        "ABC rejection with the error model as kernel: Pritchard et al. (1999), Beaumont et al. (2002), "
        "Wilkinson (2013).",
        "Bayes factors: Kass & Raftery (1995). Wilson (1927) intervals.",
    )
    return page.write()


def predictive_by_scenario(predictive: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per observation, one column per scenario: the share of its replicates in which the
    observation happened."""
    names = list(predictive)
    first = predictive[names[0]]
    out = first[["id", "date", "observed"]].copy()
    for name in names:
        out[name] = predictive[name]["p_happened"].to_numpy()
    return out


def kass_raftery(log_bf: float) -> str:
    """Kass & Raftery's (1995) words for the size of a log Bayes factor."""
    size = abs(log_bf)
    if size < 1:
        return "barely worth a mention"
    if size < 3:
        return "positive"
    if size < 5:
        return "strong"
    return "very strong"


def scores_answer(scores: pd.DataFrame) -> str:
    """The score page's answer (HTML): the best scenario with its probability of the record and
    error, the others' log Bayes factors against it on Kass & Raftery's scale."""
    from sim.present.page import esc

    best = scores.iloc[0]
    p_se = float(best.p_record) * float(best.log_se)
    text = (
        f"Under these assumptions and error model, <b>{esc(best.scenario)}</b> gave the record the highest "
        f"probability: {best.p_record:.3g} ± {p_se:.2g} (log score {best.log_score:.2f} ± {best.log_se:.2f})."
    )
    rest = scores.iloc[1:]
    if len(rest):
        worst = rest.iloc[-1]
        separated = rest[(rest.log_bf_vs_best.abs() - 1.96 * rest.log_bf_se) >= 1]
        text += (
            f" The others' log Bayes factors against it run from {rest.log_bf_vs_best.iloc[0]:+.2f} to "
            f"{worst.log_bf_vs_best:+.2f} (± up to {rest.log_bf_se.max():.2f}); "
        ).replace("-", "−")
        if separated.empty:
            text += (
                "none is 1 or more in size beyond its noise: on Kass & Raftery's scale the record barely "
                "separates the stories."
            )
        else:
            names = ", ".join(esc(n) for n in separated.scenario)
            text += (
                f"{len(separated)} ({names}) fall behind by at least 1 beyond their noise, at most "
                f"'{kass_raftery(float(separated.log_bf_vs_best.min()))}' on Kass & Raftery's scale."
            )
    return text


SCORE_LABELS = {
    "rank": "rank",
    "scenario": "scenario",
    "p_record": "P(record)",
    "log_score": "log score",
    "log_se": "± (log score)",
    "replicates": "runs",
    "binding": "binding observation",
    "log_bf_vs_best": "log Bayes factor vs the best",
    "log_bf_se": "± (log Bayes factor)",
    "reproduced": "runs that reproduced the record",
    "estimable": "score estimable",
    "p_record_below": "P(record) below (95 %)",
}


@all_or_nothing()  # a failure leaves none of its files
def write_scores_report(
    scores: pd.DataFrame, predictive: dict[str, pd.DataFrame], path: str | Path, subtitle: str
) -> Path:
    """The page of `alliance-sim score`: the ranking with log Bayes factors, and each observation's
    prior predictive probability under each scenario."""
    from sim.present.page import Page, esc, table_html

    page = Page(path, "Which scenario anticipated the record best?", esc(subtitle))
    page.answer(scores_answer(scores))
    page.glossary(["p_record", "log_score", "log_bf", "mc_se", "predictive"])
    shown = scores.copy()
    shown["Kass & Raftery"] = [
        kass_raftery(x) if i else "(the best)" for i, x in enumerate(shown.log_bf_vs_best)
    ]
    page.section(
        "Ranking",
        "<p>Probability each scenario gave the whole record under the "
        "error model (the mean of the record's likelihood over its prior replicates), its log, "
        "and the log Bayes factor against the best, with Monte Carlo standard errors (|log BF| "
        "below 1 is barely worth a mention on Kass &amp; Raftery's scale).</p>"
        + table_html(shown, labels=SCORE_LABELS),
    )
    page.section(
        "Prior predictive check",
        "<p>Share of each scenario's replicates in which "
        "each observation happened (no reading error).</p>" + table_html(predictive_by_scenario(predictive)),
    )
    page.cite("Bayes factors: Kass & Raftery (1995). ABC with the error model as kernel: Wilkinson (2013).")
    return page.write()
