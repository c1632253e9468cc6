"""The pages of history matching: a calibration on the observed record (how probable the scenario
found the record and what the posterior rests on, prior against posterior for each value the
record moved with the claims that value rests on, prior and posterior predictive checks of each
observation, the per-date diagnostics of sequential assimilation, the view from today), the
scores of scenarios, and the backtest of out-of-sample skill; and the lines the terminal prints
for each."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.assimilation import MAX_LOGLIK_VAR
from sim.analysis.calibration import Calibration, Projection
from sim.files import all_or_nothing

#: the glossary's words for what these pages show beyond the kit's common terms
EVIDENCE_TERMS = (
    (
        "log evidence",
        "Log of the probability the scenario gave every reading of the record under its error "
        "model, averaged over the prior; differences between scenarios are log Bayes factors.",
    ),
    (
        "acceptance rate (rejection)",
        "Share of prior runs kept: each run is kept with probability equal to the record's "
        "likelihood over the largest it can take, so the kept runs are exact posterior draws.",
    ),
    (
        "effective draws",
        "How many equally weighted, independent posterior draws the method's output is worth.",
    ),
)
SMC_TERMS = (
    (
        "SMC²",
        "Sequential Monte Carlo over the observation dates: parameter particles, each with a "
        "particle filter of state particles, weighted by each date's readings and rejuvenated by "
        "particle Metropolis-Hastings moves when their effective number falls below half.",
    ),
    (
        "effective sample size (ESS)",
        "How many equally weighted particles the weighted particles are worth (Kish); a date where it "
        "falls far is a date where the record bites.",
    ),
)


def share(x: float) -> str:
    """A share as a percentage, in scientific notation when it is below 0.01 %."""
    return f"{x:.2%}" if x >= 1e-4 or x == 0 else f"{100 * x:.1e} %"


def binding_reading(cal: Calibration) -> dict:
    """The binding reading and whether the posterior reproduces it: the share of posterior draws in
    which it actually happened (without reading error) against the share of prior replicates.
    Below a half, most draws carry it only through the error model."""
    k = cal.binding.index
    o = cal.record.observations[k]
    post = float(cal.posterior_predictive["p_happened"].iloc[k])
    prior = float(cal.prior_predictive["p_happened"].iloc[k])
    if post >= 0.5:
        verdict = f"reproduced: it happened in {post:.0%} of the posterior draws (prior {prior:.1%})"
    else:
        verdict = (
            f"not reproduced: it happened in only {post:.0%} of the posterior draws (prior "
            f"{prior:.1%}); the others carry it through the error model alone, as a misreading"
        )
    return {"id": o.id, "what": o.describe(), "date": o.date.isoformat(), "share": post, "verdict": verdict}


def noise_caution(res) -> str | None:
    """One line when the filters' log-likelihood estimates of an SMC² run stayed noisier than the
    sampler aims for at the cap of state particles; None otherwise."""
    noisy = max((d.loglik_var for d in res.dates if not math.isnan(d.loglik_var)), default=0.0)
    if not noisy > MAX_LOGLIK_VAR:
        return None
    return (
        f"caution: the filters' log-likelihood estimates stayed noisy (variance {noisy:.1f} with "
        f"{res.state_particles} state particles, aim {MAX_LOGLIK_VAR:g}): the particle moves stick "
        "(Pitt et al. 2012), so the posterior rests on fewer distinct draws than its ESS says; more state "
        "particles (max_state_particles of sim.analysis.assimilation.smc2) would quiet them"
    )


def summary_lines(cal: Calibration) -> list[str]:
    """What `alliance-sim calibrate` prints: the method, how probable the record was, the
    effective draws, the binding reading and the values the record moved."""
    r = cal.record
    b = binding_reading(cal)
    res = cal.smc
    if res is not None:
        lines = [
            f"{cal.source}: {len(r)} observations at {len(res.dates)} dates to step {r.last_step} "
            f"({r.last_date.isoformat()}), assimilated by SMC²: {res.particles} parameter particles "
            f"x {res.state_particles} state particles, {res.steps_run:,} replicate-steps",
            f"effective posterior draws {cal.ess:.0f} ({res.distinct} distinct); log evidence "
            f"{cal.log_evidence:.2f} +- {cal.log_evidence_se:.2f}",
            "date        readings  ESS  stages  moves  accept  N_x  var(log L^)",
        ]
        for d in res.dates:
            acc = "-" if d.acceptance is None else f"{d.acceptance:.2f}"
            lines.append(
                f"{d.date}  {d.readings:>8} {d.ess:>4.0f} {d.stages:>7} {d.moves:>6} {acc:>7} "
                f"{d.state_particles:>4}  {d.loglik_var:>11.2f}"
            )
        caution = noise_caution(res)
        if caution:
            lines.append(caution)
    else:
        lines = [
            f"{cal.source}: {cal.ensemble.n} prior replicates to step {r.last_step} "
            f"({r.last_date.isoformat()}), {len(r)} observations",
            f"accepted {len(cal.accepted)} (acceptance rate {cal.acceptance:.2%}); "
            f"effective sample size of the weights {cal.ess:.0f}; log evidence "
            f"{cal.log_evidence:.2f} +- {cal.log_evidence_se:.2f}",
        ]
    lines.append(
        f"binding observation: {b['id']} ({b['what']}, {b['date']}): without it acceptance would be "
        f"{share(cal.binding.acceptance_without)}; {b['verdict']}"
    )
    lines += _moved_lines(cal)
    return lines


def _moved_lines(cal: Calibration) -> list[str]:
    lines = []
    if cal.moved:
        lines.append(
            "parameters the record moved most (KS distance; prior -> posterior mean +- sd; "
            "cited observations):"
        )
        for m in cal.moved[:10]:
            lines.append(
                f"  {m.path:<44} {m.ks:.2f}  {m.prior_mean:.3g}+-{m.prior_sd:.2g} -> "
                f"{m.post_mean:.3g}+-{m.post_sd:.2g}  {', '.join(m.cited)}"
            )
    else:
        lines.append("no parameter moved beyond Monte Carlo noise")
    significant = {m.path for m in cal.moved}
    rest = [m for m in cal.shifts if m.path not in significant][: max(0, 3 - len(cal.moved))]
    if rest:
        lines.append("next largest shifts (within Monte Carlo noise at level 0.001):")
        for m in rest:
            lines.append(
                f"  {m.path:<44} {m.ks:.2f}  {m.prior_mean:.3g}+-{m.prior_sd:.2g} -> "
                f"{m.post_mean:.3g}+-{m.post_sd:.2g}  {', '.join(m.cited)}"
            )
    for a, b, rho in cal.correlations[:5]:
        lines.append(f"  rank correlation {a} ~ {b}: {rho:+.2f} (independent in the prior)")
    return lines


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
        post = cal.posterior.sampled[m.path]
        bins = np.linspace(min(x.min(), post.min()), max(x.max(), post.max()), 31)
        ax.hist(x, bins=bins, density=True, color=NEGATIVE, alpha=0.45, label="prior")
        ax.hist(post, bins=bins, density=True, color=POSITIVE, alpha=0.6, label="posterior")
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


def ess_figure(cal: Calibration):
    """The parameter particles' effective sample size at each observation date (after the date's
    readings weighed them, and the lowest before a resample-move), with the state particles."""
    from sim.present.plots import NEGATIVE, POSITIVE, _figure, _style

    res = cal.smc
    assert res is not None
    fig = _figure(6.0, 2.6)
    ax = fig.subplots()
    x = np.arange(len(res.dates))
    ax.plot(x, [d.ess for d in res.dates], "o-", color=POSITIVE, label="ESS after the date")
    ax.plot(x, [d.ess_min for d in res.dates], "v--", color=NEGATIVE, label="lowest before a move")
    ax.axhline(res.particles / 2, color="0.6", lw=0.8, ls=":", label="resample-move below")
    ax.set_xticks(x, [d.date for d in res.dates], fontsize=7, rotation=30)
    ax.set_ylabel("effective particles", fontsize=8)
    ax.set_ylim(0, res.particles * 1.05)
    ax.legend(fontsize=7, frameon=False)
    _style(ax)
    return fig


def dates_frame(cal: Calibration) -> pd.DataFrame:
    """One row per observation date of an SMC calibration: what it did to the particles."""
    assert cal.smc is not None
    return pd.DataFrame(
        [
            {
                "date": d.date,
                "readings": d.readings,
                "ESS after": round(d.ess),
                "lowest ESS": round(d.ess_min),
                "tempered stages": d.stages,
                "moves": d.moves,
                "acceptance": "-" if d.acceptance is None else f"{d.acceptance:.2f}",
                "state particles": d.state_particles,
                "var of log-likelihood estimate": f"{d.loglik_var:.2f}",
                "log evidence": f"{d.log_evidence:.2f}",
            }
            for d in cal.smc.dates
        ]
    )


def record_sentence(cal: Calibration) -> str:
    """How probable the scenario found the record and what the posterior rests on, in one or two
    sentences (plain text)."""
    z, se = cal.log_evidence, cal.log_evidence_se
    prob = f"{np.exp(z):.3g}" if z > -700 else "below 1e-300"
    said = (
        f"The scenario gave the record a probability of {prob} under its error model (log evidence "
        f"{z:.2f} ± {se:.2f})"
    )
    if cal.smc is not None:
        return (
            f"{said}; the posterior rests on {cal.ess:.0f} effective draws from sequential Monte Carlo "
            f"({cal.smc.distinct} distinct)."
        )
    return (
        f"{said}; {len(cal.accepted):,} of {cal.ensemble.n:,} prior runs accepted "
        f"(acceptance {share(cal.acceptance)})."
    )


def probability_html(cal: Calibration) -> str:
    """How probable the record was and what the posterior rests on, in words (HTML paragraphs)."""
    from sim.analysis.likelihood import wilson
    from sim.present.page import esc

    b = binding_reading(cal)
    z, se = cal.log_evidence, cal.log_evidence_se
    evidence = (
        f"The record's log evidence is {esc(f'{z:.2f}')} ± {esc(f'{se:.2f}')} (Monte Carlo standard "
        "error): the log of the probability the scenario gave every reading under the error model. "
        "It is what scenario scores compare (differences are log Bayes factors); it does not depend "
        "on how the method normalises its kernel."
    )
    res = cal.smc
    if res is not None:
        how = (
            f"<p>The record was assimilated date by date by sequential Monte Carlo (SMC²): "
            f"{esc(res.particles)} parameter particles, each with a particle filter of "
            f"{esc(res.state_particles)} state particles, were run from date to date by the engine "
            "and weighted by each date's readings; when fewer than half the particles kept weight, they "
            "were resampled and moved by particle Metropolis-Hastings, which leaves the exact posterior "
            f"unchanged. Why this method: {esc(cal.reason)}.</p><p>The effective sample size "
            "(ESS) says how many equally weighted draws the weighted particles are worth; a date "
            "where it falls far is a date where the record bites. The posterior rests on "
            f"{esc(f'{cal.ess:.0f}')} effective draws ({esc(res.distinct)} distinct).</p>"
        )
        caution = noise_caution(res)
        if caution:
            how += f"<p><strong>{esc(caution)}</strong></p>"
    else:
        k, n = len(cal.accepted), cal.ensemble.n
        lo, hi = wilson(k, n)
        how = (
            f"<p>{esc(f'{k:,}')} of {esc(f'{n:,}')} prior replicates were accepted (acceptance rate "
            f"{esc(share(cal.acceptance))}, 95 % interval {esc(share(lo))}–{esc(share(hi))}): each "
            "replicate was kept with probability equal to the record's likelihood over the largest it "
            "can take, so the accepted replicates are exact draws from the posterior, and a reading "
            "that can never be certain (a range read through a wide error) does not crush "
            "acceptance. The effective sample size of the likelihood weights over all replicates is "
            f"{esc(f'{cal.ess:.0f}')}."
            + (f" Why this method: {esc(cal.reason)}." if cal.reason else "")
            + "</p>"
        )
    return (
        how + f"<p>{evidence}</p><p>The binding observation, the one that limits acceptance most, is "
        f"{esc(b['id'])} ({esc(b['what'])}, {esc(b['date'])}); without it acceptance would be "
        f"{esc(share(cal.binding.acceptance_without))}. It is {esc(b['verdict'])}.</p>"
    )


@all_or_nothing()  # a failure leaves none of its files
def _dates_section(page, cal: Calibration) -> None:
    """The date-by-date section of an SMC² calibration: its table and the effective sample size."""
    from sim.present.page import table_html
    from sim.present.page_figures import FigureEntry

    ess = FigureEntry(
        "ess",
        "Effective sample size at each date",
        "the parameter particles' ESS after each date and the lowest before a move",
        "Circles: ESS after the date's readings and moves; triangles: the lowest before a "
        "resample-move; dotted: half the particles, below which they are resampled and moved.",
        lambda: ess_figure(cal),
    )
    page.section("Date by date", table_html(dates_frame(cal)) + page.figures([ess]))


def _moved_section(page, cal: Calibration) -> None:
    """What the record moved: each value with its claims and which way the record reads them."""
    from sim.present.page import table_html
    from sim.present.page_figures import FigureEntry

    entry = FigureEntry(
        "moved",
        "Prior and posterior of the values the record moved",
        "histograms of prior and posterior draws",
        "Two-sample Kolmogorov-Smirnov test at level 0.001 against the prior draws (the posterior's "
        "size taken as its effective draws).",
        lambda: moved_figure(cal),
    )
    page.section(
        "What the record moved",
        "<p>Each value the record moved, with the claims it rests on and which way the "
        "record reads them.</p>" + table_html(claim_reading(cal)) + page.figures([entry]),
    )


def write_history_report(
    cal: Calibration,
    path: str | Path,
    *,
    scores: pd.DataFrame | None = None,
    projection: Projection | None = None,
) -> Path:
    """Write the self-contained HTML page of a calibration (the page kit's rules: answer first with
    its intervals, a glossary, figures as PNG, no script, every string escaped)."""
    from sim.present.page import Page, esc, table_html

    r = cal.record
    drawn = f"{cal.ensemble.n:,} prior replicates" if cal.method == "rejection" else "SMC²"
    page = Page(
        path,
        f"Conditioned on the record: {cal.source.stem}",
        f"{esc(len(r))} observations from {esc(r.start.isoformat())} to {esc(r.last_date.isoformat())} "
        f"({esc(r.path.name)}); {esc(drawn)}, seed {esc(cal.ensemble.seed)}",
    )
    record = record_sentence(cal)
    note = (
        "It conditions on the dated record as read through its error model; the intervals are the "
        "Monte Carlo error of the posterior draws."
    )
    if projection is not None:
        page.answer(f"{esc(projection.sentence())}. {esc(record)}", heading="The view from today", note=note)
    else:
        page.answer(esc(record), note=note)
    page.glossary(
        ["ks", "predictive", "wilson", "log_bf", "mc_se"],
        EVIDENCE_TERMS + (SMC_TERMS if cal.smc is not None else ()),
    )
    page.section("How probable the record was", probability_html(cal))
    if cal.smc is not None:
        _dates_section(page, cal)
    _moved_section(page, cal)
    if cal.correlations:
        corr = pd.DataFrame(cal.correlations, columns=["value", "with", "Spearman rank correlation"])
        page.section(
            "Values the record ties together",
            "<p>Rank correlations between "
            "the posterior draws (the prior draws every value independently). The posterior "
            "scenario file carries marginals only; the posterior draws, and the view "
            "from today, keep these correlations.</p>" + table_html(corr),
        )
    page.section(
        "Predictive checks",
        "<p>Share of replicates in which each "
        "observation happened (without reading error), before and after conditioning (95 % Wilson "
        "intervals; the posterior's use its effective draws).</p>" + table_html(predictive_frame(cal)),
    )
    if scores is not None:
        page.section(
            "Scenario scores",
            "<p>Probability each scenario gave the record, "
            "log score, and log Bayes factor against the best, with Monte Carlo standard "
            "errors.</p>" + table_html(scores, labels=SCORE_LABELS),
        )
    page.cite(
        "ABC rejection with the error model as kernel: Pritchard et al. (1999), Beaumont et al. (2002), "
        "Wilkinson (2013).",
        "SMC²: Chopin, Jacob & Papaspiliopoulos (2013); particle MCMC: Andrieu, Doucet & Holenstein (2010).",
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


# --------------------------------------------------------------------------------------------
# Backtest
# --------------------------------------------------------------------------------------------

SCORE_WORDS = {
    "log": "log score (higher is better)",
    "brier": "Brier score (lower is better)",
    "crps": "CRPS (lower is better)",
}
BACKTEST_TERMS = (
    (
        "log score",
        "Log of the probability (or density) the forecast gave the reading as it was recorded, "
        "reading error included; higher is better (a proper score: Gneiting & Raftery 2007).",
    ),
    (
        "Brier score",
        "(1 − p)² for a discrete fact that came out as forecast with probability p; lower is better.",
    ),
    (
        "CRPS",
        "Continuous ranked probability score: the forecast draws' mean distance to the outcome less "
        "half their mean distance to each other, in the tie's units; lower is better.",
    ),
    ("persistence", "The last reading of the same thing carries to the later date (a naive baseline)."),
    ("prior", "The uncalibrated scenario's runs from its start (the prior predictive)."),
)
BACKTEST_LABELS = {
    "score": "score",
    "against": "against",
    "difference": "calibrated − baseline",
    "readings": "readings compared",
    "verdict": "verdict",
}


def _reading_labels(frame: pd.DataFrame) -> dict[str, str]:
    """Column words of the per-reading table: ``calibrated:log`` -> ``calibrated, log score``."""
    labels = {"id": "reading", "date": "date", "observed": "what was read"}
    for c in frame.columns:
        if ":" in c:
            who, score = c.split(":", 1)
            labels[c] = f"{who}, {SCORE_WORDS.get(score, score).split(' (')[0]}"
    return labels


def backtest_frame(bt) -> pd.DataFrame:
    """The summary as a table: one row per score, each forecaster's mean +- Monte Carlo error."""
    rows = []
    for s in ("log", "brier", "crps"):
        sub = bt.table[bt.table.score == s]
        if sub.empty:
            continue
        row = {"score": SCORE_WORDS[s]}
        for r in sub.itertuples():
            row[r.forecaster] = f"{r.mean:.3g} ± {r.mc_se:.2g} ({r.readings})"
        rows.append(row)
    return pd.DataFrame(rows)


def backtest_lines(bt) -> list[str]:
    """What `alliance-sim backtest` prints."""
    cal = bt.calibration
    lines = [
        f"{bt.source}: calibrated on {len(bt.fit)} readings to {bt.until.isoformat()} "
        f"({cal.method}, {cal.posterior.effective:.0f} posterior draws); predicting {len(bt.test)} "
        f"later readings (mean score over the readings each forecaster predicts, their number in "
        f"brackets; persistence predicts only what was read before)",
    ]
    frame = backtest_frame(bt)
    lines.append(frame.to_string(index=False))
    for d in bt.differences.itertuples():
        lines.append(
            f"  {SCORE_WORDS[d.score].split(' (')[0]}: calibrated - {d.against} = {d.difference:+.3g} "
            f"+- {d.mc_se:.2g} over {d.readings} readings: {d.verdict}"
        )
    lines.append(
        "(+- is the Monte Carlo error of each mean, from bootstrapping the forecast ensembles; "
        "it does not include which readings happened to be made)"
    )
    return lines


def backtest_answer(bt) -> str:
    """The backtest's answer in words (plain text): against each baseline, on each score, whether
    the calibrated model did better, worse, or could not be told apart."""
    parts = []
    for d in bt.differences.itertuples():
        parts.append(f"{SCORE_WORDS[d.score].split(' (')[0]} against {d.against}: {d.verdict}")
    said = "; ".join(parts) if parts else "no reading was predicted by every forecaster"
    return (
        f"Calibrated on {len(bt.fit)} readings up to {bt.until.isoformat()} and asked to predict the "
        f"{len(bt.test)} later ones, the calibrated model compares with the baselines as follows — {said}."
    )


@all_or_nothing()  # a failure leaves none of its files
def write_backtest_report(bt, path: str | Path) -> Path:
    """The page of `alliance-sim backtest`: the answer, the summary with Monte Carlo errors, the
    verdicts, and each later reading's scores."""
    from sim.present.page import Page, esc, table_html

    diffs = bt.differences.assign(
        score=[SCORE_WORDS[s].split(" (")[0] for s in bt.differences["score"]],
        difference=[
            f"{d:+.3g} ± {s:.2g}" for d, s in zip(bt.differences["difference"], bt.differences["mc_se"])
        ],
    ).drop(columns=["mc_se"])
    page = Page(
        path,
        f"Out-of-sample skill: {bt.source.stem}",
        f"calibrated on {esc(len(bt.fit))} readings up to {esc(bt.until.isoformat())} "
        f"({esc(bt.calibration.method)}); {esc(len(bt.test))} later readings predicted",
    )
    page.answer(
        esc(backtest_answer(bt)),
        note="A handful of later readings is a small test: ± is the Monte Carlo error of the simulations, "
        "not the sampling error of which readings happened to be made.",
        heading="Does the calibrated model predict what it has not seen?",
    )
    page.glossary(["mc_se"], BACKTEST_TERMS)
    page.section(
        "Scores",
        "<p>Each later reading is predicted by the posterior draws continued from the last "
        "calibrated date, by the uncalibrated scenario (the prior predictive) and by persistence "
        "(the last reading of the same thing carries). Scores are proper (Gneiting &amp; Raftery "
        "2007), averaged over the readings each forecaster predicts (their number in brackets: "
        "persistence has nothing to carry for a thing never read before); each difference is "
        "taken over the readings both forecasters predict.</p>"
        + table_html(backtest_frame(bt))
        + table_html(diffs, labels=BACKTEST_LABELS),
    )
    page.section("Each later reading", table_html(bt.readings.round(4), labels=_reading_labels(bt.readings)))
    page.cite(
        "Proper scoring rules: Gneiting & Raftery (2007).",
        "Calibration: see the calibration page of the same record.",
    )
    return page.write()
