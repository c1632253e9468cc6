"""Figures, pages and files of the exploration analyses (sensitivity, scenario discovery, sweeps)."""

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
from sim.files import atomic_write, atomic_write_text
from sim.present import plots
from sim.vocabulary import FATE_LABELS, FATES


def sensitivity_figure(s: Sensitivity, outputs: Sequence[str] = ("p_stab", "p_holds"), top: int = 12):
    """Horizontal bars of the most influential factors per output, with confidence intervals."""
    from sim.present.plots import NEGATIVE, POSITIVE, _figure, _style, text

    label = {"p_holds": "P(holds)", "p_stab": "P(stab in the back)", "p_drift": "P(drift apart)"}
    outputs = [o for o in outputs if o in s.indices]
    height = 0.9 + 0.28 * min(top, max(len(s.indices[o]) for o in outputs))
    fig = _figure(5.4 * len(outputs), height)
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
            ax.set_xlabel("Sobol index (95 % CI)")
        else:
            ax.barh(
                y,
                df.mu_star,
                0.6,
                xerr=df.mu_star_conf,
                color=NEGATIVE,
                label="mu*",
                error_kw={"elinewidth": 0.8, "capsize": 2},
            )
            ax.plot(df.sigma, y, "o", color=POSITIVE, ms=4, label="sigma")
            ax.set_xlabel("elementary effect per quantile range")
        ax.set_yticks(y, [text(i) for i in df.index], fontsize=7)
        ax.set_title(text(f"{label.get(out, out)} — {s.alliance}"), fontsize=10)
        ax.axvline(0, color="#888888", lw=0.6)
        _style(ax)
        ax.grid(axis="x", color="#dddddd", linewidth=0.6)
        ax.legend(fontsize=7, frameon=False, loc="lower right")
    return fig


def write_sensitivity(s: Sensitivity, out: str | Path, claims: dict | None = None) -> dict[str, Path]:
    """Write the design and its outputs (Parquet), the indices (CSV), a figure (PNG), an HTML
    page and the settings (JSON) to ``out``; returns the paths by kind."""
    from sim.present.report import write_exploration_report

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
    part = sensitivity_part(s, claims)
    paths["report"] = write_exploration_report(
        out / "sensitivity.html",
        f"Sensitivity: {s.scenario_name}",
        f"{s.method} · alliance {s.alliance} · {s.settings['design_points']:,} design points × "
        f"{s.settings['replicates']} replicates",
        [part],
    )
    paths["figure"] = out / "sensitivity_figures" / "sensitivity.png"
    return paths


def _json_default(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(type(x).__name__)


def sensitivity_part(s: Sensitivity, claims: dict | None = None):
    """The report part of a sensitivity run (tables, figure, how it was computed); each factor
    with its meaning in words and, given ``claims`` (by parameter path), the claims behind it."""
    from sim.analysis.sensitivity import noise_warning
    from sim.present.report import ExplorationPart, FigureEntry
    from sim.present.show import describe_path
    from sim.spec.claims import claims_for

    what = (
        "first-order (S1) and total (ST) Sobol indices, Saltelli (2002) and Jansen's "
        "estimator (Saltelli et al. 2010), 95 % bootstrap intervals"
        if s.method == "sobol"
        else "Morris (1991) elementary effects: mu* (Campolongo et al. 2007) with 95 % bootstrap "
        "intervals, and sigma"
    )
    unit = "groups" if s.groups else "parameters"
    n_units = s.settings["groups"] or s.settings["factors"]
    intro = (
        f"{n_units} uncertain {unit} varied over their scenario distributions; "
        f"{s.settings['design_points']:,} design points, each run {s.settings['replicates']} "
        f"times with common random numbers ({s.settings['replicate_runs']:,} runs, "
        f"{s.settings['seconds']:.0f} s). Indices: {what}. Binomial noise share of the "
        f"variance of P(stab in the back): {s.noise_share('p_stab'):.2f}."
    )
    if s.settings.get("samples_requested") not in (None, s.settings.get("samples")):
        intro += (
            f" {s.settings['samples_requested']} samples were asked for; the design uses "
            f"{s.settings['samples']}, the next power of two, where the Sobol' sequence is "
            "balanced."
        )
    for o in ("p_stab", "p_holds"):
        warning = noise_warning(s, o) if o in s.outputs else None
        if warning:
            intro += " " + warning[0].upper() + warning[1:] + "."

    def readable(df):
        df = df.copy()
        names = [str(i) for i in df.index]
        df.insert(0, "what", [describe_path(n) for n in names])
        if claims:
            df.insert(1, "claims", [", ".join(c.id for c in claims_for(claims, n)) for n in names])
        return df

    tables = [
        (label, readable(s.table(o, 15)))
        for o, label in (("p_stab", "P(stab in the back)"), ("p_holds", "P(holds)"))
        if o in s.indices
    ]
    fig = FigureEntry(
        "sensitivity",
        "Most influential uncertainties",
        f"{s.method} indices of P(stab in the back) and P(holds)",
        "Bars: index estimates; whiskers: 95 % bootstrap intervals.",
        lambda: sensitivity_figure(s),
    )
    return ExplorationPart(f"Sensitivity ({s.method})", intro, tables, [fig])


def discovery_figure(d: Discovery):
    """The first box: its peeling trajectory (coverage vs density) and its limits, each
    restricted dimension drawn as the kept share of its sampled range."""
    from sim.present.plots import NEGATIVE, POSITIVE, _empty, _figure, _style, text

    if not d.boxes:
        return _empty(_figure(6, 2), "PRIM found no box")
    b = d.boxes[0]
    fig = _figure(11, 0.9 + max(2.6, 0.32 * len(b.limits)))
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[1, 1.3])
    t = b.trajectory
    sc = ax1.scatter(t.coverage, t.density, c=t.res_dim, cmap="viridis", s=14)
    ax1.plot(b.coverage, b.density, "o", ms=11, mfc="none", mec=NEGATIVE, mew=1.6)
    ax1.axhline(d.base_rate, color="#888888", lw=0.8, ls="--")
    ax1.text(
        0.02,
        d.base_rate,
        " base rate",
        va="bottom",
        fontsize=7,
        color="#555555",
        transform=ax1.get_yaxis_transform(),
    )
    ax1.set_xlabel("coverage")
    ax1.set_ylabel("density")
    ax1.set_title(text(f"peeling trajectory: {d.outcome} ({d.alliance})"), fontsize=10)
    fig.colorbar(sc, ax=ax1, label="restricted dimensions")
    _style(ax1)
    lim = b.limits.iloc[::-1]
    y = np.arange(len(lim))
    span = (lim.full_high - lim.full_low).replace(0, 1)
    lo = (lim.low - lim.full_low) / span
    hi = (lim.high - lim.full_low) / span
    ax2.barh(y, np.ones(len(lim)), color="#eeeeee", height=0.6)
    ax2.barh(y, hi - lo, left=lo, color=POSITIVE, height=0.6)
    for yy, (_, r) in zip(y, lim.iterrows()):
        ax2.text(1.02, yy, f"{r.low:.3g} .. {r.high:.3g}", va="center", fontsize=7)
    ax2.set_yticks(y, [text(i) for i in lim.index], fontsize=7)
    ax2.set_xlim(0, 1.35)
    ax2.set_xticks([0, 0.5, 1], ["min", "", "max"])
    ax2.set_title(text(f"box 1: coverage {b.coverage:.2f}, density {b.density:.2f}"), fontsize=10)
    ax2.spines[["top", "right"]].set_visible(False)
    return fig


def discovery_part(d: Discovery, claims: dict | None = None):
    """The report part of a scenario discovery (table, figure, how it was computed)."""
    from sim.present.report import ExplorationPart, FigureEntry

    intro = (
        f"PRIM (Friedman & Fisher 1999), as used for scenario discovery by Bryant & Lempert "
        f"(2010), on {len(d.dimensions)} sampled parameters of {d.n:,} replicates: "
        f"{d.cases:,} have the outcome '{d.outcome}' for {d.alliance} (base rate "
        f"{d.base_rate:.3f}). Each box is read at its densest point with coverage ≥ "
        f"{d.settings.get('min_coverage', 0.5):g}, keeping the restrictions with quasi-p "
        f"value ≤ {d.settings.get('max_qp')} (qp: one-sided binomial test of each "
        "restriction, Bryant & Lempert 2010)."
    )
    from sim.analysis.discovery import no_region_text
    from sim.present.show import describe_path

    tables = []
    for b in d.boxes:
        if b.limits.empty:  # no table without rows: say why instead
            intro += f" Box {b.index}: {no_region_text(d, b)}."
            continue
        df = b.limits.reset_index()
        df.insert(1, "what", [describe_path(dim) for dim in df.dimension])
        if claims:
            df["claims"] = [
                ", ".join(c.id + (f" (¶{c.paragraph})" if c.paragraph else "") for c in claims.get(dim, []))
                for dim in df.dimension
            ]
        tables.append(
            (f"Box {b.index}: coverage {b.coverage:.3f}, density {b.density:.3f}, mass {b.mass:.3f}", df)
        )
    fig = FigureEntry(
        "discovery",
        "Scenario discovery (PRIM)",
        "PRIM peeling trajectory and box",
        "Left: coverage and density along the peeling trajectory (circle: the "
        "chosen box). Right: the kept range of each restricted parameter.",
        lambda: discovery_figure(d),
    )
    return ExplorationPart(f"Scenario discovery: {d.outcome}", intro, tables, [fig])


def write_discovery(d: Discovery, out: str | Path, claims: dict | None = None) -> dict[str, Path]:
    """Write the boxes (CSV), the trajectories (CSV) and an HTML page with the figure."""
    from sim.present.report import write_exploration_report

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    from sim.run.store import safe_name

    slug = safe_name(d.outcome.replace(" ", "_"), fallback="outcome")
    paths = {"boxes": out / f"prim_{slug}.csv"}
    atomic_write(d.table().to_csv, paths["boxes"], index=False)
    paths["trajectory"] = out / f"prim_{slug}_trajectory.csv"
    trajectory = pd.concat([b.trajectory.assign(box=b.index) for b in d.boxes] or [pd.DataFrame()])
    atomic_write(trajectory.to_csv, paths["trajectory"], index_label="step")
    paths["report"] = write_exploration_report(
        out / f"discovery_{slug}.html",
        f"Scenario discovery: {d.outcome}",
        f"alliance {d.alliance} · {d.n:,} replicates",
        [discovery_part(d, claims)],
    )
    return paths


def sweep_figure(sw) -> Figure:
    """P(holds), P(stab in the back) and P(drift apart) against the swept value, with 95 % Wilson
    bands (:class:`sim.analysis.sweep.Sweep`)."""
    fig = Figure(figsize=(7.5, 4.0), dpi=plots.DPI, layout="constrained")
    ax = fig.add_subplot()
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
    ax.set_xlabel(plots.text(sw.path))
    ax.set_ylabel(f"P(fate of {plots.text(sw.alliance)})")
    ax.set_title(
        plots.text(
            f"{sw.alliance} as {sw.path} varies ({sw.replicates} runs per value, "
            "common random numbers; 95 % bands)",
            80,
        ),
        fontsize=10,
    )
    ax.legend(frameon=False, fontsize=8)
    ax.grid(color="#dddddd", linewidth=0.6)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def write_sweep(sw, out: str | Path) -> dict[str, Path]:
    """Write a sweep's table (CSV), paired differences (CSV), figure (PNG) and page (HTML) to
    ``out``; returns the paths by kind."""
    from sim.present.report import ExplorationPart, FigureEntry, write_exploration_report

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"table": out / "sweep.csv", "paired": out / "sweep_paired.csv"}
    atomic_write(sw.table.to_csv, paths["table"], index=False)
    atomic_write(sw.paired.to_csv, paths["paired"], index=False)
    wide = sw.table.pivot(index="value", columns="fate", values="p")[list(FATES)].reset_index()
    diffs = sw.paired[sw.paired["fate"] == "holds"][["value", "diff", "low", "high"]].rename(
        columns={
            "diff": "P(holds) − P(holds) at the first value",
            "low": "paired 95 % low",
            "high": "paired 95 % high",
        }
    )
    intro = (
        f"The slot {sw.path} of '{sw.scenario_title}' takes each value in turn; every other "
        f"uncertain value is drawn as in the scenario. Replicate r of every value shares its "
        f"draws (common random numbers, seed {sw.seed}), so the curve is smooth and the "
        "difference from the first value is paired. Under these assumptions; not a forecast."
    )
    part = ExplorationPart(
        f"Sweep of {sw.path}",
        intro,
        [
            ("Share of each fate at each value", wide),
            ("Change in P(holds) from the first value, paired by replicate", diffs),
        ],
        [
            FigureEntry(
                "sweep",
                f"Fates against {sw.path}",
                f"Line chart of the fates of {sw.alliance} against {sw.path}",
                "Lines: share of runs; bands: 95 % Wilson intervals.",
                lambda: sweep_figure(sw),
            )
        ],
    )
    paths["report"] = write_exploration_report(
        out / "sweep.html",
        f"Sweep: {sw.path}",
        f"{sw.scenario_title} · alliance {sw.alliance} · "
        f"{len(sw.values)} values × {sw.replicates} replicates",
        [part],
    )
    paths["figure"] = out / "sweep_figures" / "sweep.png"
    return paths
