"""Figures and files of sensitivity from a finished run (:mod:`sim.analysis.given_data`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from sim.analysis.given_data import DUMMY, GivenDataResult
from sim.files import atomic_write, atomic_write_text
from sim.present import plots

METHOD_NAMES = {"delta": "Borgonovo's delta", "pawn": "PAWN (median KS)"}


def indices_over_time_chart(
    df, ylabel: str, title: str, top: int = 6, dt: float = 1.0, unit: str = "steps", noise=None
) -> Figure:
    """Indices (one column per parameter, one row per step) against time, for the ``top``
    parameters with the largest mean index; ``noise`` (a series over the same steps), dashed grey."""
    fig = plots._figure(7.5, 3.8)
    ax = fig.add_subplot()
    order = df.mean().sort_values(ascending=False).index[:top]
    colors = plots.OKABE_ITO + plots.TOL_MUTED
    t = np.asarray(df.index, dtype=float) * dt
    for k, name in enumerate(order):
        ax.plot(t, df[name], marker="o", ms=3, lw=1.4, color=colors[k % len(colors)], label=plots.text(name))
    if noise is not None:
        ax.plot(t, noise, ls="--", lw=1, color="#999999", label="dummy (noise level)")
    ax.set_xlabel(unit)
    ax.set_ylabel(ylabel)
    ax.set_title(plots.text(title, 80), fontsize=10)
    ax.set_ylim(bottom=0)
    plots._style(ax)
    ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def over_time_chart(result: GivenDataResult, top: int = 6, dt: float = 1.0, unit: str = "steps") -> Figure:
    """Index of each of the ``top`` parameters (largest mean index over time) for "the alliance is
    still active after step t", against t; dashed grey: the dummy input (the noise level)."""
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


def write_sobol_over_time(result, out: str | Path, dt: float = 1.0, unit: str = "steps") -> dict[str, Path]:
    """Write ``sobol_over_time_ST.csv``, ``sobol_over_time_S1.csv`` and ``sobol_over_time.png``
    (total indices against time) of a :class:`sim.analysis.over_time.SobolOverTime` into ``out``."""
    from sim.present.report import figure_png
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
    atomic_write_bytes(
        paths["figure"],
        figure_png(indices_over_time_chart(result.ST, "total Sobol index ST", title, dt=dt, unit=unit)),
    )
    return paths


def write_given_data(
    result: GivenDataResult, out: str | Path, dt: float = 1.0, unit: str = "steps"
) -> dict[str, Path]:
    """Write ``indices.csv`` (parameter x output), ``over_time.csv`` (step x parameter),
    ``settings.json`` and ``over_time.png`` into ``out``."""
    from sim.present.report import figure_png
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
    atomic_write_text(
        paths["settings"],
        json.dumps({"method": result.method, "alliance": result.alliance, **result.settings}, indent=1),
    )
    atomic_write_bytes(paths["figure"], figure_png(over_time_chart(result, dt=dt, unit=unit)))
    return paths
