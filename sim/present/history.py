"""The history-matching page: the record and how probable the scenario found it, prior against
posterior for each value the record moved (with the claims that value rests on), prior and
posterior predictive checks of each observation, scenario scores and the view from today."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.calibration import Calibration, Projection


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
    fig = _figure(3.4 * cols, 2.4 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax, m in zip(axes, shown):
        x = cal.ensemble.sampled[m.path]
        post = cal.posterior.sampled[m.path] if cal.posterior is not None else x[cal.accepted]
        bins = np.linspace(min(x.min(), post.min()), max(x.max(), post.max()), 31)
        ax.hist(x, bins=bins, density=True, color=NEGATIVE, alpha=0.45, label="prior")
        ax.hist(post, bins=bins, density=True, color=POSITIVE, alpha=0.6, label="posterior")
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


def probability_section(cal: Calibration) -> str:
    """How probable the record was and what the posterior rests on, in words (HTML)."""
    from sim.present.report import esc

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
            "(ESS) says how many "
            "equally weighted draws the weighted particles are worth; a date where it falls far is a "
            "date where the record bites. The posterior rests on "
            f"{esc(f'{cal.ess:.0f}')} effective draws ({esc(res.distinct)} distinct).</p>"
        )
    else:
        how = (
            f"<p>{esc(len(cal.accepted))} of {esc(f'{cal.ensemble.n:,}')} prior replicates were "
            f"accepted (acceptance rate {esc(f'{cal.acceptance:.2%}')}): each replicate was kept with "
            "probability equal to the record's likelihood over the largest it can take, so the "
            "accepted replicates are exact draws from the posterior. The effective sample size of "
            f"the likelihood weights over all replicates is {esc(f'{cal.ess:.0f}')}."
            + (f" Why this method: {esc(cal.reason)}." if cal.reason else "")
            + "</p>"
        )
    return (
        "<section><h2>How probable the record was</h2>"
        + how
        + f"<p>{evidence}</p><p>The binding observation, the one that limits acceptance most, is "
        f"{esc(b['id'])} ({esc(b['what'])}, {esc(b['date'])}); without it acceptance would be "
        f"{esc(share(cal.binding.acceptance_without))}. It is {esc(b['verdict'])}.</p></section>"
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
    from sim.present.report import _write_page, esc

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig_dir = path.parent / f"{path.stem}_figures"
    fig_dir.mkdir(exist_ok=True)
    r = cal.record
    title = f"History matching: {cal.source.stem}"
    drawn = f"{cal.ensemble.n:,} prior replicates" if cal.method == "rejection" else "SMC²"
    body = [
        f"<header><h1>{esc(title)}</h1><p class='sub'>{esc(len(r))} observations from "
        f"{esc(r.start.isoformat())} to {esc(r.last_date.isoformat())} ({esc(r.path.name)}); "
        f"{esc(drawn)}, seed {esc(cal.ensemble.seed)}</p></header>"
    ]
    if projection is not None:
        body.append(
            f"<section class='answer'><h2>The view from today</h2><p class='headline'>"
            f"{esc(projection.sentence())}.</p></section>"
        )
    body.append(probability_section(cal))
    if cal.smc is not None:
        body.append(
            _figure_section(
                cal,
                fig_dir,
                "ess",
                ess_figure(cal),
                "Effective sample size at each date",
                "the parameter particles' ESS after each date and the lowest before a move",
                dates_frame(cal),
            )
        )
    body.append(_moved_section(cal, fig_dir))
    body += _tables(cal, scores)
    body.append(
        "<footer>ABC rejection with the error model as kernel: Pritchard et al. (1999), "
        "Beaumont et al. (2002), Wilkinson (2013). SMC²: Chopin, Jacob &amp; Papaspiliopoulos (2013); "
        "particle MCMC: Andrieu, Doucet &amp; Holenstein (2010). Bayes factors: Kass &amp; Raftery "
        "(1995). Wilson (1927) intervals.</footer>"
    )
    return _write_page(path, title, body)


def _figure_section(cal, fig_dir: Path, name: str, fig, title: str, what: str, table=None) -> str:
    from sim.present.report import FigureEntry, _figure_html, atomic_write_bytes, esc, figure_png, table_html

    png = figure_png(fig)
    atomic_write_bytes(fig_dir / f"{name}.png", png)
    entry = FigureEntry(name, title, what, "", lambda: None)
    html = f"<section><h2>{esc(title)}</h2>"
    if table is not None:
        html += table_html(table)
    return (
        html + f"<div class='figs'>{_figure_html(entry, png, f'{fig_dir.name}/{name}.png')}</div></section>"
    )


def _moved_section(cal: Calibration, fig_dir: Path) -> str:
    from sim.present.report import FigureEntry, _figure_html, atomic_write_bytes, figure_png, table_html

    png = figure_png(moved_figure(cal))
    atomic_write_bytes(fig_dir / "moved.png", png)
    entry = FigureEntry(
        "moved",
        "Prior and posterior of the values the record moved",
        "histograms of prior and posterior draws",
        "Two-sample Kolmogorov-Smirnov test at level 0.001 against the prior draws.",
        lambda: None,
    )
    return (
        "<section><h2>What the record moved</h2>"
        "<p>Each value the record moved, with the claims it rests on and which way the "
        "record reads them.</p>"
        + table_html(claim_reading(cal))
        + f"<div class='figs'>{_figure_html(entry, png, f'{fig_dir.name}/moved.png')}</div>"
        + "</section>"
    )


def _tables(cal: Calibration, scores) -> list[str]:
    from sim.present.report import table_html

    out = []
    if cal.correlations:
        corr = pd.DataFrame(cal.correlations, columns=["value", "with", "Spearman rank correlation"])
        out.append(
            "<section><h2>Values the record ties together</h2><p>Rank correlations between "
            "the posterior draws (the prior draws every value independently). The posterior "
            "scenario file carries marginals only; the posterior draws, and the view "
            "from today, keep these correlations.</p>" + table_html(corr) + "</section>"
        )
    out.append(
        "<section><h2>Predictive checks</h2><p>Share of replicates in which each "
        "observation happened (without reading error), before and after conditioning (95 % Wilson "
        "intervals; the posterior's use its draws).</p>" + table_html(predictive_frame(cal)) + "</section>"
    )
    if scores is not None:
        out.append(
            "<section><h2>Scenario scores</h2><p>Probability each scenario gave the record, "
            "log score, and log Bayes factor against the best, with Monte Carlo standard "
            "errors.</p>" + table_html(scores) + "</section>"
        )
    return out


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


# --------------------------------------------------------------------------------------------
# Backtest
# --------------------------------------------------------------------------------------------

SCORE_WORDS = {
    "log": "log score (higher is better)",
    "brier": "Brier score (lower is better)",
    "crps": "CRPS (lower is better)",
}


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


def write_backtest_report(bt, path: str | Path) -> Path:
    """The page of `alliance-sim backtest`: the summary with Monte Carlo errors, the verdicts,
    and each later reading's scores."""
    from sim.present.report import _write_page, esc, table_html

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    title = f"Out-of-sample skill: {bt.source.stem}"
    diffs = bt.differences.assign(
        difference=[
            f"{d:+.3g} ± {s:.2g}" for d, s in zip(bt.differences["difference"], bt.differences["mc_se"])
        ]
    ).drop(columns=["mc_se"])
    body = [
        f"<header><h1>{esc(title)}</h1><p class='sub'>calibrated on {esc(len(bt.fit))} readings up to "
        f"{esc(bt.until.isoformat())} ({esc(bt.calibration.method)}); {esc(len(bt.test))} later "
        "readings predicted</p></header>",
        "<section class='answer'><h2>Does the calibrated model predict what it has not seen?</h2>"
        "<p>Each later reading is predicted by the posterior draws continued from the last "
        "calibrated date, by the uncalibrated scenario (the prior predictive) and by persistence "
        "(the last reading of the same thing carries). Scores are proper (Gneiting &amp; Raftery "
        "2007), averaged over the readings each forecaster predicts (their number in brackets: "
        "persistence has nothing to carry for a thing never read before); each difference is "
        "taken over the readings both forecasters predict. ± is the Monte Carlo error of the "
        "simulations (bootstrap over ensemble members), not the sampling error of which readings "
        "happened to be made.</p>" + table_html(backtest_frame(bt)) + table_html(diffs) + "</section>",
        "<section><h2>Each later reading</h2>" + table_html(bt.readings.round(4)) + "</section>",
        "<footer>Proper scoring rules: Gneiting &amp; Raftery (2007). Calibration: see the "
        "calibration page of the same record.</footer>",
    ]
    return _write_page(path, title, body)
