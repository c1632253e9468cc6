"""The pages of policy analysis: ``levers`` (the policy table with its noise, trade-offs, parallel
coordinates, regret, which levers matter, where the most robust policy fails) and ``optimize``
(the non-dominated policies, in sample and on fresh worlds, and how the search converged)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.levers import LEVER_PREFIX, METRIC_PREFIX, REGRET_PREFIX, SATISFICING, PolicyResults
from sim.analysis.policy_tables import barely_moving, lever_display, policy_warnings, share_interval
from sim.files import all_or_nothing
from sim.present.page import Page, esc, noise_badge, pct, table_html, titled, warning
from sim.present.page_figures import FigureEntry

ROBUSTNESS_REFERENCES = (
    "Regret: Savage (1951); robustness metrics: Herman et al. (2015), McPhail et al. (2018).",
    "Noise correction: cross-fitting (Athey & Imbens 2016), constrained empirical Bayes (Louis 1984), "
    "bootstrap standard errors (Efron & Tibshirani 1993); the optimizer's curse: Smith & Winkler (2006).",
    "XLRM and robust decision making: Lempert, Popper & Bankes (2003). Policies: Latin hypercube "
    "(McKay, Beckman & Conover 1979). Which levers matter: Saltelli et al. (2008).",
)


def nondominated(values: np.ndarray, sign: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows of ``values`` (P, K) no other row dominates (at least as good on
    every metric, better on one), each metric oriented by ``sign``."""
    v = values * sign
    better_eq = (v[None, :, :] >= v[:, None, :]).all(axis=2)  # [i, j]: j at least as good as i
    strictly = (v[None, :, :] > v[:, None, :]).any(axis=2)
    dominated = (better_eq & strictly).any(axis=1)
    return ~dominated


def _labels(result) -> list[str]:
    return [m.label or n for n, m in zip(result.objectives.names, result.objectives.metrics)]


def _column_labels(result) -> list[str]:
    """Each metric's label, with its name added where two metrics share a label (the West's and
    Beijing's P(holds))."""
    labels = _labels(result)
    return [
        label if labels.count(label) == 1 else f"{label} ({n})"
        for n, label in zip(result.objectives.names, labels)
    ]


def _pairs(ks: list[int]) -> list[tuple[int, int]]:
    ks = ks[:3]
    return [(a, b) for i, a in enumerate(ks) for b in ks[i + 1 :]]


def _grid(n: int):
    from sim.present.plots import _figure

    cols = min(n, 2)
    rows = -(-n // cols)
    fig = _figure(4.3 * cols + (0.6 if cols == 1 else 0.0), 3.8 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def tradeoff_figure(result: PolicyResults):
    """Each pair of (at most three of) the metrics that move across the policies: every policy
    (grey), the non-dominated ones (coloured by satisficing share) and the status quo (square);
    two panels to a row, each half the page wide."""
    from sim.present.plots import NEGATIVE, _style, text

    means = result.robustness.mean
    K = means.shape[1]
    still = set(barely_moving(result))
    moving = [k for k in range(K) if k not in still]
    pairs = _pairs(moving)
    if not pairs:
        from sim.present.plots import _empty, _figure

        return _empty(_figure(5, 2), "fewer than two metrics move across the policies: no trade-off to draw")
    fig, axes = _grid(len(pairs))
    front = nondominated(means, result.objectives.sign)
    labels = _labels(result)
    sc = None
    for ax, (a, b) in zip(axes, pairs):
        ax.scatter(means[:, a], means[:, b], s=14, color="#bbbbbb", label="policy")
        sc = ax.scatter(
            means[front, a],
            means[front, b],
            s=30,
            c=result.robustness.satisficing[front],
            cmap="viridis",
            vmin=0,
            vmax=1,
            label="non-dominated",
        )
        ax.plot(means[0, a], means[0, b], "s", ms=9, mfc="none", mec=NEGATIVE, mew=1.6, label="status quo")
        ax.set_xlabel(text(labels[a], 45), fontsize=8)
        ax.set_ylabel(text(labels[b], 40), fontsize=8)
        ax.tick_params(labelsize=8)
        _style(ax)
        ax.legend(fontsize=7, frameon=False)
    if sc is not None:
        fig.colorbar(sc, ax=list(axes), label="satisficing share", shrink=0.8)
    return fig


def parallel_figure(result: PolicyResults, top: int = 30):
    """Parallel coordinates of the levers that vary and the metrics' means, each axis scaled to
    its range over the policies; the ``top`` most robust policies coloured by rank."""
    from sim.present.plots import _figure, _style, text

    t = result.table
    cols = [c for c in t.columns if c.startswith(LEVER_PREFIX) and t[c].nunique() > 1]
    cols += [METRIC_PREFIX + n for n in result.objectives.names]
    data = t[cols].to_numpy(dtype=float)
    lo, hi = data.min(axis=0), data.max(axis=0)
    scaled = np.divide(data - lo, hi - lo, out=np.full_like(data, 0.5), where=hi > lo)
    order = np.argsort(t["rank"].to_numpy())
    fig = _figure(min(max(6.0, 1.15 * len(cols)), 9.0), 4.0)
    ax = fig.subplots()
    x = np.arange(len(cols))
    for p in order[::-1]:
        r = int(t["rank"].iloc[p])
        if r > top:
            ax.plot(x, scaled[p], color="#dddddd", lw=0.6)
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    for p in order[:top][::-1]:
        r = int(t["rank"].iloc[p])
        ax.plot(x, scaled[p], color=cmap((r - 1) / max(top - 1, 1)), lw=1.2 if r > 1 else 2.4)
    ax.set_xticks(
        x,
        [text(c.replace(LEVER_PREFIX, "").replace(METRIC_PREFIX, ""), 22) for c in cols],
        rotation=30,
        ha="right",
        fontsize=8,
    )
    for xi, (c, a, b) in enumerate(zip(cols, lo, hi)):
        name = c.removeprefix(LEVER_PREFIX)
        ends = [
            lever_display(result.scenario, name, v) if c.startswith(LEVER_PREFIX) else f"{v:.3g}"
            for v in (a, b)
        ]
        ax.text(xi, -0.06, ends[0], ha="center", va="top", fontsize=7, color="#555555")
        ax.text(xi, 1.04, ends[1], ha="center", va="bottom", fontsize=7, color="#555555")
    ax.set_ylim(-0.15, 1.12)
    ax.set_yticks([])
    ax.set_title(
        text(f"levers and metrics; the {top} most robust policies coloured by rank (thick: rank 1)"),
        fontsize=9,
    )
    _style(ax)
    return fig


def regret_figure(result: PolicyResults, top: int = 25):
    """Heat map of the 90th-percentile regret (corrected for estimation noise) of the ``top`` most
    robust policies on each metric, divided by the metric's largest such regret; each cell's
    number in the metric's units, in the ink that contrasts with the cell."""
    from sim.present.plots import _figure, ink_on, text

    t = result.table.sort_values("rank").head(top)
    names = result.objectives.names
    reg = t[[REGRET_PREFIX + n for n in names]].to_numpy(dtype=float)
    scale = result.robustness.regret_p90.max(axis=0)
    shown = np.divide(reg, scale, out=np.zeros_like(reg), where=scale > 0)
    fig = _figure(min(2.4 + 1.3 * len(names), 9.0), 1.3 + 0.26 * len(t))
    ax = fig.subplots()
    im = ax.imshow(shown, cmap="magma_r", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(np.arange(len(names)), [text(n, 24) for n in names], rotation=30, ha="right", fontsize=8)
    ax.set_yticks(
        np.arange(len(t)),
        [("status quo" if p == 0 else f"policy {p}") + f" (#{r})" for p, r in zip(t.policy, t["rank"])],
        fontsize=8,
    )
    for i in range(shown.shape[0]):
        for j in range(shown.shape[1]):
            ax.text(
                j,
                i,
                f"{reg[i, j]:.2g}",
                ha="center",
                va="center",
                fontsize=7,
                color=ink_on(im.cmap(im.norm(shown[i, j]))),
            )
    fig.colorbar(im, ax=ax, label="90th-percentile regret / largest")
    return fig


# --------------------------------------------------------------------------------------------
# Levers: words
# --------------------------------------------------------------------------------------------


def _effect_words(f) -> str:
    k = f.kind
    if k == "pressure":
        return f"the pressure (sanctions and encirclement) on {f.actor}"
    if k == "tie":
        return f"{f.from_}'s tie toward {f.to}" + (" and back" if f.symmetric else "")
    if k == "dependence":
        return f"{f.from_}'s dependence on {f.to}"
    if k == "ambition":
        return f"{f.actor}'s ambition over {f.target}"
    if k == "hazard":
        return f"the monthly hazard of the event {f.event}"
    if k == "growth":
        return f"{f.actor}'s growth"
    if k == "position":
        return f"{f.actor}'s position on {f.issue}"
    if k == "salience":
        return f"{f.actor}'s salience of {f.issue}"
    if k == "strategic_value":
        return f"the strategic value of {f.actor}"
    return k


def lever_meaning(lever) -> str:
    """What a lever's value means, in words: its options, or what a positive and a negative value
    do to its targets relative to the scenario as written."""
    targets = "; ".join(dict.fromkeys(_effect_words(f) for f in lever.effects))
    if lever.options is not None:
        opts = ", ".join(
            (f"{n} ({v:+g})" if v else f"{n} (0)").replace("-", "−") for n, v in lever.options.items()
        )
        return f"options: {opts}; each shifts {targets} by its value"
    lo, hi = lever.bounds
    ops = {f.op for f in lever.effects}
    if ops == {"set"}:
        return f"sets {targets} to the value, from {lo:g} to {hi:g}"
    if lo < 0 < hi:
        easing = (
            " (a negative value eases the pressure: lighter sanctions than today)"
            if any(f.kind == "pressure" for f in lever.effects)
            else ""
        )
        return (
            f"signed: a positive value raises {targets} above the scenario as written, a negative value "
            f"lowers it{easing}; 0 leaves it as written"
        )
    return f"shifts {targets} by the value, from {lo:g} to {hi:g}"


def levers_table(result) -> str:
    """The levers varied: owner, what they move, their range or options, their status quo."""
    from sim.spec.lever_values import option_name

    rows = []
    names = result.settings.get("levers") or [
        c.removeprefix(LEVER_PREFIX)
        for c in result.policies.columns
        if c.startswith(LEVER_PREFIX) and result.policies[c].nunique() > 1
    ]
    for n in names:
        lever = result.scenario.levers[n]
        sq = option_name(lever, lever.status_quo_value) or f"{lever.status_quo_value:g}"
        rows.append(
            {
                "lever": n,
                "owner": lever.owner,
                "what it is": lever.label,
                "what a value means": lever_meaning(lever),
                "status quo": sq,
                "claim": lever.claim,
            }
        )
    return table_html(pd.DataFrame(rows))


def metrics_table(result) -> str:
    """The metrics judged by: label, direction and threshold, in words."""
    rows = []
    for n, m in zip(result.objectives.names, result.objectives.metrics):
        better = "higher is better" if m.sign > 0 else "lower is better"
        thr = "–" if m.threshold is None else f"{'at least' if m.sign > 0 else 'at most'} {m.threshold:g}"
        rows.append({"metric": n, "what it is": m.label or m.kind, "direction": better, "threshold": thr})
    return table_html(pd.DataFrame(rows))


def _policy_name(p: int) -> str:
    return "the status quo" if p == 0 else f"policy {p}"


def _settings_text(result, policy: int) -> str:
    levers = [
        c for c in result.policies.columns if c.startswith(LEVER_PREFIX) and result.policies[c].nunique() > 1
    ]
    parts = []
    for c in levers:
        name = c.removeprefix(LEVER_PREFIX)
        parts.append(f"{name} {lever_display(result.scenario, name, result.policies[c].iloc[policy])}")
    return ", ".join(parts).replace("-", "−")


def _interval(p: float, se: float | None, worlds: int) -> str:
    lo, hi = share_interval(p, se, worlds)
    return f"{pct(p, 0)} (95 % interval {pct(lo, 0)}–{pct(hi, 0)})"


def levers_answer(result: PolicyResults) -> str:
    """The levers page's answer (HTML): the most robust policy, how often it meets its thresholds
    (and each one) against the status quo, and its worst regret, each with its noise."""
    rob = result.robustness
    best = int(rob.rank()[0])
    labels = _labels(result)
    obj = result.objectives
    s = result.settings
    se = rob.satisficing_se
    S = result.metrics.shape[1]
    text = (
        f"Under these assumptions, the most robust of the {s.get('policies')} policies on "
        f"{s.get('worlds')} worlds × {s.get('replicates')} runs is <b>{esc(_policy_name(best))}</b>"
        + (f" ({esc(_settings_text(result, best))})" if best != 0 else "")
        + ". "
    )
    has = ~np.isnan(obj.threshold)
    if has.any():
        share = _interval(rob.satisficing[best], None if se is None else se[best], S)
        text += f"It meets every threshold in {share} of the worlds"
        if best != 0:
            sq = _interval(rob.satisficing[0], None if se is None else se[0], S)
            text += f", against {sq} for the status quo"
        text += ". "
        if rob.met is not None:
            each = [
                f"{esc(labels[k])} {'≥' if obj.sign[k] > 0 else '≤'} {obj.threshold[k]:g}: "
                f"{pct(rob.met[best, k], 0)}"
                for k in np.flatnonzero(has)
            ]
            text += "Each threshold on its own: " + "; ".join(each) + ". "
    k_worst = int(
        np.argmax(
            rob.regret_p90[best] / np.where(rob.regret_p90.max(axis=0) > 0, rob.regret_p90.max(axis=0), 1)
        )
    )
    r_se = rob.regret_p90_se[best, k_worst] if rob.regret_p90_se is not None else np.nan
    text += (
        f"Its largest regret (90th percentile over the worlds) is on {esc(labels[k_worst])}: "
        f"{rob.regret_p90[best, k_worst]:.3f}"
        + (f" ± {r_se:.3f}" if np.isfinite(r_se) and r_se > 1e-12 else "")
        + " in the metric's units."
    )
    return text


def _pm(se: np.ndarray | None, p: int, k: int) -> str:
    """`` ± se`` of one policy and metric, or nothing for a metric without noise (a cost)."""
    return f" ± {se[p, k]:.3f}" if se is not None and se[p, k] > 1e-12 else ""


def policy_table(result: PolicyResults, top: int = 15) -> str:
    """The most robust policies: levers by name or sign, each metric's mean ± its standard error
    with its corrected regret ± standard error, the satisficing share with its interval, and
    which policies cannot be told apart from the most robust."""
    rob = result.robustness
    t = result.table.sort_values("rank").head(top)
    levers = [c for c in t.columns if c.startswith(LEVER_PREFIX) and result.table[c].nunique() > 1]
    tied = rob.tied_with_best()
    has = ~np.isnan(result.objectives.threshold)
    labels = _column_labels(result)
    rows = []
    for _, r in t.iterrows():
        p = int(r.policy)
        row = {
            "rank": esc(int(r["rank"]))
            + (" " + noise_badge("tied with #1") if tied[p] and r["rank"] > 1 else ""),
            "policy": esc("status quo" if p == 0 else p),
        }
        for c in levers:
            name = c.removeprefix(LEVER_PREFIX)
            row[name] = esc(lever_display(result.scenario, name, r[c]).replace("-", "−"))
        for k, n in enumerate(result.objectives.names):
            mean_se = _pm(rob.mean_se, p, k)
            reg_se = _pm(rob.regret_p90_se, p, k)
            cell = (
                f"{r[METRIC_PREFIX + n]:.3f}{mean_se}<br>"
                f"<span class='ci'>regret {r[REGRET_PREFIX + n]:.3f}{reg_se}"
            )
            if has[k] and rob.met is not None:
                cell += f"; threshold met in {pct(rob.met[p, k], 0)}"
            row[labels[k]] = cell.replace("-", "−") + "</span>"
        if has.any():
            row["satisficing share"] = esc(
                _interval(
                    float(r[SATISFICING]),
                    None if rob.satisficing_se is None else rob.satisficing_se[p],
                    result.metrics.shape[1],
                )
            )
        rows.append(row)
    frame = pd.DataFrame(rows)
    return table_html(frame, html_columns=list(frame.columns))


@all_or_nothing()  # a failure leaves none of its files
def _policy_figures(result: PolicyResults) -> list[FigureEntry]:
    """The lever evaluation's figures: trade-offs, parallel coordinates and regret."""
    labels = _labels(result)
    still = barely_moving(result)
    left_out = (
        " Left out as they barely move across the policies: " + ", ".join(labels[k] for k in still) + "."
        if still
        else ""
    )
    figs = [
        FigureEntry(
            "tradeoffs",
            "Trade-offs",
            "metric means of every policy, non-dominated ones coloured",
            "Grey: every policy; coloured: the non-dominated ones (by satisficing share); square: the "
            "status quo." + left_out,
            lambda: tradeoff_figure(result),
        ),
        FigureEntry(
            "parallel",
            "Parallel coordinates",
            "levers and metrics of the policies",
            "Each line a policy; axes scaled to their range over the policies.",
            lambda: parallel_figure(result),
        ),
        FigureEntry(
            "regret",
            "Regret",
            "heat map of regret by policy and metric",
            "90th-percentile regret of the most robust policies, corrected for estimation noise "
            "(numbers: in the metric's units).",
            lambda: regret_figure(result),
        ),
    ]
    return figs


def _scenario_claims(result: PolicyResults, claims: dict | None) -> dict | None:
    """The claims by parameter the page cites: those given, else the scenario's (none when unreadable)."""
    if claims is not None or not result.scenario.claims:
        return claims
    try:
        from sim.spec.claims import claims_by_param, load_claims

        return claims_by_param(load_claims(result.scenario.claims))
    except Exception:  # noqa: BLE001 - the page stands without its citations
        return None


def write_policy_report(
    result: PolicyResults, path: str | Path, vulnerability=None, claims: dict | None = None
) -> Path:
    """The page of a lever evaluation: the answer with its noise and warnings, the glossary, the
    levers and metrics in words, the policy table, the figures, which levers matter and, when
    given, where the most robust policy fails (a PRIM box)."""
    from sim.analysis.policy_tables import lever_importance
    from sim.present.exploration import (
        DISCOVERY_GLOSSARY,
        PRIM_REFERENCES,
        discovery_answer,
        discovery_section,
    )

    claims = _scenario_claims(result, claims)
    s = result.settings
    page = Page(
        path,
        titled("Policy levers", result.scenario.title or "scenario"),
        f"{esc(s.get('policies'))} policies ({esc(s.get('design'))}, policy 0 the status quo"
        + (f", levers of {esc(s.get('owner'))}" if s.get("owner") else "")
        + f") × {esc(s.get('worlds'))} worlds × {esc(s.get('replicates'))} runs × "
        f"{esc(s.get('steps'))} steps, common random numbers · seed {esc(s.get('seed'))}",
    )
    details = "".join(warning(w) for w in policy_warnings(result))
    page.answer(levers_answer(result), details=details)
    keys = [
        "policy",
        "world",
        "status_quo",
        "regret",
        "satisficing",
        "rank",
        "mc_se",
        "within_noise",
        "src",
        "spearman",
        "r2",
    ]
    if vulnerability is not None and vulnerability.boxes:
        keys += list(DISCOVERY_GLOSSARY)
    page.glossary(keys)
    page.section("The levers", levers_table(result))
    page.section("The metrics", metrics_table(result))
    page.section(
        "The most robust policies",
        policy_table(result)
        + "<p class='small'>Each metric: its mean over the worlds ± standard error; below it the "
        "90th-percentile regret ± standard error, corrected for estimation noise. 'Tied with #1': "
        "satisficing share and worst regret within 1.96 standard errors of the most robust policy.</p>",
    )
    figs = _policy_figures(result)
    page.section("Trade-offs and regret", page.figures(figs), "figures")
    importance = lever_importance(result)
    if not importance.empty:
        page.section(
            "Which levers matter",
            "<p>Standardised regression coefficients of each metric's mean on the lever values "
            "(Saltelli et al. 2008) ± a bootstrap standard error over the policies, with Spearman's ρ "
            "and the fit's R².</p>" + table_html(importance, labels={"src_se": "± (SRC)"}),
        )
    if vulnerability is not None:
        page.section("Where the most robust policy fails", f"<p>{discovery_answer(vulnerability)}</p>")
        if vulnerability.boxes:
            page.add(discovery_section(vulnerability, page, claims, "The region of those worlds (PRIM)"))
            page.cite(*PRIM_REFERENCES)
    page.cite(*ROBUSTNESS_REFERENCES)
    return page.write()


# --------------------------------------------------------------------------------------------
# The search
# --------------------------------------------------------------------------------------------


def convergence_figure(convergence: pd.DataFrame):
    """Hypervolume of the non-dominated set after each generation, on the metrics' natural ranges
    (the scale the terminal prints), with its Monte Carlo error where it is estimated."""
    from sim.present.plots import POSITIVE, _figure, _style

    fig = _figure(7.5, 3.4)
    ax = fig.subplots()
    x = convergence.evaluations.to_numpy()
    y = convergence.hypervolume.to_numpy()
    ax.plot(x, y, "-o", ms=3, color=POSITIVE, label="hypervolume (natural ranges)")
    se = convergence["hypervolume_se"].to_numpy() if "hypervolume_se" in convergence else np.zeros_like(y)
    if np.any(se > 0):
        ax.fill_between(
            x, y - 1.96 * se, y + 1.96 * se, color=POSITIVE, alpha=0.2, lw=0, label="95 % interval"
        )
    ax.set_xlabel("policy evaluations")
    ax.set_ylabel("hypervolume")
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    _style(ax)
    return fig


def pareto_figure(result):
    """The non-dominated policies, each pair of (at most three of) the metrics that move: their
    values in the search (open circles), on fresh worlds (filled, joined to the former), and the
    status quo on fresh worlds (square)."""
    from sim.analysis.optimize import FRESH_PREFIX
    from sim.present.plots import NEGATIVE, POSITIVE, _style, text

    names = result.objectives.names
    labels = _labels(result)
    pareto = result.pareto
    K = len(names)
    from sim.analysis.levers import natural_range

    lo, hi = natural_range(result.scenario, result.objectives)

    def spread(k: int) -> float:
        both = np.r_[pareto[METRIC_PREFIX + names[k]].to_numpy(), pareto[FRESH_PREFIX + names[k]].to_numpy()]
        return float(np.ptp(both))

    moving = [k for k in range(K) if spread(k) >= 0.01 * (hi[k] - lo[k])]  # the others: a flat axis
    pairs = _pairs(moving) or [(0, min(1, K - 1))]
    fig, axes = _grid(len(pairs))
    sq = result.status_quo
    for ax, (a, b) in zip(axes, pairs):
        xa, ya = pareto[METRIC_PREFIX + names[a]], pareto[METRIC_PREFIX + names[b]]
        xf, yf = pareto[FRESH_PREFIX + names[a]], pareto[FRESH_PREFIX + names[b]]
        for x0, y0, x1, y1 in zip(xa, ya, xf, yf):
            ax.plot([x0, x1], [y0, y1], color="#bbbbbb", lw=0.7)
        ax.scatter(xa, ya, s=22, facecolors="none", edgecolors=POSITIVE, label="in the search")
        ax.scatter(xf, yf, s=18, color=POSITIVE, label="on fresh worlds")
        if sq is not None:
            ax.plot(
                sq[FRESH_PREFIX + names[a]],
                sq[FRESH_PREFIX + names[b]],
                "s",
                ms=9,
                mfc="none",
                mec=NEGATIVE,
                mew=1.6,
                label="status quo",
            )
        ax.set_xlabel(text(labels[a], 45), fontsize=8)
        ax.set_ylabel(text(labels[b], 40), fontsize=8)
        ax.tick_params(labelsize=8)
        _style(ax)
        ax.legend(fontsize=7, frameon=False)
    return fig


def search_answer(result) -> str:
    """The search page's answer (HTML): how many distinct non-dominated policies, the final
    hypervolume with its error, how far their values moved on fresh worlds, and how many still
    dominate the status quo there."""
    from sim.analysis.optimize import FRESH_PREFIX, dominates

    s = result.settings
    names = result.objectives.names
    labels = _labels(result)
    sign = result.objectives.sign
    pareto = result.pareto
    conv = result.convergence
    hv = float(conv.hypervolume.iloc[-1]) if len(conv) else 0.0
    hv_se = float(conv.hypervolume_se.iloc[-1]) if len(conv) and "hypervolume_se" in conv else 0.0
    shift = np.column_stack(
        [pareto[FRESH_PREFIX + n].to_numpy() - pareto[METRIC_PREFIX + n].to_numpy() for n in names]
    )
    size = np.abs(shift).mean(axis=0) if len(pareto) else np.zeros(len(names))
    k = int(np.argmax(size)) if len(size) else 0
    se = pareto[f"{FRESH_PREFIX}{names[k]}:se"].mean() if len(pareto) else np.nan
    text = (
        f"Under these assumptions, after {s['evaluations']:,} evaluations NSGA-II kept <b>{len(pareto)}</b> "
        f"distinct non-dominated policies (hypervolume {hv:.4g}"
        + (f" ± {hv_se:.2g}" if hv_se > 0 else "")
        + f"). Run again on {s['worlds']} fresh worlds × {s['replicates']} runs, their values moved most on "
        f"{esc(labels[k])}: by {size[k]:.3g} on average (each value's standard error about {se:.2g}"
    )
    if result.status_quo is not None:
        sq = result.status_quo.iloc[0]
        moved = float(sq[FRESH_PREFIX + names[k]] - sq[METRIC_PREFIX + names[k]])
        text += (
            f"; the status quo moved by {moved:+.3g} on the same worlds, so the rest is the search's "
            "own optimism"
        ).replace("-", "−")
    text += ")"
    if result.status_quo is not None and len(pareto):
        sq = result.status_quo.iloc[0]
        fresh_sq = np.array([sq[FRESH_PREFIX + n] for n in names])
        beat = sum(
            dominates(np.array([row[FRESH_PREFIX + n] for n in names]), fresh_sq, sign)
            for _, row in pareto.iterrows()
        )
        text += (
            f"; {beat} of them dominate the status quo there"
            if beat
            else "; none dominates the status quo there: each buys its gains on some metric with a loss on "
            "another"
        )
    return text + "."


#: rows of the non-dominated set a search page lists (all of them are in pareto.parquet)
SEARCH_ROWS = 25


@all_or_nothing()  # a failure leaves none of its files
def _front_table(result) -> pd.DataFrame:
    """The non-dominated policies shown (the status quo first): their levers in words, and each
    metric in the search -> on fresh worlds ± its standard error."""
    from sim.analysis.optimize import FRESH_PREFIX

    s = result.settings
    names = result.objectives.names
    levers = [
        c
        for c in result.pareto.columns
        if c.startswith(LEVER_PREFIX) and c.removeprefix(LEVER_PREFIX) in s["levers"]
    ]
    frames = [result.status_quo, result.pareto] if result.status_quo is not None else [result.pareto]
    rows = []
    shown = pd.concat(frames, ignore_index=True).head(SEARCH_ROWS + (result.status_quo is not None))
    for i, (_, r) in enumerate(shown.iterrows()):
        is_sq = result.status_quo is not None and i == 0
        row = {"policy": "status quo" if is_sq else str(i if result.status_quo is not None else i + 1)}
        for c in levers:
            name = c.removeprefix(LEVER_PREFIX)
            row[name] = esc(lever_display(result.scenario, name, r[c]).replace("-", "−"))
        for n, label in zip(names, _column_labels(result)):
            row[label] = esc(
                f"{r[METRIC_PREFIX + n]:.3f} → {r[FRESH_PREFIX + n]:.3f} ± {r[f'{FRESH_PREFIX}{n}:se']:.3f}"
            ).replace("-", "−")
        rows.append(row)
    return pd.DataFrame(rows)


def write_search_report(result, path: str | Path) -> Path:
    """The page of an ``optimize`` run: the answer, glossary, the non-dominated policies (sorted,
    the status quo first) in the search and on fresh worlds, the convergence and the trade-offs."""
    s = result.settings
    names = result.objectives.names
    labels = _labels(result)
    page = Page(
        path,
        "Policy search over the levers",
        f"{esc(result.scenario.title or 'scenario')} · NSGA-II over {len(s['levers'])} levers"
        + (f" of {esc(s['owner'])}" if s.get("owner") else "")
        + f" · {s['evaluations']:,} evaluations in generations of {s['population']} · {s['worlds']} worlds × "
        f"{s['replicates']} runs × {s['steps']} steps · objectives: each metric's "
        + ("mean over the worlds" if s["statistic"] == "mean" else "worse decile over the worlds")
        + f" · {s['seconds']:.0f} s",
    )
    page.answer(search_answer(result))
    page.glossary(["pareto", "status_quo", "out_of_sample", "hypervolume", "mc_se", "policy", "world"])
    frame = _front_table(result)
    metric_words = "; ".join(f"{n}: {label}" for n, label in zip(names, labels))
    page.section(
        "The non-dominated policies, in the search → on fresh worlds",
        table_html(frame, html_columns=list(frame.columns))
        + "<p class='small'>Sorted by the first metric, best first; the status quo first. Each cell: the "
        "value the search saw → the value on fresh worlds and runs ± its standard error. Duplicates of "
        f"the same lever settings are listed once. Metrics: {esc(metric_words)}."
        + (
            f" The first {SEARCH_ROWS} of {len(result.pareto)} are shown; pareto.parquet holds them all."
            if len(result.pareto) > SEARCH_ROWS
            else ""
        )
        + "</p>",
    )
    figs = [
        FigureEntry(
            "convergence",
            "Convergence",
            "hypervolume by policy evaluations",
            "Hypervolume of the non-dominated set after each generation, every metric on its natural "
            "range (the number the terminal prints)"
            + (
                "; band: 95 % interval of the Monte Carlo estimate."
                if s.get("hypervolume") == "monte carlo"
                else "."
            ),
            lambda: convergence_figure(result.convergence),
        ),
        FigureEntry(
            "pareto",
            "Non-dominated policies, in the search and on fresh worlds",
            "metrics of the non-dominated policies, in the search and out of sample",
            "Open circles: the values the search saw; filled, joined to them: the same policies on "
            "fresh worlds; square: the status quo on fresh worlds. Metrics that move by less than 1 % "
            "of their natural range are not drawn.",
            lambda: pareto_figure(result),
        ),
    ]
    page.section("Convergence and trade-offs", page.figures(figs), "figures")
    page.cite(
        "NSGA-II: Deb et al. (2002), with Platypus (Hadka). Hypervolume: Zitzler & Thiele (1999); exact "
        "by slicing objectives (While et al. 2006); Monte Carlo estimate above four objectives: Bader & "
        "Zitzler (2011).",
        "Out-of-sample check: the optimizer's curse, Smith & Winkler (2006).",
    )
    return page.write()
