"""The policy section of a report: the policy table, trade-offs, parallel coordinates, regret heat
map and the vulnerability box of the most robust policy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.levers import LEVER_PREFIX, METRIC_PREFIX, REGRET_PREFIX, SATISFICING, PolicyResults


def nondominated(values: np.ndarray, sign: np.ndarray) -> np.ndarray:
    """Boolean mask of the rows of ``values`` (P, K) no other row dominates (at least as good on
    every metric, better on one), each metric oriented by ``sign``."""
    v = values * sign
    better_eq = (v[None, :, :] >= v[:, None, :]).all(axis=2)  # [i, j]: j at least as good as i
    strictly = (v[None, :, :] > v[:, None, :]).any(axis=2)
    dominated = (better_eq & strictly).any(axis=1)
    return ~dominated


def _labels(result: PolicyResults) -> list[str]:
    return [m.label or n for n, m in zip(result.objectives.names, result.objectives.metrics)]


def tradeoff_figure(result: PolicyResults):
    """Each pair of the first three metrics' means: every policy (grey), the non-dominated ones
    (coloured by satisficing share) and the status quo (square)."""
    from sim.present.plots import NEGATIVE, _figure, _style, text

    means = result.robustness.mean
    K = means.shape[1]
    pairs = [(a, b) for a in range(min(K, 3)) for b in range(a + 1, min(K, 3))] or [(0, 0)]
    fig = _figure(4.2 * len(pairs), 3.8)
    axes = fig.subplots(1, len(pairs), squeeze=False)[0]
    front = nondominated(means, result.objectives.sign)
    labels = _labels(result)
    for ax, (a, b) in zip(axes, pairs):
        ax.scatter(means[:, a], means[:, b], s=12, color="#bbbbbb", label="policy")
        sc = ax.scatter(
            means[front, a],
            means[front, b],
            s=26,
            c=result.robustness.satisficing[front],
            cmap="viridis",
            vmin=0,
            vmax=1,
            label="non-dominated",
        )
        ax.plot(means[0, a], means[0, b], "s", ms=9, mfc="none", mec=NEGATIVE, mew=1.6, label="status quo")
        ax.set_xlabel(text(labels[a], 40), fontsize=8)
        ax.set_ylabel(text(labels[b], 40), fontsize=8)
        _style(ax)
        ax.legend(fontsize=7, frameon=False)
    fig.colorbar(sc, ax=axes[-1], label="satisficing share")
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
    fig = _figure(max(6.0, 1.1 * len(cols)), 3.8)
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
        [text(c.replace(LEVER_PREFIX, "").replace(METRIC_PREFIX, ""), 28) for c in cols],
        rotation=30,
        ha="right",
        fontsize=7,
    )
    for xi, (a, b) in enumerate(zip(lo, hi)):
        ax.text(xi, -0.06, f"{a:.3g}", ha="center", va="top", fontsize=6, color="#555555")
        ax.text(xi, 1.04, f"{b:.3g}", ha="center", va="bottom", fontsize=6, color="#555555")
    ax.set_ylim(-0.15, 1.12)
    ax.set_yticks([])
    ax.set_title(
        text(f"levers and metrics; the {top} most robust policies coloured by rank (thick: rank 1)"),
        fontsize=9,
    )
    _style(ax)
    return fig


def regret_figure(result: PolicyResults, top: int = 25):
    """Heat map of the 90th-percentile regret of the ``top`` most robust policies on each metric,
    divided by the metric's largest such regret."""
    from sim.present.plots import _figure, text

    t = result.table.sort_values("rank").head(top)
    names = result.objectives.names
    reg = t[[REGRET_PREFIX + n for n in names]].to_numpy(dtype=float)
    scale = result.robustness.regret_p90.max(axis=0)
    shown = np.divide(reg, scale, out=np.zeros_like(reg), where=scale > 0)
    fig = _figure(1.6 + 1.2 * len(names), 1.0 + 0.22 * len(t))
    ax = fig.subplots()
    im = ax.imshow(shown, cmap="magma_r", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(np.arange(len(names)), [text(n, 28) for n in names], rotation=30, ha="right", fontsize=7)
    ax.set_yticks(
        np.arange(len(t)),
        [("status quo" if p == 0 else f"policy {p}") + f" (#{r})" for p, r in zip(t.policy, t["rank"])],
        fontsize=7,
    )
    for i in range(shown.shape[0]):
        for j in range(shown.shape[1]):
            ax.text(
                j,
                i,
                f"{reg[i, j]:.2g}",
                ha="center",
                va="center",
                fontsize=6,
                color="white" if shown[i, j] > 0.6 else "black",
            )
    fig.colorbar(im, ax=ax, label="90th-percentile regret / largest")
    return fig


def policy_part(result: PolicyResults, top: int = 15):
    """The report part of a lever evaluation."""
    from sim.present.report import ExplorationPart, FigureEntry

    s = result.settings
    intro = (
        f"{s.get('policies')} policies ({s.get('design')}, policy 0 the status quo"
        + (f", levers of {s.get('owner')}" if s.get("owner") else "")
        + f") each run on the same {s.get('worlds')} sampled worlds x {s.get('replicates')} "
        f"replicates x {s.get('steps')} steps with common random numbers. Per policy: each "
        "metric's mean over the worlds; regret, the gap to the best policy in each world, "
        "as its 90th percentile (Savage 1951; Herman et al. 2015; McPhail et al. 2018); the "
        "satisficing share, worlds in which every threshold holds (Starr's domain criterion). "
        "Rank: satisficing share first, then the worst normalised regret."
    )
    t = result.table.sort_values("rank").head(top)
    keep = ["rank", "policy"] + [
        c for c in t.columns if c.startswith(LEVER_PREFIX) and result.table[c].nunique() > 1
    ]
    keep += [c for n in result.objectives.names for c in (METRIC_PREFIX + n, REGRET_PREFIX + n)]
    keep.append(SATISFICING)
    table = t[keep].rename(columns=lambda c: c.replace(LEVER_PREFIX, "").replace(METRIC_PREFIX, ""))
    metrics = pd.DataFrame(
        [
            {
                "metric": n,
                "label": m.label,
                "kind": m.kind,
                "direction": m.direction,
                "threshold": np.nan if m.threshold is None else m.threshold,
            }
            for n, m in zip(result.objectives.names, result.objectives.metrics)
        ]
    )
    figs = [
        FigureEntry(
            "tradeoffs",
            "Trade-offs",
            "metric means of every policy, non-dominated ones coloured",
            "Grey: every policy; coloured: the non-dominated ones (by satisficing "
            "share); square: the status quo.",
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
            "90th-percentile regret of the most robust policies (numbers: in the metric's units).",
            lambda: regret_figure(result),
        ),
    ]
    from sim.analysis.levers import lever_importance

    importance = lever_importance(result)
    tables = [("The most robust policies", table), ("Metrics", metrics)]
    if not importance.empty:
        tables.append(
            (
                "Which levers matter: standardised regression coefficients of each metric's "
                "mean on the lever values (Saltelli et al. 2008), with Spearman's rho and "
                "the fit's R²",
                importance,
            )
        )
    return ExplorationPart("Policies", intro, tables, figs)


def write_policy_report(
    result: PolicyResults, path: str | Path, vulnerability=None, claims: dict | None = None
) -> Path:
    """A self-contained HTML page: the policy part, and the vulnerability box when given."""
    from sim.present.exploration import discovery_part
    from sim.present.report import write_exploration_report

    if claims is None and result.scenario.claims:
        try:
            from sim.spec.claims import claims_by_param, load_claims

            claims = claims_by_param(load_claims(result.scenario.claims))
        except Exception:  # noqa: BLE001 - the page stands without its citations
            claims = None
    parts = [policy_part(result)]
    if vulnerability is not None and vulnerability.boxes:
        parts.append(discovery_part(vulnerability, claims))
    title = f"Policy levers: {result.scenario.title or 'scenario'}"
    return write_exploration_report(Path(path), title, "robust decision making over common worlds", parts)


def convergence_figure(convergence: pd.DataFrame):
    """Hypervolume of the non-dominated set after each generation, on the run's own ranges and on
    the metrics' natural ranges."""
    from sim.present.plots import NEGATIVE, POSITIVE, _figure, _style

    fig = _figure(6.0, 3.2)
    ax = fig.subplots()
    ax.plot(
        convergence.evaluations,
        convergence.hypervolume_run,
        "-o",
        ms=3,
        color=POSITIVE,
        label="on the run's own ranges",
    )
    ax.set_xlabel("policy evaluations")
    ax.set_ylabel("hypervolume")
    ax2 = ax.twinx()
    ax2.plot(
        convergence.evaluations,
        convergence.hypervolume,
        "--",
        color=NEGATIVE,
        label="on natural ranges (right axis)",
    )
    ax2.tick_params(labelsize=7)
    lines = ax.get_lines() + ax2.get_lines()
    ax.legend(lines, [str(line.get_label()) for line in lines], fontsize=7, frameon=False, loc="lower right")
    _style(ax)
    return fig


def pareto_figure(pareto: pd.DataFrame, names: list[str], labels: list[str]):
    """The non-dominated policies found by the search, each pair of the first three metrics."""
    from sim.present.plots import POSITIVE, _figure, _style, text

    K = len(names)
    pairs = [(a, b) for a in range(min(K, 3)) for b in range(a + 1, min(K, 3))] or [(0, 0)]
    fig = _figure(4.2 * len(pairs), 3.6)
    axes = fig.subplots(1, len(pairs), squeeze=False)[0]
    for ax, (a, b) in zip(axes, pairs):
        ax.scatter(pareto[METRIC_PREFIX + names[a]], pareto[METRIC_PREFIX + names[b]], s=14, color=POSITIVE)
        ax.set_xlabel(text(labels[a], 40), fontsize=8)
        ax.set_ylabel(text(labels[b], 40), fontsize=8)
        _style(ax)
    return fig


def write_search_report(result, path: str | Path) -> Path:
    """A self-contained HTML page of an ``optimize`` run: convergence and the non-dominated set."""
    from sim.present.report import ExplorationPart, FigureEntry, write_exploration_report

    s = result.settings
    names = result.objectives.names
    labels = [m.label or n for n, m in zip(names, result.objectives.metrics)]
    intro = (
        f"NSGA-II (Deb et al. 2002, with Platypus) over {len(s['levers'])} levers"
        + (f" of {s['owner']}" if s.get("owner") else "")
        + f": {s['evaluations']:,} policy evaluations in generations of {s['population']}, each "
        f"generation run as one design on the same {s['worlds']} worlds x {s['replicates']} "
        f"replicates x {s['steps']} steps; objectives: each metric's "
        + ("mean over the worlds" if s["statistic"] == "mean" else "worse decile over the worlds")
        + f". {len(result.pareto)} non-dominated policies; {s['seconds']:.0f} s."
    )
    table = result.pareto.rename(columns=lambda c: c.replace(LEVER_PREFIX, "").replace(METRIC_PREFIX, ""))
    table = table.loc[:, table.nunique() > 1] if len(table) > 1 else table
    figs = [
        FigureEntry(
            "convergence",
            "Convergence",
            "hypervolume by policy evaluations",
            "Hypervolume of the non-dominated set after each generation.",
            lambda: convergence_figure(result.convergence),
        ),
        FigureEntry(
            "pareto",
            "Non-dominated policies",
            "metrics of the non-dominated policies",
            "Each point a non-dominated policy found by the search.",
            lambda: pareto_figure(result.pareto, names, labels),
        ),
    ]
    part = ExplorationPart("Search", intro, [("Non-dominated policies", table)], figs)
    title = f"Policy search: {result.scenario.title or 'scenario'}"
    return write_exploration_report(Path(path), title, "multi-objective search over the levers", [part])
